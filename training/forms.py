"""Forms of the training pages: register a model, start a generation, judge, training or evaluation job, save a
judge template.

The job forms are prefstudio.config_forms.ConfigForm over the kind's config dataclass: its fields pre-filled with
the defaults and its docstrings as help (the generation and judge forms show their main fields; the rest, and the
training form's lists, go through an "advanced JSON" textarea). `config()` merges the two (the form's fields win)
and `job_start` checks the result with the dataclass, naming the field at fault (`add_config_error` puts that error
on the field).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from django import forms
from django.db.models import QuerySet

from annotation.models import Project
from prefstudio.config_forms import ConfigForm, json_object

from .engine.generation import GenerationConfig
from .engine.judging.config import JudgeConfig
from .engine.judging.templates import MODES
from .engine.trainers.registry import trainer_spec
from .engine.backends.registry import backend_choices, local_backend_names
from .models import ArtifactKind, Backend, JobKind, ModelArtifact
from .selectors import model_label as scope_label
from .services.model_facts import model_facts_for, models_usable_for


def _choices(values: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    return [(v, v.replace("_", " ")) for v in values]


class ModelRegisterForm(forms.Form):
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(), to_field_name="slug", required=False,
        help_text="Only this project's jobs may use the model.",
    )
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=ArtifactKind.choices, initial=ArtifactKind.BASE)
    backend = forms.ChoiceField(choices=backend_choices, initial=Backend.HF)  # a callable: later backends too
    location = forms.CharField(max_length=500, help_text="Local path, hub id or server URL.")
    settings = forms.CharField(
        required=False, label="Settings (JSON)", widget=forms.Textarea(attrs={"rows": 3}),
        help_text='A JSON object of backend settings, e.g. {"dtype": "bfloat16"}; empty = {}.',
    )

    def __init__(self, *args: Any, projects: QuerySet[Project], staff: bool, **kwargs: Any) -> None:
        """`projects`: those the user may register models in; `staff` may also register a global model (no
        project), which every project may use."""
        super().__init__(*args, label_suffix="", **kwargs)
        field = self.fields["project"]
        field.queryset = projects
        field.required = not staff
        field.empty_label = "— global: every project may use it —" if staff else None
        if staff:
            field.help_text = "Only this project's jobs may use the model; empty = a global model."

    def clean_settings(self) -> dict[str, Any]:
        return json_object(self.cleaned_data["settings"], "Settings")


class JobConfigForm(ConfigForm):
    """A project select, the kind's main config fields (`only`, generated from `config_class`) and the advanced JSON
    for the rest."""

    kind: str  # the JobKind it starts
    prefix_id: str  # the form's id in the page, e.g. "generate-form"

    project = forms.ModelChoiceField(queryset=Project.objects.none(), to_field_name="slug", empty_label=None)
    advanced = forms.CharField(
        required=False, label="Advanced (JSON)", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Other config fields as a JSON object; the fields above win over the same keys here.",
    )

    def __init__(self, *args: Any, projects: QuerySet[Project], models: QuerySet[ModelArtifact], **kwargs: Any) -> None:
        """`projects`: where the user may start jobs; `models`: the models those projects may use (job_start
        refuses a model of another project than the one chosen)."""
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField) and field.queryset.model is ModelArtifact:
                field.queryset = models.filter(pk__in=field.queryset.values("pk"))
                field.label_from_instance = model_label


class GenerateForm(JobConfigForm):
    kind = JobKind.GENERATE
    prefix_id = "generate-form"
    config_class = GenerationConfig
    only = ("n", "temperature", "top_p", "max_tokens", "seed", "pairing", "limit")
    model_fields = {"model_ids": "model_ids"}
    overrides = {
        "n": {"min_value": 1, "max_value": 64, "label": "Responses per prompt and model", "help_text": ""},
        "temperature": {"min_value": 0, "max_value": 5},
        "top_p": {"min_value": 0, "max_value": 1, "label": "Top p"},
        "max_tokens": {"min_value": 1, "max_value": 32768, "label": "Max tokens"},
        "limit": {"min_value": 1, "label": "At most this many prompts", "help_text": "Empty = every prompt."},
    }

    model_ids = forms.ModelMultipleChoiceField(
        queryset=ModelArtifact.objects.exclude(kind=ArtifactKind.REWARD).order_by("name"), label="Models",
        help_text="Every prompt gets n responses from each.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["model_ids"]
        usable = models_usable_for(kind=JobKind.GENERATE, models=list(field.queryset))  # causal LMs only
        field.queryset = field.queryset.filter(pk__in=[m.pk for m in usable])
        field.label_from_instance = model_label


class JudgeForm(JobConfigForm):
    kind = JobKind.JUDGE
    prefix_id = "judge-form"
    config_class = JudgeConfig
    only = ("mode", "output", "template_version", "judge_name", "samples", "temperature", "max_tokens", "seed")
    model_fields = {"model_id": "model_id"}
    overrides = {
        "template_version": {"min_value": 1, "label": "Template version", "help_text": "Empty = the latest."},
        "judge_name": {"max_length": 150, "label": "Judge name",
                       "help_text": "Empty = derived from model, mode and template."},
        "samples": {"min_value": 1, "max_value": 16},
        "temperature": {"min_value": 0, "max_value": 5},
        "max_tokens": {"min_value": 1, "max_value": 8192, "label": "Max tokens"},
        "output": {"help_text": "choice (default): the verdict and its probability from one scoring pass, minutes on "
                                "a CPU for the demo; text or json add a rationale but generate up to Max tokens per "
                                "item and order: for a GPU."},
    }

    model_id = forms.ModelChoiceField(
        queryset=ModelArtifact.objects.order_by("name"), label="Judge model",
        help_text="A reward model judges by its scores (higher reward wins, P(A) = sigmoid(r_A - r_B)); "
                  "mode, output and template then do not apply.",
    )


class JudgeTemplateForm(forms.Form):
    mode = forms.ChoiceField(choices=_choices(list(MODES)), initial="pairwise")
    name = forms.CharField(max_length=100, initial="default")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}), strip=False,
                           help_text="$placeholders are filled in per item: see the built-in template of the mode.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)


# -- training jobs -------------------------------------------------------------------------------------
AUTO_FIELD_HELP = {  # optional on the train form; what an empty field means (training_config_resolve)
    "max_length": "Empty: the default ({default}), capped by the base model's limit (shown beside its name); more "
                  "than that limit is refused.",
    "batch_size": "Empty: the default ({default}), or the number of train rows when there are fewer; more than "
                  "the rows is refused.",
}
WIN_RATE_SIZES = ("win_rate_prompts", "win_rate_max_new_tokens")  # optional on the form: empty = the default


class TrainForm(ConfigForm):
    """Start a training job: a dataset version, a base model, and the trainer config's fields (built from the
    config dataclass of `kind`: defaults pre-filled, the field's docstring as help). Fields of types a form
    cannot show (nested objects, lists) go through the advanced JSON."""

    show_default = True
    show_lists = False
    skip = frozenset({"base_model_id", "win_rate_judge_id"})  # set by the model selects, not typed in
    model_fields = {"base_model": "base_model_id", "win_rate_judge": "win_rate_judge_id"}
    empty_means_none = frozenset(AUTO_FIELD_HELP)

    dataset_version = forms.ModelChoiceField(
        queryset=None, empty_label=None, label="Dataset version",
        help_text="Frozen versions of your projects that hold rows this trainer reads; the test split is held out.",
    )
    base_model = forms.ModelChoiceField(queryset=None, empty_label=None, label="Base model",
                                        help_text="A local model (backend hf or vllm) from the models page.")
    advanced = forms.CharField(
        required=False, label="Advanced (JSON)", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Other config fields as a JSON object (e.g. {\"lora_target_modules\": [\"q_proj\"]}); the "
                  "fields above win over the same keys here, except fields left empty.",
    )

    def __init__(self, *args: Any, kind: str, versions: Any, models: QuerySet[ModelArtifact], **kwargs: Any) -> None:
        """`models`: those the user's projects may use (model_artifacts_for_start); job_start checks that the
        chosen ones suit the dataset version's project."""
        self.kind = kind
        spec = trainer_spec(kind)  # the trainer's table entry (training/engine/trainers/registry.py)
        super().__init__(*args, config_class=spec.config_class, **kwargs)
        self.fields["dataset_version"].queryset = versions
        self.fields["dataset_version"].label_from_instance = version_label
        bases = models.filter(backend__in=local_backend_names())  # local weights: no remote backend's server
        if spec.model != "score":
            bases = bases.exclude(kind=ArtifactKind.REWARD)  # a policy is not trained from a reward head
        usable = models_usable_for(kind=kind, models=list(bases))
        self.fields["base_model"].queryset = bases.filter(pk__in=[m.pk for m in usable])
        self.fields["base_model"].label_from_instance = model_label
        self.fields["base_model"].help_text = (
            f"A local model (backend {' or '.join(local_backend_names())}) from the models page; "
            + ("only models that can carry a score head are offered." if spec.model == "score"
               else "only causal language models are offered.")
        )
        for name, empty in AUTO_FIELD_HELP.items():  # empty = job_start picks what the model and version allow
            if name in self.fields:
                default = self.fields[name].initial
                self.fields[name].required = False
                self.fields[name].initial = None
                self.fields[name].help_text = f"{self.docs.get(name, '')} {empty.format(default=default)}".strip()
        judge_field = []
        if any(f.name == "win_rate_judge_id" for f in dataclasses.fields(self.config_class)):
            self.model_choice("win_rate_judge", models, required=False, empty_label="— none: no win rate —",
                              label="Win-rate judge").label_from_instance = model_label
            judge_field = ["win_rate_judge"]
            for name in WIN_RATE_SIZES:
                if name in self.fields:
                    self.fields[name].required = False
        self.order_fields(["dataset_version", "base_model", *self.config_fields, *judge_field, "advanced"])


