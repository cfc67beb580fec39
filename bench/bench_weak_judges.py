"""Bench issue 14 (items 2, 3, 7): aggregation and the noise score when most annotators are weak and correlated.

    .venv/bin/python bench/bench_weak_judges.py [--items 1200] [--weak 64] [--strong 6] [--seeds 3] [--no-pandalm]

Synthetic set (seeded): binary truth (A / B); a share `--trap` (0.6) of the items are adversarial. A weak judge
is right with probability U(0.6, 0.8) on a plain item and U(0.1, 0.3) on an adversarial one - all weak judges
fall for the same items, so their errors are correlated and the majority is below 50 %. A strong judge is right
with probability U(0.78, 0.86) everywhere, independently. Every judge votes on every item, checked in both
orders: a right verdict holds in both orders with probability 0.85, a wrong one 0.55. A simulated reward-model
ensemble (3 members) prefers the adversarial answer like the weak judges do (so its noise signal points the
wrong way, as the issue measured). Settings: 0 %, 5 %, 10 % of the items carry a calibration reference (the
truth); accuracy is measured against the truth on the items WITHOUT a reference, with its 95 % Wilson interval.

Per setting and seed it prints one line per method: unsupervised methods, weighted, supervised (with
references), the cross-validated choice (aggregation_choose) and the best single annotator (an oracle: the
annotator with the best true accuracy), plus the Pearson correlation between the chosen consensus' competence
and each annotator's true accuracy, the reliability warnings, and the noise score: each signal's AUROC for the
chosen consensus' wrong labels (vs the truth, on items without a reference) next to the calibrated combined
score's (noise_calibrate), and the time aggregation_choose took.

Real-data line (PandaLM, ../shared/datasets/pandalm): the two LLM judges' votes with the strict human majority
as the reference, at 0 / 5 / 10 % calibration references; accuracy vs the human majority on the other items.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotation.curation.aggregation import METHODS, aggregate_pairwise  # noqa: E402
from annotation.curation.calibration import AggregationRun, aggregation_choose, noise_calibrate  # noqa: E402
from annotation.curation.calibration._stats import auroc, proportion  # noqa: E402
from annotation.curation.noise import noise_report  # noqa: E402
from annotation.curation.votes import A, B, PairwiseVotes  # noqa: E402

SHARES = (0.0, 0.05, 0.10)


def weak_judges(*, n_items: int, n_weak: int, n_strong: int, trap: float = 0.6, seed: int = 0):
    """(votes, truth (I,), accuracy (J,) true accuracy per judge, rm_margins (3, I) for the truth's winner
    side: positive = the RM prefers the true winner)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n_items)
    is_trap = rng.random(n_items) < trap
    n_annot = n_weak + n_strong
    p_plain = np.concatenate([rng.uniform(0.6, 0.8, n_weak), rng.uniform(0.78, 0.86, n_strong)])
    p_trap = np.concatenate([rng.uniform(0.1, 0.3, n_weak), p_plain[n_weak:]])
    p_right = np.where(is_trap[:, None], p_trap[None, :], p_plain[None, :])  # (I, J)
    right = rng.random((n_items, n_annot)) < p_right
    values = np.where(right, truth[:, None], 1 - truth[:, None])  # (I, J)
    consistent = rng.random((n_items, n_annot)) < np.where(right, 0.85, 0.55)
    items, annotators = np.divmod(np.arange(n_items * n_annot), n_annot)
    names = tuple(f"weak{j}" for j in range(n_weak)) + tuple(f"strong{j}" for j in range(n_strong))
    votes = PairwiseVotes(
        items=items, annotators=annotators, values=values.ravel().astype(np.int8),
        item_ids=np.arange(n_items), annotator_ids=np.arange(n_annot), annotator_is_judge=np.ones(n_annot, bool),
        swap_consistent=consistent.ravel().astype(float), annotator_names=names,
    )
    # the RM falls for the adversarial answer on 70 % of the adversarial items, backs the truth on 70 % of the rest
    rm_true = np.where(is_trap, rng.random(n_items) > 0.7, rng.random(n_items) < 0.7)
    rm_truth_margin = np.where(rm_true, 1.0, -1.0)[None, :] + rng.normal(0, 0.8, (3, n_items))
    return votes, truth, right.mean(axis=0), rm_truth_margin


def reference_split(truth: np.ndarray, share: float, seed: int) -> np.ndarray:
    refs = np.full(len(truth), -1, dtype=np.int64)
    pick = np.random.default_rng(seed + 1000).permutation(len(truth))[: int(round(share * len(truth)))]
    refs[pick] = truth[pick]
    return refs


