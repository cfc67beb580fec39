"""Trainer overhead benchmark (issue 6, bench 7, first half): the engine's DPO and RM training against the same
TRL training written as a plain script, in one process, on the same data, model, steps and seed.

    .venv/bin/python bench/bench_trainers.py      # BENCH_STEPS (10), BENCH_PAIRS (64), BENCH_REPEAT (5),
                                                  # BENCH_THREADS (1), BENCH_MODEL (a local causal-LM folder;
                                                  # default: the tiny Llama)

Each measured run is load -> train -> save, as a job does it (the engine's evaluation on test rows is off, the
plain script has none; checkpoints are off in both). "plain" is DPOTrainer / RewardTrainer built the way TRL's
docs show; "engine" is train_dpo / train_reward_model with a NullProgress. The weighted engine runs use
per-row weights 0.5 / 1.5 (the WPO hook for DPO, the per-pair loss for the RM), which plain TRL cannot do, so
they are compared with the unweighted plain run. Runs are interleaved (plain, engine, engine+weights, then
the next repeat in another order) so that load from other processes hits them alike. Prints a table of wall
and CPU seconds per run to stderr and one result line (median wall-time ratios engine / plain) to stdout.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

STEPS = int(os.environ.get("BENCH_STEPS", "10"))
PAIRS = int(os.environ.get("BENCH_PAIRS", "64"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
# One thread by default: on a shared machine, OpenMP worker threads spin while their peers are descheduled, which
# makes both wall and CPU time of multi-threaded runs swing by +-50 % between identical runs.
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
BATCH = 8
SEED = 42

PROMPTS = ["Name a prime number.", "What is the capital of France?", "Say hello.",
           "Summarize the text in one sentence."]
GOOD = ["7 is prime.", "Paris is the capital of France.", "Hello there! How are you today?",
        "The user asked a question."]
BAD = ["9 is not prime.", "The answer is 10.", "no", "Write a short poem about the sea."]


def rows(n: int, weighted: bool) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": PROMPTS[i % 4]}], "chosen": GOOD[i % 4],
             "rejected": BAD[(i + 1) % 4], "margin": None, "weight": (0.5 + i % 2) if weighted else 1.0,
             "source": "human", "noise_score": None}
            for i in range(n)]


def trl_records(n: int) -> list[dict]:
    return [{"prompt": r["prompt"], "chosen": [{"role": "assistant", "content": r["chosen"]}],
             "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in rows(n, False)]


def plain_dpo(model_path: Path, out: Path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from training.engine.trainers.common import device_kwargs

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    model = AutoModelForCausalLM.from_pretrained(str(model_path))
    args = DPOConfig(output_dir=str(out), max_steps=STEPS, per_device_train_batch_size=BATCH, learning_rate=1e-6,
                     beta=0.1, loss_type=["sigmoid"], max_length=1024, logging_steps=10, save_strategy="no",
                     seed=SEED, report_to="none", disable_tqdm=True, **device_kwargs())
    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(trl_records(PAIRS)),
                         processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(out / "model"))


def plain_rm(model_path: Path, out: Path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed
    from trl import RewardConfig, RewardTrainer

    from training.engine.trainers.common import device_kwargs

    set_seed(SEED)
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    model = AutoModelForSequenceClassification.from_pretrained(str(model_path), num_labels=1)
    args = RewardConfig(output_dir=str(out), max_steps=STEPS, per_device_train_batch_size=BATCH, learning_rate=1e-5,
                        logging_steps=10, save_strategy="no", seed=SEED, report_to="none", disable_tqdm=True,
                        **device_kwargs())
    trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(trl_records(PAIRS)),
                            processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(out / "model"))


def engine(kind: str, weighted: bool):
    def run(model_path: Path, out: Path) -> None:
        from common.progress import NullProgress
        from training.engine.trainers import DPOTrainConfig, RewardTrainConfig, train_dpo, train_reward_model

        common = dict(max_steps=STEPS, batch_size=BATCH, logging_steps=10, checkpoint_every=10**6, seed=SEED,
                      eval_at_end=False, use_weights=weighted)
        if kind == "dpo":
            train_dpo(DPOTrainConfig(**common, learning_rate=1e-6), train_rows=rows(PAIRS, weighted), test_rows=[],
                      model_path=model_path, output_dir=out, progress=NullProgress())
        else:
            train_reward_model(RewardTrainConfig(**common, learning_rate=1e-5), train_rows=rows(PAIRS, weighted),
                               test_rows=[], model_path=model_path, output_dir=out, progress=NullProgress())
    return run


def timed(fn, model_path: Path, scratch: Path) -> tuple[float, float]:
    import gc

    with tempfile.TemporaryDirectory(dir=scratch) as out:
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        fn(model_path, Path(out))
        return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    import logging

    import torch
    import transformers

    torch.set_num_threads(THREADS)
    transformers.logging.set_verbosity_error()
    logging.getLogger("trl").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        if os.environ.get("BENCH_MODEL"):
            model_path = Path(os.environ["BENCH_MODEL"])
        else:
            from tests.training.tiny_model import build_tiny_model

            model_path = build_tiny_model(scratch / "tiny")
        variants = {
            "dpo": {"plain": plain_dpo, "engine": engine("dpo", False), "engine+weights": engine("dpo", True)},
            "rm": {"plain": plain_rm, "engine": engine("rm", False), "engine+weights": engine("rm", True)},
        }
        for kind, fns in variants.items():  # warm-up: imports and first-call allocations of both code paths
            for name in ("plain", "engine"):
                timed(fns[name], model_path, scratch)
        times = {kind: {name: [] for name in fns} for kind, fns in variants.items()}
        for repeat in range(REPEAT):
            for kind, fns in variants.items():
                names = list(fns) if repeat % 2 == 0 else list(reversed(fns))
                for name in names:
                    times[kind][name].append(timed(fns[name], model_path, scratch))

    print(f"{STEPS} steps x batch {BATCH} on {PAIRS} pairs, model {model_path.name}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {REPEAT} repeats (interleaved)", file=sys.stderr)
    print(f"{'trainer':<6} {'run':<15} {'wall s (each)':<28} {'median wall':>11} {'median cpu':>10} "
          f"{'wall ratio':>10} {'cpu ratio':>9}", file=sys.stderr)
    ratios, cpu_ratios = {}, {}
    for kind, runs in times.items():
        base = statistics.median(w for w, _ in runs["plain"])
        base_cpu = statistics.median(c for _, c in runs["plain"])
        for name, samples in runs.items():
            wall = statistics.median(w for w, _ in samples)
            cpu = statistics.median(c for _, c in samples)
            ratios[(kind, name)] = wall / base
            cpu_ratios[(kind, name)] = cpu / base_cpu
            each = " ".join(f"{w:.2f}" for w, _ in samples)
            print(f"{kind:<6} {name:<15} {each:<28} {wall:>11.2f} {cpu:>10.2f} {wall / base:>10.3f} "
                  f"{cpu / base_cpu:>9.3f}", file=sys.stderr)
    print(f"bench_trainers: engine/plain wall-time ratio (median of {REPEAT}, {STEPS} steps): "
          f"DPO {ratios[('dpo', 'engine')]:.3f} (weighted {ratios[('dpo', 'engine+weights')]:.3f}), "
          f"RM {ratios[('rm', 'engine')]:.3f} (weighted {ratios[('rm', 'engine+weights')]:.3f}); "
          f"CPU-time ratio DPO {cpu_ratios[('dpo', 'engine')]:.3f}, RM {cpu_ratios[('rm', 'engine')]:.3f}; "
          "target < 1.05")


if __name__ == "__main__":
    main()
