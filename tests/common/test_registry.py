"""common.registry.Table: the trainer and backend tables' one implementation."""
from dataclasses import dataclass

import pytest

from common.registry import Table


@dataclass(frozen=True)
class Entry:
    name: str
    value: int = 0


def test_entries_keep_registration_order_and_a_name_has_one_entry():
    table: Table[Entry] = Table("widget", key=lambda e: e.name)
    table.register(Entry("b"))
    table.register(Entry("a"))
    table.register(Entry("b"))  # the same entry again: a no-op
    assert table.names() == ("b", "a") and table.get("a") == Entry("a")
    with pytest.raises(ValueError, match="widget 'b' is already registered"):
        table.register(Entry("b", value=1))
    with pytest.raises(KeyError, match="no widget 'c'; the widgets are b, a"):
        table.get("c")
    assert table.find("c") is None
    table.unregister("b")
    assert table.entries() == [Entry("a")]
