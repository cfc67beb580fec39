"""annotation/curation/export.py: each format's exact records on hand-built rows, and the writers
(JSONL, Parquet in row groups, HF save_to_disk) giving back the same records. No database."""
import io
import json

import datasets
import pyarrow.parquet as pq
import pytest

from annotation.curation.export import (
    arrow_schema,
    export_options,
    format_row,
    jsonl_chunks,
    parquet_chunks,
    prompt_text,
    vote_record,
    write_hf,
)
from annotation.errors import PrefStudioError
from tests.annotation.curation.export_rows import ROWS

PAIR, PAIR_SYSTEM, RANKING, PAIR_FROM_RANKING, THUMBS = ROWS


def _records(fmt: str, rows: list[dict], provenance: bool = True) -> list[dict]:
    options = export_options(format=fmt, provenance=provenance)
    return [format_row(row, options) for row in rows if row["kind"] == options.kind]


def test_a_single_user_turn_is_the_plain_prompt_and_anything_else_a_transcript():
    assert prompt_text([{"role": "user", "content": "Name a prime number."}]) == "Name a prime number."
    assert prompt_text([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi."}]) == (
        "\n\nSystem: Be brief.\n\nHuman: Say hi.\n\nAssistant:"
    )
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
             {"role": "user", "content": "Bye?"}]
    assert prompt_text(turns) == "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Bye?\n\nAssistant:"


def test_trl_plain_records_without_provenance_are_exactly_the_trl_columns():
    assert _records("trl", [PAIR, PAIR_SYSTEM], provenance=False) == [
        {"prompt": "Name a prime number.", "chosen": "7 is prime.", "rejected": "9 is prime."},
        {"prompt": "\n\nSystem: Be brief.\n\nHuman: Say hi.\n\nAssistant:", "chosen": "Hi!",
         "rejected": "Hello there."},
    ]


def test_trl_records_carry_weight_margin_and_provenance_by_default():
    (record,) = _records("trl", [PAIR])
    assert record == {
        "prompt": "Name a prime number.", "chosen": "7 is prime.", "rejected": "9 is prime.",
        "index": 0, "split": "train", "weight": 0.8, "margin": 0.5, "item": "pair-1", "origin": "pairwise",
        "source": "hybrid", "votes": '{"A": 1, "B": 1, "tie": 0}', "agreement": 0.5, "probability": 0.75,
        "noise_score": 0.4, "reasons": ["annotators disagree", "judge disagrees with people"],
    }


def test_trl_conversational_keeps_the_messages_and_wraps_answers_as_assistant_turns():
    assert _records("trl_conversational", [PAIR_SYSTEM], provenance=False) == [{
        "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi."}],
        "chosen": [{"role": "assistant", "content": "Hi!"}],
        "rejected": [{"role": "assistant", "content": "Hello there."}],
    }]
    (record,) = _records("trl_conversational", [PAIR_SYSTEM])
    assert (record["margin"], record["agreement"], record["noise_score"], record["reasons"]) == (None, None, None, [])


def test_kto_exports_unpaired_rows_as_conversational_prompt_completion_label():
    assert _records("kto", ROWS, provenance=False) == [{
        "prompt": [{"role": "user", "content": "Is this helpful?"}],
        "completion": [{"role": "assistant", "content": "Yes, here is how."}], "label": True,
    }]
    (record,) = _records("kto", ROWS)
    assert "margin" not in record and (record["index"], record["source"], record["weight"]) == (4, "ai", 1.0)


def test_listwise_records_keep_the_ranking_best_first():
    assert _records("listwise", ROWS, provenance=False) == [{
        "prompt": [{"role": "user", "content": "Sort these answers."}],
        "responses": ["first", "second", "third"], "ranking": [[2], [0, 1]],
    }]


