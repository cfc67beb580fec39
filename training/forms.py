"""Forms of the training pages: register a model, start a generation or judge job, save a judge template.

The job forms show the main fields of the kind's config dataclass, pre-filled with the dataclass defaults, and an
"advanced JSON" textarea for the rest; `config()` merges the two (the form's fields win) and `job_start` checks
the result with the dataclass, naming the field at fault (`add_config_error` puts that error on the field).
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from django import forms
from django.db.models import QuerySet

from annotation.models import Project

from .engine.generation import PAIRINGS, GenerationConfig
from .engine.judging.config import JudgeConfig
from .engine.judging.templates import MODES
from .models import ArtifactKind, Backend, JobKind, ModelArtifact


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
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=ArtifactKind.choices, initial=ArtifactKind.BASE)
    backend = forms.ChoiceField(choices=Backend.choices, initial=Backend.HF)
    location = forms.CharField(max_length=500, help_text="Local path, hub id or server URL.")
    settings = forms.CharField(
        required=False, label="Settings (JSON)", widget=forms.Textarea(attrs={"rows": 3}),
        help_text='A JSON object of backend settings, e.g. {"dtype": "bfloat16"}; empty = {}.',
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)

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

    def __init__(self, *args: Any, projects: QuerySet[Project], **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["project"].queryset = projects

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

    def config(self) -> dict[str, Any]:
        config = super().config()
        config["model_ids"] = [m.pk for m in self.cleaned_data["model_ids"]]
        return config


class JudgeForm(JobConfigForm):
    kind = JobKind.JUDGE
    prefix_id = "judge-form"

    model_id = forms.ModelChoiceField(
        queryset=ModelArtifact.objects.exclude(kind=ArtifactKind.REWARD).order_by("name"), label="Judge model",
    )
    mode = forms.ChoiceField(choices=_choices(["pairwise", "rating", "checklist"]),
                             initial=_default(JudgeConfig, "mode"))
    output = forms.ChoiceField(choices=_choices(["text", "choice", "json"]), initial=_default(JudgeConfig, "output"))
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
