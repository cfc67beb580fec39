from django.db import models
from django.db.models import Q

from .choices import ResponseOrigin
from .project import Project


class Prompt(models.Model):
    """A conversation to respond to: a list of chat messages `[{"role": ..., "content": ...}]`."""

    # No index of its own: prompt_external_id_unique leads with project.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts", db_index=False)
    external_id = models.CharField(max_length=200, help_text="Stable id from the source; unique per project.")
    messages = models.JSONField()
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="prompt_external_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.external_id}"

    @property
    def last_user_message(self) -> str:
        for message in reversed(self.messages or []):
            if message.get("role") == "user":
                return message.get("content", "")
        return ""


class Response(models.Model):
    """A candidate completion of a prompt. Edits are responses too, with the original as parent."""

    # No index of its own: response_external_id_unique leads with prompt.
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="responses", db_index=False)
    external_id = models.CharField(max_length=200, help_text="Stable id; unique per prompt.")
    text = models.TextField()
    model_name = models.CharField(max_length=200, blank=True)
    gen_params = models.JSONField(default=dict, blank=True, help_text="temperature, top_p, max_tokens, ...")
    seed = models.BigIntegerField(null=True, blank=True)
    origin = models.CharField(max_length=16, choices=ResponseOrigin.choices, default=ResponseOrigin.IMPORTED)
    # PROTECT: an edit is meaningless without the text it edits.
    # Indexed only where set (response_parent_idx): imported responses have no parent.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="edits", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prompt", "external_id"], name="response_external_id_unique"),
            models.CheckConstraint(condition=Q(text__gt=""), name="response_text_not_empty"),
            models.CheckConstraint(condition=Q(origin__in=ResponseOrigin.values), name="response_origin_valid"),
            # A human edit always names the response it edits, and only edits do.
            models.CheckConstraint(
                condition=Q(origin=ResponseOrigin.HUMAN_EDIT, parent__isnull=False)
                | (~Q(origin=ResponseOrigin.HUMAN_EDIT) & Q(parent__isnull=True)),
                name="response_edit_has_parent",
            ),
        ]
        indexes = [
            models.Index(fields=["parent"], condition=Q(parent__isnull=False), name="response_parent_idx"),
        ]

    def __str__(self) -> str:
        return f"response {self.pk} ({self.model_name or self.origin})"

