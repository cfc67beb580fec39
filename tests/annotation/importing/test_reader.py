"""Reading JSONL line by line (annotation/importing/reader.py): no database, no Django."""

import gzip
import io
import json

import pytest

from annotation.importing.reader import RecordError, field_of, iter_json_lines, nonempty_text, short_text


def read(data: bytes) -> list[tuple[int, object, str | None]]:
    return list(iter_json_lines(io.BytesIO(data)))


def problems(data: bytes) -> list[tuple[int, str]]:
    return [(n, p) for n, _, p in read(data) if p is not None]


def test_line_numbers_count_blank_lines_which_are_skipped():
    data = b'{"a": 1}\n\n   \n{"a": 2}\r\n\t\n{"a": 3}'
    assert [(n, obj) for n, obj, _ in read(data)] == [(1, {"a": 1}), (4, {"a": 2}), (6, {"a": 3})]


def test_a_byte_order_mark_before_the_first_line_is_ignored():
    assert read(b'\xef\xbb\xbf{"a": 1}\n') == [(1, {"a": 1}, None)]


def test_broken_json_names_the_column():
    assert problems(b'{"a": 1}\n{"a": 1,,}\n') == [
        (2, "invalid JSON: Expecting property name enclosed in double quotes at column 9")
    ]


def test_a_line_that_is_not_utf8_names_the_byte():
    assert problems(b'{"a": "caf\xe9"}\n') == [(1, "not valid UTF-8 (byte 11 of the line)")]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"score": NaN}', "invalid JSON: NaN is not a JSON number"),
        (b'{"score": -Infinity}', "invalid JSON: -Infinity is not a JSON number"),
        (b'{"score": 1e400}', "invalid JSON: the number 1e400 is too large"),
        (b"[" * 100_000, "invalid JSON: nested too deeply"),
    ],
)
def test_json_that_python_accepts_but_json_and_postgresql_do_not(line, reason):
    assert problems(line + b"\n") == [(1, reason)]


def test_strings_the_database_cannot_store_are_bad_lines_naming_the_field():
    data = (
        b'{"a": "x\\u0000y"}\n'
        b'{"b": [{"c": "\\ud800"}]}\n'
        b'{"k\\u0000": 1}\n'
        b'{"ok": "\\ud83d\\ude00 and a literal \\\\u0000"}\n'
    )
    assert problems(data) == [
        (1, "field 'a' contains a NUL character (\\u0000), which cannot be stored"),
        (2, "field 'b[0].c' contains an unpaired surrogate (\\ud800), which is not text"),
        (3, "a key of the record contains a NUL character (\\u0000), which cannot be stored"),
    ]
    assert read(data)[-1] == (4, {"ok": "\U0001f600 and a literal \\u0000"}, None)


def test_gzip_is_recognised_by_its_content_not_its_name():
    lines = [{"i": i} for i in range(3)]
    data = "".join(json.dumps(x) + "\n" for x in lines).encode()
    assert read(gzip.compress(data)) == read(data) == [(i + 1, x, None) for i, x in enumerate(lines)]


def _gzipped_lines(n: int) -> bytes:
    # Incompressible padding, so that cutting the file anywhere cuts inside the lines.
    return gzip.compress("".join(json.dumps({"i": i, "pad": f"{i * 7919:x}" * 40}) + "\n" for i in range(n)).encode())


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.9])
def test_a_truncated_gzip_file_yields_every_complete_line_then_the_truncation(fraction):
    data = _gzipped_lines(200)
    out = read(data[: int(len(data) * fraction)])
    good = [obj["i"] for _, obj, problem in out if problem is None]
    assert good == list(range(len(good))) and 0 < len(good) < 200
    assert out[-1][0] == len(good) + 1
    assert out[-1][2] == "the gzip file is truncated: it ends before its end-of-stream marker"


def test_corrupt_gzip_data_is_an_error_after_the_last_good_line():
    data = bytearray(_gzipped_lines(200))
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    out = read(bytes(data))
    n, _, problem = out[-1]
    assert problem.startswith(f"the gzip data is corrupt after line {n - 1}: ")
    assert all(p is None for _, _, p in out[:-1])


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", gzip.compress(b"")])
def test_an_empty_file_yields_nothing(data):
    assert read(data) == []


def test_a_json_true_is_not_an_integer_nor_a_number():
    with pytest.raises(RecordError, match="field 'strength' must be an integer, got boolean"):
        field_of({"strength": True}, "strength", int)
    with pytest.raises(RecordError, match="field 'p' must be a number, got boolean"):
        field_of({"p": False}, "p", float)
    assert field_of({"p": 1}, "p", float) == 1
    assert field_of({"flag": True}, "flag", bool) is True


def test_a_missing_or_null_field_is_missing_unless_optional():
    for obj in ({}, {"x": None}):
        with pytest.raises(RecordError, match="field 'labels\\[0\\].x' is missing"):
            field_of(obj, "x", str, where="labels[0].")
        assert field_of(obj, "x", str, required=False) is None


def test_text_checks_name_the_problem():
    with pytest.raises(RecordError, match="field 'id' is empty"):
        nonempty_text({"id": "  "}, "id")
    with pytest.raises(RecordError, match="field 'id' is longer than 5 characters \\(6\\)"):
        short_text({"id": "abcdef"}, "id", 5)
    with pytest.raises(RecordError, match="field 'id' must be a string, got list"):
        short_text({"id": ["a"]}, "id", 5)
