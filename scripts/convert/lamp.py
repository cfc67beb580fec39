"""LAMP (Salesforce creativity_eval, Writing_Alignment) → PrefStudio native JSONL: edit and listwise items.

Source files (one JSON object per line):
  lamp_edits_subset.jsonl         {id, instruction, source (the LLM), type, preedit (the LLM's paragraph),
                                   postedit (the writer's edit of it), AI-edited (an LLM's edit of the
                                   same flagged spans), fine_grained_edits, creativity_scores, lev_ratio,
                                   batch, split, url, edited_by?}
  lamp_preference_rankings.jsonl  {id, batch, annotator, instruction_id, instruction,
                                   responses {"AI-generated", "Human-edited", "AI-edited": text},
                                   ranking ["Response 2", "Response 1", "Response 3"],
                                   ranking_conditions ["Human-edited", "AI-generated", "AI-edited"]}
The rankings: `ranking` lists the labels under which the three texts were shown ("Response k" = k-th
on screen), best first, and `ranking_conditions` names the text behind each, in the same order — so
`ranking_conditions` is the ranking (the upstream agreement_map.json agrees), and the pair of lists gives
the order in which the annotator saw them. Ids are "<writer>_batch<b>_<n>": the writer who edited the
paragraph.

Mapping:
  prompt       one user message: the instruction. Paragraphs with the same instruction share a prompt.
  edit items   (lamp_edits_subset) id "lamp-edit-<id>", response = preedit (model = source), labels:
               the writer, human "lamp-<writer>", edited_text = postedit; and the LLM edit, judge
               "lamp-ai-editor", edited_text = AI-edited. Metadata keeps type, url, batch, split,
               creativity_scores, lev_ratio, edited_by and the categorised fine_grained_edits.
  listwise     (lamp_preference_rankings) one item per paragraph and set of texts, id "lamp-rank-<id>"
               (a second set of texts for the same paragraph — the rankings file shows 5 paragraphs to
               some annotators with a comma changed, and one twice — gets "lamp-rank-<id>-<k>", k = 2, 3...,
               in file order). Responses in a fixed order: 0 = AI-generated (model = the LLM, when the
               edits file names it), 1 = Human-edited, 2 = AI-edited; metadata "conditions" names them.
               One ranking label per named annotator, human "lamp-<annotator>", strict (no ties), with
               shown_order = the positions in the order they were on screen.

Skipped (counted on stderr): records with an empty instruction or text, rankings that are not a
permutation of the three texts, and a second ranking of the same texts by the same annotator.
"""
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__:
    from ._common import Record, Skips, main, read_jsonl
else:  # run as a script: python scripts/convert/lamp.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import Record, Skips, main, read_jsonl

EDITS = "lamp_edits_subset.jsonl"
RANKINGS = "lamp_preference_rankings.jsonl"
CONDITIONS = ("AI-generated", "Human-edited", "AI-edited")
AI_EDITOR = "lamp-ai-editor"


def annotator_name(person: str) -> str:
    return f"lamp-{person}"


def writer_of(paragraph_id: str) -> str:
    """'rachel_lapides_batch1_3' → 'rachel_lapides'."""
    return paragraph_id.rsplit("_", 2)[0]


def _nonempty(*values: Any) -> bool:
    return all(isinstance(v, str) and v.strip() for v in values)


def _edit_item(line: int, row: dict[str, Any], skips: Skips) -> Record | None:
    pid = row.get("id") or ""
    if not _nonempty(pid, row.get("instruction"), row.get("preedit"), row.get("postedit")):
        skips.skip(f"{EDITS}:{line}", "empty id, instruction, preedit or postedit")
        return None
    labels = [{"annotator": annotator_name(writer_of(pid)), "annotator_kind": "human", "edited_text": row["postedit"]}]
    if _nonempty(row.get("AI-edited")):
        labels.append({"annotator": AI_EDITOR, "annotator_kind": "judge", "edited_text": row["AI-edited"]})
    keep = ("type", "url", "batch", "split", "creativity_scores", "lev_ratio", "edited_by", "fine_grained_edits")
    return {
        "id": f"lamp-edit-{pid}",
        "kind": "edit",
        "prompt": row["instruction"],
        "metadata": {"source": "lamp", "lamp_id": pid, "writer": writer_of(pid), **{k: row[k] for k in keep if k in row}},
        "responses": [{"text": row["preedit"], "model": row.get("source") or ""}],
        "labels": labels,
    }


