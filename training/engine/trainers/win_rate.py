"""Win rate of a trained policy against its reference (base) model on held-out prompts. No Django here.

Each model answers every prompt once (greedy, or seeded sampling), one model loaded at a time with the `hf`
backend (a LoRA policy folder loads as base + adapter through transformers' PEFT integration); then a judge
compares the two answers of each prompt. The judge is anything with the batch interface of
`training.engine.judging` -- `judge(tasks: list[JudgeTask]) -> list[JudgeResult]` -- so both the LLM `Judge` and
the reward-model `RewardJudge` work unchanged. To control for position bias the policy's answer is shown at A for
the even-indexed prompts and at B for the odd ones (the LLM judge also asks both orders itself).

    win_rate = (wins + ties / 2) / n      over the n pairs the judge could read (unreadable verdicts are counted
                                          in "unparsable" and left out of n)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from common.progress import NullProgress, Progress

from ..backends import BackendSpec, Messages, open_backend
from ..judging.runner import JudgeResult, JudgeTask

__all__ = ["PairJudge", "check_adapter_base", "held_out_prompts", "policy_position", "win_rate"]


class PairJudge(Protocol):
    """A judge's batch interface (training.engine.judging Judge and RewardJudge both have it)."""

    def judge(self, tasks: Sequence[JudgeTask]) -> list[JudgeResult]: ...


def policy_position(index: int) -> str:
    """Where prompt `index` shows the policy's answer: "A" for even indices, "B" for odd ones."""
    return "A" if index % 2 == 0 else "B"


def check_adapter_base(policy_path: str, reference_path: str) -> None:
    """A LoRA policy (a folder with adapter_config.json) loads as base + adapter: transformers' PEFT integration
    reads the base from the adapter's `base_model_name_or_path`, which must be the reference model's folder (the
    win rate compares the policy with the model it was trained from). Raises ValueError naming both otherwise."""
    import json
    from pathlib import Path

    config_file = Path(policy_path) / "adapter_config.json"
    if not config_file.is_file():
        return
    base = json.loads(config_file.read_text(encoding="utf-8")).get("base_model_name_or_path") or ""
    if not base or Path(base).resolve() != Path(reference_path).resolve():
        raise ValueError(f"the LoRA adapter in {policy_path} was trained on {base or 'an unnamed base'!r}, "
                         f"not on the reference model {reference_path!r}: its win rate would compare other models")


def _answers(model_path: str, prompts: list[Messages], *, max_new_tokens: int, seed: int | None,
             temperature: float) -> list[str]:
    """One completion per prompt from the model in `model_path` (loaded here, closed after)."""
    backend = open_backend(BackendSpec(backend="hf", location=str(model_path)))
    try:
        completions = backend.generate(prompts, n=1, temperature=temperature, max_tokens=max_new_tokens, seed=seed)
    finally:
        backend.close()
    return [c[0].text for c in completions]


def win_rate(
    policy_path: str,
    reference_path: str,
    prompts: Sequence[Messages],
    judge: PairJudge,
    *,
    max_new_tokens: int = 64,
    seed: int | None = None,
    temperature: float = 0.0,
    judge_name: str = "",
    progress: Progress | None = None,
    batch_size: int = 16,
) -> dict[str, Any]:
    """Judge the policy's answers against the reference's on `prompts` (chat conversations).

    temperature 0 (default) decodes greedily; above 0, samples with `seed` (per prompt, the same for both models).
    Returns {"n": pairs judged, "wins", "losses", "ties", "unparsable", "win_rate" (ties count half; None when
    n = 0), "judge": judge_name, "prompts": len(prompts), "policy_at_a": prompts with the policy shown at A,
    "max_new_tokens", "examples": the first three (prompt, policy, reference, winner) for a look}.
    """
    progress = progress or NullProgress()
    prompts = [list(p) for p in prompts]
    if not prompts:
        raise ValueError("win rate needs at least one prompt")
    check_adapter_base(policy_path, reference_path)
    sample_seed = None if temperature == 0 else (seed if seed is not None else 0)
    progress.log(f"win rate: {len(prompts)} prompts, policy {policy_path} vs reference {reference_path}")
    policy = _answers(policy_path, prompts, max_new_tokens=max_new_tokens, seed=sample_seed, temperature=temperature)
    progress.check_cancelled()
    reference = _answers(reference_path, prompts, max_new_tokens=max_new_tokens, seed=sample_seed,
                         temperature=temperature)
    progress.check_cancelled()
    tasks = []
    for i, (conversation, mine, theirs) in enumerate(zip(prompts, policy, reference)):
        pair = [mine, theirs] if policy_position(i) == "A" else [theirs, mine]
        tasks.append(JudgeTask(key=i, kind="pairwise", conversation=conversation, responses=pair))
    results: list[JudgeResult] = []
    for start in range(0, len(tasks), batch_size):
        results += judge.judge(tasks[start:start + batch_size])
        progress.check_cancelled()
    counts = {"wins": 0, "losses": 0, "ties": 0, "unparsable": 0}
    outcomes = []
    for i, result in enumerate(results):
        if result.unparsable or result.winner not in ("A", "B", "tie"):
            outcome = "unparsable"
        elif result.winner == "tie":
            outcome = "ties"
        else:
            outcome = "wins" if result.winner == policy_position(i) else "losses"
        counts[outcome] += 1
        outcomes.append(outcome)
    n = counts["wins"] + counts["losses"] + counts["ties"]
    rate = (counts["wins"] + counts["ties"] / 2) / n if n else None
    examples = [{"prompt": prompts[i], "policy": policy[i], "reference": reference[i], "outcome": outcomes[i]}
                for i in range(min(3, len(prompts)))]
    summary = {"n": n, **counts, "win_rate": rate, "judge": judge_name, "prompts": len(prompts),
               "policy_at_a": sum(policy_position(i) == "A" for i in range(len(prompts))),
               "max_new_tokens": max_new_tokens, "examples": examples}
    progress.log(f"win rate {'n/a' if rate is None else f'{rate:.3f}'}: {counts['wins']} wins, "
                 f"{counts['losses']} losses, {counts['ties']} ties, {counts['unparsable']} unreadable")
    return summary


def held_out_prompts(rows: Sequence[dict[str, Any]], limit: int) -> list[Messages]:
    """The first `limit` distinct prompts of `rows` (training rows with a "prompt" conversation), in row order."""
    import json

    seen: dict[str, Messages] = {}
    for row in rows:
        key = json.dumps(row["prompt"], sort_keys=True)
        if key not in seen:
            seen[key] = row["prompt"]
            if len(seen) == limit:
                break
    return list(seen.values())
