"""The export's JSON lines built by PostgreSQL (annotation/selectors/dataset_lines.py): byte for byte what the
Python records write, for every row format, split and provenance setting, on rows chosen to break a naive
SQL rendering; and the Parquet made from them holds the same table as the Python writer's."""
import io
import json
import threading
import time

import psycopg
import pyarrow.parquet as pq
import pytest
from django.db import connection

from annotation.curation.export import (
    arrow_schema,
    export_options,
    jsonl_chunks,
    parquet_chunks,
    parquet_chunks_from_jsonl,
)
from annotation.curation.shapes import row_plain
from annotation.errors import PrefStudioError
from annotation.models import Annotator, Item
from annotation.selectors import dataset_lines
from annotation.selectors.dataset_lines import _LATERAL, _read_in_parallel, _plain_sql, dataset_export_lines
from annotation.selectors.datasets import dataset_export_records
from annotation.selectors.identities import annotator_names_for
from tests.annotation.curation.export_rows import ROWS
from tests.annotation.dataset_factory import make_version, many_rows

pytestmark = pytest.mark.django_db

HH = [{"role": "system", "content": "Tabs\there, \"quotes\", back\\slash, \u0001 and \u2028."},
      {"role": "user", "content": "Multi\nline 東京 😀"}, {"role": "assistant", "content": "ok"},
      {"role": "user", "content": ""}]


def _tricky(annotator_id: int) -> list[dict]:
    base = ROWS[0]
    rows = [
        {**base, "index": 10, "weight": 1.0, "data": {**base["data"], "prompt": HH, "chosen": "café\r\n\\n`x`",
                                                      "rejected": "", "margin": 1.0}},
        {**base, "index": 11, "weight": 0.30000000000000004,
         "provenance": {**base["provenance"], "agreement": 1e-05, "probability": 0.0, "noise_score": 1,
                        "votes": {}, "reasons": ["disagrees with {annotator:%d}" % annotator_id]}},
        {**base, "index": 12, "weight": 0.1, "data": {**base["data"], "margin": 1.5e-07},
         "provenance": {**base["provenance"], "votes": None, "item": None}},
        # shapes the SQL leaves to format_row: an unknown role, a number as content, a missing margin
        {**base, "index": 13, "data": {**base["data"], "prompt": [{"role": "critic", "content": 5}]}},
        {**base, "index": 14, "data": {k: v for k, v in base["data"].items() if k != "margin"},
         "provenance": {**base["provenance"], "reasons": None}},
        {**ROWS[2], "index": 15, "data": {**ROWS[2]["data"], "prompt": HH, "responses": ["a\tb", "ü", ""]}},
        {**ROWS[4], "index": 16, "data": {**ROWS[4]["data"], "prompt": HH, "label": False}},
        # numbers whose jsonb digits are not repr's, and votes of other shapes
        {**base, "index": 17, "data": {**base["data"], "margin": 12345678.25},
         "provenance": {**base["provenance"], "agreement": 2, "probability": 1e16, "noise_score": -0.00012,
                        "votes": {"A": 2.0, "B": 1, "tie": 0}}},
        {**base, "index": 18, "data": {**base["data"], "margin": -3},
         "provenance": {**base["provenance"], "agreement": 1e-4, "probability": 123.5, "noise_score": 1e15,
                        "votes": {"C": 1}}},
        {**base, "index": 19, "provenance": {**base["provenance"], "votes": {"n": 4}}},
    ]
    return [{**r, "split": "test" if r["index"] % 2 else "train"} for r in rows]


@pytest.fixture
def version(project):
    annotator = Annotator.objects.get(name="annotator1")
    assert Item.objects.filter(project=project, external_id="pair-1").exists()
    version = make_version(project, rows=ROWS + _tricky(annotator.pk))
    # Digits Python never writes but a jsonb may hold (trailing zeros, a point in a vote count): Python's output
    # of them is the reference.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE annotation_datasetrow SET provenance = provenance || "
                       "'{\"agreement\": 0.50, \"probability\": 1.000, \"votes\": {\"A\": 1.50, \"B\": 0}}'::jsonb, "
                       "data = data || '{\"margin\": 2.10}'::jsonb WHERE version_id = %s AND index = 19", [version.pk])
    return version