def test_raw_vote_verdicts_by_kind():
    base = {"item": "x", "annotator": "a", "annotator_kind": "human", "role": "annotation", "status": "ok",
            "winner": "", "ranking": None, "thumbs_up": None, "edited_text": None, "strength": None,
            "probability": None, "swap_consistent": None, "rationale": ""}
    assert vote_record({**base, "item_kind": "pairwise", "winner": "B", "strength": 2})["verdict"] == "B"
    assert vote_record({**base, "item_kind": "listwise", "ranking": [[2], [0, 1]]})["verdict"] == "[[2], [0, 1]]"
    assert vote_record({**base, "item_kind": "thumbs", "thumbs_up": False})["verdict"] == "down"
    edit = vote_record({**base, "item_kind": "edit", "edited_text": "He goes."})
    assert (edit["verdict"], edit["edited_text"]) == ("edit", "He goes.")
    assert vote_record({**base, "item_kind": "pairwise", "status": "unparsable"})["verdict"] is None


@pytest.mark.parametrize(("field", "kwargs"), [
    ("format", {"format": "dpo"}), ("encoding", {"format": "trl", "encoding": "csv"}),
    ("split", {"format": "trl", "split": "validation"}),
])
def test_unknown_options_name_the_parameter(field, kwargs):
    with pytest.raises(PrefStudioError) as caught:
        export_options(**kwargs)
    assert caught.value.field == field and repr(kwargs[field]) in caught.value.message


def test_jsonl_chunks_are_one_record_per_line_and_bounded():
    records = [{"prompt": f"p{i}", "chosen": "é" * 50, "rejected": "r"} for i in range(100)]
    chunks = list(jsonl_chunks(records, buffer=1000))
    assert len(chunks) > 5 and all(len(c) < 1000 + 200 for c in chunks)  # ~one record past the buffer at most
    lines = b"".join(chunks).decode().splitlines()
    assert [json.loads(line) for line in lines] == records


@pytest.mark.parametrize("fmt", ["trl", "trl_conversational", "kto", "listwise"])
def test_parquet_round_trips_the_same_records_in_row_groups(fmt):
    options = export_options(format=fmt, encoding="parquet")
    records = _records(fmt, ROWS) * 5  # several rows per kind, so that groups of 2 make several groups
    data = b"".join(parquet_chunks(iter(records), arrow_schema(options), row_group_size=2))
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.metadata.num_row_groups == -(-len(records) // 2)
    assert parquet.read().to_pylist() == records


def test_parquet_pieces_come_one_per_row_group():
    records = _records("trl", [PAIR]) * 7
    pieces = list(parquet_chunks(iter(records), arrow_schema(export_options(format="trl")), row_group_size=3))
    # header+group 1, group 2, group 3, then the footer: the file is never held whole by the writer
    assert len(pieces) == 4 and all(pieces)
    assert pq.read_table(io.BytesIO(b"".join(pieces))).num_rows == 7


def test_an_empty_parquet_export_is_a_valid_file_with_the_schema():
    schema = arrow_schema(export_options(format="listwise"))
    table = pq.read_table(io.BytesIO(b"".join(parquet_chunks(iter([]), schema))))
    assert table.num_rows == 0 and table.schema.names == schema.names


def test_raw_votes_round_trip_through_parquet():
    base = {"item": "pair-1", "item_kind": "pairwise", "annotator": "judge-1", "annotator_kind": "judge",
            "role": "annotation", "status": "ok", "winner": "B", "ranking": None, "thumbs_up": None,
            "edited_text": None, "strength": None, "probability": 0.25, "swap_consistent": False,
            "rationale": "B is shorter."}
    records = [vote_record(base), vote_record({**base, "status": "unparsable", "probability": None})]
    schema = arrow_schema(export_options(format="raw_votes"))
    assert pq.read_table(io.BytesIO(b"".join(parquet_chunks(iter(records), schema)))).to_pylist() == records


@pytest.mark.parametrize("fmt", ["trl", "trl_conversational", "kto", "listwise"])
def test_hf_save_to_disk_loads_back_the_same_records(tmp_path, fmt):
    options = export_options(format=fmt, encoding="hf")
    records = _records(fmt, ROWS)
    write_hf(lambda: iter(records), arrow_schema(options), tmp_path / "out", cache_dir=tmp_path / "cache")
    loaded = datasets.load_from_disk(str(tmp_path / "out"))
    assert loaded.to_list() == records
    assert loaded.features.arrow_schema.names == arrow_schema(options).names
