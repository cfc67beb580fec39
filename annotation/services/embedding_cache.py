"""Response embeddings cached by content hash: a text is embedded once per embedder, then read back.

The key is sha256(embedder key, NUL, text): the same response in two projects, or in the next routing or
curation run, costs one lookup instead of a forward pass. The embedder key is `embedder.cache_key` when it has
one, else its class name (all-MiniLM: "MiniLMEmbedder"); a different model must use a different key. Vectors
are float32, stored without the text.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from ..curation.text import Embedder, ItemTexts, default_embedder, pair_embeddings
from ..models import EmbeddingCache

__all__ = ["CachedEmbedder", "cached_pair_embeddings"]

LOOKUP_CHUNK = 5_000


def _key(embedder: Embedder) -> str:
    return str(getattr(embedder, "cache_key", None) or type(embedder).__name__)


class CachedEmbedder:
    """An Embedder that reads vectors from EmbeddingCache and encodes (and stores) only the texts it lacks.
    `misses` counts the texts it had to encode (per instance), for reports and tests."""

    def __init__(self, inner: Embedder | None = None) -> None:
        self.inner = inner or default_embedder()
        self.misses = 0
        self.hits = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return self.inner.encode([])
        key = _key(self.inner)
        digests = [hashlib.sha256(f"{key}\0{t}".encode()).hexdigest() for t in texts]
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(digests), LOOKUP_CHUNK):
            chunk = digests[start:start + LOOKUP_CHUNK]
            for digest, blob in EmbeddingCache.objects.filter(digest__in=chunk).values_list("digest", "vector"):
                found[digest] = np.frombuffer(bytes(blob), dtype="<f4")
        missing = [i for i, d in enumerate(digests) if d not in found]
        self.hits += len(texts) - len(missing)
        if missing:
            self.misses += len(missing)
            vectors = np.asarray(self.inner.encode([texts[i] for i in missing]), dtype="<f4")
            rows = {}
            for i, vector in zip(missing, vectors):
                found[digests[i]] = vector
                rows[digests[i]] = EmbeddingCache(digest=digests[i], vector=vector.tobytes())
            EmbeddingCache.objects.bulk_create(list(rows.values()), batch_size=1000, ignore_conflicts=True)
        return np.stack([found[d] for d in digests]).astype(np.float32)


def cached_pair_embeddings(texts: ItemTexts, embedder: Embedder | None = None) -> tuple[np.ndarray, CachedEmbedder]:
    """annotation.curation.text.pair_embeddings through the cache: ((I, 2, d) embeddings, the CachedEmbedder that
    made them, whose `misses` says how many texts were newly embedded)."""
    cached = CachedEmbedder(embedder)
    return pair_embeddings(texts, cached), cached
