"""Forms of the training pages: register a model, start a generation or judge job, save a judge template.

The job forms show the main fields of the kind's config dataclass, pre-filled with the dataclass defaults, and an
"advanced JSON" textarea for the rest; `config()` merges the two (the form's fields win) and `job_start` checks
the result with the dataclass, naming the field at fault (`add_config_error` puts that error on the field).
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import textwrap
import typing
from typing import Any

from django import forms
from django.db.models import QuerySet

from annotation.models import Project

from .engine.generation import PAIRINGS, GenerationConfig
from .engine.judging.config import JudgeConfig
from .engine.judging.templates import MODES
from .engine.trainers.config import DPO_LOSSES, LISTWISE_LOSSES
from .models import ArtifactKind, Backend, JobKind, ModelArtifact
from .selectors import model_label as scope_label
from .services.model_facts import model_facts_for, models_usable_for


def _default(cls: type, name: str) -> Any:
    """The default of dataclass field `name` (what the form pre-fills)."""
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def _choices(values: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    return [(v, v.replace("_", " ")) for v in values]


def _json_object(text: str, what: str) -> dict[str, Any]:
    """`text` parsed as a JSON object ("" = {}); a ValidationError in words a person can act on."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).")
    if not isinstance(value, dict):
        raise forms.ValidationError(f"{what} must be a JSON object, e.g. {{\"key\": \"value\"}}.")
    return value


class ModelRegisterForm(forms.Form):
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(), to_field_name="slug", required=False,
        help_text="Only this project's jobs may use the model.",
    )
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=ArtifactKind.choices, initial=ArtifactKind.BASE)
    backend = forms.ChoiceField(choices=Backend.choices, initial=Backend.HF)
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
        return _json_object(self.cleaned_data["settings"], "Settings")


class JobConfigForm(forms.Form):
    """A project select, the kind's main config fields (subclasses) and the advanced JSON for the rest."""

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
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["project"].queryset = projects
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField) and field.queryset.model is ModelArtifact:
                field.queryset = models.filter(pk__in=field.queryset.values("pk"))
                field.label_from_instance = model_label

    def clean_advanced(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data["advanced"], "Advanced")

    def config(self) -> dict[str, Any]:
        """The job's config (call after is_valid): the advanced JSON overlaid with the form's fields."""
        data = dict(self.cleaned_data)
        config = dict(data.pop("advanced"))
        data.pop("project")
        config.update({k: v for k, v in data.items() if v is not None and v != ""})
        return config

    def add_config_error(self, field: str | None, message: str) -> None:
        """Show a job_start error ("config.n") on the form's field for it, else above the form."""
        name = (field or "").removeprefix("config.").split(".")[0]
        self.add_error(name if name in self.fields else None, message)


