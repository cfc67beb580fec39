"""A named table of extension entries (trainers, backends): one entry per key, in registration order.

Plain Python. Each extension point keeps one `Table` and exposes its own verb_noun functions around it
(training/engine/trainers/registry.py, training/engine/backends/registry.py).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Table(Generic[T]):
    """Entries keyed by `key(entry)`; `what` names them in errors ("trainer", "backend")."""

    def __init__(self, what: str, key: Callable[[T], str]) -> None:
        self.what = what
        self.key = key
        self._entries: dict[str, T] = {}

    def register(self, entry: T) -> T:
        """Add `entry` (a key has one entry; registering the same entry again is a no-op)."""
        name = self.key(entry)
        existing = self._entries.get(name)
        if existing is not None and existing != entry:
            raise ValueError(f"{self.what} {name!r} is already registered: {existing!r}")
        self._entries[name] = entry
        return entry

    def unregister(self, name: Any) -> None:
        """Forget an entry (tests register throw-away ones and remove them again)."""
        self._entries.pop(_name(name), None)

    def get(self, name: Any) -> T:
        """The entry of `name` (a str or a str enum member); KeyError naming the entries there are."""
        try:
            return self._entries[_name(name)]
        except KeyError:
            raise KeyError(f"no {self.what} {name!r}; the {self.what}s are {', '.join(self._entries)}") from None

    def find(self, name: Any) -> T | None:
        """The entry of `name`, or None."""
        return self._entries.get(_name(name))

    def entries(self) -> list[T]:
        """Every entry, in registration order (the built-in ones first)."""
        return list(self._entries.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)


def _name(name: Any) -> str:
    return str(getattr(name, "value", name))
