"""QA-Feedback (FineGrainedRLHF) → PrefStudio native JSONL: a listwise item and an edit item per question.

Source (allenai/FineGrainedRLHF, tasks/qa_feedback/data/dev_feedback.json; train_feedback.json has the
same shape), a JSON array of {question, passages, gold, "prediction 1".."prediction 4", preference,
feedback: {errors, missing-info, corrected-prediction}}:
  - `passages` is a list of [title, sentence, sentence, ...];
  - `preference` holds 6 pairwise judgments over (1v2, 1v3, 1v4, 2v3, 2v4, 3v4): 0 = no preference,
    1 = the first of the pair is better, 2 = the second;
  - `feedback` is for prediction 1 only: error spans, missing information and a human correction.

Mapping, for the question at 0-based position i of the file `<split>_feedback.json`:
  prompt       two messages: a system message with the passages ("[1] title\\nsentences..." each,
               numbered as in the source) and a user message with the question (a question without
               passages is the user message alone). prompt_metadata keeps the gold answer. Both items
               of a question share the prompt.
  responses    prediction 1..4 at positions 0..3, model "t5-large-sft" (the supervised T5-large policy
               the dataset sampled them from), gen_params {"decoding": "sampling", "sample": k}.
  listwise     id "qa-feedback-<split>-<i>-rank", one ranking label by the human "qa-feedback-annotator"
               derived from the 6 judgments by Copeland score: each prediction scores its pairwise wins
               minus its losses (0 = no preference counts for neither); predictions are ranked by score,
               equal scores forming one tie group, e.g. [[0], [2, 3], [1]]. Item metadata keeps the raw
               judgments {"1v2": 1, ...} and the scores.
  edit         id "qa-feedback-<split>-<i>-edit", response = prediction 1, one label by
               "qa-feedback-annotator" with edited_text = corrected-prediction. Item metadata keeps the
               error spans (character offsets into prediction 1) and the missing information. A record
               without a correction gets no edit item; a correction equal to prediction 1 (the annotator
               found nothing to fix) is kept.

Skipped (counted on stderr): questions with an empty question or prediction, or with judgments
that are not 6 values in 0..2 (no listwise item); questions without a correction (no edit item).
"""
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__:
    from ._common import Record, Skips, main
else:  # run as a script: python scripts/convert/qa_feedback.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import Record, Skips, main

DEFAULT_FILE = "dev_feedback.json"
ANNOTATOR = "qa-feedback-annotator"
MODEL = "t5-large-sft"
N_PREDICTIONS = 4
# The order of the 6 judgments in `preference`, as 0-based prediction positions.
PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


def copeland_ranking(judgments: list[int], n: int = N_PREDICTIONS) -> tuple[list[list[int]], list[int]]:
    """Tie groups of positions, best first, and each position's wins minus losses.

    `judgments[k]` is the verdict on PAIRS[k]: 0 no preference, 1 first better, 2 second better.
    """
    scores = [0] * n
    for (first, second), verdict in zip(PAIRS, judgments):
        if verdict == 1:
            scores[first] += 1
            scores[second] -= 1
        elif verdict == 2:
            scores[second] += 1
            scores[first] -= 1
    groups: list[list[int]] = []
    for position in sorted(range(n), key=lambda p: (-scores[p], p)):
        if groups and scores[groups[-1][0]] == scores[position]:
            groups[-1].append(position)
        else:
            groups.append([position])
    return groups, scores


def prompt_messages(question: str, passages: list[list[str]]) -> list[dict[str, str]]:
    blocks = []
    for number, passage in enumerate(passages, start=1):
        title, sentences = (passage[0], passage[1:]) if passage else ("", [])
        blocks.append(f"[{number}] {title}\n{' '.join(s.strip() for s in sentences)}".rstrip())
    messages = []
    if blocks:
        messages.append({"role": "system", "content": "Passages:\n\n" + "\n\n".join(blocks)})
    messages.append({"role": "user", "content": question.strip()})
    return messages


def _valid_judgments(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == len(PAIRS)
        and all(isinstance(v, int) and not isinstance(v, bool) and v in (0, 1, 2) for v in value)
    )


def _records(record: dict[str, Any], split: str, i: int, skips: Skips) -> Iterator[Record]:
    where = f"question {i}"
    question = record.get("question") or ""
    predictions = [record.get(f"prediction {k}") for k in range(1, N_PREDICTIONS + 1)]
    if not question.strip() or not all(isinstance(p, str) and p.strip() for p in predictions):
        skips.skip(where, "empty question or prediction")
        return
    messages = prompt_messages(question, record.get("passages") or [])
    prompt_id = f"qa-feedback-{split}-{i}"
    responses = [
        {"text": text, "model": MODEL, "gen_params": {"decoding": "sampling", "sample": k}}
        for k, text in enumerate(predictions, start=1)
    ]
    base = {"source": "qa_feedback", "split": split, "index": i}
    common = {"prompt": messages, "prompt_id": prompt_id, "prompt_metadata": {"gold": record.get("gold") or ""}}
    judgments = record.get("preference")
    if _valid_judgments(judgments):
        ranking, scores = copeland_ranking(judgments)
        yield {
            "id": f"{prompt_id}-rank", "kind": "listwise", **common,
            "metadata": {
                **base,
                "pairwise": {f"{a + 1}v{b + 1}": v for (a, b), v in zip(PAIRS, judgments)},
                "copeland_scores": scores,
            },
            "responses": responses,
            "labels": [{"annotator": ANNOTATOR, "annotator_kind": "human", "ranking": ranking}],
        }
    else:
        skips.skip(where, "preference is not 6 judgments in 0..2 (no listwise item)")
    feedback = record.get("feedback") or {}
    corrected = feedback.get("corrected-prediction")
    if not isinstance(corrected, str) or not corrected.strip():
        skips.skip(where, "no corrected prediction (no edit item)")
        return
    yield {
        "id": f"{prompt_id}-edit", "kind": "edit", **common,
        "metadata": {**base, "errors": feedback.get("errors") or [], "missing_info": feedback.get("missing-info") or []},
        "responses": [responses[0]],
        "labels": [{"annotator": ANNOTATOR, "annotator_kind": "human", "edited_text": corrected}],
    }


def convert(src: Path, *, limit: int | None = None, skips: Skips | None = None) -> Iterator[Record]:
    """Native records for `src` (the folder, read as dev_feedback.json, or a *_feedback.json file).

    `limit` = the first N questions.
    """
    skips = skips if skips is not None else Skips()
    path = Path(src)
    if path.is_dir():
        path = path / DEFAULT_FILE
    split = path.stem.removesuffix("_feedback")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    for i, record in enumerate(data):
        if limit is not None and i >= limit:
            return
        yield from _records(record, split, i, skips)


if __name__ == "__main__":
    sys.exit(main("qa_feedback", __doc__, convert))
