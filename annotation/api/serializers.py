"""Input and output shapes of the REST API. Types and bounds only: the rules live in the services."""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..importing import FORMATS
from ..models import (
    AnnotatorKind,
    ImportRun,
    Item,
    ItemFlag,
    ItemResponse,
    Label,
    LabelSource,
    Project,
    Prompt,
    ReferenceUse,
    Response,
    Role,
    RoutingPolicy,
    TaskKind,
    Winner,
)

from ..selectors.identities import AnnotatorNames, annotator_names_for

MAX_POSITION = 15  # items show at most 16 responses (RESPONSES_PER_KIND)
MAX_INT32 = 2**31 - 1  # PositiveIntegerField's range in PostgreSQL


# -- outputs ----------------------------------------------------------------------------------------
class MessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(allow_blank=True)


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices, read_only=True, help_text="Your role in the project.")
    task_kinds = serializers.ListField(child=serializers.ChoiceField(choices=TaskKind.choices))
    aspects = serializers.ListField(child=serializers.CharField())
    strength_levels = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Project
        fields = [
            "slug", "name", "description", "guidelines", "task_kinds", "aspects", "strength_levels", "overlap",
            "human_budget_fraction", "human_budget_count", "routing_policy", "rationale_required",
            "allow_partial_ranking", "blind_review", "lease_minutes", "reference_use", "attention_rate", "role",
            "created_at",
        ]
        read_only_fields = fields


class PromptSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug", read_only=True)
    messages = MessageSerializer(many=True, read_only=True)

    class Meta:
        model = Prompt
        fields = ["id", "project", "external_id", "messages", "metadata", "created_at"]
        read_only_fields = fields


class ResponseSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="prompt.project.slug", read_only=True)

    class Meta:
        model = Response
        fields = [
            "id", "prompt", "project", "external_id", "text", "model_name", "gen_params", "seed", "origin",
            "parent", "created_at",
        ]
        read_only_fields = fields


class FlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = ItemFlag
        fields = ["name", "value", "reason"]
        read_only_fields = fields


class ItemSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug", read_only=True)
    # Declared because DRF drops allow_blank from read-only model fields, and "" means "no labels".
    source = serializers.ChoiceField(choices=LabelSource.choices, allow_blank=True, read_only=True)
    flags = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = [
            "id", "project", "external_id", "kind", "state", "route", "source", "n_responses",
            "n_human_labels", "n_judge_labels", "priority", "flags", "created_at", "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(FlagSerializer(many=True))
    def get_flags(self, item: Item) -> list[dict]:
        """The flags, their reasons naming annotators as the viewer may see them (a blind project hides people)."""
        names = annotator_names(self.context, item.project)
        flags = FlagSerializer(item.flags.all(), many=True).data
        return [{**row, "reason": names.render(row["reason"])} for row in flags]


class SlotSerializer(serializers.ModelSerializer):
    """Response `position` of an item (position 0 is "A")."""

    response = serializers.IntegerField(source="response_id", read_only=True)
    external_id = serializers.CharField(source="response.external_id", read_only=True)
    text = serializers.CharField(source="response.text", read_only=True)
    model_name = serializers.CharField(source="response.model_name", read_only=True)

    class Meta:
        model = ItemResponse
        fields = ["position", "response", "external_id", "text", "model_name"]
        read_only_fields = fields


class ItemPromptSerializer(serializers.ModelSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta:
        model = Prompt
        fields = ["id", "external_id", "messages"]
        read_only_fields = fields


class ItemDetailSerializer(ItemSerializer):
    prompt = ItemPromptSerializer(read_only=True)
    responses = SlotSerializer(source="slots", many=True, read_only=True)

    class Meta(ItemSerializer.Meta):
        fields = ItemSerializer.Meta.fields + ["prompt", "responses", "metadata"]
        read_only_fields = fields


class LabelSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="item.project.slug", read_only=True)
    annotator = serializers.SerializerMethodField(
        help_text='The annotator\'s name; in a blind project a pseudonym ("annotator 3") for all but owners.'
    )
    annotator_kind = serializers.ChoiceField(source="annotator.kind", choices=AnnotatorKind.choices, read_only=True)
    # "" for labels that are not pairwise (DRF drops allow_blank from read-only model fields).
    winner = serializers.ChoiceField(choices=Winner.choices, allow_blank=True, read_only=True)
    aspects = serializers.DictField(child=serializers.CharField(), read_only=True)
    ranking = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()), allow_null=True, read_only=True,
        help_text="Tie groups of response positions, best first.",
    )
    shown_order = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    edited_text = serializers.CharField(source="edited_response.text", allow_null=True, read_only=True)

    class Meta:
        model = Label
        fields = [
            "id", "item", "project", "annotator", "annotator_kind", "kind", "role", "status", "winner", "strength",
            "aspects", "rationale", "ranking", "edited_response", "edited_text", "thumbs_up", "shown_order",
            "time_spent_ms", "probability", "raw_output", "swap_consistent", "created_at",
        ]
        read_only_fields = fields

    def get_annotator(self, label: Label) -> str:
        return annotator_names(self.context, label.item.project).name(label.annotator_id)


