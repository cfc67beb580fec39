"""Evaluation of trained models on the test rows only (the caller passes them; nothing here sees train rows).

Every function returns a JSON-able dict with "n" (how many test rows/pairs it scored) and its numbers:
- reward model: accuracy = share of pairs with reward(chosen) > reward(rejected), overall, by label source and
  by noise bucket, and the mean reward margin;
- DPO: the same on the implicit reward r = beta * (log pi(y|x) - log pi_ref(y|x)) (Rafailov et al. 2023, eq. 5);
- listwise: mean Kendall tau-b of the model's scores vs the gold ranking, and top-1 accuracy (the best-scored
  response is in the gold best group);
- KTO: accuracy of sign(r) vs the thumbs label.
"""
from __future__ import annotations

import contextlib
import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch
from scipy.stats import kendalltau

from .logprobs import reward_input_ids, score_completions

__all__ = ["reward_scores", "evaluate_reward_model", "implicit_rewards", "evaluate_dpo", "evaluate_listwise",
           "evaluate_kto", "noise_bucket", "NOISE_BUCKETS"]

# Noise-score buckets (the curation's combined score in [0, 1]): clean, doubtful, likely noisy.
NOISE_BUCKETS = ((0.2, "<0.2"), (0.5, "0.2-0.5"), (math.inf, ">=0.5"))


def noise_bucket(score) -> str:
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return "unknown"
    return next(name for upper, name in NOISE_BUCKETS if float(score) < upper)


@torch.no_grad()
def reward_scores(model, tokenizer, prompts: Sequence[list[dict]], responses: Sequence[str], *,
                  max_length: int, batch_size: int = 16) -> torch.Tensor:
    """The reward model's scalar score of each (prompt, response): (N,) float on the CPU."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out = []
    try:
        for start in range(0, len(prompts), batch_size):
            seqs = [reward_input_ids(tokenizer, p, r, max_length)
                    for p, r in zip(prompts[start:start + batch_size], responses[start:start + batch_size])]
            width = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, seq in enumerate(seqs):  # right padding: sequence-classification heads find the last real token
                ids[i, : len(seq)] = torch.tensor(seq)
                mask[i, : len(seq)] = 1
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits  # (B, 1)
            out.append(logits[:, 0].float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


def _pair_metrics(rows: Sequence[dict], chosen: np.ndarray, rejected: np.ndarray) -> dict:
    """Accuracy and mean margin overall, by source and by noise bucket, from per-pair scores (P,), (P,)."""
    margin = chosen - rejected
    correct = margin > 0
    groups: dict[str, dict[str, list[int]]] = {"by_source": defaultdict(list), "by_noise": defaultdict(list)}
    for i, row in enumerate(rows):
        groups["by_source"][row.get("source") or "unknown"].append(i)
        groups["by_noise"][noise_bucket(row.get("noise_score"))].append(i)
    metrics = {"n": len(rows), "accuracy": float(correct.mean()), "mean_margin": float(margin.mean())}
    for name, group in groups.items():
        metrics[name] = {key: {"n": len(idx), "accuracy": float(correct[idx].mean())}
                         for key, idx in sorted(group.items())}
    return metrics


def evaluate_reward_model(model, tokenizer, rows: Sequence[dict], *, max_length: int) -> dict:
    """Pairwise accuracy of a reward model on validated pairwise test rows (data.pairwise_rows)."""
    if not rows:
        return {"n": 0}
    prompts = [r["prompt"] for r in rows] * 2
    responses = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
    scores = reward_scores(model, tokenizer, prompts, responses, max_length=max_length).numpy()
    return _pair_metrics(rows, scores[: len(rows)], scores[len(rows):])


def _reference(policy, ref):
    """Context in which `ref` scores as the reference: a LoRA policy with its adapter off when ref is None."""
    if ref is None:
        return policy.disable_adapter(), policy
    return contextlib.nullcontext(), ref


def implicit_rewards(policy, ref, tokenizer, prompts, responses, *, beta: float, max_length: int):
    """beta * (log pi(y|x) - log pi_ref(y|x)) for each (prompt, response): ((N,), policy log-probs (N,), lengths (N,)).

    `ref` None means: `policy` is a PEFT model and the reference is it with the adapter disabled.
    """
    logps, lengths = score_completions(policy, tokenizer, prompts, responses, max_length=max_length)
    context, ref_model = _reference(policy, ref)
    with context:
        ref_logps, _ = score_completions(ref_model, tokenizer, prompts, responses, max_length=max_length)
    return beta * (logps - ref_logps), logps, lengths


def evaluate_dpo(policy, ref, tokenizer, rows: Sequence[dict], *, beta: float, max_length: int) -> dict:
    """Implicit-reward preference accuracy and mean reward margin on pairwise test rows."""
    if not rows:
        return {"n": 0}
    prompts = [r["prompt"] for r in rows] * 2
    responses = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
    rewards, _, _ = implicit_rewards(policy, ref, tokenizer, prompts, responses, beta=beta, max_length=max_length)
    rewards = rewards.numpy()
    return _pair_metrics(rows, rewards[: len(rows)], rewards[len(rows):])


def evaluate_listwise(policy, ref, tokenizer, rows: Sequence[dict], *, loss: str, beta: float,
                      max_length: int) -> dict:
    """Kendall tau-b and top-1 accuracy of the model's scores vs the gold ranking on listwise test rows.

    The score is what the loss trains: PRO the length-normalised log-likelihood, LiPO the implicit reward.
    """
    if not rows:
        return {"n": 0}
    prompts = [r["prompt"] for r in rows for _ in r["responses"]]
    responses = [resp for r in rows for resp in r["responses"]]
    if loss == "pro":
        logps, lengths = score_completions(policy, tokenizer, prompts, responses, max_length=max_length)
        scores = (logps / lengths.clamp(min=1)).numpy()
    else:
        rewards, _, _ = implicit_rewards(policy, ref, tokenizer, prompts, responses, beta=beta, max_length=max_length)
        scores = rewards.numpy()
    taus, top1, start = [], [], 0
    for row in rows:
        k = len(row["responses"])
        mine, ranks = scores[start:start + k], np.asarray(row["ranks"])
        start += k
        tau = kendalltau(mine, -ranks).statistic  # tau-b: ties in the gold ranking are allowed
        if not math.isnan(tau):
            taus.append(tau)
        top1.append(ranks[int(np.argmax(mine))] == 0)
    return {"n": len(rows), "kendall_tau": float(np.mean(taus)) if taus else None,
            "top1_accuracy": float(np.mean(top1))}


def evaluate_kto(policy, ref, tokenizer, rows: Sequence[dict], *, beta: float, max_length: int) -> dict:
    """Accuracy of sign(implicit reward) vs the thumbs label, and the mean reward of each label."""
    if not rows:
        return {"n": 0}
    rewards, _, _ = implicit_rewards(policy, ref, tokenizer, [r["prompt"] for r in rows],
                                     [r["completion"] for r in rows], beta=beta, max_length=max_length)
    rewards = rewards.numpy()
    labels = np.array([r["label"] for r in rows])
    metrics = {"n": len(rows), "accuracy": float(((rewards > 0) == labels).mean())}
    for name, mask in (("desirable", labels), ("undesirable", ~labels)):
        metrics[f"mean_reward_{name}"] = float(rewards[mask].mean()) if mask.any() else None
    return metrics
