"""Dataset versions: rows and provenance from the real database, numbering, hashing, bad configs, the
command and the curate job."""
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotation.errors import PrefStudioError
from annotation.models import DatasetRow, DatasetVersion
from annotation.services import datasets as datasets_service
from annotation.services.datasets import config_hash, curation_config, dataset_version_create
from annotation.services.review import review_resolve
from tests.annotation.services.curation_data import curation_project, import_records, item, pair, human
from training.models import Job, JobKind, JobState
from training.services.jobs import job_run, job_start

pytestmark = pytest.mark.django_db

FAST = {"method": "majority", "embeddings": False, "test_fraction": 0}


@pytest.fixture
def project(user):
    return curation_project(owner=user)


def _rows(version) -> list[tuple]:
    return [(r.item.external_id if r.item else None, r.kind, r.data.get("chosen"), r.data.get("rejected"))
            for r in DatasetRow.objects.filter(version=version).select_related("item").order_by("index")]


def test_a_version_holds_the_hand_worked_rows_with_provenance_and_stats(project, user):
    version = dataset_version_create(project=project, config=FAST, user=user, name="first")
    assert (version.number, version.name, version.created_by, version.n_rows) == (1, "first", user, 8)
    assert _rows(version) == [
        ("agree", "pairwise", "Paris is the capital of France.", "Lyon is, I believe."),
        ("ai-only", "pairwise", "Lyon is, I believe.", "Paris is the capital of France."),
        ("dup", "pairwise", "Same answer.", "same answer!"),
        ("edit", "pairwise", "He goes to school.", "He go to school."),
        ("rank", "pairwise", "third", "first"),
        ("rank", "pairwise", "third", "second"),
        ("split", "pairwise", "Lyon is, I believe.", "Paris is the capital of France."),
        ("thumb", "unpaired", None, None),
    ]
    agree = DatasetRow.objects.get(version=version, item=item(project, "agree"))
    assert agree.provenance["votes"] == {"A": 3, "B": 0, "tie": 0}
    assert agree.provenance["source"] == "hybrid" and agree.provenance["agreement"] == 1.0
    assert agree.data["margin"] == pytest.approx((3 + 2) / 2 / 3)  # mean strength of the A votes, of 3 levels
    thumb = DatasetRow.objects.get(version=version, item=item(project, "thumb"))
    assert thumb.data == {"prompt": [{"role": "user", "content": "Is this helpful?"}],
                          "completion": "Yes, like this.", "label": True}
    assert version.stats["dropped"] == {"no_consensus": 1, "tie": 2}  # "tie", and "disputed" (A 1 : B 1)
    assert version.stats["consensus"]["method"] == "majority"
    # every row is of the shapes the SQL line export renders as is: it will not check them row by row
    assert version.stats["sql_lines"] == ["pairwise", "unpaired"]
    assert version.filter_config["method"] == "majority" and version.filter_config["ties"] == "drop"
    assert version.config_hash == config_hash(curation_config(FAST))


def test_the_same_config_on_the_same_data_gives_the_same_rows_in_the_next_version(project):
    config = {**FAST, "test_fraction": 0.5, "seed": 3, "downweight": 1.0}
    first = dataset_version_create(project=project, config=config)
    second = dataset_version_create(project=project, config=dict(reversed(list(config.items()))))
    assert (first.number, second.number) == (1, 2) and first.config_hash == second.config_hash

    def content(version):
        return list(DatasetRow.objects.filter(version=version).order_by("index").values_list(
            "index", "split", "kind", "item_id", "data", "weight", "provenance"))

    assert content(first) == content(second)
    assert {split for _, split, *_ in content(first)} == {"train", "test"}


def test_drop_rules_reach_the_noise_flags_and_a_reviewers_gold_survives_them(project, make_user):
    rita = make_user("rita", project=project, role="reviewer")
    review_resolve(item=item(project, "disputed"), reviewer_user=rita, data={"winner": "B"}, note="B.")
    version = dataset_version_create(project=project, config={
        **FAST, "drop": {"near_duplicate": True, "annotator_disagreement": True}})
    kept = {external_id for external_id, *_ in _rows(version)}
    assert "dup" not in kept and "split" not in kept
    disputed = DatasetRow.objects.get(version=version, item=item(project, "disputed"))
    assert disputed.data["chosen"] == "Lyon is, I believe." and disputed.provenance["source"] == "gold"
    assert version.stats["dropped"]["signal:near_duplicate"] == 1


@pytest.mark.parametrize(("config", "field"), [
    ({"min_agreement": 2}, "config.min_agreement"),
    ({"ties": "coin"}, "config.ties"),
    ({"metod": "majority"}, "config.metod"),
    ([1, 2], "config"),
])
def test_a_bad_config_is_refused_naming_the_field_and_nothing_is_written(project, config, field):
    with pytest.raises(PrefStudioError) as caught:
        dataset_version_create(project=project, config=config)
    assert caught.value.field == field and caught.value.status_code == 400
    assert not DatasetVersion.objects.exists()


