"""The settings an owner edits in the app: one documented dataclass, the single source of the settings page's form
(prefstudio.config_forms.ConfigForm builds it from this class) and of the checks that the page, the REST
API (PATCH /api/projects/<slug>/) and the services share.

Plain Python: `__post_init__` checks each value by itself and across fields and raises `SettingError` naming the
field. Checks that need the database (kinds the project's items already have, strengths its labels already use)
live in annotation.services.projects.project_settings_check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Literal

__all__ = ["ProjectSettings", "SettingError", "STRENGTH_SCALES", "EDITABLE", "ROUTING_POLICIES", "REFERENCE_USES"]

TaskKindName = Literal["pairwise", "listwise", "edit", "thumbs"]
ROUTING_POLICIES = ("all_human", "rules", "learned", "random", "ai_only")  # annotation.models.RoutingPolicy
REFERENCE_USES = ("evaluation", "calibration", "attention")  # annotation.models.ReferenceUse
# The strength scales the settings page offers, weakest first (a label's strength is 1..len(levels)).
STRENGTH_SCALES: dict[int, list[str]] = {
    3: ["slightly better", "better", "much better"],
    5: ["negligibly better", "slightly better", "better", "clearly better", "much better"],
}
MAX_STRENGTH_LEVELS = 10  # the database caps a label's strength at 10
MAX_ASPECTS = 20
MAX_NAME = 64  # of an aspect or a strength level
MAX_OVERLAP = 100
MAX_LEASE_MINUTES = 24 * 60  # a lease longer than a day keeps an item from everyone else for no gain
MAX_INT32 = 2**31 - 1
MAX_ATTENTION_RATE = 0.5


class SettingError(ValueError):
    """A setting that cannot be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class ProjectSettings:
    """What an owner may change about a project (its slug and members are changed elsewhere)."""

    name: str = ""
    """Shown in page titles and lists."""
    description: str = ""
    """One paragraph on what the project is for."""
    guidelines: str = ""
    """Markdown shown on every task page (raw HTML is not rendered)."""
    task_kinds: list[TaskKindName] = field(default_factory=lambda: ["pairwise"])
    """Labeling kinds of the project's items; a kind its items already have cannot be removed."""
    aspects: list[str] = field(default_factory=lambda: ["helpfulness", "honesty", "harmlessness"])
    """Aspects judged per pairwise item, each optional on the task page."""
    strength_levels: list[str] = field(default_factory=lambda: list(STRENGTH_SCALES[3]))
    """Names of the strength levels, weakest first; empty = no strength question."""
    overlap: int = 1
    """Human labels wanted per item (1-100)."""
    allow_partial_ranking: bool = False
    """Listwise: annotators may rank only the top k responses and leave the rest unranked."""
    blind_review: bool = True
    """Hide annotator names from reviewers."""
    rationale_required: bool = False
    """Every label needs a written rationale."""
    lease_minutes: int = 30
    """How long an item handed to an annotator stays reserved for them (1-1440 minutes)."""
    routing_policy: str = field(default="all_human", metadata={"choices": ROUTING_POLICIES})
    """Which items go to people: all, those the rules or the learned gain model pick, a random share, or none."""
    human_budget_fraction: float | None = None
    """Share of the items routed to people, 0-1 (give this or a count, not both)."""
    human_budget_count: int | None = None
    """Number of items routed to people (give this or a fraction, not both)."""
    reference_use: str = field(default="evaluation", metadata={"choices": REFERENCE_USES})
    """What items' gold references are for: evaluation only (never shown to annotators, never used by curation),
    calibration (curation may learn from them), or attention checks (served to annotators and scored)."""
    attention_rate: float = 0.05
    """Attention checks: the share of an annotator's tasks that are reference items, 0-0.5."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 200:
            raise SettingError("name", "name must be 1 to 200 characters")
        for name, limit in (("description", 10_000), ("guidelines", 100_000)):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) > limit:
                raise SettingError(name, f"{name} must be text of at most {limit} characters")
        kinds = self.task_kinds
        if (not isinstance(kinds, list) or not kinds or len(set(kinds)) != len(kinds)
                or any(k not in TaskKindName.__args__ for k in kinds)):
            raise SettingError("task_kinds", f"task_kinds must be one or more of {', '.join(TaskKindName.__args__)}")
        _names(self.aspects, "aspects", MAX_ASPECTS)
        _names(self.strength_levels, "strength_levels", MAX_STRENGTH_LEVELS)
        _int_in("overlap", self.overlap, 1, MAX_OVERLAP)
        _int_in("lease_minutes", self.lease_minutes, 1, MAX_LEASE_MINUTES)
        for name in ("allow_partial_ranking", "blind_review", "rationale_required"):
            if not isinstance(getattr(self, name), bool):
                raise SettingError(name, f"{name} must be true or false")
        if self.routing_policy not in ROUTING_POLICIES:
            raise SettingError("routing_policy", f"routing_policy must be one of {', '.join(ROUTING_POLICIES)}")
        fraction, count = self.human_budget_fraction, self.human_budget_count
        if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
                                     or not math.isfinite(fraction) or not 0 <= fraction <= 1):
            raise SettingError("human_budget_fraction", "human_budget_fraction must be a number from 0 to 1")
        if count is not None:
            _int_in("human_budget_count", count, 0, MAX_INT32)
        if fraction is not None and count is not None:
            raise SettingError("human_budget_count", "give the human budget as a fraction or as a count, not both")
        if self.reference_use not in REFERENCE_USES:
            raise SettingError("reference_use", f"reference_use must be one of {', '.join(REFERENCE_USES)}")
        rate = self.attention_rate
        # Above one check in two the checks are the work: a project that wants that labels its references directly.
        if (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate)
                or not 0 <= rate <= MAX_ATTENTION_RATE):
            raise SettingError("attention_rate", f"attention_rate must be a number from 0 to {MAX_ATTENTION_RATE}, "
                                                 f"got {rate!r}")

    @classmethod
    def of(cls, project: Any) -> ProjectSettings:
        """The current settings of a Project row."""
        return cls(**{name: _copy(getattr(project, name)) for name in EDITABLE})


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def _names(values: Any, name: str, most: int) -> None:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise SettingError(name, f"{name} must be a list of names")
    if len(values) > most:
        raise SettingError(name, f"{name} may hold at most {most} names")
    if any(not v.strip() or len(v) > MAX_NAME for v in values) or len({v.strip() for v in values}) != len(values):
        raise SettingError(name, f"{name} must be distinct, non-empty names of at most {MAX_NAME} characters")


def _int_in(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SettingError(name, f"{name} must be a whole number from {low} to {high}, got {value!r}")


EDITABLE: tuple[str, ...] = tuple(f.name for f in fields(ProjectSettings))
