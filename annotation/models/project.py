from django.conf import settings
from django.db import models
from django.db.models import Q

from .choices import ReferenceUse, Role, RoutingPolicy


def default_aspects() -> list[str]:
    return ["helpfulness", "honesty", "harmlessness"]


def default_strength_levels() -> list[str]:
    return ["slightly better", "better", "much better"]


def default_task_kinds() -> list[str]:
    return ["pairwise"]


class Project(models.Model):
    """A labeling project: what is labeled, how, by whom, and with how many human labels."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown on every task page.")
    task_kinds = models.JSONField(default=default_task_kinds, help_text="Kinds of item in this project.")
    aspects = models.JSONField(default=default_aspects, blank=True, help_text="Aspects judged per item.")
    strength_levels = models.JSONField(
        default=default_strength_levels,
        blank=True,
        help_text="Names of the strength levels, weakest first; a label's strength is 1..len(levels).",
    )
    overlap = models.PositiveSmallIntegerField(default=1, help_text="Human labels wanted per item.")
    human_budget_fraction = models.FloatField(null=True, blank=True, help_text="Share of items sent to people.")
    human_budget_count = models.PositiveIntegerField(null=True, blank=True, help_text="Items sent to people.")
    routing_policy = models.CharField(max_length=16, choices=RoutingPolicy.choices, default=RoutingPolicy.ALL_HUMAN)
    rationale_required = models.BooleanField(default=False)
    allow_partial_ranking = models.BooleanField(default=False)
    blind_review = models.BooleanField(default=True, help_text="Hide annotator names from reviewers.")
    lease_minutes = models.PositiveSmallIntegerField(default=30, help_text="How long a handed-out item stays reserved.")
    reference_use = models.CharField(
        max_length=16, choices=ReferenceUse.choices, default=ReferenceUse.EVALUATION,
        help_text="What items' reference verdicts are for: scoring only, calibrating curation, or attention checks.",
    )
    attention_rate = models.FloatField(
        default=0.05, help_text="Share of an annotator's tasks that are attention checks (reference use 'attention').",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(condition=Q(lease_minutes__gte=1), name="project_lease_positive"),
            models.CheckConstraint(condition=Q(reference_use__in=ReferenceUse.values), name="project_reference_use_valid"),
            models.CheckConstraint(condition=Q(attention_rate__gte=0, attention_rate__lte=1),
                                   name="project_attention_rate_range"),
            models.CheckConstraint(
                condition=Q(human_budget_fraction__isnull=True)
                | Q(human_budget_fraction__gte=0, human_budget_fraction__lte=1),
                name="project_budget_fraction_range",
            ),
            models.CheckConstraint(
                condition=Q(human_budget_fraction__isnull=True) | Q(human_budget_count__isnull=True),
                name="project_budget_one_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    """A user's role in one project. Owners manage, reviewers resolve, annotators label."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"