def acc(winner: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> str:
    return str(proportion(int((winner[mask] == truth[mask]).sum()), int(mask.sum())))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = ~np.isnan(a) & ~np.isnan(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 and np.std(a[ok]) > 0 else float("nan")


def synthetic(args) -> None:
    for share in SHARES:
        for seed in range(args.seeds):
            votes, truth, true_acc, rm_truth = weak_judges(n_items=args.items, n_weak=args.weak,
                                                           n_strong=args.strong, trap=args.trap, seed=seed)
            refs = reference_split(truth, share, seed)
            test = refs < 0
            tag = f"refs {share:.0%} seed {seed}"
            for method in METHODS + ("weighted",):
                gold_votes = PairwiseVotes(**{**votes.__dict__, "gold": np.where(refs >= 0, refs, -1).astype(np.int8)})
                c = aggregate_pairwise(gold_votes, method=method)
                print(f"{tag} | {method:11s} | acc {acc(c.winner, truth, test)} | competence r "
                      f"{pearson(c.competence, true_acc):+.2f}")
            best = int(np.argmax(true_acc))
            print(f"{tag} | best single | acc {acc(votes.values.reshape(args.items, -1)[:, best], truth, test)} "
                  f"({votes.annotator_names[best]}, oracle)")
            start = time.perf_counter()
            choice = aggregation_choose(votes, run=AggregationRun(orders=args.orders), references=refs)
            took = time.perf_counter() - start
            for name, score in choice.scores.items():
                print(f"{tag} | cv {name:8s} | cv acc on references {score.accuracy}")
            ref_acc = np.array([p.value for p in choice.reference_accuracy])
            r_ref = pearson(ref_acc, true_acc) if share else float("nan")
            print(f"{tag} | CHOSEN {choice.chosen} | acc {acc(choice.consensus.winner, truth, test)} | competence r "
                  f"{pearson(choice.consensus.competence, true_acc):+.2f} (reference accuracy r {r_ref:+.2f}) | "
                  f"per-vote agreement {choice.agreement.per_vote} | {took:.2f} s")
            for w in choice.warnings:
                print(f"{tag} | WARNING {w.code}: {w.message[:140]}")
            # as services/calibrated.noise_check decides
            inverted = any(w.code in ("opposed_camps", "below_chance") for w in choice.warnings)
            trusted = bool(choice.scores) or not inverted
            noise(tag, votes, choice.held_out, truth, refs, rm_truth, trusted=trusted)


def noise(tag, votes, consensus, truth, refs, rm_truth, trusted: bool = True) -> None:
    winner = consensus.winner.astype(np.int64)
    rm = np.where(winner == truth, 1.0, -1.0)[None, :] * rm_truth  # margins winner - loser
    report = noise_report(votes, consensus, rm_margins=rm)
    # soft labels only from a consensus that references validated (module docstring of noise_weights)
    soft = 1.0 - np.nan_to_num(consensus.probability, nan=0.5) if (refs >= 0).any() else None
    cal = noise_calibrate(report, winner=winner, references=refs, expected_wrong=soft,
                          is_gold=np.zeros(len(winner), bool), margin_trusted=trusted)
    test = refs < 0
    wrong = winner != truth
    parts = []
    best = 0.0
    for name, s in report.signals.items():
        ok = test & ~np.isnan(s.severity)
        a = auroc(s.severity[ok], wrong[ok])[0]
        if not np.isnan(a):
            parts.append(f"{name} {a:.2f}")
            best = max(best, a)
    combined = auroc(cal.score[test], wrong[test])[0]
    default = auroc(report.score[test], wrong[test])[0]
    print(f"{tag} | noise AUROC vs truth ({int(wrong[test].sum())} wrong of {int(test.sum())}): "
          f"{', '.join(parts)} | default sum {default:.2f} | calibrated ({cal.combiner}) {combined:.2f} "
          f"(best single {best:.2f}; dropped {cal.dropped or 'none'}) | flagged {int(cal.flagged.sum())}")


def pandalm() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_pandalm_consensus import DEFAULT_SRC, load  # noqa: E402
    from annotation.curation.aggregation._common import strict_majority, vote_counts  # noqa: E402

    votes, _ = load(DEFAULT_SRC)
    human = strict_majority(vote_counts(votes.subset(~votes.vote_is_judge))).astype(np.int64)
    judges = votes.subset(votes.vote_is_judge)
    for share in SHARES:
        refs = np.where(reference_split(human, share, 0) >= 0, human, -1)
        refs[human < 0] = -1
        test = (refs < 0) & (human >= 0)
        tag = f"pandalm refs {share:.0%}"
        for method in METHODS:
            c = aggregate_pairwise(judges, method=method)
            print(f"{tag} | {method:11s} | acc vs human majority {acc(c.winner, human, test)}")
        for j in np.flatnonzero(votes.annotator_is_judge):
            mine = np.full(votes.n_items, -1)
            sel = judges.annotators == j
            mine[judges.items[sel]] = judges.values[sel]
            print(f"{tag} | single {votes.annotator_names[j]} | acc {acc(mine, human, test)}")
        choice = aggregation_choose(judges, references=refs)
        print(f"{tag} | CHOSEN {choice.chosen} | acc {acc(choice.consensus.winner, human, test)} | "
              f"{choice.reason[:120]}")
        for w in choice.warnings:
            print(f"{tag} | WARNING {w.code}: {w.message[:140]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1200)
    parser.add_argument("--weak", type=int, default=64)
    parser.add_argument("--strong", type=int, default=6)
    parser.add_argument("--trap", type=float, default=0.6)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--orders", choices=("one", "two"), default="one")
    parser.add_argument("--no-pandalm", action="store_true")
    args = parser.parse_args()
    synthetic(args)
    if not args.no_pandalm:
        pandalm()


if __name__ == "__main__":
    main()
