from django.db import models
from django.db.models import Q

from .annotator import Annotator
from .choices import LabelRole, LabelStatus, TaskKind, Winner
from .content import Response
from .item import Item


def _payload_matches_kind() -> Q:
    """Each parsed label carries the verdict its item kind needs; an unparsable one carries none."""
    return (
        Q(status=LabelStatus.UNPARSABLE)
        | Q(kind=TaskKind.PAIRWISE, winner__in=Winner.values)
        | Q(kind=TaskKind.LISTWISE, ranking__isnull=False)
        | Q(kind=TaskKind.EDIT, edited_response__isnull=False)
        | Q(kind=TaskKind.THUMBS, thumbs_up__isnull=False)
    )


class Label(models.Model):
    """One annotator's verdict on one item (unique per item, annotator and role).

    Pairwise verdicts name positions of the item (A = position 0), whatever order the
    annotator saw them in; `shown_order` keeps that order (e.g. [1, 0] = B was shown left).
    A ranking is a list of tie groups of positions, best first: [[2], [0, 1]].
    """

    # No single-column indexes on item and annotator: label_one_per_annotator and
    # label_annotator_recent_idx lead with them (every index costs each imported row).
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="labels", db_index=False)
    # PROTECT: labels are the data; an annotator with labels is deactivated, not deleted.
    annotator = models.ForeignKey(Annotator, on_delete=models.PROTECT, related_name="labels", db_index=False)
    kind = models.CharField(max_length=16, choices=TaskKind.choices, help_text="Copy of the item's kind.")
    role = models.CharField(max_length=16, choices=LabelRole.choices, default=LabelRole.ANNOTATION)
    status = models.CharField(max_length=16, choices=LabelStatus.choices, default=LabelStatus.OK)
    winner = models.CharField(max_length=8, choices=Winner.choices, blank=True)
    strength = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1..len(project.strength_levels)")
    aspects = models.JSONField(default=dict, blank=True, help_text='{"helpfulness": "A", ...}')
    rationale = models.TextField(blank=True)
    ranking = models.JSONField(null=True, blank=True)
    edited_response = models.ForeignKey(
        Response, null=True, blank=True, on_delete=models.PROTECT, related_name="edit_labels", db_index=False
    )
    thumbs_up = models.BooleanField(null=True, blank=True)
    shown_order = models.JSONField(default=list, blank=True)
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    # Judges: P(A better) after combining both orders, the raw output, and whether the verdict held when swapped.
    probability = models.FloatField(null=True, blank=True)
    raw_output = models.TextField(blank=True)
    swap_consistent = models.BooleanField(null=True, blank=True)
    # Unique when set (label_idempotency_key_unique); most labels have none and stay out of its index.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One annotation per annotator and item; a reviewer's resolution is a second row (role=review).
            models.UniqueConstraint(fields=["item", "annotator", "role"], name="label_one_per_annotator"),
            models.CheckConstraint(condition=Q(kind__in=TaskKind.values), name="label_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=LabelStatus.values), name="label_status_valid"),
            models.CheckConstraint(condition=Q(role__in=LabelRole.values), name="label_role_valid"),
            models.CheckConstraint(condition=Q(winner="") | Q(winner__in=Winner.values), name="label_winner_valid"),
            models.CheckConstraint(
                condition=Q(strength__isnull=True) | Q(strength__gte=1, strength__lte=10), name="label_strength_range"
            ),
            models.CheckConstraint(
                condition=Q(probability__isnull=True) | Q(probability__gte=0, probability__lte=1),
                name="label_probability_range",
            ),
            models.CheckConstraint(condition=_payload_matches_kind(), name="label_payload_matches_kind"),
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="label_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["annotator", "-created_at"], name="label_annotator_recent_idx"),
            models.Index(
                fields=["edited_response"], condition=Q(edited_response__isnull=False), name="label_edited_response_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"label {self.pk} by {self.annotator_id} on {self.item_id}"
