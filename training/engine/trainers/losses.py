"""Listwise preference losses TRL does not have: PRO and LiPO-lambda. Pure torch; one list per row.

Shapes: B lists, each padded to K responses. `ranks` (B, K) long is the gold tie-group index of each response
(0 = best group; equal = tied; -1 = padding). Both functions return the per-list loss (B,); the caller weights
and averages it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["pro_loss", "lipo_lambda_loss", "graded_labels"]


def pro_loss(scores: torch.Tensor, ranks: torch.Tensor, *, temperature: float = 1.0) -> torch.Tensor:
    """Preference Ranking Optimization (Song et al. 2023, "Preference Ranking Optimization for Human Alignment").

    For a list ordered best first y_1 > y_2 > ... > y_n with scores s (the policy's length-normalised
    log-likelihoods, scaled by 1 / temperature):
        L = sum_{k=1}^{n-1} -log( exp(s_k) / sum_{i=k}^{n} exp(s_i) )
    i.e. each response must win a softmax against every response ranked below it. With ties, the "below"
    set of y_k is the responses in strictly worse tie groups (tied responses do not compete), and a response
    with nothing below it adds no term.

    scores: (B, K) float; ranks: (B, K) long (see the module docstring) -> (B,) loss per list.
    """
    z = scores / temperature  # (B, K)
    valid = ranks >= 0  # (B, K)
    # worse[b, k, i]: response i is in a strictly worse group than response k (both real)
    worse = (ranks[:, None, :] > ranks[:, :, None]) & valid[:, None, :] & valid[:, :, None]  # (B, K, K)
    competitors = worse | torch.eye(z.shape[1], dtype=torch.bool, device=z.device)[None]  # y_k itself in the softmax
    logits = z[:, None, :].expand_as(worse).masked_fill(~competitors, float("-inf"))  # (B, K, K)
    terms = torch.logsumexp(logits, dim=-1) - z  # (B, K): -log softmax of y_k against its competitors
    has_term = worse.any(dim=-1)  # (B, K)
    return torch.where(has_term, terms, torch.zeros_like(terms)).sum(dim=-1)


def graded_labels(ranks: torch.Tensor) -> torch.Tensor:
    """Relevance psi per response from tie-group ranks: the number of groups below it (worst group 0, pad 0).

    ranks: (B, K) long -> (B, K) float. E.g. ranks [0, 1, 1, 2] -> psi [2, 1, 1, 0].
    """
    worst = ranks.max(dim=-1, keepdim=True).values  # (B, 1)
    return torch.where(ranks >= 0, worst - ranks, torch.zeros_like(ranks)).to(torch.float)


def lipo_lambda_loss(rewards: torch.Tensor, ranks: torch.Tensor) -> torch.Tensor:
    """LiPO-lambda (Liu et al. 2024, "LiPO: Listwise Preference Optimization through Learning-to-Rank", eq. 9).

    rewards s_i = beta * (log pi(y_i|x) - log pi_ref(y_i|x)); psi_i = graded_labels(ranks); G_i = 2^psi_i - 1;
    tau_i = the 1-based position of y_i when the list is sorted by s descending; D(tau) = log2(1 + tau).
        L = sum_{psi_i > psi_j} Delta_ij * log(1 + exp(-(s_i - s_j))),
        Delta_ij = |G_i - G_j| * |1/D(tau_i) - 1/D(tau_j)|      (the LambdaRank weight)
    Delta is computed from the detached rewards (it weighs pairs, it is not differentiated).

    rewards: (B, K) float; ranks: (B, K) long (see the module docstring) -> (B,) loss per list.
    """
    valid = ranks >= 0  # (B, K)
    psi = graded_labels(ranks)  # (B, K)
    gain = torch.pow(2.0, psi) - 1.0  # (B, K)
    with torch.no_grad():
        # padding sorts last; argsort of argsort gives each item's 0-based position in the sorted order
        keyed = rewards.detach().masked_fill(~valid, float("-inf"))
        tau = torch.argsort(torch.argsort(keyed, dim=-1, descending=True, stable=True), dim=-1).to(rewards.dtype) + 1
        inv_discount = 1.0 / torch.log2(1.0 + tau)  # (B, K)
        gain_gap = (gain[:, :, None] - gain[:, None, :]).abs()  # (B, K, K)
        discount_gap = (inv_discount[:, :, None] - inv_discount[:, None, :]).abs()  # (B, K, K)
        delta = gain_gap * discount_gap
    better = (psi[:, :, None] > psi[:, None, :]) & valid[:, :, None] & valid[:, None, :]  # (B, K, K): i beats j
    pair_loss = F.softplus(-(rewards[:, :, None] - rewards[:, None, :]))  # log(1 + exp(-(s_i - s_j)))
    return (delta * pair_loss * better).sum(dim=(-1, -2))
