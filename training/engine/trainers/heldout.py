"""The `evaluate` job's engine: score a saved model on a dataset version's held-out (test) pairwise rows, next to a
baseline. No Django here: the runner (training/jobs/runners/evaluate.py) resolves ids to folders and rows.

What is measured (the same numbers the trainers report at the end of training, evaluation.py):
- a reward model: pairwise accuracy = share of pairs with r(chosen) > r(rejected), overall, by label source and by
  noise bucket, and the mean margin;
- a policy (DPO, or any causal LM against its reference): implicit-reward accuracy with
  r = beta * (log pi(y|x) - log pi_ref(y|x)) (Rafailov et al. 2023, eq. 5).
Baselines on the same rows: "longer wins" (the longer response is preferred; a preference that length alone
explains is what a weak model learns first), chance (0.5), and for a reward model optionally another reward model.
The reference of a policy is its own baseline for the implicit reward: r_ref = 0 on every pair.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["EvaluateConfig", "length_baseline", "evaluate_reward_dir", "evaluate_policy_dir"]


@dataclass
class EvaluateConfig:
    """Evaluate a trained (or base) model on a dataset version's held-out (test-split) pairwise rows, next to a
    baseline: a reward model by its pairwise accuracy, a policy by its implicit-reward accuracy against its
    reference, and optionally its win rate against the reference."""

    model_id: int | None = None
    """ModelArtifact id of the model to evaluate: a reward model or a policy (a base model or a LoRA adapter)."""
    baseline_model_id: int | None = None
    """Reward models only: another reward model scored on the same rows, shown next to it (empty: none)."""
    reference_model_id: int | None = None
    """Policies only: the reference model of the implicit reward and the win rate (empty: the model the policy
    was trained from)."""
    max_rows: int = 500
    """Score at most this many test rows (the first ones, in row order)."""
    max_length: int = 512
    """Longest prompt + response in tokens; longer ones are truncated."""
    beta: float | None = None
    """Policies: beta of the implicit reward (empty: the training job's beta, else 0.1)."""
    win_rate_judge_id: int | None = None
    """Policies: a judge model (LLM or reward model) for the win rate against the reference (empty: no win rate)."""
    win_rate_prompts: int = 32
    """Policies with a win-rate judge: how many distinct held-out prompts to answer and judge."""
    win_rate_max_new_tokens: int = 64
    """Policies with a win-rate judge: longest answer in tokens."""
    seed: int = 0
    """Seed of sampling (the answers for the win rate are greedy; the seed matters only for ties in loading)."""

    def __post_init__(self) -> None:
        for name in ("model_id", "baseline_model_id", "reference_model_id", "win_rate_judge_id"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a model id (an integer >= 1), got {value!r}")
        if self.model_id is None:
            raise ValueError("model_id: choose the model to evaluate")
        for name, low in (("max_rows", 1), ("max_length", 8), ("win_rate_prompts", 1),
                          ("win_rate_max_new_tokens", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.beta is not None and not (isinstance(self.beta, (int, float)) and self.beta > 0):
            raise ValueError(f"beta must be a positive number, got {self.beta!r}")


def length_baseline(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy of "the longer response wins" on pairwise rows (ties in length count as wrong): {"n", "accuracy"}."""
    if not rows:
        return {"n": 0}
    correct = sum(len(r["chosen"]) > len(r["rejected"]) for r in rows)
    return {"n": len(rows), "accuracy": correct / len(rows)}


def _on_device(model):
    """The model on the GPU when there is one (the loaders load on the CPU; the trainers move it themselves)."""
    import torch

    return model.to("cuda") if torch.cuda.is_available() else model


def evaluate_reward_dir(model_dir: str | Path, rows: Sequence[dict[str, Any]], *, max_length: int) -> dict[str, Any]:
    """Pairwise accuracy of the reward model saved in `model_dir` on validated pairwise rows (data.pairwise_rows)."""
    from .common import free_memory
    from .evaluation import evaluate_reward_model
    from .reward import load_reward_model

    model, tokenizer = load_reward_model(model_dir)
    model = _on_device(model)
    try:
        return evaluate_reward_model(model, tokenizer, rows, max_length=max_length)
    finally:
        del model
        free_memory()


def evaluate_policy_dir(policy_dir: str | Path, reference_dir: str | Path, rows: Sequence[dict[str, Any]], *,
                        beta: float, max_length: int) -> dict[str, Any]:
    """Implicit-reward accuracy of the policy in `policy_dir` (a full model, or a LoRA adapter folder: loaded as
    base + adapter) against the reference model in `reference_dir`, on validated pairwise rows."""
    from .common import free_memory
    from .dpo import load_policy
    from .evaluation import evaluate_dpo

    policy, tokenizer = load_policy(policy_dir)
    reference, _ = load_policy(reference_dir)
    policy, reference = _on_device(policy), _on_device(reference)
    try:
        return evaluate_dpo(policy.eval(), reference.eval(), tokenizer, rows, beta=beta, max_length=max_length)
    finally:
        del policy, reference
        free_memory()
