"""`manage.py export_data` and the chunked reads under it (annotation/selectors/datasets.py)."""
import io
import json
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.curation.export import export_options, format_row
from annotation.selectors.datasets import dataset_export_records, dataset_rows_iter, dataset_votes_iter
from annotation.selectors.identities import annotator_names_for
from tests.annotation.curation.export_rows import ROWS
from tests.annotation.dataset_factory import add_judge_labels, make_version, many_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(project):
    add_judge_labels(project)
    return make_version(project)


def _expected(fmt: str, split: str = "train") -> list[dict]:
    options = export_options(format=fmt)
    return [format_row(r, options) for r in ROWS if r["kind"] == options.kind and split in ("all", r["split"])]


def _export(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_data", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- chunked reads -----------------------------------------------------------------------------------
def test_rows_are_read_in_chunks_by_index_keyset(project, django_assert_num_queries):
    version = make_version(project, rows=many_rows(5))
    with django_assert_num_queries(4):  # the index bounds, then indexes 0-1, 2-3, 4: none holds the version
        rows = list(dataset_rows_iter(version=version, chunk_size=2))
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["data"]["chosen"] for r in rows] == [f"chosen {i}" for i in range(5)]
    six = make_version(project, rows=many_rows(6), number=2)
    with django_assert_num_queries(4):  # the bounds, then 0-1, 2-3, 4-5
        assert len(list(dataset_rows_iter(version=six, chunk_size=2))) == 6


def test_sparse_indexes_and_a_split_filter_miss_no_row(project):
    rows = [{**row, "index": index, "split": split}
            for row, index, split in zip(many_rows(5), [0, 1, 7, 8, 13], ["train", "test", "train", "test", "train"])]
    version = make_version(project, rows=rows)
    assert [r["index"] for r in dataset_rows_iter(version=version, split="train", chunk_size=2)] == [0, 7, 13]
    assert [r["index"] for r in dataset_rows_iter(version=version, chunk_size=3)] == [0, 1, 7, 8, 13]


def owner_names(version):
    """The annotators as the command line (an operator) names them: real names."""
    return annotator_names_for(project=version.project, user=None, visible=True)


def test_export_records_are_the_same_whatever_the_chunk_size(version):
    options = export_options(format="trl", split="all")
    whole = list(dataset_export_records(
        version=version, options=options, names=owner_names(version), chunk_size=1000))
    assert whole == _expected("trl", "all")
    names = owner_names(version)
    assert list(dataset_export_records(version=version, options=options, names=names, chunk_size=1)) == whole


def test_votes_of_an_item_behind_rows_in_two_chunks_come_once(version, django_assert_num_queries):
    # chunk_size 3: rows 0-2 then 3-4, so rank-1 (rows 2 and 3) straddles the boundary.
    names = owner_names(version)
    with django_assert_num_queries(7):  # the bounds, then per range: its items, those seen before, their labels
        votes = list(dataset_votes_iter(version=version, names=names, chunk_size=3))
    assert [(v["item"], v["annotator"]) for v in votes] == [
        ("pair-1", "annotator1"), ("pair-1", "judge-1"), ("pair-1", "judge-2"), ("rank-1", "annotator1"),
        ("thumb-1", "judge-1"),
    ]
    assert list(dataset_votes_iter(version=version, names=names, chunk_size=1)) == votes


# -- the command -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["trl", "trl_conversational", "kto", "listwise"])
def test_jsonl_file_has_the_exact_records_and_progress_goes_to_stderr(version, tmp_path, fmt):
    out = tmp_path / "train.jsonl"
    stdout, stderr = _export("kinds", "1", "--format", fmt, "--out", str(out))
    assert [json.loads(line) for line in out.read_text().splitlines()] == _expected(fmt)
    n = len(_expected(fmt))
    assert f"exported {n} / {n} records (100 %)" in stderr
    assert f"kinds v1: {n} {fmt} records (train)" in stdout
    assert _leftovers(tmp_path) == ["train.jsonl"]


