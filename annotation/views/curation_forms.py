"""Forms of the curation pages: a curation run (built from the `curate` job's config dataclass) and routing.

The curation form is prefstudio.config_forms.ConfigForm over the curate job's config, its `curation` object shown
as CurationConfig's fields (a field added to CurationConfig shows up on the page without a change here); only the
drop rules ({rule: threshold | true}) get fields of their own.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any

from django import forms

from .. import extensions
from prefstudio.config_forms import SEP, ConfigForm

from ..curation.noise import SIGNALS
from ..models import RoutingPolicy


def _reward_model_choices(project_id: int | None) -> list[tuple[int, str]]:
    """(id, name) of the reward models (trained ones included) the project may use: its own and the global ones;
    none when no app provides reward models (annotation/extensions.py)."""
    reward_models = extensions.reward_models()
    return reward_models.choices(project_id=project_id) if reward_models is not None else []


# A config field whose metadata says {"options_from": key} lists ids the database knows: a multiple choice of
# OPTION_SOURCES[key](project_id) = [(id, label)] (the Django-free config cannot query them itself).
OPTION_SOURCES = {"reward_models": _reward_model_choices}


class CurateForm(ConfigForm):
    """The curate job's config (`config_class`, `inner`, `project_id`: see ConfigForm)."""

    option_sources = OPTION_SOURCES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.drop_path: tuple[str, ...] = ()  # where CurationConfig.drop is, if the config has it
        super().__init__(*args, **kwargs)

    def add_special(self, f: dataclasses.Field, hint: Any, path: tuple[str, ...], doc: str) -> bool:
        """CurationConfig.drop ({rule: threshold | true}) as two fields: a noise-score threshold and the
        signals whose flag drops an item (every other flagged item is only down-weighted)."""
        if f.name != "drop" or not (hint is dict or typing.get_origin(hint) is dict):
            return False
        name = self.name_for(path)
        self.fields[name + SEP + "noise_score"] = forms.FloatField(
            required=False, min_value=0, max_value=1, label="Drop at noise score ≥",
            help_text="Drop items whose combined noise score reaches this (0..1). Empty: no threshold.",
        )
        self.fields[name + SEP + "signals"] = forms.MultipleChoiceField(
            choices=[(s, s.replace("_", " ")) for s in SIGNALS], required=False, widget=forms.CheckboxSelectMultiple,
            label="Signals that drop an item",
            help_text="Items flagged by these signals are dropped; other flagged items are only down-weighted.",
        )
        self.drop_path = path
        self.targets[path] = name + SEP + "noise_score"  # a drop rule's error, on the first of the drop fields
        return True

    def config(self) -> dict[str, Any]:
        """The config as JSON for `job_start` (call after is_valid): blank optional fields are left out."""
        config = super().config()
        if self.drop_path:
            name = self.name_for(self.drop_path)
            rules: dict[str, Any] = {}
            threshold = self.cleaned_data.get(name + SEP + "noise_score")
            if threshold is not None:
                rules["noise_score"] = threshold
            rules.update({signal: True for signal in self.cleaned_data.get(name + SEP + "signals") or []})
            target = config
            for key in self.drop_path[:-1]:
                target = target.setdefault(key, {})
            target[self.drop_path[-1]] = rules
        return config


class RoutingForm(forms.Form):
    """Who labels what under a human budget: a fraction of the items, or a count."""

    policy = forms.ChoiceField(
        # all_human / ai_only send every item one way: no budget to spend, nothing to compare with random.
        choices=[(p.value, p.label) for p in RoutingPolicy
                 if p not in (RoutingPolicy.ALL_HUMAN, RoutingPolicy.AI_ONLY)],
        initial=RoutingPolicy.RULES,
        help_text="Random is the baseline that every routing result is shown against.",
    )
    budget_fraction = forms.FloatField(
        min_value=0, max_value=1, required=False, label="Budget (share of items)",
        help_text="E.g. 0.25 sends a quarter of the items to people. Give this or a count.",
    )
    budget_count = forms.IntegerField(min_value=0, required=False, label="Budget (number of items)")
    seed = forms.IntegerField(initial=0, help_text="Same seed, same data: same decisions.")
    embeddings = forms.BooleanField(
        required=False, label="Use response embeddings",
        help_text="Adds the all-MiniLM similarity of the two responses to the features (each text is embedded "
                  "once, then read from a cache).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        given = [name for name in ("budget_fraction", "budget_count") if data.get(name) is not None]
        if len(given) != 1:
            raise forms.ValidationError(
                "Give the budget as a share of the items or as a number of items (one of the two)."
            )
        return data

    def budget(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data.get("budget_fraction") is not None:
            return {"budget_fraction": data["budget_fraction"]}
        return {"budget_count": data["budget_count"]}

    def config(self) -> dict[str, Any]:
        """The `route` job's config (annotation.curation.route_job.RouteJobConfig) as JSON."""
        data = self.cleaned_data
        return {"policy": data["policy"], "seed": data["seed"], "embeddings": bool(data["embeddings"]),
                **self.budget()}
