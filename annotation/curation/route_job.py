"""The config of a routing run (the `route` job): policy, budget, seed, embeddings. Plain Python (no Django).

Annotation's routing form and command build it; training's job runner (training/jobs/runners/route.py) parses a
job's config with it and calls annotation.services.routing.routing_run.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RouteJobConfig"]

POLICIES = ("rules", "learned", "random", "all_human", "ai_only")  # annotation.models.RoutingPolicy's values


@dataclass
class RouteJobConfig:
    policy: str | None = None
    """"rules", "learned", "random", "all_human" or "ai_only"; None: the project's routing policy."""
    budget_fraction: float | None = None
    """Share of the routable items that go to people, in [0, 1]; or give budget_count; neither: the project's."""
    budget_count: int | None = None
    """Number of items that go to people."""
    seed: int = 0
    """Seed of the random order, the tie-breaks and the cross-fitting folds."""
    embeddings: bool = True
    """Add the all-MiniLM cosine of the responses to the features (cached by content hash)."""

    def __post_init__(self) -> None:
        if self.policy is not None and self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        if self.budget_fraction is not None and self.budget_count is not None:
            raise ValueError("give the budget as a fraction or as a count, not both")
        if self.budget_fraction is not None and not 0 <= self.budget_fraction <= 1:
            raise ValueError(f"budget_fraction must be between 0 and 1, got {self.budget_fraction}")
        if self.budget_count is not None and self.budget_count < 0:
            raise ValueError(f"budget_count must be >= 0, got {self.budget_count}")