def test_parquet_file_reads_back_in_row_groups(project, tmp_path):
    make_version(project, rows=many_rows(7))
    out = tmp_path / "pairs.parquet"
    _, stderr = _export("kinds", "1", "--encoding", "parquet", "--out", str(out), "--row-group-size", "3",
                        "--chunk-size", "2")
    parquet = pq.ParquetFile(out)
    assert parquet.metadata.num_row_groups == 3
    records = parquet.read().to_pylist()
    assert [r["chosen"] for r in records] == [f"chosen {i}" for i in range(7)]
    assert records[0] == {**_expected("trl")[0], "chosen": "chosen 0"}
    assert "exported 7 / 7 records (100 %)" in stderr and "exported 3 / 7 records (42 %)" in stderr


def test_hf_directory_loads_with_datasets(version, tmp_path):
    out = tmp_path / "hf"
    _export("kinds", "1", "--format", "raw_votes", "--encoding", "hf", "--split", "all", "--out", str(out))
    loaded = datasets.load_from_disk(str(out))
    assert [(r["item"], r["annotator"], r["verdict"]) for r in loaded] == [
        ("pair-1", "annotator1", "A"), ("pair-1", "judge-1", "B"), ("pair-1", "judge-2", None),
        ("rank-1", "annotator1", "[[2], [0, 1]]"), ("thumb-1", "judge-1", "up"),
    ]
    assert _leftovers(tmp_path) == ["hf"]  # the generator's cache is gone


def test_hf_export_of_trl_conversational_round_trips(version, tmp_path):
    out = tmp_path / "hf"
    _export("kinds", "1", "--format", "trl_conversational", "--encoding", "hf", "--split", "all", "--out", str(out))
    assert datasets.load_from_disk(str(out)).to_list() == _expected("trl_conversational", "all")


@pytest.mark.parametrize(("args", "message"), [
    (["nope", "1"], "no project 'nope'"),
    (["kinds", "4"], "project 'kinds' has no dataset version 4"),
    (["kinds", "1", "--format", "dpo"], "unknown format 'dpo'"),
    (["kinds", "1", "--encoding", "csv"], "unknown encoding 'csv'"),
    (["kinds", "1", "--split", "dev"], "unknown split 'dev'"),
    (["kinds", "1", "--format", "kto", "--split", "test"], "no unpaired rows in split 'test'"),
])
def test_bad_input_is_a_command_error_and_writes_nothing(version, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        _export(*args, "--out", str(tmp_path / "out.jsonl"))
    assert _leftovers(tmp_path) == []


def test_an_existing_output_is_kept_unless_forced(version, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    with pytest.raises(CommandError, match="exists; pass --force"):
        _export("kinds", "1", "--out", str(out))
    assert out.read_text() == "old\n"
    _export("kinds", "1", "--out", str(out), "--force")
    assert [json.loads(line) for line in out.read_text().splitlines()] == _expected("trl")


def test_a_missing_directory_is_a_command_error(version, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        _export("kinds", "1", "--out", str(tmp_path / "no" / "out.jsonl"))


@pytest.mark.parametrize("encoding", ["jsonl", "parquet", "hf"])
def test_a_failure_midway_leaves_the_old_output_and_no_partial_file(project, tmp_path, encoding):
    # Row 5 of 6 has a payload without "chosen": the export fails after the first chunks were written.
    rows = many_rows(6)
    rows[4] = {**rows[4], "data": {"prompt": rows[4]["data"]["prompt"], "rejected": "r"}}
    make_version(project, rows=rows)
    out = tmp_path / "out"
    if encoding == "hf":
        out.mkdir()
        (out / "keep.txt").write_text("old")
    else:
        out.write_text("old")
    with pytest.raises(CommandError, match=r"nothing written: row 4 \(pairwise\) has a malformed payload"):
        _export("kinds", "1", "--encoding", encoding, "--out", str(out), "--force", "--chunk-size", "2",
                "--row-group-size", "2")
    assert _leftovers(tmp_path) == ["out"]
    assert (out / "keep.txt").read_text() == "old" if encoding == "hf" else out.read_text() == "old"