def _python(version, options, names) -> bytes:
    return b"".join(jsonl_chunks(dataset_export_records(version=version, options=options, names=names)))


def _sql(version, options, names, **kwargs) -> bytes:
    return b"".join(dataset_export_lines(version=version, options=options, names=names, **kwargs))


@pytest.mark.parametrize("fmt", ["trl", "trl_conversational", "kto", "listwise"])
@pytest.mark.parametrize("split", ["train", "test", "all"])
@pytest.mark.parametrize("provenance", [True, False])
def test_sql_lines_are_the_python_records_byte_for_byte(version, user, fmt, split, provenance):
    options = export_options(format=fmt, split=split, provenance=provenance)
    for names in (annotator_names_for(project=version.project, user=None, visible=True),
                  annotator_names_for(project=version.project, user=None, visible=False)):
        expected = _python(version, options, names)
        assert _sql(version, options, names, chunk_size=3) == expected
        assert _sql(version, options, names) == expected


def test_reasons_name_annotators_as_the_viewer_may_see_them(version):
    options = export_options(format="trl", split="test")
    hidden = annotator_names_for(project=version.project, user=None, visible=False)
    line = [json.loads(x) for x in _sql(version, options, hidden).splitlines() if b'"index": 11' in x][0]
    assert line["reasons"] == ["disagrees with annotator 1"]


@pytest.mark.parametrize("offset", [0, 1, 4, 8])
def test_an_offset_resumes_at_that_record(version, offset):
    options = export_options(format="trl", split="all")
    names = annotator_names_for(project=version.project, user=None, visible=True)
    whole = _python(version, options, names).splitlines(keepends=True)
    assert _sql(version, options, names, offset=offset, chunk_size=2) == b"".join(whole[offset:])


def test_a_malformed_row_still_gets_format_rows_error(project):
    bad = {**ROWS[0], "data": {"prompt": [{"role": "user", "content": "x"}], "chosen": "only"}}
    version = make_version(project, rows=[bad])
    names = annotator_names_for(project=project, user=None, visible=True)
    with pytest.raises(PrefStudioError, match="malformed payload"):
        _sql(version, export_options(format="trl"), names)


@pytest.mark.parametrize("fmt", ["trl", "trl_conversational", "kto", "listwise"])
def test_parquet_from_the_lines_is_the_python_writers_file(version, fmt):
    options = export_options(format=fmt, encoding="parquet", split="all")
    names = annotator_names_for(project=version.project, user=None, visible=True)
    schema = arrow_schema(options)
    records = dataset_export_records(version=version, options=options, names=names)
    old = b"".join(parquet_chunks(records, schema, row_group_size=2))
    lines = dataset_export_lines(version=version, options=options, names=names, chunk_size=3)
    new = b"".join(parquet_chunks_from_jsonl(lines, schema, row_group_size=2))
    old_table, new_table = pq.read_table(io.BytesIO(old)), pq.read_table(io.BytesIO(new))
    assert new_table.schema == old_table.schema and new_table.to_pylist() == old_table.to_pylist()
    groups = [pq.ParquetFile(io.BytesIO(f)).metadata.num_row_groups for f in (new, old)]
    assert groups[0] == groups[1]
    assert new == old


