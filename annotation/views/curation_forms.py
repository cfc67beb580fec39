"""Forms of the curation pages: a curation run (built from the `curate` job's config dataclass) and routing.

The curation form is built from the dataclass itself -- every field with its default as the initial value and
its `metadata["help"]` as the help text -- so a field added to CurationConfig shows up on the page without a
change here. Nested config dataclasses are flattened ("curation.test_fraction" becomes the form field
"curation__test_fraction") and `config()` nests them again. The dataclass, through `job_start`, checks the
values and names the field at fault; `add_config_error` puts that message on the form field.
"""
from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import textwrap
import types
import typing
from typing import Any

from django import forms

from .. import extensions
from ..curation.noise import SIGNALS
from ..models import RoutingPolicy

SEP = "__"  # nested field path separator in form field names ("." is not allowed in a field name)


def _reward_model_choices(project_id: int | None) -> list[tuple[int, str]]:
    """(id, name) of the reward models (trained ones included) the project may use: its own and the global ones;
    none when no app provides reward models (annotation/extensions.py)."""
    reward_models = extensions.reward_models()
    return reward_models.choices(project_id=project_id) if reward_models is not None else []


# A config field whose metadata says {"options_from": key} lists ids the database knows: a multiple choice of
# OPTION_SOURCES[key](project_id) = [(id, label)] (the Django-free config cannot query them itself).
OPTION_SOURCES = {"reward_models": _reward_model_choices}