class GenerateForm(JobConfigForm):
    kind = JobKind.GENERATE
    prefix_id = "generate-form"

    model_ids = forms.ModelMultipleChoiceField(
        queryset=ModelArtifact.objects.exclude(kind=ArtifactKind.REWARD).order_by("name"), label="Models",
        help_text="Every prompt gets n responses from each.",
    )
    n = forms.IntegerField(min_value=1, max_value=64, initial=_default(GenerationConfig, "n"),
                           label="Responses per prompt and model")
    temperature = forms.FloatField(min_value=0, max_value=5, initial=_default(GenerationConfig, "temperature"))
    top_p = forms.FloatField(min_value=0, max_value=1, initial=_default(GenerationConfig, "top_p"), label="Top p")
    max_tokens = forms.IntegerField(min_value=1, max_value=32768, initial=_default(GenerationConfig, "max_tokens"),
                                    label="Max tokens")
    seed = forms.IntegerField(initial=_default(GenerationConfig, "seed"))
    pairing = forms.ChoiceField(choices=_choices(PAIRINGS), initial=_default(GenerationConfig, "pairing"))
    limit = forms.IntegerField(min_value=1, required=False, label="At most this many prompts",
                               help_text="Empty = every prompt.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["model_ids"]
        usable = models_usable_for(kind=JobKind.GENERATE, models=list(field.queryset))  # causal LMs only
        field.queryset = field.queryset.filter(pk__in=[m.pk for m in usable])
        field.label_from_instance = model_label

    def config(self) -> dict[str, Any]:
        config = super().config()
        config["model_ids"] = [m.pk for m in self.cleaned_data["model_ids"]]
        return config


class JudgeForm(JobConfigForm):
    kind = JobKind.JUDGE
    prefix_id = "judge-form"

    model_id = forms.ModelChoiceField(
        queryset=ModelArtifact.objects.order_by("name"), label="Judge model",
        help_text="A reward model judges by its scores (higher reward wins, P(A) = sigmoid(r_A - r_B)); "
                  "mode, output and template then do not apply.",
    )
    mode = forms.ChoiceField(choices=_choices(["pairwise", "rating", "checklist"]),
                             initial=_default(JudgeConfig, "mode"))
    output = forms.ChoiceField(
        choices=_choices(["text", "choice", "json"]), initial=_default(JudgeConfig, "output"),
        help_text="choice (default): the verdict and its probability from one scoring pass, minutes on a CPU for "
                  "the demo; text or json add a rationale but generate up to Max tokens per item and order: "
                  "for a GPU.",
    )
    template_version = forms.IntegerField(min_value=1, required=False, label="Template version",
                                          help_text="Empty = the latest.")
    judge_name = forms.CharField(max_length=150, required=False, label="Judge name",
                                 help_text="Empty = derived from model, mode and template.")
    samples = forms.IntegerField(min_value=1, max_value=16, initial=_default(JudgeConfig, "samples"))
    temperature = forms.FloatField(min_value=0, max_value=5, initial=_default(JudgeConfig, "temperature"))
    max_tokens = forms.IntegerField(min_value=1, max_value=8192, initial=_default(JudgeConfig, "max_tokens"),
                                    label="Max tokens")
    seed = forms.IntegerField(initial=_default(JudgeConfig, "seed"))

    def config(self) -> dict[str, Any]:
        config = super().config()
        config["model_id"] = self.cleaned_data["model_id"].pk
        return config


class JudgeTemplateForm(forms.Form):
    mode = forms.ChoiceField(choices=_choices(list(MODES)), initial="pairwise")
    name = forms.CharField(max_length=100, initial="default")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}), strip=False,
                           help_text="$placeholders are filled in per item: see the built-in template of the mode.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)


# -- training jobs -------------------------------------------------------------------------------------
TRAINERS = {  # JobKind -> what the trainer tab says
    JobKind.TRAIN_RM.value: "Reward model",
    JobKind.TRAIN_DPO.value: "DPO",
    JobKind.TRAIN_LISTWISE.value: "Listwise (PRO / LiPO)",
    JobKind.TRAIN_KTO.value: "KTO",
}
AUTO_FIELD_HELP = {  # optional on the train form; what an empty field means (training_config_resolve)
    "max_length": "Empty: the default ({default}), capped by the base model's limit (shown beside its name); more "
                  "than that limit is refused.",
    "batch_size": "Empty: the default ({default}), or the number of train rows when there are fewer; more than "
                  "the rows is refused.",
}
TRAIN_FORM_SKIPS = {"base_model_id", "win_rate_judge_id"}  # set by the model selects, not typed in
WIN_RATE_SIZES = ("win_rate_prompts", "win_rate_max_new_tokens")  # optional on the form: empty = the default
CHOICE_FIELDS = {  # (kind, field) -> its allowed values: str fields the config checks against a list
    (JobKind.TRAIN_DPO.value, "loss"): DPO_LOSSES,
    (JobKind.TRAIN_LISTWISE.value, "loss"): LISTWISE_LOSSES,
}


