"""data_import against PostgreSQL: all or nothing, idempotent, additive, and the same through either sink."""

import gzip
import io
import json

import pytest
from django.db import IntegrityError, connection, transaction

from annotation.errors import PermissionDenied
from annotation.importing import ImportOptions
from annotation.models import Annotator, Item, ItemResponse, Label, Project, Prompt, Response
from annotation.services import imports
from annotation.services.bulk import CopySink, OrmSink
from annotation.services.imports import ImportRejected, data_import

pytestmark = pytest.mark.django_db

TABLES = (Project, Prompt, Response, Item, ItemResponse, Label, Annotator)


def jsonl(*records) -> bytes:
    """Records as JSONL lines; bytes go in as they are (one line each), for broken records."""
    return b"".join(
        r.rstrip(b"\n") + b"\n" if isinstance(r, bytes) else json.dumps(r).encode() + b"\n" for r in records
    )


def run(data: bytes, *, slug: str = "imp", fmt: str = "native", **kwargs):
    return data_import(project_slug=slug, fmt=fmt, stream=io.BytesIO(data), **kwargs)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TABLES}


def pair(i: int, **changes) -> dict:
    return {
        "id": f"pair-{i}",
        "kind": "pairwise",
        "prompt": f"Question {i}?",
        "responses": [{"text": f"Answer {i} A", "model": "m1"}, {"text": f"Answer {i} B", "model": "m2"}],
        "labels": [{"annotator": "ann", "annotator_kind": "human", "winner": "A", "strength": 2}],
        **changes,
    }


ALL_KINDS = [
    pair(0, metadata={"source": "test"}, prompt_metadata={"topic": "maths"}),
    pair(
        1,
        labels=[
            {
                "annotator": "ann",
                "annotator_kind": "human",
                "winner": "B",
                "aspects": {"honesty": "B"},
                "shown_order": [1, 0],
                "time_spent_ms": 4200,
                "rationale": "B is right",
            },
            {
                "annotator": "gpt-judge",
                "annotator_kind": "judge",
                "winner": "tie",
                "probability": 0.5,
                "swap_consistent": False,
                "raw_output": "[[tie]]",
            },
            {"annotator": "bad-judge", "annotator_kind": "judge", "unparsable": True, "raw_output": "I cannot decide"},
        ],
    ),
    {
        "id": "rank-0",
        "kind": "listwise",
        "prompt": [{"role": "system", "content": "Rank \\ order."}, {"role": "user", "content": "Sort «these»\t😀."}],
        "responses": [
            {"text": "first", "gen_params": {"temperature": 0.7}, "seed": 11},
            {"text": "second"},
            {"text": "third"},
        ],
        "labels": [
            {"annotator": "ann", "annotator_kind": "human", "ranking": [[2], [0, 1]]},
            {"annotator": "gpt-judge", "annotator_kind": "judge", "ranking": [0, 2, 1]},
        ],
    },
    {
        "id": "edit-0",
        "kind": "edit",
        "prompt": "Fix the grammar.",
        "responses": [{"text": "He go to school."}],
        "labels": [
            {"annotator": "ann", "annotator_kind": "human", "edited_text": "He goes to school."},
            {"annotator": "ann2", "annotator_kind": "human", "edited_text": "He goes to school."},
        ],
    },
    {
        "id": "thumb-0",
        "kind": "thumbs",
        "prompt": "Helpful?",
        "responses": [{"text": "Yes, like this.\tTabbed\\slash\nline\r\nCafé 😀 東京"}],
        "labels": [{"annotator": "gpt-judge", "annotator_kind": "judge", "thumbs": "up", "probability": 0.8}],
    },
    pair(2, labels=[]),
]


@pytest.fixture(params=[2, 10_000], ids=["pieces-of-2", "one-piece"])
def pieces(request, monkeypatch) -> int:
    """Run a test with the file read in pieces of 2 records (writing starts before the end) and whole."""
    monkeypatch.setattr(imports, "PIECE_RECORDS", request.param)
    return request.param