def _id_choice_field(f: dataclasses.Field, doc: str, project_id: int | None) -> forms.Field:
    meta = dict(f.metadata or {})
    choices = OPTION_SOURCES[meta["options_from"]](project_id)
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else (f.default or [])
    help_text = meta.get("help", doc)
    if not choices:
        help_text = (help_text + " None registered yet.").strip()
    return forms.TypedMultipleChoiceField(
        choices=[(str(pk), label) for pk, label in choices], coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple, initial=[str(v) for v in default], label=meta.get("label") or
        _label(f.name), help_text=help_text,
    )


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    """(the type inside Optional[...], whether None is allowed)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(typing.get_args(hint))
    return hint, False


def attribute_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (the string literal right after `name: type = ...`)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    docs: dict[str, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _field_for(f: dataclasses.Field, hint: Any, doc: str = "", module_options: Any = ()) -> forms.Field | None:
    """A form field for dataclass field `f` of type `hint`, or None for a type a form cannot show."""
    hint, optional = _strip_optional(hint)
    default = None
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    meta = dict(f.metadata or {})
    common: dict[str, Any] = {"label": meta.get("label") or _label(f.name), "help_text": meta.get("help", doc)}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    choices = meta.get("choices")
    if isinstance(default, enum.Enum):
        default = default.value
    if hint is bool:
        return forms.BooleanField(required=False, initial=bool(default), **common)
    if origin is typing.Literal or choices or (isinstance(hint, type) and issubclass(hint, enum.Enum)):
        values = list(choices or (args if origin is typing.Literal else [m.value for m in hint]))
        blank = [("", "—")] if optional else []
        return forms.ChoiceField(
            choices=blank + [(str(v), str(v).replace("_", " ")) for v in values], required=not optional,
            initial="" if default is None else str(default), **common,
        )
    if hint is int:
        return forms.IntegerField(required=not optional, initial=default, **common)
    if hint is float:
        return forms.FloatField(required=not optional, initial=default, **common)
    if hint is str:
        return forms.CharField(required=False, initial=default or "", **common)
    if hint in (list, tuple) or origin in (list, tuple, frozenset, set):
        inner, _ = _strip_optional(args[0]) if args else (str, False)
        options = (meta.get("options") or (typing.get_args(inner) if typing.get_origin(inner) is typing.Literal else ())
                   or module_options)
        if options:
            return forms.MultipleChoiceField(
                choices=[(str(v), str(v).replace("_", " ")) for v in options], required=False,
                widget=forms.CheckboxSelectMultiple, initial=[str(v) for v in default or ()], **common,
            )
        common["help_text"] = (common["help_text"] + " Separate values with commas.").strip()
        return forms.CharField(required=False, initial=", ".join(str(v) for v in default or ()), **common)
    return None


class ConfigForm(forms.Form):
    """A form for the config dataclass `config_class` (nested dataclasses flattened)."""

    def __init__(self, *args: Any, config_class: type, inner: tuple[str, type] | None = None,
                 project_id: int | None = None, **kwargs: Any) -> None:
        """`inner` = (field, dataclass): a field of `config_class` that holds another config as a JSON object
        (the curate job's `curation` is a CurationConfig): its fields are shown without a prefix. `project_id`:
        the project whose id choices (its reward models) are offered."""
        super().__init__(*args, label_suffix="", **kwargs)
        self.config_class = config_class
        self.inner = inner
        self.project_id = project_id
        self.paths: dict[str, tuple[str, ...]] = {}  # form field name -> path in the config
        self.lists: set[str] = set()  # comma-separated text fields that become lists
        self.drop_path: tuple[str, ...] = ()  # where CurationConfig.drop is, if the config has it
        self._add(config_class, ())

    def _name(self, path: tuple[str, ...]) -> str:
        if self.inner and len(path) > 1 and path[0] == self.inner[0]:
            path = path[1:]
        return SEP.join(path)

    def _add(self, cls: type, prefix: tuple[str, ...]) -> None:
        hints = typing.get_type_hints(cls)
        docs = attribute_docs(cls)
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            if not prefix and self.inner and f.name == self.inner[0]:
                self._add(self.inner[1], (f.name,))
                continue
            hint, _ = _strip_optional(hints.get(f.name, Any))
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                self._add(hint, prefix + (f.name,))
                continue
            if f.name == "drop" and (hint is dict or typing.get_origin(hint) is dict):
                self._add_drop(prefix + (f.name,), docs.get(f.name, ""))
                continue
            # A list field whose allowed values the config's module names in a constant (sources -> SOURCES).
            options = getattr(inspect.getmodule(cls), f.name.upper(), ())
            options = options if isinstance(options, (tuple, list)) else ()
            if (f.metadata or {}).get("options_from") in OPTION_SOURCES:
                field = _id_choice_field(f, docs.get(f.name, ""), self.project_id)
            else:
                field = _field_for(f, hints.get(f.name, Any), docs.get(f.name, ""), options)
            if field is None:
                continue  # a dict or another shape a form cannot show: the dataclass default stands
            name = self._name(prefix + (f.name,))
            self.fields[name] = field
            self.paths[name] = prefix + (f.name,)
            if isinstance(field, forms.CharField) and typing.get_origin(hint) in (list, tuple, frozenset, set):
                self.lists.add(name)

    def _add_drop(self, path: tuple[str, ...], doc: str) -> None:
        """CurationConfig.drop ({rule: threshold | true}) as two fields: a noise-score threshold and the
        signals whose flag drops an item (every other flagged item is only down-weighted)."""
        name = self._name(path)
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

    def config(self) -> dict[str, Any]:
        """The config as JSON for `job_start` (call after is_valid): blank optional fields are left out."""
        config: dict[str, Any] = {}
        if self.drop_path:
            config_drop = self._drop_rules()
            target = config
            for key in self.drop_path[:-1]:
                target = target.setdefault(key, {})
            target[self.drop_path[-1]] = config_drop
        for name, path in self.paths.items():
            value = self.cleaned_data.get(name)
            if name in self.lists:
                value = [part.strip() for part in (value or "").split(",") if part.strip()]
            elif value in ("", None) and not isinstance(self.fields[name], forms.CharField):
                continue  # the dataclass default (or None) stands
            elif isinstance(self.fields[name], forms.MultipleChoiceField):
                value = list(value)
            target = config
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = value
        return config

    def _drop_rules(self) -> dict[str, Any]:
        name = self._name(self.drop_path)
        rules: dict[str, Any] = {}
        threshold = self.cleaned_data.get(name + SEP + "noise_score")
        if threshold is not None:
            rules["noise_score"] = threshold
        signals = self.cleaned_data.get(name + SEP + "signals") or []
        rules.update({signal: True for signal in signals})
        return rules

    def add_config_error(self, field: str | None, message: str) -> None:
        """Put a `job_start` error ("config.curation.seed") on its form field, or on the form."""
        path = tuple((field or "").removeprefix("config.").split("."))
        name = self._name(path) if field else None
        if name and self.drop_path and name == self._name(self.drop_path):
            name += SEP + "noise_score"  # a drop rule's error, on the first of the drop fields
        self.add_error(name if name in self.fields else None, message)


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
        help_text="Adds the all-MiniLM similarity of the two responses to the features (slower on a CPU).",
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
