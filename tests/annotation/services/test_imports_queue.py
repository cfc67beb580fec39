"""The labeling queue after a bulk import (issue 16 item 3): the import inserts items without the queue's per-row
trigger and adds their slots and counters in one pass (ps_queue_items_added). Oracle: ps_queue_rebuild, which
recomputes a project's slots and counters from its items, and the per-row trigger itself (an item inserted
outside an import)."""
import io
import json

import pytest
from django.db import connection, transaction

from annotation.models import Item, Project
from annotation.services.imports import ImportRejected, data_import

pytestmark = pytest.mark.django_db

HUMAN, JUDGE = "human", "judge"


def _pair(i: int, *voters: tuple[str, str]) -> dict:
    return {
        "id": f"p{i}", "kind": "pairwise", "prompt": f"question {i}",
        "responses": [{"text": f"answer {i} a"}, {"text": f"answer {i} b"}],
        "labels": [{"annotator": name, "annotator_kind": kind, "winner": "A"} for name, kind in voters],
    }


def _import(slug: str, records: list[dict]) -> None:
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    data_import(project_slug=slug, fmt="native", stream=io.BytesIO(data))


def _queue(project: Project) -> tuple[list, list]:
    """(item external id, slots, started slots) per item with slots; (shard, wanted, free items) per counter."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.external_id, count(*), count(s.started_seq) FROM annotation_queueslot s "
            "JOIN annotation_item i ON i.id = s.item_id WHERE s.project_id = %s GROUP BY 1 ORDER BY 1", [project.pk])
        slots = cursor.fetchall()
        cursor.execute("SELECT shard, wanted, free_items FROM annotation_queuecounter WHERE project_id = %s "
                       "ORDER BY shard", [project.pk])
        return slots, cursor.fetchall()


def _rebuilt(project: Project) -> tuple[list, list]:
    """`_queue` as ps_queue_rebuild makes it (in a savepoint rolled back)."""
    sid = transaction.savepoint()
    with connection.cursor() as cursor:
        cursor.execute("SELECT ps_queue_rebuild(%s)", [project.pk])
    state = _queue(project)
    transaction.savepoint_rollback(sid)
    return state


MIXED = [
    _pair(0), _pair(1, ("h1", HUMAN)), _pair(2, ("h1", HUMAN), ("h2", HUMAN)),
    _pair(3, ("h1", HUMAN), ("h2", HUMAN), ("h3", HUMAN)), _pair(4, ("j1", JUDGE)),
    _pair(5, ("j1", JUDGE), ("h2", HUMAN)), *[_pair(i) for i in range(6, 30)],
]


def test_a_new_project_gets_the_slots_and_counters_the_rebuild_gives():
    """Overlap 1 (a new project): one fresh slot per unlabeled open item, none for labeled ones; counters match."""
    _import("bulk", MIXED)
    project = Project.objects.get(slug="bulk")
    slots, counters = _queue(project)
    assert (slots, counters) == _rebuilt(project)
    assert ("p0", 1, 0) in slots and not any(s[0] in ("p1", "p2", "p3") for s in slots)
    assert sum(c[2] for c in counters) == len(slots)


@pytest.mark.parametrize("overlap", [2, 3])
def test_an_import_into_a_project_with_overlap_adds_what_the_row_trigger_would(overlap):
    """Items already there keep their slots; new ones get overlap - humans slots, started once a human labeled them;
    labels added to items already there go through the update trigger as before."""
    _import("bulk", MIXED[:3])
    Project.objects.filter(slug="bulk").update(overlap=overlap)  # the overlap trigger rebuilds the queue
    project = Project.objects.get(slug="bulk")
    # p0 gets a label; p30 is new with two humans' labels; the rest of MIXED is new
    _import("bulk", [_pair(0, ("h9", HUMAN)), *MIXED[1:], _pair(30, ("h1", HUMAN), ("h2", HUMAN))])
    assert _queue(project) == _rebuilt(project)
    slots = dict((name, (n, started)) for name, n, started in _queue(project)[0])
    assert slots["p6"] == (overlap, 0)
    assert slots.get("p30") == ((1, 1) if overlap == 3 else None)
    assert slots["p5"] == (overlap - 1, overlap - 1)
    # The row trigger is on again after the import: an item inserted by hand gets its slots from it.
    Item.objects.create(project=project, prompt=Item.objects.get(project=project, external_id="p0").prompt,
                        external_id="by-hand", kind="pairwise", n_responses=2)
    assert _queue(project)[0][0] == ("by-hand", overlap, 0)
    assert _queue(project) == _rebuilt(project)


def test_a_rejected_import_changes_no_slot_and_leaves_the_trigger_on():
    _import("bulk", MIXED[:10])
    project = Project.objects.get(slug="bulk")
    before = _queue(project)
    with pytest.raises(ImportRejected):
        _import("bulk", [*[_pair(i) for i in range(100, 120)], {"id": "broken", "kind": "pairwise"}])
    assert _queue(project) == before
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('prefstudio.queue_bulk', true)")
        assert cursor.fetchone()[0] in (None, "", "off")