# --- all or nothing -------------------------------------------------------------------------------
GOOD = [pair(i) for i in range(3, 8)]  # lines 1-5; with pieces of 2, lines 1-4 are written first
BAD_FILES = {
    "broken JSON": (jsonl(*GOOD, b'{"id": "x", "kind": \n'), [6]),
    "not an object": (jsonl(*GOOD, [pair(9)]), [6]),
    "missing field": (jsonl(*GOOD, {k: v for k, v in pair(9).items() if k != "kind"}), [6]),
    "wrongly typed field": (jsonl(*GOOD, pair(9, responses={"text": "a"})), [6]),
    "true where an integer is expected": (
        jsonl(
            *GOOD, pair(9, labels=[{"annotator": "ann", "annotator_kind": "human", "winner": "A", "strength": True}])
        ),
        [6],
    ),
    "empty response": (jsonl(*GOOD, pair(9, responses=[{"text": "a"}, {"text": " "}])), [6]),
    "non-UTF-8 bytes": (jsonl(*GOOD, b'{"id": "caf\xe9"}\n'), [6]),
    "NUL character": (jsonl(*GOOD, pair(9, prompt="a\u0000b")), [6]),
    "ranking not a permutation": (
        jsonl(
            *GOOD, dict(ALL_KINDS[2], labels=[{"annotator": "ann", "annotator_kind": "human", "ranking": [0, 0, 1]}])
        ),
        [6],
    ),
    "unknown annotator kind": (
        jsonl(*GOOD, pair(9, labels=[{"annotator": "x", "annotator_kind": "crowd", "winner": "A"}])),
        [6],
    ),
    "duplicate id, other content": (jsonl(*GOOD, pair(3, prompt="Another question?")), [6]),
    "annotator of two kinds": (
        jsonl(*GOOD, pair(9, labels=[{"annotator": "ann", "annotator_kind": "judge", "winner": "A"}])),
        [6],
    ),
    "several bad lines": (jsonl(GOOD[0], b"{", GOOD[1], b"[]\n", *GOOD[2:], pair(3, prompt="?")), [2, 4, 8]),
    "truncated gzip": (gzip.compress(jsonl(*(pair(i) for i in range(3, 60))))[:-40], None),
    "empty file": (b"", [0]),
}


