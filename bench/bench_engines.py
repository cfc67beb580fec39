"""Engine benchmark (issue 13 item 7): the app's `hf` and `vllm` backends on the same local model and prompts,
through the app's own code -- `run_generation` (n = 1 and n = 4 per prompt) and the judge (`Judge.judge`,
pairwise: both orders, choice log-probabilities).

    .venv/bin/python bench/bench_engines.py     # BENCH_PROMPTS (32), BENCH_TOKENS (64), BENCH_ROUNDS (3),
                                                # BENCH_MODEL (a local Llama folder; default: a 32.1M-parameter
                                                # Llama of tests/training/tiny_model.py, built in a temp folder),
                                                # BENCH_ONLY (measures whose name contains one of these
                                                # comma-separated words, e.g. "judge"; default: all)

Prompts and the two responses of each pair are the first HH-RLHF helpful-base test pairs of demo/data. Both
backends are loaded once, before anything is timed (the load is not what is measured); every round runs each
measurement on hf and then on vllm, and the next round in the other order, so that load from other processes
hits both alike. Generation: temperature 1, `BENCH_TOKENS` new tokens at most, tokens/s = generated tokens /
engine seconds (run_generation's own `tokens_per_s`). Judge: `output="choice"` (the verdict constrained to
A / B / tie) with log-probabilities, the same config on both; verdicts/s = pairs judged / seconds.
Prints a line per round and measurement to stderr, then to stdout a table of min / median / max over rounds
of each backend's figure and of the vllm / hf ratio of each round's interleaved pair, with the load average.
Threads: hf runs with OMP_NUM_THREADS=1 unless set (what the shipped worker does, scripts/worker.sh says why).
Prefix cache: vLLM's is reset before every timed call. Every round sends the same prompts, and without the reset
rounds 2 and 3 were served from round 1's cached prompt blocks -- a speed no job judging new pairs sees
(bench_judge_cache.py measures the difference).
"""
from __future__ import annotations

import gzip
import json
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
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
# As the shipped worker runs jobs (scripts/worker.sh): one torch thread for hf; vLLM's CPU engine binds its own.
os.environ.setdefault("OMP_NUM_THREADS", "1")

