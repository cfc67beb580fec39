from django.conf import settings
from django.db import models
from django.db.models import Q

from .choices import AnnotatorKind


class Annotator(models.Model):
    """Whoever gives a label: a person or an LLM judge, in one table so every metric treats both alike.

    A human annotator usually has a user account; one imported from a dataset ("annotator1")
    may not. A judge never has one; its `config` records the model and prompt template.
    """

    kind = models.CharField(max_length=8, choices=AnnotatorKind.choices)
    name = models.CharField(max_length=150, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotator"
    )
    config = models.JSONField(default=dict, blank=True, help_text="For judges: model, template, sampling.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AnnotatorKind.values), name="annotator_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind=AnnotatorKind.HUMAN) | Q(user__isnull=True), name="annotator_judge_has_no_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def is_judge(self) -> bool:
        return self.kind == AnnotatorKind.JUDGE
