"""The one generator from a config dataclass to a Django form, and from the validated form back to the config.

Every settings form of the app is built here: the curation run and the project settings (annotation), the
generation, judge, training and evaluation jobs (training). The dataclass is the one description of its settings:
a field added to it shows up on its form with its default (or a saved value) pre-filled and its docstring -- or
`metadata["help"]` -- as the help text. A field becomes:

- bool: a checkbox; int, float: a number, required unless Optional, bounded by `metadata["min"]` / `["max"]`;
- str: a text box; `Literal[...]`, an Enum or `metadata["choices"]`: a select, with a blank choice if Optional;
- a list of Literal values, `metadata["options"]`, or a list whose allowed values its module names in a constant
  (`sources` -> SOURCES): checkboxes; `metadata["options_from"]: key`: checkboxes of the ids that the form's
  `option_sources[key](project_id)` lists (the Django-free config cannot query them); other lists: comma-separated
  text (forms with `show_lists = False` leave lists to their advanced JSON);
- a nested dataclass: its fields, flattened ("curation.seed" is the form field "curation__seed");
- a dict or another shape a form cannot show: nothing (the dataclass default, or the advanced JSON, stands).

`config()` turns the cleaned data back into the JSON object that the service checks with the dataclass; the service
names the field at fault ("config.curation.seed") and `add_config_error` puts the message on that form field.
`metadata["label"]` names a field on every form; a form's `overrides` change one form's fields.
"""
from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import json
import textwrap
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django import forms
from django.db.models import QuerySet

from annotation import errors

T = TypeVar("T")

__all__ = ["ConfigForm", "field_docs", "form_field", "json_object", "refusals_on", "SEP"]

SEP = "__"  # nested field path separator in form field names ("." is not allowed in a field name)
ADVANCED = "advanced"  # the optional JSON textarea whose object the form's fields are laid over


def field_docs(cls: type) -> dict[str, str]:
    """field name -> its help: `metadata["help"]`, else the docstring written under the field (found by parsing
    the class's source; a subclass's docstring wins over its base's); "" where there is none."""
    docs: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if dataclasses.is_dataclass(k)]):
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
        if "help" in (f.metadata or {}):
            docs[f.name] = str(f.metadata["help"])
    return docs


def json_object(text: str, what: str) -> dict[str, Any]:
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


def _put_on_field(form: forms.Form, exc: errors.PrefStudioError) -> None:
    field = (exc.field or "").removeprefix("config.")
    form.add_error(field if field in form.fields else None, exc.message)


