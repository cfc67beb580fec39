"""Django admin for the annotation models.

Response.text, Label.raw_output and rationales are untrusted (model output, imported files):
they are shown only through the admin's own escaping, never through format_html/mark_safe.
Tables that grow large (prompts, responses, items, labels) use raw-id widgets for their foreign
keys and skip the full COUNT(*) of the change list.
"""
from django.contrib import admin
from django.utils.text import Truncator

from .models import (
    Annotator,
    Assignment,
    DatasetRow,
    DatasetVersion,
    DroppedItem,
    EmbeddingCache,
    ImportRun,
    Item,
    ItemConsensus,
    ItemFlag,
    ItemResponse,
    Label,
    Membership,
    Project,
    ProjectAnnotatorStats,
    ProjectFigures,
    ProjectItemCounts,
    ProjectLabelHours,
    ProjectLabelTimes,
    Prompt,
    QueueCounter,
    QueueCursor,
    QueueSlot,
    Response,
    RoutingDecision,
    RoutingModel,
    RoutingRun,
)

PREVIEW_CHARS = 80


def preview(text: str) -> str:
    """A one-line preview; plain text, so the admin escapes it."""
    return Truncator(" ".join((text or "").split())).chars(PREVIEW_CHARS)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "routing_policy", "overlap", "rationale_required", "created_at"]
    list_filter = ["routing_policy", "rationale_required", "blind_review"]
    search_fields = ["slug", "name"]
    raw_id_fields = ["created_by"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__slug"]
    raw_id_fields = ["user", "project"]
    list_select_related = ["user", "project"]


@admin.register(Annotator)
class AnnotatorAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "user", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "user__username"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "external_id", "last_message", "created_at"]
    list_filter = ["project"]
    search_fields = ["external_id"]
    raw_id_fields = ["project"]
    list_select_related = ["project"]
    show_full_result_count = False

    @admin.display(description="last user message")
    def last_message(self, obj: Prompt) -> str:
        return preview(obj.last_user_message)


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["id", "prompt", "external_id", "model_name", "origin", "text_preview", "created_at"]
    list_filter = ["origin"]
    search_fields = ["external_id", "model_name"]
    raw_id_fields = ["prompt", "parent"]
    list_select_related = ["prompt"]
    show_full_result_count = False

    @admin.display(description="text")
    def text_preview(self, obj: Response) -> str:
        return preview(obj.text)


class ItemResponseInline(admin.TabularInline):
    model = ItemResponse
    extra = 0
    raw_id_fields = ["response"]


class ItemFlagInline(admin.TabularInline):
    model = ItemFlag
    extra = 0


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = [
        "id", "project", "external_id", "kind", "state", "route", "source", "n_human_labels", "n_judge_labels",
        "priority",
    ]
    list_filter = ["project", "kind", "state", "route", "source"]
    search_fields = ["external_id"]
    raw_id_fields = ["project", "prompt"]
    readonly_fields = ["created_at", "updated_at"]
    list_select_related = ["project"]
    show_full_result_count = False
    inlines = [ItemResponseInline, ItemFlagInline]


@admin.register(ItemResponse)
class ItemResponseAdmin(admin.ModelAdmin):
    list_display = ["item", "position", "response"]
    raw_id_fields = ["item", "response"]
    search_fields = ["item__external_id", "response__external_id"]
    show_full_result_count = False


