"""Bench 8c: hybrid human/AI labels on PandaLM under a human budget — learned routing vs rules vs random.

    .venv/bin/python bench/bench_routing_pandalm.py [--splits 3] [--random-seeds 10]

Data: the PandaLM test set (../shared/datasets/pandalm), read by scripts/convert/pandalm.py (945 usable pairs).
Per item: the "human" source is one annotator's verdict, the "AI" source is GPT-3.5's verdict (none where it is
"garbage"), and gold is the other two annotators' verdict where they agree (items where they disagree are routed
but not scored), so neither source is part of its own gold. Each of the three annotators takes the human role in
turn and the figures are averaged over the three.

Hybrid label = the human verdict where routed, the AI verdict elsewhere; accuracy = share of scored items where it
equals gold. Features (annotation/curation/routing.py): GPT-3.5 and PandaLM-7B verdicts as judges (PandaLM-7B only
informs; it is never the label), GPT-3.5 as the explicit AI label, lexical and all-MiniLM similarity of the
responses, lengths, prompt length, and tags (the prompt's application and the two response models).
  learned  GainModel fitted on one half of the items (target: GPT-3.5 ≠ the human-source verdict, what a project
           knows about items that have both) and scoring the other half, then the halves swapped (cross-fitting),
           over `--splits` random halvings;
  rules    the fixed priority of routing.py, tie-breaks averaged over the random seeds;
  random   averaged over `--random-seeds` seeds;
  oracle   routes exactly the items where the AI verdict differs from gold first (the ceiling at each budget).
Prints a markdown table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_noise_hh import cached_embeddings  # noqa: E402

from annotation.curation.routing import GainModel, gain_target, route, routing_features  # noqa: E402
from annotation.curation.text import ItemTexts  # noqa: E402
from annotation.curation.votes import NONE, WINNER_TO_CLASS, PairwiseVotes  # noqa: E402
from scripts.convert import pandalm  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "pandalm"
HUMANS = ("pandalm-annotator1", "pandalm-annotator2", "pandalm-annotator3")
JUDGES = ("gpt-3.5-turbo", "pandalm-7b")
BUDGETS = (0.0, 0.1, 0.25, 0.5, 1.0)


def load() -> tuple[ItemTexts, np.ndarray, list[list[str]]]:
    """texts, classes (I, 5) for HUMANS + JUDGES (-1 = unparsable), tags per item."""
    records = list(pandalm.convert(DATA))
    columns = HUMANS + JUDGES
    labels = np.full((len(records), len(columns)), NONE, dtype=np.int64)
    for i, r in enumerate(records):
        for label in r["labels"]:
            if not label.get("unparsable"):
                labels[i, columns.index(label["annotator"])] = WINNER_TO_CLASS[label["winner"]]
    texts = ItemTexts([r["prompt"] for r in records], [[x["text"] for x in r["responses"]] for r in records])
    tags = [[f"app:{r['metadata']['motivation_app']}", f"a:{r['responses'][0]['model']}",
             f"b:{r['responses'][1]['model']}"] for r in records]
    return texts, labels, tags


def judge_votes(labels: np.ndarray) -> PairwiseVotes:
    """The two judges' parsed verdicts only: human verdicts never enter the features."""
    judge_labels = labels[:, len(HUMANS):]
    items, judges = np.nonzero(judge_labels != NONE)
    return PairwiseVotes(
        items=items, annotators=judges, values=judge_labels[items, judges].astype(np.int8),
        item_ids=np.arange(len(labels)), annotator_ids=np.arange(len(JUDGES)),
        annotator_is_judge=np.ones(len(JUDGES), bool), annotator_names=JUDGES,
    )


class Oracle(GainModel):
    """The ceiling: gain = 1 where the AI label is wrong (0.5 where there is no gold), known in advance."""

    kind_ = "oracle"

    def __init__(self, wrong: np.ndarray) -> None:
        super().__init__()
        self.wrong = wrong

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.wrong