PROMPTS = int(os.environ.get("BENCH_PROMPTS", "32"))
TOKENS = int(os.environ.get("BENCH_TOKENS", "64"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ONLY = [word for word in os.environ.get("BENCH_ONLY", "").split(",") if word]
HH = ROOT / "demo" / "data" / "hh_rlhf" / "helpful-base_test-first300.jsonl.gz"
MAX_CHARS = 400  # of each prompt and response: HH turns run long, and the model is a 2,048-token one


def hh_pairs(count: int) -> list[tuple[str, str, str]]:
    """(prompt, chosen answer, rejected answer) of the first `count` single-turn HH pairs."""
    pairs = []
    with gzip.open(HH, "rt") as file:
        for line in file:
            row = json.loads(line)
            chosen, rejected = row["chosen"].split("\n\nAssistant: "), row["rejected"].split("\n\nAssistant: ")
            if len(chosen) != 2 or len(rejected) != 2:
                continue  # multi-turn: keep the benchmark to one question, one answer
            prompt = chosen[0].removeprefix("\n\nHuman: ").strip()[:MAX_CHARS]
            pairs.append((prompt, chosen[1].strip()[:MAX_CHARS], rejected[1].strip()[:MAX_CHARS]))
            if len(pairs) == count:
                return pairs
    raise SystemExit(f"only {len(pairs)} single-turn pairs in {HH}")


def generation_speed(backend, prompts, n: int) -> float:
    from training.engine.generation import GenerationConfig, run_generation
    from common.progress import MemoryProgress

    # A generate job needs two responses per prompt to pair; with n = 1 the same backend stands for two models
    # (different seeds), as a job sampling two models would run.
    models = [1] if n > 1 else [1, 2]
    config = GenerationConfig(model_ids=models, n=n, temperature=1.0, max_tokens=TOKENS, seed=0,
                              batch_size=len(prompts))
    stats = run_generation({m: (lambda: backend) for m in models}, prompts, config, progress=MemoryProgress(),
                           write=lambda made: None)
    return stats["tokens_per_s"]


def judge_speed(backend, tasks) -> float:
    from training.engine.judging import Judge, JudgeConfig

    judge = Judge(backend, JudgeConfig(model_id=1, mode="pairwise", output="choice", use_logprobs=True,
                                       batch_size=len(tasks)))
    started = time.perf_counter()
    results = judge.judge(tasks)
    seconds = time.perf_counter() - started
    assert len(results) == len(tasks) and not any(r.unparsable for r in results)
    return len(tasks) / seconds


def main() -> None:
    from tests.training.tiny_model import SIZE_32M, build_tiny_model
    from training.engine.backends import BackendSpec, open_backend
    from training.engine.generation import PromptTask
    from training.engine.judging import JudgeTask

    model = os.environ.get("BENCH_MODEL") or str(
        build_tiny_model(Path(tempfile.mkdtemp()) / "llama-32m", size=SIZE_32M))
    pairs = hh_pairs(PROMPTS)
    prompts = [PromptTask(i, [{"role": "user", "content": p}]) for i, (p, _, _) in enumerate(pairs)]
    tasks = [JudgeTask(i, "pairwise", [{"role": "user", "content": p}], [a, b]) for i, (p, a, b) in enumerate(pairs)]
    backends = {name: open_backend(BackendSpec(name, model)) for name in ("hf", "vllm")}
    measures = {"generate n=1 tokens/s": lambda b: generation_speed(b, prompts, 1),
                "generate n=4 tokens/s": lambda b: generation_speed(b, prompts, 4),
                "judge verdicts/s": lambda b: judge_speed(b, tasks)}
    if ONLY:
        measures = {name: run for name, run in measures.items() if any(word in name for word in ONLY)}
    for backend in backends.values():  # warm-up: first calls compile kernels and fill caches
        generation_speed(backend, prompts[:2], 1)
        judge_speed(backend, tasks[:2])
    results: dict[str, dict[str, list[float]]] = {m: {"hf": [], "vllm": []} for m in measures}
    for round_ in range(ROUNDS):
        order = ("hf", "vllm") if round_ % 2 == 0 else ("vllm", "hf")
        for measure, run in measures.items():
            for name in order:
                cold(backends[name])
                results[measure][name].append(run(backends[name]))
            print(f"round {round_ + 1} {measure:24s} hf {results[measure]['hf'][-1]:9.2f}  "
                  f"vllm {results[measure]['vllm'][-1]:9.2f}  load {load_average()}", file=sys.stderr, flush=True)
    for backend in backends.values():
        backend.close()
    print(f"model {model}, {len(prompts)} prompts, {TOKENS} new tokens, {ROUNDS} rounds, "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, load average at the end: {load_average()}")
    print("| measure | hf min / median / max | vllm min / median / max | vllm / hf min / median / max |")
    print("|---|---:|---:|---:|")

    def spread(values: list[float]) -> str:
        return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"

    for measure, by in results.items():
        ratios = [v / h for h, v in zip(by["hf"], by["vllm"])]
        print(f"| {measure} | {spread(by['hf'])} | {spread(by['vllm'])} | "
              f"{min(ratios):.2f} / {statistics.median(ratios):.2f} / {max(ratios):.2f} |")


def cold(backend) -> None:
    """Forget the prompts an earlier round sent (vLLM's prefix cache), so that every round computes them anew."""
    reset = getattr(backend, "reset_prefix_cache", None)
    if reset is not None:
        reset()


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])

if __name__ == "__main__":  # vLLM starts its engine by spawning processes, which re-import this module
    main()