def test_curation_items_are_read_in_a_fixed_number_of_queries_per_chunk(user, django_assert_num_queries):
    small = import_records(owner=user, slug="small", records=[pair("a", [human("x", winner="A")])])
    big = import_records(owner=user, slug="big", records=[
        pair(f"p{i}", [human("x", winner="A"), human("y", winner="B")]) for i in range(30)])
    for project in (small, big):
        chunks = list(datasets_service._item_chunks(project=project, chunk_size=100))
        with django_assert_num_queries(4):  # responses, consensus, flags, pairwise votes: no edit or thumbs items
            items = datasets_service._curation_items(project=project, include_judges=True, rows=chunks[0])
    assert len(items) == 30 and all(len(it.votes) == 3 and len(it.responses) == 2 for it in items)
    mixed = curation_project(owner=user)
    chunk = next(datasets_service._item_chunks(project=mixed, chunk_size=100))
    with django_assert_num_queries(6):  # and edits and thumbs
        datasets_service._curation_items(project=mixed, include_judges=True, rows=chunk)


def test_items_stream_in_code_point_order_of_external_id_whatever_the_database_collation(user):
    """build_rows sorted by Python's str order; the chunks must come in that order too (COLLATE "C")."""
    ids = ["b", "B", "É", "a", "z", "A10", "A9"]
    project = import_records(owner=user, slug="order", records=[pair(i, [human("x", winner="A")]) for i in ids])
    chunks = list(datasets_service._item_chunks(project=project, chunk_size=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [external_id for c in chunks for _, external_id, _, _ in c] == sorted(ids)


@pytest.mark.parametrize("chunk", [1, 3])
def test_a_version_frozen_in_chunks_equals_one_frozen_at_once(project, monkeypatch, chunk):
    """Rows, their order, indexes, items, weights, provenance and the statistics do not depend on the chunk size."""
    config = {**FAST, "test_fraction": 0.5, "seed": 1, "downweight": 0.5}
    whole = dataset_version_create(project=project, config=config)
    monkeypatch.setattr(datasets_service, "ITEM_CHUNK", chunk)
    chunked = dataset_version_create(project=project, config=config)

    def rows(version):
        return list(DatasetRow.objects.filter(version=version).order_by("index").values_list(
            "index", "split", "kind", "item_id", "data", "weight", "provenance"))

    assert rows(chunked) == rows(whole) and len(rows(whole)) == whole.n_rows == chunked.n_rows == 8
    assert chunked.stats == whole.stats


def test_the_curate_command_prints_the_version_and_takes_settings(project, tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"method": "majority", "embeddings": False}))
    out = StringIO()
    call_command("curate", "cur", "--config", str(config), "--set", "test_fraction=0", "--set",
                 "drop.noise_score=0.99", "--name", "cli", stdout=out)
    version = DatasetVersion.objects.get(project=project)
    assert version.filter_config["drop"] == {"noise_score": 0.99} and version.name == "cli"
    assert out.getvalue().startswith("cur v1: 8 rows (train 8, test 0) from 7 of 10 items")
    with pytest.raises(CommandError, match="test_fraction"):
        call_command("curate", "cur", "--set", "test_fraction=2", stdout=StringIO())


def test_the_curate_job_freezes_a_version_and_reports_it(project, user):
    job = job_start(kind=JobKind.CURATE, config={"curation": FAST, "name": "by job"}, project=project)
    job_run(job_id=job.pk, worker="test")
    job.refresh_from_db()
    version = DatasetVersion.objects.get(project=project)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.artifacts == {"dataset_version_id": version.pk, "number": 1, "n_rows": 8}
    assert version.name == "by job" and job.progress == 100


def test_the_curate_job_refuses_a_bad_curation_config_when_started(project):
    with pytest.raises(PrefStudioError) as caught:
        job_start(kind=JobKind.CURATE, config={"curation": {"ties": "coin"}}, project=project)
    assert "curation.ties" in (caught.value.field or "")
    assert not Job.objects.exists()


def test_progress_rises_to_the_end_and_a_cancelled_run_freezes_nothing(project):
    from common.progress import Cancelled, MemoryProgress

    progress = MemoryProgress()
    dataset_version_create(project=project, config=FAST, progress=progress)
    assert progress.fractions == sorted(progress.fractions) and progress.fraction == 1.0
    stopped = MemoryProgress(cancel_at_check=progress.checks)  # at the last check: after the rows were built
    with pytest.raises(Cancelled):
        dataset_version_create(project=project, config=FAST, progress=stopped)
    assert DatasetVersion.objects.count() == 1


