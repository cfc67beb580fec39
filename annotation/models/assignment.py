from django.db import models
from django.db.models import Q

from .annotator import Annotator
from .choices import AssignmentStatus
from .item import Item


class Assignment(models.Model):
    """A lease of an item to an annotator until `expires_at`; released on submit, skip or expiry."""

    # No single-column indexes of their own: assignment_item_live_idx and assignment_annotator_idx lead with them
    # (every lease and every submit writes each index of this table; migration 0019).
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    annotator = models.ForeignKey(Annotator, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    status = models.CharField(max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.ACTIVE)
    expires_at = models.DateTimeField()
    skip_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=AssignmentStatus.values), name="assignment_status_valid"),
            # At most one live lease of an item per annotator.
            models.UniqueConstraint(
                fields=["item", "annotator"],
                condition=Q(status=AssignmentStatus.ACTIVE),
                name="assignment_one_active_per_annotator",
            ),
        ]
        indexes = [
            models.Index(fields=["item", "status", "expires_at"], name="assignment_item_live_idx"),
            models.Index(fields=["annotator", "status"], name="assignment_annotator_idx"),
            # Overdue leases, found without a scan (ps_leases_expire, migration 0005_loop_slots).
            models.Index(fields=["expires_at"], condition=Q(status=AssignmentStatus.ACTIVE),
                         name="assignment_live_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} → {self.annotator_id} ({self.status})"
