"""annotation.textdiff: word diffs of near-identical responses, worked out by hand."""
from annotation.textdiff import MAX_DIFF_CHARS, diffs_against_first, tokenize, word_diff


def _sides(ops):
    """The two texts a diff rebuilds: `a` from "=" and "-", `b` from "=" and "+"."""
    return ("".join(t for op, t in ops if op != "+"), "".join(t for op, t in ops if op != "-"))


def test_tokens_join_back_to_the_text():
    text = "Hello,  world!\nIt's 3.5 km — far."
    assert "".join(tokenize(text)) == text
    assert tokenize("a, b") == ["a", ",", " ", "b"]


def test_a_one_word_change_is_one_deletion_and_one_insertion():
    ratio, ops = word_diff("The cat sat on the mat.", "The dog sat on the mat.")
    assert ops == [("=", "The "), ("-", "cat"), ("+", "dog"), ("=", " sat on the mat.")]
    # 12 tokens each, 11 equal: 2 * 11 / 24
    assert abs(ratio - 22 / 24) < 1e-9


def test_the_diff_rebuilds_both_texts_and_keeps_markup_as_plain_text():
    a = "Use <b>bold</b> & go.\nThen stop."
    b = "Use <i>italic</i> & go now.\nThen stop!"
    ratio, ops = word_diff(a, b)
    assert _sides(ops) == (a, b)
    assert ("-", "b") in ops or any("b" in t for op, t in ops if op == "-")
    assert 0 < ratio < 1


def test_only_near_identical_texts_get_a_diff():
    first = "Paris is the capital of France and its largest city."
    close = "Paris is the capital of France and also its largest city."
    other = "I do not know; maybe Lyon?"
    diffs = diffs_against_first([first, close, other, first])
    assert diffs[0] is None  # the reference itself
    assert diffs[1] == [("=", "Paris is the capital of France and "), ("+", "also "), ("=", "its largest city.")]
    assert diffs[2] is None  # too different to be read as a diff
    assert diffs[3] is None  # equal: nothing to show
    assert diffs_against_first([]) == []


def test_very_long_texts_get_no_diff():
    long = "word " * (MAX_DIFF_CHARS // 5 + 1)
    assert diffs_against_first([long, long + "more"]) == [None, None]
