"""PandaLM consensus (issue 5, 8a): majority / Dawid-Skene / MACE with and without the two LLM judges.

    .venv/bin/python bench/bench_pandalm_consensus.py [path/to/shared/datasets/pandalm]

PandaLM's test set has three human annotators and two LLM judges (GPT-3.5, PandaLM-7B) on every pair; the
pairs are read with scripts/convert/pandalm.py (the importer's own parser: same skips, same label mapping,
GPT's "garbage" verdicts left out as unparsable). Two evaluations:

1. Against the human majority: items where the three humans have a strict majority (>= 2 of 3 agree);
   consensus accuracy of each method on all votes. With humans only, the majority vote equals the
   reference by construction (100 %); the figure that says something is the next one.
2. Leave one human out: for each human h, the consensus of the other two humans (+ the judges) against
   h's label, on every item; the mean over the three folds. Here the judges can help or hurt.

Then each judge's estimated competence (DS, MACE with the judges in; and judged post hoc against the
humans-only consensus) beside its measured accuracy against the human majority. Prints markdown tables.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotation.curation.agreement import judge_agreement  # noqa: E402
from annotation.curation.aggregation import METHODS, aggregate_pairwise  # noqa: E402
from annotation.curation.aggregation._common import strict_majority, vote_counts  # noqa: E402
from annotation.curation.votes import WINNER_TO_CLASS, PairwiseVotes  # noqa: E402
from scripts.convert._common import Skips  # noqa: E402
from scripts.convert.pandalm import convert  # noqa: E402

DEFAULT_SRC = ROOT.parent / "shared" / "datasets" / "pandalm"


def load(src: Path) -> tuple[PairwiseVotes, Skips]:
    """Every parsed label of the converted records as PairwiseVotes (annotators in first-seen order)."""
    skips = Skips()
    names: dict[str, int] = {}
    judges: list[bool] = []
    items, annotators, values = [], [], []
    records = list(convert(src, skips=skips))
    for i, record in enumerate(records):
        for label in record["labels"]:
            if label.get("unparsable"):
                continue
            j = names.setdefault(label["annotator"], len(names))
            if j == len(judges):
                judges.append(label["annotator_kind"] == "judge")
            items.append(i)
            annotators.append(j)
            values.append(WINNER_TO_CLASS[label["winner"]])
    votes = PairwiseVotes(
        items=np.array(items), annotators=np.array(annotators), values=np.array(values, dtype=np.int8),
        item_ids=np.arange(len(records)), annotator_ids=np.arange(len(names)),
        annotator_is_judge=np.array(judges), annotator_names=tuple(names),
    )
    return votes, skips


def accuracy(winner: np.ndarray, reference: np.ndarray) -> float:
    ok = reference >= 0
    return float((winner[ok] == reference[ok]).mean())


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SRC
    votes, skips = load(src)
    humans = np.flatnonzero(~votes.annotator_is_judge)
    print(skips.summary("pandalm", votes.n_items), file=sys.stderr)
    reference = strict_majority(vote_counts(votes.subset(~votes.vote_is_judge))).astype(np.int64)
    print(f"{votes.n_items} pairs, {len(votes.values)} votes ({len(humans)} humans, "
          f"{int(votes.annotator_is_judge.sum())} judges); {int((reference >= 0).sum())} pairs with a strict human "
          f"majority\n")

    print("| method | judges | accuracy vs human majority | leave-one-human-out accuracy (mean of 3) |")
    print("|---|---|---:|---:|")
    fits = {}
    for method in METHODS:
        for with_judges in (False, True):
            c = aggregate_pairwise(votes, method=method, include_judges=with_judges)
            fits[method, with_judges] = c
            folds = []
            for h in humans:
                held = votes.annotators == h
                fold = aggregate_pairwise(votes.subset(~held), method=method, include_judges=with_judges)
                truth = np.full(votes.n_items, -1)
                truth[votes.items[held]] = votes.values[held]
                folds.append(accuracy(fold.winner, truth))
            print(f"| {method} | {'with' if with_judges else 'without'} | {accuracy(c.winner, reference):.2%} | "
                  f"{np.mean(folds):.2%} ({', '.join(f'{f:.1%}' for f in folds)}) |")

    print("\n| judge | measured accuracy vs human majority (n) | majority LOO | DS competence | "
          "MACE competence | DS post hoc (judge left out) |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in judge_agreement(votes):
        j = row.index
        print(f"| {row.name} | {row.accuracy:.1%} ({row.n_compared}) | "
              f"{fits['majority', True].competence[j]:.3f} | {fits['dawid_skene', True].competence[j]:.3f} | "
              f"{fits['mace', True].competence[j]:.3f} | {fits['dawid_skene', False].competence[j]:.3f} |")
    print("\n| human | DS competence (humans only) | DS competence (with judges) | MACE competence (with judges) |")
    print("|---|---:|---:|---:|")
    for j in humans:
        print(f"| {votes.annotator_names[j]} | {fits['dawid_skene', False].competence[j]:.3f} | "
              f"{fits['dawid_skene', True].competence[j]:.3f} | {fits['mace', True].competence[j]:.3f} |")


if __name__ == "__main__":
    main()
