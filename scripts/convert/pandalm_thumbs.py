"""PandaLM test set → PrefStudio native JSONL of thumbs items (unpaired data for KTO).

The same pairs as pandalm.py, turned into thumbs items the way TRL turns paired preferences into unpaired ones
for KTO: in a pair one annotator preferred, the preferred response is "desirable" (thumbs up) and the other
"undesirable" (thumbs down). Each response of a pair becomes one thumbs item; each of the three human
annotators who preferred one side gives a thumbs label to both items of the pair (up for the side they chose,
down for the other); an annotator who called it a tie gives none. So the three people's disagreements carry over.

  id        "pandalm-{idx}-A" / "pandalm-{idx}-B"
  prompt    as in pandalm.py (one user message), shared by the two items of a pair
  responses the one response, with its model from cmp_key
  labels    "pandalm-annotator1..3" (kind human): thumbs "up" / "down" as above
  metadata  {"source": "pandalm", "idx", "side", "derived_from": "pairwise preference"}

Skipped as in pandalm.py (empty responses, bad verdicts), and pairs that every annotator called a tie.
"""
import sys
from collections.abc import Iterator
from pathlib import Path

if __package__:
    from ._common import Record, Skips, main
    from .pandalm import convert as convert_pairs
else:  # run as a script: python scripts/convert/pandalm_thumbs.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import Record, Skips, main
    from pandalm import convert as convert_pairs


def _thumbs(pair: Record) -> list[Record]:
    humans = [label for label in pair["labels"] if label["annotator_kind"] == "human" and label["winner"] in "AB"]
    items = []
    for side, response in zip("AB", pair["responses"]):
        items.append({
            "id": f"{pair['id']}-{side}",
            "kind": "thumbs",
            "prompt": pair["prompt"],
            "prompt_metadata": pair["prompt_metadata"],
            "metadata": {"source": "pandalm", "idx": pair["metadata"]["idx"], "side": side,
                         "derived_from": "pairwise preference"},
            "responses": [response],
            "labels": [
                {"annotator": label["annotator"], "annotator_kind": "human",
                 "thumbs": "up" if label["winner"] == side else "down"}
                for label in humans
            ],
        })
    return items


def convert(src: Path, *, limit: int | None = None, skips: Skips | None = None) -> Iterator[Record]:
    """Native thumbs records for the first `limit` pairs of `src` (the PandaLM data folder)."""
    skips = skips if skips is not None else Skips()
    for pair in convert_pairs(src, limit=limit, skips=skips):
        if not any(label["annotator_kind"] == "human" and label["winner"] in "AB" for label in pair["labels"]):
            skips.skip(pair["id"], "every annotator called it a tie")
            continue
        yield from _thumbs(pair)


if __name__ == "__main__":
    sys.exit(main("pandalm_thumbs", __doc__, convert))
