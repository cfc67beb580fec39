"""Where the vLLM judge's time goes on CPU: the prefix cache (issue 13 item 7).

    .venv/bin/python bench/bench_judge_cache.py    # BENCH_PROMPTS (16) pairs, BENCH_BLOCKS ("128,32"),
                                                   # BENCH_EAGER (1: enforce_eager, so each engine starts fast)

The judge path of bench_engines.py -- pairwise, both orders, `output="choice"` with log-probabilities, i.e. one
`score_choices` call over both orders of every pair -- on the same 32.1M-parameter local Llama and HH pairs, on
`hf` once and on `vllm` once per KV cache block size, each engine in turn. Per engine, timed and with the prompt
tokens the engine found in its prefix cache:

    cold       the prefix cache reset first: what a job judging new pairs pays (run twice, to show warm-up)
    repeat     the same call again without a reset: what bench_engines' rounds 2-3 measured before it reset
               the cache, its prompts being the ones of round 1
    split      reset, then the first orders in one call and the second orders in a second one: whether requests
               of one engine call share prefixes with each other, or only with those of an earlier call

Every variant's log-probabilities are compared with the first cold call of the first engine (max |difference|).
Prints one line per engine and variant to stdout, with the load average.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # hf as the shipped worker runs it (bench_engines.py says why)

PAIRS = int(os.environ.get("BENCH_PROMPTS", "16"))
BLOCKS = [int(b) for b in os.environ.get("BENCH_BLOCKS", "128,32").split(",")]
EAGER = os.environ.get("BENCH_EAGER", "1") == "1"


def main() -> None:
    from bench_engines import hh_pairs, load_average
    from tests.training.tiny_model import SIZE_32M, build_tiny_model
    from training.engine.backends import BackendSpec, open_backend
    from training.engine.judging import Judge, JudgeConfig

    model = os.environ.get("BENCH_MODEL") or str(
        build_tiny_model(Path(tempfile.mkdtemp()) / "llama-32m", size=SIZE_32M))
    pairs = hh_pairs(PAIRS + 2)
    warm_pairs, pairs = pairs[PAIRS:], pairs[:PAIRS]  # warm-up on other pairs: nothing measured is cached by it

    def prompts_of(chosen):
        judge = Judge(None, JudgeConfig(model_id=1, mode="pairwise", output="choice", use_logprobs=True))
        from training.engine.judging import JudgeTask

        out = []
        for i, (p, a, b) in enumerate(chosen):
            task = JudgeTask(i, "pairwise", [{"role": "user", "content": p}], [a, b])
            out += [judge._pair_prompt(task, 0, 1), judge._pair_prompt(task, 1, 0)]  # as Judge._pairwise orders them
        return out

    prompts, warm = prompts_of(pairs), prompts_of(warm_pairs)
    verdicts = ["A", "B", "tie"]
    reference: list[list[float]] | None = None
    print(f"model {model}, {PAIRS} pairs ({len(prompts)} prompts), enforce_eager={EAGER}, "
          f"load at start {load_average()}", flush=True)

    def report(engine: str, variant: str, seconds: float, scores, tokens: tuple[int, int] | None) -> None:
        nonlocal reference
        if reference is None:
            reference = scores
        diff = max(abs(x - y) for row, ref in zip(scores, reference) for x, y in zip(row, ref))
        cached = f"cached {tokens[1]:6d} of {tokens[0]:6d} prompt tokens ({tokens[1] / tokens[0]:5.1%})" if tokens \
            else "no prefix cache" + " " * 27
        print(f"{engine:14s} {variant:8s} {seconds:7.2f} s  {PAIRS / seconds:6.2f} verdicts/s  {cached}  "
              f"max |dlogp| {diff:.1e}  load {load_average()}", flush=True)

    hf = open_backend(BackendSpec("hf", model))
    hf.score_choices(warm, verdicts)
    started = time.perf_counter()
    scores = hf.score_choices(prompts, verdicts)
    report("hf", "cold", time.perf_counter() - started, scores, None)
    hf.close()

    for block in BLOCKS:
        settings = {"enforce_eager": EAGER, "engine_args": {"block_size": block}}
        backend = open_backend(BackendSpec("vllm", model, settings))
        name = f"vllm block {block}"
        try:
            backend.score_choices(warm, verdicts)

            def timed(calls) -> tuple[float, list[list[float]], tuple[int, int]]:
                before = backend.prompt_tokens, backend.cached_prompt_tokens
                started = time.perf_counter()
                rows = [row for call in calls for row in backend.score_choices(call, verdicts)]
                seconds = time.perf_counter() - started
                return seconds, rows, (backend.prompt_tokens - before[0], backend.cached_prompt_tokens - before[1])

            for variant in ("cold", "cold"):
                backend.reset_prefix_cache()
                seconds, rows, tokens = timed([prompts])
                report(name, variant, seconds, rows, tokens)
            seconds, rows, tokens = timed([prompts])
            report(name, "repeat", seconds, rows, tokens)
            backend.reset_prefix_cache()
            seconds, rows, tokens = timed([prompts[0::2], prompts[1::2]])
            unsplit = [None] * len(prompts)
            unsplit[0::2], unsplit[1::2] = rows[: len(prompts) // 2], rows[len(prompts) // 2:]
            report(name, "split", seconds, unsplit, tokens)
        finally:
            backend.close()


if __name__ == "__main__":  # vLLM starts its engine by spawning processes, which re-import this module
    main()
