from django.db import models
from django.db.models import Q

from .choices import RESPONSES_PER_KIND, ItemState, LabelSource, Route, TaskKind
from .content import Prompt, Response
from .project import Project


def _responses_match_kind() -> Q:
    condition = Q()
    for kind, (low, high) in RESPONSES_PER_KIND.items():
        condition |= Q(kind=kind, n_responses__gte=low, n_responses__lte=high)
    return condition


class Item(models.Model):
    """The unit of labeling: a prompt and an ordered set of responses (position 0 is "A").

    The state moves new → judged → routed → labeling → labeled → in_review → final, or to
    excluded; the counters are denormalized so the labeling queue never counts labels.
    """

    # No index of its own: item_external_id_unique and the indexes below lead with project.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items", db_index=False)
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=200, help_text="Stable id from the source; unique per project.")
    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    state = models.CharField(max_length=16, choices=ItemState.choices, default=ItemState.NEW)
    route = models.CharField(max_length=8, choices=Route.choices, default=Route.PENDING)
    source = models.CharField(max_length=8, choices=LabelSource.choices, default=LabelSource.NONE, blank=True)
    n_responses = models.PositiveSmallIntegerField()
    n_human_labels = models.PositiveIntegerField(default=0)
    n_judge_labels = models.PositiveIntegerField(default=0)
    # Kept by PostgreSQL triggers (migration 0009_counters_pages), whoever writes labels and flags; not on SQLite.
    # db_default too: raw SQL and COPY inserts that do not name these columns get the trigger's starting values.
    n_verdicts = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="Different verdicts among the people's parsed annotations (trigger-kept).")
    n_flags = models.PositiveIntegerField(
        default=0, db_default=0, help_text="ItemFlag rows of the item (trigger-kept).")
    queued = models.BooleanField(
        default=False, db_default=False,
        help_text="In the review queue: undecided and disputed, flagged or in review (trigger-kept).")
    # Live leases. Taking a lease updates this row, so a concurrent `FOR UPDATE SKIP LOCKED`
    # that reads a stale snapshot re-checks `n_human_labels + n_leases < overlap` on the new
    # row version (PostgreSQL's EvalPlanQual) instead of handing out a slot that is gone.
    n_leases = models.PositiveIntegerField(default=0)
    priority = models.FloatField(default=0.0, help_text="Higher is handed out first among equals.")
    metadata = models.JSONField(default=dict, blank=True)
    # The known answer in a label's terms: {"winner": "A" | "B" | "tie"} for a pair, {"ranking": [[2], [0, 1]]}
    # (tie groups of positions, best first) for a list. What it is for is the project's `reference_use`.
    reference = models.JSONField(null=True, blank=True, help_text="Known answer (gold reference), or empty.")
    responses = models.ManyToManyField(Response, through="ItemResponse", related_name="items")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="item_external_id_unique"),
            models.CheckConstraint(condition=Q(kind__in=TaskKind.values), name="item_kind_valid"),
            models.CheckConstraint(condition=Q(state__in=ItemState.values), name="item_state_valid"),
            models.CheckConstraint(condition=Q(route__in=Route.values), name="item_route_valid"),
            models.CheckConstraint(condition=Q(source__in=LabelSource.values), name="item_source_valid"),
            models.CheckConstraint(condition=_responses_match_kind(), name="item_responses_match_kind"),
        ]
        indexes = [
            # The labeling queue: open items of a project routed to people, started ones first.
            models.Index(fields=["project", "route", "state", "-n_human_labels", "-priority"], name="item_queue_idx"),
            models.Index(fields=["project", "kind"], name="item_project_kind_idx"),
            models.Index(fields=["project", "state"], name="item_project_state_idx"),
            models.Index(fields=["project", "source"], name="item_project_source_idx"),
            # The review queue a page at a time (selectors.review_queue): a queued item's id in id order.
            models.Index(fields=["project", "id"], condition=Q(queued=True), name="item_queued_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} item {self.external_id}"


class ItemResponse(models.Model):
    """Response `position` of an item. The same response may sit at two positions (identical pair)."""

    # No index of its own: item_response_position_unique leads with item.
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="slots", db_index=False)
    position = models.PositiveSmallIntegerField()
    # PROTECT: a response that an item shows cannot vanish from under its labels.
    response = models.ForeignKey(Response, on_delete=models.PROTECT, related_name="slots")

    class Meta:
        ordering = ["item", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "position"], name="item_response_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}[{self.position}] = {self.response_id}"


class ItemFlag(models.Model):
    """A signal raised on an item (noise, routing, review), with its value and the reason in words."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="flags")
    name = models.CharField(max_length=64)
    value = models.FloatField(null=True, blank=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "name"], name="item_flag_unique")]
        indexes = [models.Index(fields=["name"], name="item_flag_name_idx")]

    def __str__(self) -> str:
        return f"{self.name} on {self.item_id}"