def hybrid_accuracy(human_mask: np.ndarray, human: np.ndarray, ai: np.ndarray, gold: np.ndarray) -> float:
    scored = gold != NONE
    hybrid = np.where(human_mask, human, ai)
    return float(np.mean(hybrid[scored] == gold[scored]))


def route_halves(features, names, halves, policy, budget, *, models=None, seed=0) -> np.ndarray:
    """(I,) bool: each half routed on its own at `budget` (its own size), by the model fitted on the other half."""
    human = np.zeros(len(features), bool)
    for h, rows in enumerate(halves):
        model = None if models is None else models[h]
        human[rows] = route(features[rows], names, policy=policy, budget=budget, model=model, seed=seed).human
    return human


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", type=int, default=3, help="random halvings for the learned model's cross-fit")
    parser.add_argument("--random-seeds", type=int, default=10)
    args = parser.parse_args()
    start = time.perf_counter()
    texts, labels, tags = load()
    n = len(labels)
    embeddings = cached_embeddings(texts, prefix="pandalm")
    ai = labels[:, len(HUMANS)]  # GPT-3.5
    features, names = routing_features(judge_votes(labels), texts=texts, embeddings=embeddings, prompt_tags=tags,
                                       ai_label=ai)
    results: dict[str, list[list[float]]] = {p: [] for p in ("learned", "rules", "random", "oracle")}
    chosen_models, cv = [], []
    for k in range(len(HUMANS)):
        human = labels[:, k]
        others = labels[:, [j for j in range(len(HUMANS)) if j != k]]
        gold = np.where(others[:, 0] == others[:, 1], others[:, 0], NONE)
        target = gain_target(ai=ai, reference=human)
        for split in range(args.splits):
            perm = np.random.default_rng(1000 * k + split).permutation(n)
            halves = [perm[: n // 2], perm[n // 2:]]
            models = [GainModel(seed=split).fit(features[halves[1 - h]], target[halves[1 - h]]) for h in range(2)]
            chosen_models += [m.kind_ for m in models]
            cv += [m.cv_scores_ for m in models]
            results["learned"].append([hybrid_accuracy(route_halves(features, names, halves, "learned", b,
                                                                    models=models), human, ai, gold)
                                       for b in BUDGETS])
        for seed in range(args.random_seeds):
            for policy in ("rules", "random"):
                results[policy].append([hybrid_accuracy(route(features, names, policy=policy, budget=b,
                                                              seed=seed).human, human, ai, gold) for b in BUDGETS])
        wrong = ((ai != gold) & (gold != NONE)).astype(float) + 0.5 * (gold == NONE)
        results["oracle"].append([hybrid_accuracy(route(features, names, policy="learned", budget=b,
                                                        model=Oracle(wrong)).human, human, ai, gold) for b in BUDGETS])
    total = time.perf_counter() - start

    pairs = [labels[:, [j for j in range(3) if j != k]] for k in range(3)]
    scored = [int((p[:, 0] == p[:, 1]).sum()) for p in pairs]
    print(f"PandaLM: {n} pairs, {len(names)} features; scored (the other two annotators agree): {scored} "
          f"for human = annotator 1/2/3; learned = cross-fitted halves x {args.splits} splits x 3 annotators; "
          f"rules and random x {args.random_seeds} seeds; {total:.0f} s\n")
    print("| policy | " + " | ".join(f"{b:.0%} human" for b in BUDGETS) + " |")
    print("|---" * (len(BUDGETS) + 1) + "|")
    for policy, runs in results.items():
        mean = np.mean(runs, axis=0)
        print(f"| {policy} | " + " | ".join(f"{m:.3f}" for m in mean) + " |")
    kinds = {kind: chosen_models.count(kind) for kind in set(chosen_models)}
    auc = {name: np.mean([c[name] for c in cv if name in c]) for name in ("logistic", "boosting")}
    print(f"\ngain model chosen by 5-fold CV AUROC: {kinds}; mean CV AUROC logistic {auc['logistic']:.3f}, "
          f"boosting {auc['boosting']:.3f}")


if __name__ == "__main__":
    main()
