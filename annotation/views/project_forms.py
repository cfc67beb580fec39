"""Forms of the project settings and members pages.

The settings form is prefstudio.config_forms.ConfigForm over the ProjectSettings dataclass (every setting with its
docstring as help), pre-filled with the project's current values; the strength level names become a choice of
scale. The service (project_update / project_settings_check) checks the values and names the field at fault;
`add_config_error` puts that message on the form field.
"""
from __future__ import annotations

from typing import Any

from django import forms

from prefstudio.config_forms import ConfigForm

from ..models import Project, Role, RoutingPolicy
from ..services.project_settings import STRENGTH_SCALES, ProjectSettings

KEEP = "keep"  # the strength-scale choice that keeps a project's own level names


def _scale_choices(current: list[str]) -> tuple[list[tuple[str, str]], str]:
    choices = [("0", "None (no strength question)")]
    choices += [(str(n), f"{n} levels: {', '.join(names)}") for n, names in STRENGTH_SCALES.items()]
    initial = next((str(n) for n, names in STRENGTH_SCALES.items() if names == current), "0" if not current else KEEP)
    if initial == KEEP:
        choices.append((KEEP, f"As now ({len(current)} levels): {', '.join(current)}"))
    return choices, initial


class ProjectSettingsForm(ConfigForm):
    """The editable settings of `project`; `changes()` is the dict for project_update."""

    config_class = ProjectSettings
    skip = frozenset({"strength_levels"})  # offered as a choice of scale (strength_scale)
    error_fields = {"strength_levels": "strength_scale"}
    empty_means_none = frozenset({"human_budget_fraction", "human_budget_count"})  # empty: no budget
    overrides = {
        "name": {"required": True},
        "description": {"widget": forms.Textarea(attrs={"rows": 2})},
        "guidelines": {"widget": forms.Textarea(attrs={"rows": 8})},
        "task_kinds": {"label": "Labeling kinds"},
        "allow_partial_ranking": {"label": "Top-k rankings (partial)"},
        "blind_review": {"label": "Blind review"},
        "lease_minutes": {"label": "Lease (minutes)"},
        "overlap": {"label": "Overlap"},
        "routing_policy": {"choices": RoutingPolicy.choices},
    }

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        current = ProjectSettings.of(project)
        choices, scale = _scale_choices(current.strength_levels)
        super().__init__(*args, values=current, **kwargs)
        self.current_levels = current.strength_levels
        self.fields["strength_scale"] = forms.ChoiceField(
            choices=choices, initial=scale, label="Strength scale",
            help_text="How much better the preferred response is, weakest first. A scale shorter than a strength "
                      "already given is refused.",
        )
        self.order_fields(["name", "description", "guidelines", "task_kinds", "aspects", "strength_scale"])

    def changes(self) -> dict[str, Any]:
        """Every setting as the form has it (call after is_valid); empty budgets are None."""
        changes = self.config()
        scale = self.cleaned_data["strength_scale"]
        changes["strength_levels"] = list(self.current_levels) if scale == KEEP else list(STRENGTH_SCALES.get(
            int(scale), []))
        return changes


class MemberAddForm(forms.Form):
    who = forms.CharField(max_length=254, label="Username or e-mail",
                          widget=forms.TextInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