def model_label(model: ModelArtifact) -> str:
    """'tiny-llama (lab) - causal LM, 2048 tokens' for the model selects: whose model it is (project or global)
    and, where its config can be read here, what it is; the scope alone when the facts are unknown."""
    facts = model_facts_for(model)
    return f"{scope_label(model)} - {facts.describe()}" if facts is not None else scope_label(model)


def version_label(version: Any) -> str:
    """'lab v3 (curated, mace) - 1200 train rows' for the version select."""
    name = f" ({version.name})" if version.name and version.name != f"v{version.number}" else ""
    rows = getattr(version, "n_kind_rows", None)
    return f"{version.project.slug} v{version.number}{name}" + (f" - {rows} train rows" if rows is not None else "")


# -- evaluation ----------------------------------------------------------------------------------------
EVALUATE_MODEL_FIELDS = {  # form select -> config field (ModelArtifact ids)
    "model": "model_id", "baseline_model": "baseline_model_id", "reference_model": "reference_model_id",
    "win_rate_judge": "win_rate_judge_id",
}


class EvaluateForm(ConfigForm):
    """Start an `evaluate` job: a dataset version (its test split is what is scored), the model, optional baseline,
    reference and win-rate judge, and the other EvaluateConfig fields with their defaults pre-filled."""

    show_default = True
    show_lists = False
    model_fields = EVALUATE_MODEL_FIELDS
    skip = frozenset(EVALUATE_MODEL_FIELDS.values())

    dataset_version = forms.ModelChoiceField(
        queryset=None, empty_label=None, label="Dataset version",
        help_text="The model is scored on this version's held-out (test-split) pairwise rows.",
    )

    def __init__(self, *args: Any, versions: Any, models: QuerySet[ModelArtifact], **kwargs: Any) -> None:
        """`models`: those the user's projects may use (model_artifacts_for_start); job_start checks that the
        chosen ones suit the dataset version's project."""
        from .engine.trainers.heldout import EvaluateConfig

        super().__init__(*args, config_class=EvaluateConfig, **kwargs)
        self.fields["dataset_version"].queryset = versions
        self.fields["dataset_version"].label_from_instance = version_label
        local = models.filter(backend__in=local_backend_names())
        querysets = {"model": local, "baseline_model": local.filter(kind=ArtifactKind.REWARD),
                     "reference_model": local.filter(kind=ArtifactKind.BASE),
                     "win_rate_judge": models}
        for name in EVALUATE_MODEL_FIELDS:
            required = name == "model"
            self.model_choice(name, querysets[name], required=required,
                              empty_label=None if required else "— none —").label_from_instance = model_label
        self.order_fields(["dataset_version", *EVALUATE_MODEL_FIELDS])