def test_a_frozen_version_and_its_rows_are_read_only_in_the_admin(project, client, django_user_model):
    version = dataset_version_create(project=project, config=FAST, name="frozen")
    row = DatasetRow.objects.filter(version=version).first()
    client.force_login(django_user_model.objects.create_superuser(username="boss", password="a-long-test-password"))
    admin = "/admin/annotation"
    for url in (f"{admin}/datasetversion/{version.pk}/change/", f"{admin}/datasetrow/{row.pk}/change/"):
        html = client.get(url).content.decode()
        assert 'name="name"' not in html and 'name="weight"' not in html  # no inputs, only values
    client.post(f"/admin/annotation/datasetversion/{version.pk}/change/", {"name": "renamed", "number": 9})
    version.refresh_from_db()
    assert (version.name, version.number) == ("frozen", 1)


def test_a_frozen_version_stores_its_row_counts_and_its_pages_count_no_rows(project, user,
                                                                              django_assert_num_queries):
    from collections import Counter

    from django.core.paginator import Paginator
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotation.selectors.datasets import VersionRowPages, version_row_counts

    version = dataset_version_create(project=project, config={**FAST, "test_fraction": 0.4, "seed": 3}, user=user)
    rows = list(DatasetRow.objects.filter(version=version).order_by("index"))
    counts = version_row_counts(version=version)
    assert counts["splits"] == dict(Counter(r.split for r in rows)) and len(counts["splits"]) == 2
    assert counts["kinds"] == dict(Counter(r.kind for r in rows))
    assert counts["sources"] == dict(Counter(r.provenance.get("source") or "" for r in rows))
    version.refresh_from_db()
    with django_assert_num_queries(0):  # read from the version's stats
        assert version_row_counts(version=version) == counts
    for split in ("all", "train", "test"):
        expected = [r.index for r in rows if split in ("all", r.split)]
        pages = VersionRowPages(version=version, split=split)
        assert len(pages) == len(expected)
        with CaptureQueriesContext(connection) as queries:
            seen = [row.index for n in Paginator(pages, 3).page_range for row in Paginator(pages, 3).page(n)]
        assert seen == expected
        assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)


def test_an_exports_record_count_is_read_from_the_frozen_counts(project, user, django_assert_num_queries):
    from annotation.curation.export import export_options
    from annotation.selectors.datasets import dataset_export_count

    version = dataset_version_create(project=project, config={**FAST, "test_fraction": 0.4, "seed": 3}, user=user)
    version.refresh_from_db()
    for fmt, kind in (("trl", "pairwise"), ("kto", "unpaired")):
        for split in ("all", "train", "test"):
            expected = DatasetRow.objects.filter(version=version, kind=kind).filter(
                **({} if split == "all" else {"split": split})).count()
            if expected == 0:
                continue
            options = export_options(format=fmt, split=split)
            with django_assert_num_queries(0):
                assert dataset_export_count(version=version, options=options) == expected
    stale = DatasetVersion.objects.get(pk=version.pk)  # a version frozen before the counts were stored
    stale.stats = {k: v for k, v in stale.stats.items() if k != "row_counts"}
    assert dataset_export_count(version=stale, options=export_options(format="trl", split="all")) == (
        DatasetRow.objects.filter(version=version, kind="pairwise").count())


@pytest.mark.parametrize("fmt", ["trl", "trl_conversational", "kto"])
def test_a_version_frozen_by_the_curate_command_exports_the_python_records(project, tmp_path, fmt):
    """The shipped commands end to end: `curate` marks the kinds its rows were checked for, and `export_data`
    (SQL lines without the per-row check) writes byte for byte what the Python records are, and Parquet the same
    records."""
    import pyarrow.parquet as pq

    from annotation.curation.export import export_options, jsonl_chunks
    from annotation.selectors.datasets import dataset_export_records
    from annotation.selectors.identities import annotator_names_for

    call_command("curate", "cur", "--set", "embeddings=false", "--set", "test_fraction=0.4", stdout=StringIO())
    version = DatasetVersion.objects.get(project=project)
    assert version.stats["sql_lines"] == ["pairwise", "unpaired"]
    names = annotator_names_for(project=project, user=None, visible=True)
    records = list(dataset_export_records(version=version, options=export_options(format=fmt, split="all"),
                                          names=names))
    assert records
    out = tmp_path / "v1.jsonl"
    call_command("export_data", "cur", "1", "--format", fmt, "--split", "all", "--out", str(out),
                 stdout=StringIO(), stderr=StringIO())
    assert out.read_bytes() == b"".join(jsonl_chunks(records))
    out = tmp_path / "v1.parquet"
    call_command("export_data", "cur", "1", "--format", fmt, "--encoding", "parquet", "--split", "all",
                 "--out", str(out), stdout=StringIO(), stderr=StringIO())
    assert pq.read_table(out).to_pylist() == records
