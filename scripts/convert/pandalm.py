"""PandaLM test set → PrefStudio native JSONL: pairwise items, 3 human annotators and 2 LLM judges.

Source (WeOpenML/PandaLM, data/), three JSON arrays joined by `idx`:
  testset-v1.json                {idx, motivation_app, cmp_key, instruction, input, response1, response2,
                                  annotator1, annotator2, annotator3}
  gpt-3.5-turbo-testset-v1.json  {idx, gpt_result, gpt_reason, gpt_reference}
  pandalm-7b-testset-v1.json     {idx, pandalm_result, pandalm_reason, pandalm_reference}

Mapping, one pairwise item per idx:
  id           "pandalm-{idx}"
  prompt       one user message: instruction, then a blank line and `input` when it is not empty
               (the Alpaca layout PandaLM was built on); prompt_metadata keeps motivation_app,
               instruction and input. Pairs with the same instruction and input share one prompt.
  responses    A = response1, B = response2 (the upstream order, which follows cmp_key and not the
               preference, so no balancing swap is needed); models from cmp_key "bloom-7b_llama-7b"
               → A "bloom-7b", B "llama-7b".
  labels       humans "pandalm-annotator1..3" (kind human): 0 → tie, 1 → A, 2 → B.
               judge "gpt-3.5-turbo": gpt_result "1" → A, "2" → B, "Tie" → tie, "garbage" →
               an unparsable label; judge "pandalm-7b": pandalm_result 0 → tie, 1 → A, 2 → B.
               A judge's rationale is its reason; raw_output is its whole upstream record as JSON
               (result, reason and the reference answer it wrote).
  metadata     {"source": "pandalm", "idx", "cmp_key", "motivation_app"}

Skipped (counted on stderr): pairs where a response is empty (PrefStudio stores no empty
response, as the hh importer also refuses them) and records whose labels are out of range or
that a judge file lacks. Repaired: six responses stored upstream as the JSON boolean `true`
(the model answered "True" to a true/false question; the file was round-tripped through a
loader that turned the word into a boolean) become the text "True".
"""
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__:
    from ._common import Record, Skips, main
else:  # run as a script: python scripts/convert/pandalm.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import Record, Skips, main

TESTSET = "testset-v1.json"
GPT = "gpt-3.5-turbo-testset-v1.json"
PANDALM = "pandalm-7b-testset-v1.json"
HUMANS = ("annotator1", "annotator2", "annotator3")
HUMAN_WINNER = {0: "tie", 1: "A", 2: "B"}
GPT_WINNER = {"1": "A", "2": "B", "Tie": "tie"}
GPT_UNPARSABLE = "garbage"


def _load(src: Path, name: str) -> list[dict[str, Any]]:
    with open(src / name, encoding="utf-8") as f:
        return json.load(f)


def joined(src: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]]:
    """(pair, GPT-3.5 record, PandaLM-7B record) for every pair of the test set, in file order."""
    gpt = {r["idx"]: r for r in _load(src, GPT)}
    pandalm = {r["idx"]: r for r in _load(src, PANDALM)}
    for pair in _load(src, TESTSET):
        yield pair, gpt.get(pair["idx"]), pandalm.get(pair["idx"])


def _text(value: Any, skips: Skips) -> str:
    if isinstance(value, bool):
        skips.repair("a boolean response became its word ('True'/'False')")
        return "True" if value else "False"
    return value if isinstance(value, str) else ""


def _prompt(pair: dict[str, Any]) -> str:
    instruction = (pair.get("instruction") or "").strip()
    given = (pair.get("input") or "").strip()
    return "\n\n".join(part for part in (instruction, given) if part)


def _judge_label(name: str, record: dict[str, Any], winner: str | None, reason_key: str) -> Record:
    raw = json.dumps({k: v for k, v in record.items() if k != "idx"}, ensure_ascii=False)
    if winner is None:
        return {"annotator": name, "annotator_kind": "judge", "unparsable": True, "raw_output": raw}
    return {
        "annotator": name, "annotator_kind": "judge", "winner": winner,
        "rationale": record.get(reason_key) or "", "raw_output": raw,
    }


def _item(pair, gpt, pandalm, skips: Skips) -> Record | None:
    idx = pair["idx"]
    where = f"idx {idx}"
    texts = [_text(pair.get("response1"), skips), _text(pair.get("response2"), skips)]
    if not all(t.strip() for t in texts):
        skips.skip(where, "a response is empty")
        return None
    prompt = _prompt(pair)
    if not prompt:
        skips.skip(where, "instruction and input are both empty")
        return None
    models = (pair.get("cmp_key") or "").split("_")
    if len(models) != 2:
        skips.skip(where, "cmp_key does not name two models")
        return None
    if gpt is None or pandalm is None:
        skips.skip(where, "missing from a judge file")
        return None
    if any(pair.get(h) not in HUMAN_WINNER for h in HUMANS):
        skips.skip(where, "a human verdict is not 0, 1 or 2")
        return None
    if gpt.get("gpt_result") not in GPT_WINNER and gpt.get("gpt_result") != GPT_UNPARSABLE:
        skips.skip(where, "gpt_result is not '1', '2', 'Tie' or 'garbage'")
        return None
    if pandalm.get("pandalm_result") not in HUMAN_WINNER:
        skips.skip(where, "pandalm_result is not 0, 1 or 2")
        return None
    labels = [
        {"annotator": f"pandalm-{h}", "annotator_kind": "human", "winner": HUMAN_WINNER[pair[h]]} for h in HUMANS
    ]
    labels.append(_judge_label("gpt-3.5-turbo", gpt, GPT_WINNER.get(gpt["gpt_result"]), "gpt_reason"))
    labels.append(_judge_label("pandalm-7b", pandalm, HUMAN_WINNER[pandalm["pandalm_result"]], "pandalm_reason"))
    return {
        "id": f"pandalm-{idx}",
        "kind": "pairwise",
        "prompt": prompt,
        "prompt_metadata": {
            "motivation_app": pair.get("motivation_app", ""),
            "instruction": pair.get("instruction", ""),
            "input": pair.get("input", ""),
        },
        "metadata": {
            "source": "pandalm", "idx": idx, "cmp_key": pair["cmp_key"], "motivation_app": pair.get("motivation_app", ""),
        },
        "responses": [{"text": texts[0], "model": models[0]}, {"text": texts[1], "model": models[1]}],
        "labels": labels,
    }


def convert(src: Path, *, limit: int | None = None, skips: Skips | None = None) -> Iterator[Record]:
    """Native records for the pairs of `src` (the PandaLM data folder); `limit` = first N pairs."""
    skips = skips if skips is not None else Skips()
    src = Path(src)
    for n, (pair, gpt, pandalm) in enumerate(joined(src.parent if src.is_file() else src)):
        if limit is not None and n >= limit:
            return
        record = _item(pair, gpt, pandalm, skips)
        if record is not None:
            yield record


if __name__ == "__main__":
    sys.exit(main("pandalm", __doc__, convert))