@contextmanager
def refusals_on(form: forms.Form, put: Callable[[errors.PrefStudioError], None] | None = None) -> Iterator[None]:
    """What every form view does around its service call::

        with refusals_on(form):
            thing = service_call(...)
            return redirect(...)
        return render(..., form, status=400)

    A PrefStudioError from the block becomes a form error -- on the form field it names ("field" or
    "config.field"), else above the form; `put` places it otherwise -- and is kept as `form.refusal` (its
    status code, say); the block's remaining lines do not run. PermissionDenied is not a form error: it goes on to
    the error middleware (the 403 page)."""
    try:
        yield
    except errors.PermissionDenied:
        raise
    except errors.PrefStudioError as exc:
        (put or (lambda e: _put_on_field(form, e)))(exc)
        form.refusal = exc  # type: ignore[attr-defined]


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    """(the type inside Optional[...], whether None is allowed)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(typing.get_args(hint))
    return hint, False


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _choices(values: Any) -> list[tuple[str, str]]:
    return [(str(v), str(v).replace("_", " ")) for v in values]


def _same(value: Any) -> Any:
    return value


def _is_list(hint: Any) -> bool:
    return hint in (list, tuple) or typing.get_origin(hint) in (list, tuple, frozenset, set)


def form_field(f: dataclasses.Field, hint: Any, doc: str = "", *, value: Any = dataclasses.MISSING,
               options: Any = (), id_choices: list[tuple[int, str]] | None = None, show_default: bool = False,
               show_lists: bool = True, extra: dict[str, Any] | None = None) -> forms.Field | None:
    """The form field for dataclass field `f` of type `hint`, or None for a type a form cannot show.

    `value`: the initial value (a saved config's; else the field's default). `options`: allowed values of a list
    field (its module's constant). `id_choices`: (id, label) of an `options_from` field. `show_default`: the help
    ends with "Default: <json>.". `extra`: Field arguments that win over the generated ones (label, bounds, ...)."""
    hint, optional = _strip_optional(hint)
    default = _default(f)
    initial = _plain(default if value is dataclasses.MISSING else value)
    meta = dict(f.metadata or {})
    help_text = meta.get("help", doc)
    if show_default:
        help_text = f"{help_text} Default: {'empty' if default is None else json.dumps(_plain(default))}.".strip()
    kwargs: dict[str, Any] = {"label": meta.get("label") or _label(f.name), "help_text": help_text}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    is_enum = isinstance(hint, type) and issubclass(hint, enum.Enum)
    if id_choices is not None:
        if not id_choices:
            kwargs["help_text"] = (kwargs["help_text"] + " None registered yet.").strip()
        field_class: type[forms.Field] = forms.TypedMultipleChoiceField
        kwargs.update(choices=[(str(pk), label) for pk, label in id_choices], coerce=int, required=False,
                      widget=forms.CheckboxSelectMultiple, initial=[str(v) for v in initial or ()])
    elif hint is bool:
        field_class = forms.BooleanField
        kwargs.update(required=False, initial=bool(initial))
    elif origin is typing.Literal or meta.get("choices") or is_enum:
        values = list(meta.get("choices") or (args if origin is typing.Literal else [m.value for m in hint]))
        field_class = forms.TypedChoiceField
        kwargs.update(choices=([("", "— none —")] if optional else []) + _choices(values), coerce=_same,
                      empty_value=None, required=not optional, initial="" if initial is None else str(initial))
    elif hint in (int, float):
        field_class = forms.IntegerField if hint is int else forms.FloatField
        kwargs.update(required=not optional, initial=initial, min_value=meta.get("min"), max_value=meta.get("max"))
    elif hint is str:
        field_class = forms.CharField
        kwargs.update(required=False, initial=initial or "")
    elif _is_list(hint) and show_lists:
        inner, _ = _strip_optional(args[0]) if args else (str, False)
        options = (meta.get("options") or (typing.get_args(inner) if typing.get_origin(inner) is typing.Literal
                                           else ()) or options)
        if options:
            field_class = forms.MultipleChoiceField
            kwargs.update(choices=_choices(options), required=False, widget=forms.CheckboxSelectMultiple,
                          initial=[str(v) for v in initial or ()])
        else:
            field_class = forms.CharField
            kwargs.update(required=False, initial=", ".join(str(v) for v in initial or ()),
                          help_text=(kwargs["help_text"] + " Separate values with commas.").strip())
    else:
        return None
    return field_class(**{**kwargs, **(extra or {})})


def _get(config: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(config, dict) or key not in config:
            return dataclasses.MISSING
        config = config[key]
    return config


def _put(config: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        config = config.setdefault(key, {})
    config[path[-1]] = value


class ConfigForm(forms.Form):
    """A form for the config dataclass `config_class`: its fields (nested dataclasses flattened) after the fields
    the subclass declares. The class attributes are a subclass's settings; the arguments of `__init__` win."""

    config_class: type | None = None
    inner: tuple[str, type] | None = None
    """(field, dataclass): a field of `config_class` that holds another config as a JSON object (the curate job's
    `curation` is a CurationConfig): its fields are shown without a prefix."""
    only: tuple[str, ...] | None = None  # the config fields shown, in this order (None: every one that can be)
    skip: frozenset[str] = frozenset()  # config fields not shown (set by a declared field, or not editable)
    show_default = False  # help texts end "Default: 0.1." (the job forms, whose initial values can be changed)
    show_lists = True  # False: list fields are left to the advanced JSON
    overrides: dict[str, dict[str, Any]] = {}  # form field -> Field arguments that win over the generated ones
    model_fields: dict[str, str] = {}  # declared model select -> the config field that takes its id (or ids)
    error_fields: dict[str, str] = {}  # config field -> the form field its errors go on, where the names differ
    empty_means_none: frozenset[str] = frozenset()  # fields left empty that mean None, not the dataclass default
    option_sources: dict[str, Callable[[int | None], list[tuple[int, str]]]] = {}  # see `options_from`

    def __init__(self, *args: Any, config_class: type | None = None, inner: tuple[str, type] | None = None,
                 project_id: int | None = None, values: Any = None, **kwargs: Any) -> None:
        """`project_id`: the project whose id choices (`options_from`) are offered; `values`: a saved config (an
        instance of `config_class`) whose values are pre-filled instead of the defaults."""
        super().__init__(*args, label_suffix="", **kwargs)
        self.config_class = config_class or self.config_class
        self.inner = inner or self.inner
        self.project_id = project_id
        self.paths: dict[str, tuple[str, ...]] = {}  # generated form field -> path in the config
        self.list_fields: set[str] = set()  # comma-separated text fields that become lists
        self.targets: dict[tuple[str, ...], str] = {}  # config path -> the form field its errors go on
        self.docs = field_docs(self.config_class)
        self._add(self.config_class, (), values)
        for name, config_name in self.model_fields.items():
            self.targets[(config_name,)] = name
        for config_name, name in self.error_fields.items():
            self.targets[(config_name,)] = name

    @property
    def config_fields(self) -> list[str]:
        """The generated form fields, in config order."""
        return list(self.paths)

    def name_for(self, path: tuple[str, ...]) -> str:
        """The form field name of config path `path`."""
        if self.inner and len(path) > 1 and path[0] == self.inner[0]:
            path = path[1:]
        return SEP.join(path)

    def _add(self, cls: type, prefix: tuple[str, ...], values: Any) -> None:
        hints = typing.get_type_hints(cls)
        docs = field_docs(cls)
        by_name = {f.name: f for f in dataclasses.fields(cls) if f.init}
        names = list(self.only) if self.only is not None and not prefix else list(by_name)
        for f in (by_name[name] for name in names):
            if not prefix and f.name in self.skip:
                continue
            path, value = prefix + (f.name,), _value_of(values, f.name)
            if not prefix and self.inner and f.name == self.inner[0]:
                self._add(self.inner[1], path, value)
                continue
            hint, _ = _strip_optional(hints.get(f.name, Any))
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                self._add(hint, path, value)
                continue
            if self.add_special(f, hint, path, docs.get(f.name, "")):
                continue
            name = self.name_for(path)
            source = (f.metadata or {}).get("options_from")
            options = getattr(inspect.getmodule(cls), f.name.upper(), ())  # sources -> SOURCES
            field = form_field(
                f, hints.get(f.name, Any), docs.get(f.name, ""), value=value,
                options=options if isinstance(options, (tuple, list)) else (),
                id_choices=self.option_sources[source](self.project_id) if source in self.option_sources else None,
                show_default=self.show_default, show_lists=self.show_lists, extra=self.overrides.get(name),
            )
            if field is None:
                continue  # a dict or another shape a form cannot show: the dataclass default stands
            self.fields[name] = field
            self.paths[name] = path
            self.targets[path] = name
            if isinstance(field, forms.CharField) and _is_list(hint):
                self.list_fields.add(name)

    def add_special(self, f: dataclasses.Field, hint: Any, path: tuple[str, ...], doc: str) -> bool:
        """A subclass's hook for a field the generic rules cannot show well: add its form fields (and
        `self.targets[path]`), return True; `config()` must then put its value back."""
        return False

    def model_choice(self, name: str, queryset: Any, *, required: bool, empty_label: str | None = None,
                     label: str | None = None, help_text: str | None = None) -> forms.ModelChoiceField:
        """A select of `queryset` for declared model field `name` (in `model_fields`), with the help of its
        config field."""
        config_name = self.model_fields[name]
        self.fields[name] = forms.ModelChoiceField(
            queryset=queryset, required=required, empty_label=empty_label, label=label or _label(name),
            help_text=self.docs.get(config_name, "") if help_text is None else help_text,
        )
        return self.fields[name]

    def clean_advanced(self) -> dict[str, Any]:
        return json_object(self.cleaned_data[ADVANCED], "Advanced")

    def config(self) -> dict[str, Any]:
        """The config as JSON for the service (call after is_valid): the advanced JSON, if the form has one,
        overlaid with the form's fields. A field left empty leaves the JSON's value or the dataclass default,
        except text ("" is a value) and `empty_means_none` (None)."""
        data = self.cleaned_data
        config: dict[str, Any] = dict(data.get(ADVANCED) or {})
        given = {path for path in self.targets if _get(config, path) is not dataclasses.MISSING}
        models = ((name, (config_name,)) for name, config_name in self.model_fields.items() if name in self.fields)
        for name, path in [*self.paths.items(), *models]:
            value = data.get(name)
            if name in self.list_fields:
                value = [part.strip() for part in (value or "").split(",") if part.strip()]
            elif isinstance(value, (list, tuple, QuerySet)):  # multiple choices, or models
                value = [getattr(v, "pk", v) for v in value]
            elif value is None or value == "":
                if path in given:
                    continue
                if name in self.empty_means_none:
                    value = None
                elif not isinstance(self.fields[name], forms.CharField):
                    continue  # the dataclass default (or None) stands
            value = getattr(value, "pk", value)  # a chosen model -> its id
            _put(config, path, value)
        return config

    def add_config_error(self, field: str | None, message: str) -> None:
        """Put a service error naming config field `field` ("config.curation.seed") on its form field (or the
        nearest enclosing one that the form shows), else above the form."""
        path = tuple(field.removeprefix("config.").split(".")) if field else ()
        name = next((self.targets[path[:n]] for n in range(len(path), 0, -1) if path[:n] in self.targets), None)
        self.add_error(name if name in self.fields else None, message)

    def started(self, start: Callable[[], T]) -> T | None:
        """Run `start` (the service call that takes this form's config, e.g. job_start): its result, or None with
        the refusal on the form -- a PrefStudioError naming a config field on that field, others above the form.
        PermissionDenied is not a form error: it goes on to the error middleware (the 403 page)."""
        with refusals_on(self, put=lambda exc: self.add_config_error(exc.field, exc.message)):
            return start()
        return None


def _value_of(values: Any, name: str) -> Any:
    """Field `name` of a saved config (a dataclass instance or a dict), MISSING where there is none."""
    if values is None:
        return dataclasses.MISSING
    if isinstance(values, dict):
        return values.get(name, dataclasses.MISSING)
    return getattr(values, name, dataclasses.MISSING)
