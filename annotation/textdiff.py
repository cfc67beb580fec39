"""Word-level differences between near-identical responses, for the listwise task page. No Django.

Rankings of light rewrites (LAMP: an AI paragraph, a writer's edit of it and an AI's edit) are hard to judge by
reading: the texts differ in a few words. The page shows each response's changes against the first one shown.
The ops are plain text; the template escapes them like any model output.
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher

__all__ = ["NEAR_IDENTICAL_RATIO", "MAX_DIFF_CHARS", "tokenize", "word_diff", "diffs_against_first"]

# Token similarity (difflib ratio, 2·matches / total tokens) from which two responses count as near-identical.
# On the demo's LAMP slice (20 paragraphs, a writer's and an AI's edit of each) the edits score 0.29-0.92
# against the original, 31 of 40 at or above 0.6 (QA-Feedback's sampled answers: 63 of 150); below that the
# diff is mostly red and green and harder to read than the two texts.
NEAR_IDENTICAL_RATIO = 0.6
# SequenceMatcher is quadratic in the worst case: texts longer than this (characters) get no diff.
MAX_DIFF_CHARS = 20_000

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Words, runs of whitespace and single punctuation marks; joined back they give `text`."""
    return _TOKEN.findall(text)


def word_diff(a: str, b: str) -> tuple[float, list[tuple[str, str]]]:
    """(similarity, ops) turning `a` into `b`: ops are ("=", text), ("-", text only in a), ("+", text only in b),
    adjacent ops of one kind merged. Similarity is difflib's ratio on tokens, in [0, 1]."""
    x, y = tokenize(a), tokenize(b)
    matcher = SequenceMatcher(None, x, y, autojunk=False)
    ops: list[tuple[str, str]] = []

    def push(op: str, tokens: list[str]) -> None:
        text = "".join(tokens)
        if not text:
            return
        if ops and ops[-1][0] == op:
            ops[-1] = (op, ops[-1][1] + text)
        else:
            ops.append((op, text))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            push("=", x[i1:i2])
        else:  # replace, delete, insert
            push("-", x[i1:i2])
            push("+", y[j1:j2])
    return matcher.ratio(), ops


def diffs_against_first(texts: list[str], *, threshold: float = NEAR_IDENTICAL_RATIO
                        ) -> list[list[tuple[str, str]] | None]:
    """For each text after the first, its word diff from the first when the two are near-identical (similarity
    at least `threshold` and not equal), else None. The first text itself gets None."""
    if not texts:
        return []
    first = texts[0]
    out: list[list[tuple[str, str]] | None] = [None]
    for text in texts[1:]:
        if text == first or len(first) > MAX_DIFF_CHARS or len(text) > MAX_DIFF_CHARS:
            out.append(None)
            continue
        ratio, ops = word_diff(first, text)
        out.append(ops if ratio >= threshold else None)
    return out