class TrainForm(forms.Form):
    """Start a training job: a dataset version, a base model, and the trainer config's fields (built from the
    config dataclass of `kind`: defaults pre-filled, the field's docstring as help). Fields of types a form
    cannot show (nested objects, lists) go through the advanced JSON."""

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
        from .jobs.registry import job_type

        super().__init__(*args, label_suffix="", **kwargs)
        self.kind = kind
        self.config_class = job_type(kind).config_class
        self.fields["dataset_version"].queryset = versions
        self.fields["dataset_version"].label_from_instance = version_label
        bases = models.exclude(backend=Backend.OPENAI)
        if kind != JobKind.TRAIN_RM:
            bases = bases.exclude(kind=ArtifactKind.REWARD)  # a policy is not trained from a reward head
        usable = models_usable_for(kind=kind, models=list(bases))
        self.fields["base_model"].queryset = bases.filter(pk__in=[m.pk for m in usable])
        self.fields["base_model"].label_from_instance = model_label
        self.fields["base_model"].help_text = (
            "A local model (backend hf or vllm) from the models page; "
            + ("only models that can carry a score head are offered." if kind == JobKind.TRAIN_RM
               else "only causal language models are offered.")
        )
        self.config_fields: list[str] = []
        docs = dataclass_field_docs(self.config_class)
        hints = typing.get_type_hints(self.config_class)
        for f in dataclasses.fields(self.config_class):
            if f.name in TRAIN_FORM_SKIPS or not f.init:
                continue
            hint = hints.get(f.name)
            if (kind, f.name) in CHOICE_FIELDS:
                hint = typing.Literal[CHOICE_FIELDS[kind, f.name]]  # a str field that takes only these values
            field = config_form_field(f, hint, docs.get(f.name, ""))
            if field is not None:
                self.fields[f.name] = field
                self.config_fields.append(f.name)
        for name, empty in AUTO_FIELD_HELP.items():  # empty = job_start picks what the model and version allow
            if name in self.fields:
                self.fields[name].required = False
                self.fields[name].initial = None
                default = _default(self.config_class, name)
                self.fields[name].help_text = f"{docs.get(name, '')} {empty.format(default=default)}".strip()
        judge_field = []
        if any(f.name == "win_rate_judge_id" for f in dataclasses.fields(self.config_class)):
            self.fields["win_rate_judge"] = forms.ModelChoiceField(
                queryset=models, required=False, label="Win-rate judge",
                empty_label="— none: no win rate —", help_text=docs.get("win_rate_judge_id", ""),
            )
            self.fields["win_rate_judge"].label_from_instance = model_label
            judge_field = ["win_rate_judge"]
            for name in WIN_RATE_SIZES:
                if name in self.fields:
                    self.fields[name].required = False
        self.order_fields(["dataset_version", "base_model", *self.config_fields, *judge_field, "advanced"])

    def clean_advanced(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data["advanced"], "Advanced")

    def config(self) -> dict[str, Any]:
        """The job's config (call after is_valid): advanced JSON, overlaid with the fields and the base model."""
        config = dict(self.cleaned_data["advanced"])
        for name in self.config_fields:
            value = self.cleaned_data.get(name)
            if value is None or value == "":
                if name in WIN_RATE_SIZES:
                    continue  # left empty: the dataclass default (or the advanced JSON's value)
                if name not in config:  # an empty optional field means None, unless the JSON sets it
                    config[name] = None
            else:
                config[name] = value
        config["base_model_id"] = self.cleaned_data["base_model"].pk
        if "win_rate_judge" in self.fields:
            judge = self.cleaned_data.get("win_rate_judge")
            if judge is not None or "win_rate_judge_id" not in config:
                config["win_rate_judge_id"] = judge.pk if judge is not None else None
        return config

    def add_config_error(self, field: str | None, message: str) -> None:
        name = (field or "").removeprefix("config.").split(".")[0]
        if name == "base_model_id":
            name = "base_model"
        elif name == "win_rate_judge_id":
            name = "win_rate_judge"
        self.add_error(name if name in self.fields else None, message)


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


def dataclass_field_docs(cls: type) -> dict[str, str]:
    """field name -> its help: `metadata["help"]`, else the docstring written under the field (as in
    JudgeConfig), found by parsing the class's source; "" where there is none."""
    docs: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if dataclasses.is_dataclass(k)]):  # a subclass's doc wins
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
                docs[node.target.id] = " ".join(after.value.value.split())
    for f in dataclasses.fields(cls):
        if f.metadata.get("help"):
            docs[f.name] = str(f.metadata["help"])
    return docs