@pytest.mark.parametrize("existing", [False, True], ids=["new-project", "existing-project"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_file_with_a_bad_record_writes_nothing(pieces, case, existing):
    if existing:
        run(jsonl(*ALL_KINDS))
    before = counts()
    data, lines = BAD_FILES[case]
    with pytest.raises(ImportRejected) as caught:
        run(data)
    found = [e.line for e in caught.value.errors]
    if lines is not None:
        assert found == lines
    else:  # the truncation is reported after the last complete line
        assert len(found) == 1 and found[0] > 1 and "truncated" in caught.value.details[0]
    assert counts() == before
    assert Project.objects.filter(slug="imp").exists() == existing


def test_every_bad_line_is_in_the_error_and_its_details():
    with pytest.raises(ImportRejected) as caught:
        run(BAD_FILES["several bad lines"][0])
    assert caught.value.message == "import rejected: 3 bad record(s); nothing was imported"
    assert caught.value.details == [
        "line 2: invalid JSON: Expecting property name enclosed in double quotes at the end of the line",
        "line 4: record must be a JSON object, got list",
        "line 8: item id 'pair-3' was already used on line 1",
    ]


def test_skip_invalid_imports_the_valid_records_and_lists_the_rest(pieces):
    report = run(BAD_FILES["several bad lines"][0], skip_invalid=True)
    assert report.items_created == 5 and len(report.skipped) == 3
    assert report.skipped[0].startswith("line 2: invalid JSON")
    assert Item.objects.count() == 5


# --- idempotent and additive ----------------------------------------------------------------------
def _state():
    return (
        counts(),
        sorted(
            Label.objects.values_list(
                "item__external_id", "annotator__name", "winner", "ranking", "edited_response__text"
            )
        ),
        sorted(Item.objects.values_list("external_id", "state", "source", "n_human_labels", "n_judge_labels")),
    )


def test_reimporting_the_same_file_changes_nothing(pieces):
    first = run(jsonl(*ALL_KINDS))
    assert (first.items_created, first.labels_created, first.prompts_created) == (6, 9, 6)
    state = _state()
    again = run(jsonl(*ALL_KINDS))
    assert again.changed_nothing and again.items_existing == 6 and again.labels_existing == 9
    assert again.annotators_created == [] and not again.project_created
    assert _state() == state


def test_reimporting_a_trl_file_changes_nothing():
    data = jsonl(*({"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(20)))
    run(data, fmt="trl")
    state = _state()
    assert run(data, fmt="trl").changed_nothing
    assert _state() == state


def test_a_second_file_adds_judge_labels_and_updates_the_items(pieces):
    run(jsonl(pair(0), pair(1, labels=[])))
    before = counts()
    judged = [
        pair(0, labels=[{"annotator": "gpt-judge", "annotator_kind": "judge", "winner": "B", "probability": 0.3}]),
        pair(1, labels=[{"annotator": "gpt-judge", "annotator_kind": "judge", "winner": "A", "probability": 0.9}]),
    ]
    report = run(jsonl(*judged))
    assert (report.labels_created, report.items_created, report.items_existing) == (2, 0, 2)
    assert report.annotators_created == ["gpt-judge"]
    assert counts() == {**before, "Label": before["Label"] + 2, "Annotator": before["Annotator"] + 1}
    items = {i.external_id: i for i in Item.objects.all()}
    assert (
        items["pair-0"].n_human_labels,
        items["pair-0"].n_judge_labels,
        items["pair-0"].source,
        items["pair-0"].state,
    ) == (1, 1, "hybrid", "labeled")
    assert (
        items["pair-1"].n_human_labels,
        items["pair-1"].n_judge_labels,
        items["pair-1"].source,
        items["pair-1"].state,
    ) == (0, 1, "ai", "judged")
    assert run(jsonl(*judged)).changed_nothing


def test_a_label_that_contradicts_the_stored_one_is_rejected():
    run(jsonl(pair(0)))
    before = _state()
    with pytest.raises(ImportRejected) as caught:
        run(jsonl(pair(0, labels=[{"annotator": "ann", "annotator_kind": "human", "winner": "B", "strength": 2}])))
    assert caught.value.details == ["line 1: item 'pair-0' already has a label by 'ann' that says otherwise"]
    assert _state() == before


def test_an_existing_item_id_with_other_responses_or_kind_is_rejected(pieces):
    run(jsonl(*ALL_KINDS))
    before = _state()
    other_response = pair(
        0,
        metadata={"source": "test"},
        prompt_metadata={"topic": "maths"},
        responses=[{"text": "Answer 0 A", "model": "m1"}, {"text": "Something else", "model": "m2"}],
    )
    other_kind = {"id": "thumb-0", "kind": "edit", "prompt": "Helpful?", "responses": [{"text": "Yes."}]}
    other_prompt = pair(2, prompt="Question 2, reworded?", labels=[])
    with pytest.raises(ImportRejected) as caught:
        run(jsonl(pair(7), other_response, other_kind, other_prompt))
    assert caught.value.details == [
        "line 2: item 'pair-0' already exists with another prompt or other responses",
        "line 3: item 'thumb-0' already exists as a thumbs item",
        "line 4: item 'pair-2' already exists with another prompt or other responses",
    ]
    assert _state() == before


def test_an_annotator_name_that_exists_with_the_other_kind_is_rejected(pieces):
    Annotator.objects.create(name="gpt-4", kind="judge")
    before = _state()
    with pytest.raises(ImportRejected) as caught:
        run(jsonl(pair(0), pair(1, labels=[{"annotator": "gpt-4", "annotator_kind": "human", "winner": "A"}])))
    assert caught.value.details == ["line 2: annotator 'gpt-4' already exists as a judge, not a human"]
    assert _state() == before


def test_a_response_id_with_other_text_is_rejected_in_the_file_and_against_the_project():
    def item(i, text):
        return {"id": f"i{i}", "kind": "thumbs", "prompt": "Shared prompt", "responses": [{"id": "r1", "text": text}]}

    with pytest.raises(ImportRejected) as caught:
        run(jsonl(item(0, "one text"), item(1, "another text")))
    assert caught.value.details == ["line 2: response id 'r1' has other text on line 1"]
    run(jsonl(item(0, "one text")))
    before = _state()
    with pytest.raises(ImportRejected) as caught:
        run(jsonl(item(1, "another text")))
    assert caught.value.details == ["line 1: response id 'r1' already exists with other text"]
    assert _state() == before


def test_conflicts_with_an_earlier_piece_name_its_line_and_write_nothing(pieces):
    """Keys of earlier pieces are remembered compactly (no texts); a conflict still names the first line."""
    def item(i, text, prompt="Shared prompt"):
        return {"id": f"i{i}", "kind": "thumbs", "prompt": prompt, "prompt_id": "p",
                "responses": [{"id": f"r{i % 2}", "text": text}]}

    lines = [item(0, "one"), item(1, "two"), item(2, "one"), item(3, "two"), item(4, "other"),
             item(5, "two", prompt="Other prompt")]
    before = counts()
    with pytest.raises(ImportRejected) as caught:
        run(jsonl(*lines))
    assert caught.value.details == [
        "line 5: response id 'r0' has other text on line 1",
        "line 6: prompt id 'p' has other messages on line 1",
    ]
    assert counts() == before
    run(jsonl(*lines[:4]))  # the same items, repeated across pieces, import
    assert counts()["Item"] - before["Item"] == 4


def test_a_prompt_id_with_other_messages_is_rejected():
    run(jsonl(pair(0, prompt_id="q")))
    with pytest.raises(ImportRejected) as caught:
        run(jsonl(pair(1, prompt_id="q", prompt="Something else?")))
    assert caught.value.details == ["line 1: prompt id 'q' already exists with other messages"]


def test_only_an_owner_may_import_into_a_project(user, other_user):
    run(jsonl(pair(0)), user=user)
    with pytest.raises(PermissionDenied):
        run(jsonl(pair(1)), user=other_user)
    assert run(jsonl(pair(1)), user=user).items_created == 1


def test_a_new_project_gets_the_kinds_of_the_whole_file(pieces):
    report = run(jsonl(*ALL_KINDS))
    assert report.project_created
    assert Project.objects.get(slug="imp").task_kinds == ["edit", "listwise", "pairwise", "thumbs"]


# --- what the rows hold ---------------------------------------------------------------------------
def test_edit_labels_become_human_edit_responses_of_the_edited_one(pieces):
    run(jsonl(*ALL_KINDS))
    item = Item.objects.get(external_id="edit-0")
    original = item.slots.get().response
    labels = {label.annotator.name: label for label in item.labels.select_related("edited_response", "annotator")}
    for name in ("ann", "ann2"):
        edit = labels[name].edited_response
        assert (edit.text, edit.origin, edit.parent_id, edit.prompt_id) == (
            "He goes to school.",
            "human_edit",
            original.pk,
            item.prompt_id,
        )
    # one edit response per annotator, even for the same text; none of them is a slot of the item
    assert labels["ann"].edited_response_id != labels["ann2"].edited_response_id
    assert Response.objects.filter(origin="human_edit").count() == 2
    assert run(jsonl(*ALL_KINDS)).changed_nothing


def test_listwise_rankings_round_trip(pieces):
    ranked = {
        "id": "uf-0",
        "instruction": "Name a colour.",
        "completions": [
            {"response": "Car.", "model": "m1", "overall_score": 2},
            {"response": "Blue.", "model": "m2", "overall_score": 9},
            {"response": "Red.", "model": "m3", "overall_score": 9},
        ],
    }
    run(jsonl(ranked), fmt="ranked", slug="uf")
    run(jsonl(*ALL_KINDS))
    stored = {
        (label.item.external_id, label.annotator.name): label.ranking
        for label in Label.objects.filter(kind="listwise").select_related("item", "annotator")
    }
    assert stored == {
        ("uf-0", "ranked-import"): [[1, 2], [0]],
        ("rank-0", "ann"): [[2], [0, 1]],
        ("rank-0", "gpt-judge"): [[0], [2], [1]],
    }
    slots = ItemResponse.objects.filter(item__external_id="uf-0").order_by("position")
    assert [s.response.text for s in slots] == ["Car.", "Blue.", "Red."]
    item = Item.objects.get(external_id="uf-0")
    assert (item.n_responses, item.metadata) == (3, {"scores": [2, 9, 9]})


def test_rows_keep_every_imported_field():
    run(jsonl(*ALL_KINDS))
    rank = Item.objects.select_related("prompt").get(external_id="rank-0")
    assert rank.prompt.messages == ALL_KINDS[2]["prompt"]
    first = rank.slots.get(position=0).response
    assert (first.text, first.gen_params, first.seed, first.origin) == ("first", {"temperature": 0.7}, 11, "imported")
    assert Prompt.objects.get(external_id=Item.objects.get(external_id="pair-0").prompt.external_id).metadata == {
        "topic": "maths"
    }
    label = Label.objects.get(item__external_id="pair-1", annotator__name="ann")
    assert (label.winner, label.aspects, label.shown_order, label.time_spent_ms, label.rationale) == (
        "B",
        {"honesty": "B"},
        [1, 0],
        4200,
        "B is right",
    )
    judge = Label.objects.get(item__external_id="pair-1", annotator__name="gpt-judge")
    assert (judge.winner, judge.probability, judge.swap_consistent, judge.raw_output, judge.status) == (
        "tie",
        0.5,
        False,
        "[[tie]]",
        "ok",
    )
    garbage = Label.objects.get(item__external_id="pair-1", annotator__name="bad-judge")
    assert (garbage.status, garbage.winner, garbage.raw_output) == ("unparsable", "", "I cannot decide")
    text = Response.objects.get(prompt__external_id=Item.objects.get(external_id="thumb-0").prompt.external_id).text
    assert text == "Yes, like this.\tTabbed\\slash\nline\r\nCafé 😀 東京"


# --- the two sinks --------------------------------------------------------------------------------
def _snapshot(project: Project) -> dict[str, list]:
    """Every row of a project, field by field, with ids replaced by natural keys (and no timestamps)."""
    prompts = dict(Prompt.objects.filter(project=project).values_list("id", "external_id"))
    responses = {
        pk: (prompts[prompt], ext)
        for pk, prompt, ext in Response.objects.filter(prompt__project=project).values_list(
            "id", "prompt_id", "external_id"
        )
    }
    items = dict(Item.objects.filter(project=project).values_list("id", "external_id"))
    annotators = dict(Annotator.objects.values_list("id", "name"))
    refs = {
        "project": lambda _: "project",
        "prompt": prompts.get,
        "parent": responses.get,
        "response": responses.get,
        "edited_response": responses.get,
        "item": items.get,
        "annotator": annotators.get,
        "created_by": lambda v: v,
    }

    def rows(queryset) -> list:
        out = []
        for obj in queryset:
            values = []
            for f in obj._meta.concrete_fields:
                if f.primary_key or f.name in ("created_at", "updated_at", "slug", "name"):
                    continue
                value = getattr(obj, f.attname)
                values.append((f.name, refs[f.name](value) if f.is_relation and value is not None else value))
            out.append(tuple(values))
        return sorted(out, key=repr)

    return {
        "project": rows([project]),
        "prompts": rows(Prompt.objects.filter(project=project)),
        "responses": rows(Response.objects.filter(prompt__project=project)),
        "items": rows(Item.objects.filter(project=project)),
        "slots": rows(ItemResponse.objects.filter(item__project=project)),
        "labels": rows(Label.objects.filter(item__project=project)),
    }


def test_the_copy_and_orm_sinks_write_the_same_rows(pieces):
    data = jsonl(*ALL_KINDS, *(pair(i) for i in range(10, 15)))
    trl = jsonl(
        *(
            {
                "prompt": [{"role": "user", "content": f"q{i}"}],
                "chosen": [{"role": "assistant", "content": f"good\t{i}"}],
                "rejected": f"bad\\{i}",
            }
            for i in range(5)
        )
    )
    judged = jsonl(pair(10, labels=[{"annotator": "gpt-judge", "annotator_kind": "judge", "winner": "A"}]))
    for slug, sink in (("by-copy", CopySink), ("by-orm", OrmSink)):
        run(data, slug=slug, sink=sink())
        run(
            trl, slug=slug, fmt="trl", sink=sink(), options=ImportOptions(annotator="trl-judge", annotator_kind="judge")
        )
        run(judged, slug=slug, sink=sink())  # labels added to items already there
    copy, orm = (_snapshot(Project.objects.get(slug=slug)) for slug in ("by-copy", "by-orm"))
    assert sum(len(rows) for rows in copy.values()) > 60
    for table in copy:
        assert copy[table] == orm[table], table


def test_a_copy_error_is_raised_as_djangos_integrity_error():
    project = Project.objects.create(slug="sink", name="sink")
    sink = CopySink()
    with pytest.raises(IntegrityError, match="response_text_not_empty"), transaction.atomic(), sink.session():
        [prompt] = sink.insert(Prompt, ("project_id", "external_id", "messages"), [(project.pk, "p", [])])
        sink.insert(Response, ("prompt_id", "external_id", "text"), [(prompt, "r", "")])
    assert not Prompt.objects.filter(project=project).exists()


def test_a_query_in_a_copy_session_sees_the_rows_queued_before_it():
    project = Project.objects.create(slug="sink", name="sink")
    sink = CopySink()
    with transaction.atomic(), sink.session():
        rows = [(project.pk, f"p{i}", [{"role": "user", "content": f"q{i}"}]) for i in range(3000)]
        ids = sink.insert(Prompt, ("project_id", "external_id", "messages"), rows)
        assert sorted(Prompt.objects.filter(project=project).values_list("id", flat=True)) == sorted(ids)


def test_copy_sink_outside_a_session_writes_before_returning():
    project = Project.objects.create(slug="sink", name="sink")
    [pk] = CopySink().insert(
        Prompt, ("project_id", "external_id", "messages"), [(project.pk, "p", [{"role": "user", "content": "\\n"}])]
    )
    assert Prompt.objects.get(pk=pk).messages == [{"role": "user", "content": "\\n"}]


@pytest.mark.parametrize("rejected", [False, True], ids=["after-an-import", "after-a-rejected-import"])
def test_foreign_keys_are_deferred_again_after_an_import(rejected):
    """The import checks foreign keys per statement; the caller's transaction gets them back deferred."""
    if rejected:
        with pytest.raises(ImportRejected):
            run(jsonl(pair(0), b"{"))
    else:
        run(jsonl(pair(0)))
    with transaction.atomic():
        with connection.cursor() as cursor:  # a dangling reference: fine until commit when deferred
            cursor.execute("INSERT INTO annotation_itemresponse (item_id, position, response_id) VALUES (-1, 0, -1)")
        transaction.set_rollback(True)