def annotator_names(context: dict, project: Project) -> AnnotatorNames:
    """The request user's AnnotatorNames of `project`, made once per response (cached in the context)."""
    cache = context.setdefault("annotator_names", {})
    if project.pk not in cache:
        request = context.get("request")
        cache[project.pk] = annotator_names_for(project=project, user=getattr(request, "user", None))
    return cache[project.pk]


class ImportReportSerializer(serializers.Serializer):
    project = serializers.CharField()
    format = serializers.CharField()
    project_created = serializers.BooleanField()
    records = serializers.IntegerField()
    prompts_created = serializers.IntegerField()
    responses_created = serializers.IntegerField()
    items_created = serializers.IntegerField()
    items_existing = serializers.IntegerField()
    labels_created = serializers.IntegerField()
    labels_existing = serializers.IntegerField()
    annotators_created = serializers.ListField(child=serializers.CharField())
    skipped = serializers.ListField(child=serializers.CharField(), help_text="Bad lines left out (skip_invalid).")
    changed_nothing = serializers.BooleanField()


class ImportRunSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-import-run", help_text="Poll this for progress.")
    percent = serializers.FloatField(help_text="Share of the file read, 0-100.")
    finished = serializers.BooleanField()

    class Meta:
        model = ImportRun
        fields = [
            "id", "url", "project_slug", "format", "options", "file_name", "file_bytes", "state", "lines_read",
            "records_written", "bytes_read", "percent", "finished", "report", "error", "error_details",
            "error_status", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields


# -- inputs -----------------------------------------------------------------------------------------
class ProjectCreateSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=64, help_text="Lowercase letters, digits and hyphens; unique.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    guidelines = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    task_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=TaskKind.choices), min_length=1, max_length=4, required=False
    )
    aspects = serializers.ListField(child=serializers.CharField(max_length=64), max_length=20, required=False)
    strength_levels = serializers.ListField(child=serializers.CharField(max_length=64), max_length=10, required=False)
    overlap = serializers.IntegerField(min_value=1, max_value=100, required=False)
    human_budget_fraction = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)
    human_budget_count = serializers.IntegerField(min_value=0, max_value=MAX_INT32, required=False, allow_null=True)
    routing_policy = serializers.ChoiceField(choices=RoutingPolicy.choices, required=False)
    rationale_required = serializers.BooleanField(required=False)
    allow_partial_ranking = serializers.BooleanField(required=False)
    blind_review = serializers.BooleanField(required=False)
    lease_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, required=False)
    reference_use = serializers.ChoiceField(choices=ReferenceUse.choices, required=False)
    attention_rate = serializers.FloatField(min_value=0, max_value=0.5, required=False,
                                            help_text="Share of an annotator's tasks that are attention checks.")


class ProjectUpdateSerializer(ProjectCreateSerializer):
    """PATCH /api/projects/<slug>/: any of the settings; the slug cannot change. Types and bounds only: the rules
    (annotation.services.project_settings) are checked by the service."""

    slug = None  # not a setting: a project keeps its slug (URLs and exports name it)
    name = serializers.CharField(max_length=200, required=False)
    task_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=TaskKind.choices), min_length=1, max_length=4, required=False,
        help_text="A kind that the project's items already have cannot be removed.",
    )

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if hasattr(data, "keys") else []
        if unknown:  # a typo would otherwise be ignored and look like success
            raise serializers.ValidationError({unknown[0]: ["not a setting you can change"]})
        return super().to_internal_value(data)


class LabelCreateSerializer(serializers.Serializer):
    """A label in the native import format; which fields apply depends on the item's kind."""

    winner = serializers.ChoiceField(choices=Winner.choices, required=False, help_text="pairwise")
    strength = serializers.IntegerField(
        min_value=1, max_value=10, required=False, help_text="pairwise: 1..len(project.strength_levels)"
    )
    aspects = serializers.DictField(
        child=serializers.ChoiceField(choices=Winner.choices), required=False,
        help_text='pairwise: a verdict per aspect of the project, e.g. {"honesty": "A"}',
    )
    rationale = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=20_000)
    ranking = serializers.ListField(
        child=serializers.ListField(
            child=serializers.IntegerField(min_value=0, max_value=MAX_POSITION), min_length=1, max_length=16
        ),
        min_length=1, max_length=16, required=False,
        help_text="listwise: tie groups of response positions, best first, e.g. [[2], [0, 1]]",
    )
    edited_text = serializers.CharField(
        required=False, trim_whitespace=False, max_length=100_000, help_text="edit: the edited response"
    )
    no_change = serializers.BooleanField(
        required=False, help_text="edit: true when the response needs no change (stored as it is; no edited_text)"
    )
    thumbs = serializers.ChoiceField(choices=[("up", "up"), ("down", "down")], required=False, help_text="thumbs")
    shown_order = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=MAX_POSITION), max_length=16, required=False,
        help_text="The positions in the order they were shown, e.g. [1, 0] = B was shown first.",
    )
    time_spent_ms = serializers.IntegerField(min_value=0, max_value=MAX_INT32, required=False)
    idempotency_key = serializers.CharField(
        max_length=64, required=False, help_text="Retrying with the same key returns the first label."
    )


class ImportSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64, help_text="Project slug; created (you own it) if new.")
    format = serializers.ChoiceField(choices=sorted(FORMATS))
    file = serializers.FileField(help_text="JSONL, plain or gzipped.")
    annotator = serializers.CharField(
        max_length=150, required=False, help_text="Who gave the preferences of a trl / hh / ranked file."
    )
    annotator_kind = serializers.ChoiceField(choices=AnnotatorKind.choices, default=AnnotatorKind.HUMAN)
    skip_invalid = serializers.BooleanField(
        default=False, help_text="Import the valid records and list the bad ones, instead of rejecting the file."
    )


# -- dataset versions (annotation.api.datasets) ------------------------------------------------------
class DatasetVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="1, 2, 3, ... per project.")
    project = serializers.CharField(source="project.slug")
    name = serializers.CharField(allow_blank=True)
    config_hash = serializers.CharField(help_text="Digest of the filter config.")
    n_rows = serializers.IntegerField(help_text="Rows in the version, both splits.")
    created_by = serializers.CharField(source="created_by.username", allow_null=True,
                                       help_text="Who froze it; null for the command line.")
    created_at = serializers.DateTimeField()


class DatasetVersionDetailSerializer(DatasetVersionSerializer):
    filter_config = serializers.JSONField(read_only=True, help_text="The curation config that made the version.")
    stats = serializers.SerializerMethodField(
        help_text="Kept, dropped by reason, label-source mix; competence per annotator as you may see them."
    )
    splits = serializers.DictField(child=serializers.IntegerField(), read_only=True,
                                   help_text='Rows per split, e.g. {"train": 900, "test": 100}.')
    kinds = serializers.DictField(child=serializers.IntegerField(), read_only=True,
                                  help_text='Rows per kind, e.g. {"pairwise": 950, "unpaired": 50}.')

    @extend_schema_field(serializers.JSONField())
    def get_stats(self, version) -> dict:
        return annotator_names(self.context, version.project).render_json(version.stats)


class DatasetRowSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Order of the row in the version, stable across exports.")
    split = serializers.ChoiceField(choices=["train", "test"])
    kind = serializers.ChoiceField(choices=["pairwise", "listwise", "unpaired"])
    item = serializers.IntegerField(source="item_id", allow_null=True, help_text="The source item's id.")
    data = serializers.JSONField(help_text="pairwise: prompt, chosen, rejected, margin; listwise: prompt, "
                                 "responses, ranking; unpaired: prompt, completion, label.")
    weight = serializers.FloatField(help_text="Training weight, >= 0 (down-weighted by noise).")
    provenance = serializers.SerializerMethodField(help_text="item, origin, source, votes, agreement, probability, "
                                                   "noise_score, reasons.")

    @extend_schema_field(serializers.JSONField())
    def get_provenance(self, row) -> dict:
        # The view puts the version's project in the context: one AnnotatorNames for the whole page.
        return annotator_names(self.context, self.context["project"]).render_json(row.provenance)


class DatasetRowsQuerySerializer(serializers.Serializer):
    split = serializers.ChoiceField(choices=["train", "test", "all"], default="all")

class DatasetExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=["trl", "trl_conversational", "kto", "listwise", "raw_votes"], default="trl",
        help_text="trl / trl_conversational: TRL preference pairs; kto: TRL unpaired (thumbs); listwise: "
        "rankings; raw_votes: every label of the version's items.",
    )
    encoding = serializers.ChoiceField(
        choices=["jsonl", "parquet"], default="jsonl",
        help_text="hf (save_to_disk, a directory) is for `manage.py export_data` only.",
    )
    split = serializers.ChoiceField(choices=["train", "test", "all"], default="train")
    provenance = serializers.BooleanField(
        default=True, help_text="Add weight, margin and provenance columns (what trainers need besides the pair)."
    )
    offset = serializers.IntegerField(
        default=0, min_value=0, max_value=2**31 - 1,  # row indexes are 32-bit: past that, PostgreSQL's OFFSET errs
        help_text="Resume: skip the first `offset` records (in index order; a version never changes, so the "
        "same request always gives the same records). After a broken jsonl download, keep the complete lines "
        "you have, count them, and ask again with offset=that count to get the rest. With parquet the rest "
        "comes as a file of its own. 400 if offset is not below the number of records.",
    )
