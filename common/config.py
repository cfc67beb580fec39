"""JSON (a job's `config` as a user sent it) -> the kind's config dataclass, with errors that name the field.

A config dataclass documents every field and checks values in `__post_init__` (STYLE.md, habit 4). This module
adds what a dataclass does not do by itself: it refuses unknown keys, checks the JSON types against the field
annotations (so `"steps": "ten"` is refused here, not as a TypeError deep in a worker), builds nested config
dataclasses from nested objects, and turns a `ValueError` from `__post_init__` into a `ConfigError` naming
the field. Which field: the exception's `field` attribute if it has one, else the first field name the message
starts with or mentions -- so `raise ValueError("temperature must be >= 0")` is enough.

Plain Python (no Django): engine code and its tests may use it too.
"""
from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["ConfigError", "config_from_dict"]

C = TypeVar("C")


class ConfigError(ValueError):
    """A config value that cannot be used. `field` is its dotted path ("sampling.temperature"), or None."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def config_from_dict(cls: type[C], data: Any, *, prefix: str = "") -> C:
    """An instance of the dataclass `cls` built from `data` (a JSON object); raises ConfigError.

    Missing keys take the field's default; keys that are not fields are refused (a typo would otherwise be
    silently ignored and the default used).
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if not isinstance(data, Mapping):
        raise ConfigError(prefix.rstrip(".") or None, f"expected a JSON object, got {_json_type(data)}")
    fields = [f for f in dataclasses.fields(cls) if f.init]
    names = [f.name for f in fields]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(prefix + str(unknown[0]), f"unknown field; the fields are {', '.join(names)}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in fields:
        if f.name in data:
            kwargs[f.name] = _coerce(hints.get(f.name, Any), data[f.name], prefix + f.name)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(prefix + f.name, "this field is required")
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(prefix + exc.field if exc.field else prefix.rstrip(".") or None, exc.message) from exc
    except (ValueError, TypeError) as exc:
        field = getattr(exc, "field", None) or _field_named_in(str(exc), names)
        path = prefix + field if field else (prefix.rstrip(".") or None)
        raise ConfigError(path, str(exc)) from exc


def _field_named_in(message: str, names: list[str]) -> str | None:
    """The field a __post_init__ message is about: the one it starts with, else the first one it mentions."""
    found = [(m.start(), name) for name in names if (m := re.search(rf"\b{re.escape(name)}\b", message))]
    return min(found)[1] if found else None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _coerce(hint: Any, value: Any, path: str) -> Any:
    """`value` checked against the annotation `hint` (and converted where JSON has no exact type)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, path)
            except ConfigError as exc:
                errors.append(exc.message)
        raise ConfigError(path, errors[0] if len(errors) == 1 else f"{_json_type(value)} is not allowed here")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(path, f"must be one of {', '.join(repr(a) for a in args)}")
        return value
    if value is None:
        raise ConfigError(path, "may not be null")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {_json_type(value)}")
        return value
    if hint is int:
        # JSON has one number type: 3.0 is accepted as 3, 3.5 is not.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(path, f"expected an integer, got {_json_type(value)} {value!r}")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"expected a number, got {_json_type(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a string, got {_json_type(value)}")
        return value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in hint)
            raise ConfigError(path, f"must be one of {allowed}") from None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return config_from_dict(hint, value, prefix=path + ".")
    if hint in (list, tuple) or origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(path, f"expected an array, got {_json_type(value)}")
        item = args[0] if args and (origin is list or (len(args) == 2 and args[1] is Ellipsis)) else Any
        items = [_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (hint is tuple or origin is tuple) else items
    if hint is dict or origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(path, f"expected an object, got {_json_type(value)}")
        item = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(item, v, f"{path}.{k}") for k, v in value.items()}
    return value  # an annotation this checker does not know: the dataclass's own checks decide