@pytest.mark.django_db(transaction=True)  # the readers' own connections see only committed rows
@pytest.mark.parametrize("fmt", ["trl", "trl_conversational", "kto", "listwise"])
@pytest.mark.parametrize("offset", [0, 5])
def test_pieces_read_on_parallel_connections_are_the_same_bytes_in_order(version, fmt, offset):
    """Several connections read pieces at once; what comes out is the one-connection export, in record order,
    with the rows that fall back to format_row (annotator tokens, odd shapes) rendered in their place."""
    options = export_options(format=fmt, split="all")
    names = annotator_names_for(project=version.project, user=None, visible=False)
    expected = b"".join(_python(version, options, names).splitlines(keepends=True)[offset:])
    for connections in (2, 3):
        got = _sql(version, options, names, chunk_size=2, offset=offset, connections=connections)
        assert got == expected
    assert _sql(version, options, names, chunk_size=2, offset=offset, connections=1) == expected


def _readers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("export-copy-")]


@pytest.mark.django_db(transaction=True)
def test_a_broken_off_export_stops_its_readers_and_closes_their_connections(project):
    """A download that stops after its first piece leaves no reader thread and no extra connection behind."""
    version = make_version(project, rows=many_rows(200))
    options = export_options(format="trl", split="all")
    names = annotator_names_for(project=project, user=None, visible=True)

    def backends() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return cursor.fetchone()[0]

    before = backends()
    lines = dataset_export_lines(version=version, options=options, names=names, chunk_size=5, connections=3)
    first = next(lines)
    assert first.startswith(b'{"prompt": ') and len(_readers()) == 3
    lines.close()
    assert _readers() == []
    for _ in range(50):  # a closed connection's backend leaves pg_stat_activity a moment after it is told to go
        if backends() == before:
            break
        time.sleep(0.1)
    assert backends() == before


@pytest.mark.django_db(transaction=True)
def test_a_readers_error_is_raised_to_the_consumer_at_its_piece():
    """A reader whose query fails raises in the export after the pieces before it, and every reader stops."""
    pieces = [[1], [0], [1], [1]]  # the second piece divides by zero
    read = _read_in_parallel("SELECT convert_to((1 / %s::int)::text || E'\\n', 'UTF8'), 0", pieces, 2)
    assert next(read) == (b"1\n", 0)
    with pytest.raises(psycopg.errors.DivisionByZero):
        next(read)
    read.close()
    assert _readers() == []


# -- versions whose rows were checked when written (RowBuilder's stats, "sql_lines") --------------------------
ODD = [  # shapes row_plain must refuse: each is one the SQL's own check refuses or renders otherwise
    {**ROWS[0], "index": 30, "data": {**ROWS[0]["data"], "margin": True}},
    {**ROWS[0], "index": 31, "data": {**ROWS[0]["data"], "prompt": [{"role": "tool", "content": None}]}},
    {**ROWS[0], "index": 32, "data": {**ROWS[0]["data"], "prompt": [{"content": "no role"}]}},
    {**ROWS[0], "index": 33, "data": {**ROWS[0]["data"], "chosen": 7}},
    {**ROWS[0], "index": 34, "provenance": {**ROWS[0]["provenance"], "votes": {"A": True}}},
    {**ROWS[0], "index": 35, "provenance": {**ROWS[0]["provenance"], "reasons": [1]}},
    {**ROWS[0], "index": 36, "provenance": {**ROWS[0]["provenance"], "agreement": "high"}},
    {**ROWS[0], "index": 37, "provenance": {**ROWS[0]["provenance"], "source": 3}},
    {**ROWS[0], "index": 38, "provenance": ["not", "an", "object"]},
    {**ROWS[0], "index": 42, "provenance": {**ROWS[0]["provenance"], "reasons": None}},
    {**ROWS[2], "index": 39, "data": {**ROWS[2]["data"], "ranking": [[2.0], [0, 1]]}},
    {**ROWS[2], "index": 40, "data": {**ROWS[2]["data"], "responses": ["a", None]}},
    {**ROWS[4], "index": 41, "data": {**ROWS[4]["data"], "label": 1}},
]


# An unpaired and a listwise row of the shapes curation writes (votes by count): ROWS' own are not.
COUNTED = [{**ROWS[4], "index": 43, "provenance": {**ROWS[4]["provenance"], "votes": {"n": 1}}},
           {**ROWS[2], "index": 44, "provenance": {**ROWS[2]["provenance"], "votes": {"n": 3}}}]


