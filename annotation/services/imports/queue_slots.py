"""The labeling queue's slots of the items an import inserts: added in one pass at the end, not per row."""
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import connection

__all__ = ["postgres_mode", "queue_slots_add", "queue_slots_deferred"]


@contextmanager
def postgres_mode(enter: str, leave: str) -> Iterator[None]:
    """Run `enter` before the block and `leave` after it, on PostgreSQL only (elsewhere: nothing).

    For transaction-scoped modes (SET LOCAL, SET CONSTRAINTS) entered inside the caller's atomic block. `leave` is
    not in a `finally`: after an error the transaction may be aborted, and its rollback restores the mode.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(enter)
    yield
    with connection.cursor() as cursor:
        cursor.execute(leave)


@contextmanager
def queue_slots_deferred() -> Iterator[None]:
    """Skip the queue's per-row trigger on the items inserted here (PostgreSQL; migration 0009).

    For each item, ps_item_queue_sync reads the project, updates one of its 8 counter rows and inserts the item's
    slots: four statements per item, and 100k updates of the same 8 rows. The caller instead calls
    `queue_slots_add` with the new items' ids once they are all written, in the same transaction, which does
    the same in one pass. Only inserts are deferred: updates of items (new labels on items already there) keep
    their trigger. Must be entered inside the import's atomic block (SET LOCAL; a rollback restores it).
    """
    with postgres_mode("SET LOCAL prefstudio.queue_bulk = 'on'", "SET LOCAL prefstudio.queue_bulk = 'off'"):
        yield


def queue_slots_add(*, project_pk: int, item_ids: Sequence[int]) -> None:
    """Slots and counters of items inserted under `queue_slots_deferred` (ps_queue_items_added)."""
    if connection.vendor != "postgresql" or not item_ids:
        return
    step = 100_000  # ids per call: a parameter of at most ~1 MB
    with connection.cursor() as cursor:
        for low in range(0, len(item_ids), step):
            cursor.execute("SELECT ps_queue_items_added(%s, %s)", [project_pk, list(item_ids[low:low + step])])