def config_form_field(f: dataclasses.Field, hint: Any, doc: str) -> forms.Field | None:
    """A form field for dataclass field `f` (bool, int, float, str, Literal, each optionally None); None for
    other types. Pre-filled with the default; the help says the default."""
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        rest = [a for a in args if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else None
    default = f.default if f.default is not dataclasses.MISSING else None
    if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return None  # lists and dicts: advanced JSON
    shown = "empty" if default is None else json.dumps(default)
    help_text = f"{doc} Default: {shown}.".strip()
    label = f.name.replace("_", " ").capitalize()
    common = {"label": label, "help_text": help_text, "initial": default, "required": not optional}
    if typing.get_origin(hint) is typing.Literal:
        choices = [(v, str(v)) for v in typing.get_args(hint)]
        return forms.TypedChoiceField(choices=([("", "— none —")] if optional else []) + choices,
                                      coerce=lambda v: v, empty_value=None if optional else "", **common)
    if hint is bool:
        return forms.BooleanField(**{**common, "required": False})
    if hint is int:
        return forms.IntegerField(**common)
    if hint is float:
        return forms.FloatField(**common)
    if hint is str:
        return forms.CharField(**{**common, "required": False})
    return None


# -- evaluation ----------------------------------------------------------------------------------------
EVALUATE_MODEL_FIELDS = {  # form select -> config field (ModelArtifact ids)
    "model": "model_id", "baseline_model": "baseline_model_id", "reference_model": "reference_model_id",
    "win_rate_judge": "win_rate_judge_id",
}


class EvaluateForm(forms.Form):
    """Start an `evaluate` job: a dataset version (its test split is what is scored), the model, optional baseline,
    reference and win-rate judge, and the other EvaluateConfig fields with their defaults pre-filled."""

    dataset_version = forms.ModelChoiceField(
        queryset=None, empty_label=None, label="Dataset version",
        help_text="The model is scored on this version's held-out (test-split) pairwise rows.",
    )

    def __init__(self, *args: Any, versions: Any, models: QuerySet[ModelArtifact], **kwargs: Any) -> None:
        """`models`: those the user's projects may use (model_artifacts_for_start); job_start checks that the
        chosen ones suit the dataset version's project."""
        from .engine.trainers.heldout import EvaluateConfig

        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["dataset_version"].queryset = versions
        self.fields["dataset_version"].label_from_instance = version_label
        docs = dataclass_field_docs(EvaluateConfig)
        local = models.exclude(backend=Backend.OPENAI)
        querysets = {"model": local, "baseline_model": local.filter(kind=ArtifactKind.REWARD),
                     "reference_model": local.filter(kind=ArtifactKind.BASE),
                     "win_rate_judge": models}
        for name, config_name in EVALUATE_MODEL_FIELDS.items():
            required = name == "model"
            self.fields[name] = forms.ModelChoiceField(
                queryset=querysets[name], required=required, label=name.replace("_", " ").capitalize(),
                empty_label=None if required else "— none —", help_text=docs.get(config_name, ""),
            )
            self.fields[name].label_from_instance = model_label
        hints = typing.get_type_hints(EvaluateConfig)
        self.config_fields: list[str] = []
        for f in dataclasses.fields(EvaluateConfig):
            if f.name in EVALUATE_MODEL_FIELDS.values():
                continue
            field = config_form_field(f, hints.get(f.name), docs.get(f.name, ""))
            if field is not None:
                self.fields[f.name] = field
                self.config_fields.append(f.name)

    def config(self) -> dict[str, Any]:
        """The job's config (call after is_valid)."""
        config: dict[str, Any] = {name: self.cleaned_data.get(name) for name in self.config_fields}
        for name, config_name in EVALUATE_MODEL_FIELDS.items():
            chosen = self.cleaned_data.get(name)
            config[config_name] = chosen.pk if chosen is not None else None
        return config

    def add_config_error(self, field: str | None, message: str) -> None:
        name = (field or "").removeprefix("config.").split(".")[0]
        name = {v: k for k, v in EVALUATE_MODEL_FIELDS.items()}.get(name, name)
        self.add_error(name if name in self.fields else None, message)