def _all_rows(annotator_id: int) -> list[dict]:
    return ROWS + _tricky(annotator_id) + [{**r, "split": "train"} for r in ODD + COUNTED]


def test_row_plain_is_never_looser_than_the_sql_check(project):
    """Every row row_plain passes, the SQL's full check passes for every format of its kind: a version of such
    rows may skip it. (row_plain may be stricter: a row it refuses is still checked by the SQL.)"""
    annotator = Annotator.objects.get(name="annotator1")
    rows = _all_rows(annotator.pk)
    version = make_version(project, rows=rows)
    plain = {r["index"]: row_plain(r["kind"], r["data"], r["provenance"]) for r in rows}
    assert 0 < sum(plain.values()) < len(rows) - len(ODD)  # both outcomes, beyond the odd rows
    assert not any(plain[r["index"]] for r in ODD)
    for fmt, kind in (("trl", "pairwise"), ("trl_conversational", "pairwise"), ("kto", "unpaired"),
                      ("listwise", "listwise")):
        for provenance in (True, False):
            options = export_options(format=fmt, split="all", provenance=provenance)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT r.index, {_plain_sql(options)} FROM annotation_datasetrow r "
                               f"{_LATERAL if provenance else ''} WHERE r.version_id = %s AND r.kind = %s",
                               [version.pk, kind])
                by_sql = dict(cursor.fetchall())
            assert by_sql  # the kind has rows
            # (the one row whose reasons name an annotator: the export looks for names in every row)
            loose = [i for i, ok in by_sql.items() if plain[i] and not ok and i != 11]
            assert loose == [], (fmt, provenance)


@pytest.fixture
def checked_version(project):
    """A version of the rows row_plain passes, marked as its freeze marks them."""
    annotator = Annotator.objects.get(name="annotator1")
    rows = [r for r in _all_rows(annotator.pk) if row_plain(r["kind"], r["data"], r["provenance"])]
    version = make_version(project, rows=rows)
    kinds = sorted({r["kind"] for r in rows})
    assert kinds == ["listwise", "pairwise", "unpaired"]
    version.stats = {**version.stats, "sql_lines": kinds}
    version.save(update_fields=["stats"])
    return version


@pytest.mark.parametrize("fmt", ["trl", "trl_conversational", "kto", "listwise"])
@pytest.mark.parametrize("provenance", [True, False])
def test_a_checked_version_skips_the_check_and_writes_the_same_bytes(checked_version, monkeypatch, fmt, provenance):
    calls = []
    real = dataset_lines._line_sql
    monkeypatch.setattr(dataset_lines, "_line_sql", lambda options, checked=False: calls.append(checked) or real(
        options, checked=checked))
    options = export_options(format=fmt, split="all", provenance=provenance)
    for names in (annotator_names_for(project=checked_version.project, user=None, visible=True),
                  annotator_names_for(project=checked_version.project, user=None, visible=False)):
        assert _sql(checked_version, options, names, chunk_size=3) == _python(checked_version, options, names)
    assert calls == [True, True]


def test_reasons_naming_annotators_are_still_rendered_per_viewer_in_a_checked_version(checked_version):
    hidden = annotator_names_for(project=checked_version.project, user=None, visible=False)
    lines = [json.loads(x) for x in _sql(checked_version, export_options(format="trl", split="all"), hidden)
             .splitlines()]
    assert [line["reasons"] for line in lines if line["index"] == 11] == [["disagrees with annotator 1"]]


def test_a_version_without_the_mark_is_checked_row_by_row(version, monkeypatch):
    calls = []
    real = dataset_lines._line_sql
    monkeypatch.setattr(dataset_lines, "_line_sql", lambda options, checked=False: calls.append(checked) or real(
        options, checked=checked))
    names = annotator_names_for(project=version.project, user=None, visible=True)
    _sql(version, export_options(format="trl", split="all"), names)
    assert calls == [False]
