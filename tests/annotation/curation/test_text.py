"""Text features: lengths, lexical similarity (checked against sklearn), real all-MiniLM embeddings, duplicates."""
import numpy as np
import pytest
from sklearn.metrics import jaccard_score

from annotation.curation.text import (
    ItemTexts, MiniLMEmbedder, default_embedder, duplicate_key, near_duplicates, pair_embeddings, pair_lengths,
    rowwise_cosine, sequence_ratio, token_containment, token_jaccard,
)


def test_item_texts_rejects_misaligned_lists():
    with pytest.raises(ValueError, match="prompts has 2 entries, responses has 1"):
        ItemTexts(prompts=["a", "b"], responses=[["x", "y"]])


def test_pair_lengths_count_chars_and_whitespace_tokens_and_nan_without_a_pair():
    texts = ItemTexts(prompts=["p", "q"], responses=[["one two  three", "four"], ["only one"]])
    chars, toks = pair_lengths(texts)
    assert chars[0].tolist() == [14, 4] and toks[0].tolist() == [3, 1]
    assert np.isnan(chars[1]).all() and np.isnan(toks[1]).all()


def test_token_jaccard_matches_sklearn_on_a_shared_vocabulary():
    a = ["the cat sat on the mat", "Hello world", "a b c d", ""]
    b = ["the dog sat on a log", "hello   WORLD", "e f", ""]
    ours = token_jaccard(a, b)
    for i, (x, y) in enumerate(zip(a, b)):
        vocab = sorted(set(x.lower().split()) | set(y.lower().split()))
        if not vocab:
            assert ours[i] == 1.0
            continue
        u = [int(w in x.lower().split()) for w in vocab]
        v = [int(w in y.lower().split()) for w in vocab]
        assert ours[i] == pytest.approx(jaccard_score(u, v))
    assert ours[0] == pytest.approx(3 / 8)  # {the, sat, on} of {the, cat, sat, on, mat, dog, a, log}


def test_containment_is_one_when_the_longer_response_repeats_the_shorter():
    got = token_containment(["Paris is the capital.", "yes"], ["Paris is the capital. It is in France.", "no"])
    assert got.tolist() == [pytest.approx(1.0), 0.0]


def test_sequence_ratio_is_order_aware():
    same_words = sequence_ratio(["a b c d"], ["d c b a"])[0]
    assert sequence_ratio(["a b c d"], ["a b c d"])[0] == 1.0 and same_words < 0.5
    assert token_jaccard(["a b c d"], ["d c b a"])[0] == 1.0


def test_duplicate_key_ignores_case_spacing_and_punctuation():
    assert duplicate_key("You’re  welcome!") == duplicate_key("you're welcome.")
    assert duplicate_key("You're welcome") != duplicate_key("You're not welcome")


def test_rowwise_cosine_and_zero_rows():
    x = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    y = np.array([[0.0, 2.0], [2.0, 2.0], [1.0, 0.0]])
    got = rowwise_cosine(x, y)
    assert got[0] == pytest.approx(0.0) and got[1] == pytest.approx(1.0) and np.isnan(got[2])


def test_minilm_embeddings_are_normalised_cached_and_rank_a_paraphrase_above_an_unrelated_text():
    embedder = MiniLMEmbedder()
    vectors = embedder.encode(["How do I bake bread at home?", "What is a simple recipe for homemade bread?",
                               "The stock market fell sharply on Tuesday."])
    assert vectors.shape == (3, 384)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(np.ones(3), abs=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert MiniLMEmbedder()._model() is embedder._model()  # one load per process
    assert default_embedder() is default_embedder()


def test_pair_embeddings_and_near_duplicates_on_real_embeddings():
    texts = ItemTexts(
        prompts=["p1", "p2", "p3", "p4", "p5"],
        responses=[["You're welcome!", "you’re welcome."],
                   ["Water boils at 100 degrees Celsius at sea level.", "At sea level, water boils at 100 °C."],
                   ["Water boils at 100 degrees Celsius at sea level.", "Water freezes at 0 degrees Celsius."],
                   ["Use a sharp knife.", "I cannot help with that request."],
                   ["single"]],
    )
    emb = pair_embeddings(texts)
    assert emb.shape == (5, 2, 384) and not emb[4].any()
    dup, sim = near_duplicates(texts, embeddings=emb)
    # the same fact reworded is a near-duplicate; the opposite fact in the same words is not
    assert dup.tolist() == [True, True, False, False, False]
    assert sim[0] == 1.0 and sim[3] < sim[2] < 0.95 <= sim[1]
    assert near_duplicates(texts, embeddings=emb, threshold=sim[2] - 1e-6)[0][2]


def test_near_duplicates_without_embeddings_finds_only_exact_copies():
    texts = ItemTexts(prompts=["p", "q"], responses=[["Same  TEXT", "same text"], ["a", "b"]])
    dup, sim = near_duplicates(texts)
    assert dup.tolist() == [True, False] and sim[0] == 1.0 and np.isnan(sim[1])
    with pytest.raises(ValueError, match="needs texts or embeddings"):
        near_duplicates()


def test_normalise_duplicate_key_and_tokens_equal_their_regex_definitions():
    """The fast forms (str.split / translate instead of regex subs) give exactly what the regex definitions give,
    on random text mixing ASCII punctuation and control characters, Unicode spaces, punctuation, Greek sigmas
    (final-sigma lower-casing), Turkish dotted capitals and combining marks."""
    import random
    import re

    from annotation.curation.text import duplicate_key, normalise, tokens

    space, punct = re.compile(r"\s+"), re.compile(r"[^\w\s]")

    def normalise_re(t):
        return space.sub(" ", t).strip().lower()

    alphabet = ("abcXYZ019_ \t\n\r\x0b\x0c\x1c\x1f\x00\x07\x7f!\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~"
                "\u00a0\u2003\u3000\u2028\u0085ΣσςΑΒİıé\u0301’“”—…¿¡中文")
    rng = random.Random(7)
    texts = ["", " ", "ΑΣ Β", "You're welcome!", "you’re  welcome.", "ΟΔΟΣ\u2003ΑΣ"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))) for _ in range(20_000)]
    texts += ["".join(chr(rng.randint(0, 127)) for _ in range(40)) for _ in range(5_000)]  # all of ASCII
    for t in texts:
        assert normalise(t) == normalise_re(t), repr(t)
        assert duplicate_key(t) == normalise_re(punct.sub("", t)), repr(t)
        assert tokens(t) == normalise_re(t).split(), repr(t)