def edit_items(src: Path, *, ids: set[str] | None = None, skips: Skips) -> Iterator[Record]:
    for line, row in read_jsonl(src / EDITS):
        if ids is not None and row.get("id") not in ids:
            continue
        record = _edit_item(line, row, skips)
        if record is not None:
            yield record


def _ranking_label(line: int, row: dict[str, Any], skips: Skips) -> Record | None:
    order, shown = row.get("ranking_conditions"), row.get("ranking")
    screen = [f"Response {k}" for k in (1, 2, 3)]
    if (
        not isinstance(order, list) or sorted(order) != sorted(CONDITIONS)
        or not isinstance(shown, list) or sorted(shown) != screen
    ):
        skips.skip(f"{RANKINGS}:{line}", "ranking is not a permutation of the three texts")
        return None
    position = {condition: CONDITIONS.index(condition) for condition in CONDITIONS}
    on_screen = dict(zip(shown, order))  # "Response k" → the text shown under it
    return {
        "annotator": annotator_name(row["annotator"]),
        "annotator_kind": "human",
        "ranking": [[position[c]] for c in order],
        "shown_order": [position[on_screen[label]] for label in screen],
    }


def ranking_items(src: Path, *, ids: set[str] | None = None, skips: Skips, models: dict[str, str]) -> Iterator[Record]:
    """Group the rankings into items (one per paragraph and set of texts), in file order."""
    items: dict[tuple[str, tuple[str, ...]], Record] = {}
    per_paragraph: dict[str, int] = {}
    for line, row in read_jsonl(src / RANKINGS):
        pid = row.get("id") or ""
        if ids is not None and pid not in ids:
            continue
        texts = tuple((row.get("responses") or {}).get(c) for c in CONDITIONS)
        if not _nonempty(pid, row.get("instruction"), row.get("annotator"), *texts):
            skips.skip(f"{RANKINGS}:{line}", "empty id, instruction, annotator or text")
            continue
        label = _ranking_label(line, row, skips)
        if label is None:
            continue
        item = items.get((pid, texts))
        if item is None:
            per_paragraph[pid] = per_paragraph.get(pid, 0) + 1
            k = per_paragraph[pid]
            model = models.get(pid, "")
            item = items[(pid, texts)] = {
                "id": f"lamp-rank-{pid}" + (f"-{k}" if k > 1 else ""),
                "kind": "listwise",
                "prompt": row["instruction"],
                "metadata": {
                    "source": "lamp", "lamp_id": pid, "writer": writer_of(pid), "batch": row.get("batch", ""),
                    "conditions": list(CONDITIONS), "instruction_ids": [],
                },
                "responses": [
                    {"text": texts[0], "model": model}, {"text": texts[1]}, {"text": texts[2]},
                ],
                "labels": [],
            }
        if any(existing["annotator"] == label["annotator"] for existing in item["labels"]):
            skips.skip(f"{RANKINGS}:{line}", "the same annotator ranked the same texts twice")
            continue
        item["labels"].append(label)
        if row.get("instruction_id") not in item["metadata"]["instruction_ids"]:
            item["metadata"]["instruction_ids"].append(row.get("instruction_id"))
    yield from items.values()


def convert(src: Path, *, limit: int | None = None, skips: Skips | None = None) -> Iterator[Record]:
    """Edit items, then listwise items, for `src` (the LAMP folder).

    `limit` = the first N paragraphs of lamp_edits_subset.jsonl: their edits and their rankings.
    """
    skips = skips if skips is not None else Skips()
    src = Path(src)
    src = src.parent if src.is_file() else src
    ids = None
    models: dict[str, str] = {}
    for n, (_, row) in enumerate(read_jsonl(src / EDITS)):
        if limit is None or n < limit:
            models[row.get("id") or ""] = row.get("source") or ""
    if limit is not None:
        ids = set(models)
    yield from edit_items(src, ids=ids, skips=skips)
    yield from ranking_items(src, ids=ids, skips=skips, models=models)


if __name__ == "__main__":
    sys.exit(main("lamp", __doc__, convert))