@admin.register(ItemFlag)
class ItemFlagAdmin(admin.ModelAdmin):
    list_display = ["item", "name", "value", "reason_preview", "created_at"]
    list_filter = ["name"]
    search_fields = ["name", "item__external_id"]
    raw_id_fields = ["item"]
    show_full_result_count = False

    @admin.display(description="reason")
    def reason_preview(self, obj: ItemFlag) -> str:
        return preview(obj.reason)


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = [
        "id", "item", "annotator", "kind", "role", "status", "winner", "strength", "thumbs_up", "probability",
        "raw_output_preview", "created_at",
    ]
    list_filter = ["kind", "role", "status", "winner", "annotator__kind", "item__project"]
    search_fields = ["item__external_id", "annotator__name", "idempotency_key"]
    raw_id_fields = ["item", "annotator", "edited_response"]
    list_select_related = ["item", "annotator"]
    readonly_fields = ["created_at"]
    show_full_result_count = False

    @admin.display(description="raw output")
    def raw_output_preview(self, obj: Label) -> str:
        return preview(obj.raw_output)


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "annotator", "status", "expires_at", "created_at", "released_at"]
    list_filter = ["status"]
    search_fields = ["item__external_id", "annotator__name"]
    raw_id_fields = ["item", "annotator"]
    list_select_related = ["item", "annotator"]
    show_full_result_count = False


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "number", "name", "n_rows", "created_by", "created_at"]
    list_filter = ["project"]
    search_fields = ["name", "project__slug", "config_hash"]
    raw_id_fields = ["project", "created_by"]
    readonly_fields = ["config_hash", "created_at"]
    list_select_related = ["project", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        # A frozen version is immutable: every export and training job that names it must see the same rows.
        return [f.name for f in self.model._meta.fields] if obj is not None else self.readonly_fields


@admin.register(DatasetRow)
class DatasetRowAdmin(admin.ModelAdmin):
    list_display = ["version", "index", "split", "kind", "item", "weight"]
    list_filter = ["split", "kind"]
    search_fields = ["item__external_id"]
    raw_id_fields = ["version", "item"]
    list_select_related = ["version__project"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] if obj is not None else []


@admin.register(ItemConsensus)
class ItemConsensusAdmin(admin.ModelAdmin):
    list_display = ["item", "method", "winner", "probability", "agreement", "source", "n_votes", "noise_score",
                    "updated_at"]
    list_filter = ["method", "source", "winner"]
    search_fields = ["item__external_id"]
    raw_id_fields = ["item"]
    readonly_fields = ["updated_at"]
    list_select_related = ["item"]
    show_full_result_count = False


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    list_display = ["item", "project", "policy", "routed_to", "predicted_gain", "budget", "run_id", "created_at"]
    list_filter = ["policy", "routed_to", "project"]
    search_fields = ["item__external_id", "run_id"]
    raw_id_fields = ["item", "project"]
    readonly_fields = ["created_at"]
    list_select_related = ["item", "project"]
    show_full_result_count = False


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    """Background imports: read-only (the worker writes them); the saved file is gone once a run ends."""

    list_display = ["id", "project_slug", "format", "state", "lines_read", "file_bytes", "created_by", "created_at"]
    list_filter = ["state", "format"]
    search_fields = ["project_slug", "file_name"]
    raw_id_fields = ["created_by"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] if obj is not None else []


@admin.register(ProjectAnnotatorStats)
class ProjectAnnotatorStatsAdmin(admin.ModelAdmin):
    """Kept by PostgreSQL triggers on the labels (migration 0006_scale_label_stats): read-only once there."""

    list_display = ["project", "annotator", "role", "n", "first_label_id", "last_at"]
    list_filter = ["role"]
    raw_id_fields = ["project", "annotator"]
    list_select_related = ["project", "annotator"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False


class _DerivedCountsAdmin(admin.ModelAdmin):
    """Counters kept by PostgreSQL triggers (migration 0009_counters_pages): read-only once there."""

    raw_id_fields = ["project"]
    list_select_related = ["project"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ProjectItemCounts)
class ProjectItemCountsAdmin(_DerivedCountsAdmin):
    list_display = ["project", "kind", "state", "route", "queued", "n"]
    list_filter = ["kind", "state", "route", "queued"]


@admin.register(ProjectFigures)
class ProjectFiguresAdmin(_DerivedCountsAdmin):
    """Stored by the pages (selectors.stored_figures); the pickled data is not shown."""

    list_display = ["project", "name", "n_labels", "computed_at"]
    exclude = ["data"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "data"] if obj is not None else []


@admin.register(ProjectLabelHours)
class ProjectLabelHoursAdmin(_DerivedCountsAdmin):
    list_display = ["project", "annotator", "hour", "n"]
    raw_id_fields = ["project", "annotator"]


@admin.register(ProjectLabelTimes)
class ProjectLabelTimesAdmin(_DerivedCountsAdmin):
    list_display = ["project", "annotator", "ms", "n"]
    raw_id_fields = ["project", "annotator"]


class _DerivedQueueAdmin(admin.ModelAdmin):
    """The labeling queue's derived rows (annotation/models/queue.py), kept by triggers: read-only once there."""

    list_select_related = ["project"]
    raw_id_fields = ["project"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] if obj is not None else []


@admin.register(QueueSlot)
class QueueSlotAdmin(_DerivedQueueAdmin):
    list_display = ["id", "project", "item", "started_seq", "priority"]
    raw_id_fields = ["project", "item"]


@admin.register(QueueCursor)
class QueueCursorAdmin(_DerivedQueueAdmin):
    list_display = ["annotator", "project", "started_seq", "n_done"]
    raw_id_fields = ["project", "annotator"]


@admin.register(QueueCounter)
class QueueCounterAdmin(_DerivedQueueAdmin):
    list_display = ["project", "shard", "wanted", "free_items"]


@admin.register(DroppedItem)
class DroppedItemAdmin(admin.ModelAdmin):
    """Items a curation run left out of a version, with the reason (written by the freeze): read-only once there."""

    list_display = ["version", "external_id", "reason"]
    list_filter = ["reason"]
    search_fields = ["external_id"]
    raw_id_fields = ["version", "item"]
    list_select_related = ["version"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] if obj is not None else []


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Rows a run writes (routing reports, fitted routers, cached embeddings): read-only once there."""

    def get_readonly_fields(self, request, obj=None):
        hidden = set(self.exclude or ())
        return [f.name for f in self.model._meta.fields if f.name not in hidden] if obj is not None else []


@admin.register(RoutingRun)
class RoutingRunAdmin(_ReadOnlyAdmin):
    list_display = ["run_id", "project", "policy", "created_at"]
    list_filter = ["policy"]
    raw_id_fields = ["project"]


@admin.register(RoutingModel)
class RoutingModelAdmin(_ReadOnlyAdmin):
    list_display = ["project", "kind", "fingerprint", "created_at", "used_at"]
    exclude = ["model"]  # the pickled router: bytes, not for a form
    raw_id_fields = ["project"]


@admin.register(EmbeddingCache)
class EmbeddingCacheAdmin(_ReadOnlyAdmin):
    list_display = ["digest", "created_at"]
    exclude = ["vector"]
