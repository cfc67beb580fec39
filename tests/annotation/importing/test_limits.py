"""Size limits while reading (annotation/importing: ImportLimits): no database, no Django.

Each limit stops reading at the line that breaks it, with an error naming the line, the limit and
its setting; what is read before that is bounded by the limit, not by the file.
"""
import gzip
import io
import json

import pytest

from annotation.importing import TOO_MANY_BAD_LINES, ImportLimits, LimitExceeded, parse_chunks, parse_file
from annotation.importing.reader import iter_json_lines
from annotation.importing.records import size_text


def trl(i: int, chosen: str = "yes") -> bytes:
    return (json.dumps({"prompt": f"question {i}", "chosen": chosen, "rejected": "no"}) + "\n").encode()


def test_a_line_over_the_limit_is_refused_naming_the_line_and_the_setting():
    data = trl(1) + trl(2, chosen="x" * 2000) + trl(3)
    result = parse_file(io.BytesIO(data), "trl", limits=ImportLimits(max_line_bytes=1024))
    assert [str(e) for e in result.errors] == [
        "line 2: longer than the 1 KiB line limit (PREFSTUDIO_IMPORT_MAX_LINE_BYTES)"
    ]
    assert result.errors[0].limit == "PREFSTUDIO_IMPORT_MAX_LINE_BYTES"
    assert len(result.records) == 1  # line 3 was never read
    assert result.n_lines == 2


def test_a_line_exactly_at_the_limit_is_read():
    line = trl(1, chosen="y" * 100)
    limit = len(line) - 1  # without its newline
    assert parse_file(io.BytesIO(line), "trl", limits=ImportLimits(max_line_bytes=limit)).ok
    result = parse_file(io.BytesIO(line.rstrip(b"\n")), "trl", limits=ImportLimits(max_line_bytes=limit - 1))
    assert result.errors[0].limit == "PREFSTUDIO_IMPORT_MAX_LINE_BYTES"


def test_a_one_line_gzip_bomb_is_refused_after_reading_one_line_limit():
    """1 GiB of one line in ~1 MB of gzip (1024 gzip members of 1 MiB each): only the limit is inflated."""
    member = gzip.compress(b"a" * (1 << 20))
    stream = io.BytesIO(gzip.compress(b'{"prompt": "') + member * 1024)
    with pytest.raises(LimitExceeded) as caught:
        list(iter_json_lines(stream, ImportLimits(max_line_bytes=1 << 20)))
    assert str(caught.value) == "line 1: longer than the 1 MiB line limit (PREFSTUDIO_IMPORT_MAX_LINE_BYTES)"
    assert caught.value.setting == "PREFSTUDIO_IMPORT_MAX_LINE_BYTES"


def test_a_file_over_the_decompressed_limit_is_refused_at_the_line_that_crosses_it():
    data = gzip.compress(b"".join(trl(i) for i in range(1000)))
    line_bytes = len(trl(0))
    result = parse_file(io.BytesIO(data), "trl", limits=ImportLimits(max_bytes=line_bytes * 10 + 5))
    assert str(result.errors[-1]) == (
        "line 11: the file is larger than the 605 bytes limit on its (decompressed) size "
        "(PREFSTUDIO_IMPORT_MAX_DECOMPRESSED_BYTES)"
    )
    assert result.errors[-1].limit == "PREFSTUDIO_IMPORT_MAX_DECOMPRESSED_BYTES"
    assert len(result.records) == 10


def test_the_decompressed_limit_names_the_setting_it_was_given():
    limits = ImportLimits(max_bytes=10, bytes_setting="PREFSTUDIO_IMPORT_INLINE_MAX_BYTES")
    result = parse_file(io.BytesIO(trl(1)), "trl", limits=limits)
    assert result.errors[0].limit == "PREFSTUDIO_IMPORT_INLINE_MAX_BYTES"
    assert "(PREFSTUDIO_IMPORT_INLINE_MAX_BYTES)" in result.errors[0].reason


def test_millions_of_bad_lines_stop_at_the_bad_line_limit():
    """4 million lines of `{}` (12 MB inflated from 12 KB): reading stops after max_bad_lines errors."""
    data = gzip.compress(b"{}\n" * 4_000_000)
    pieces = list(parse_chunks(io.BytesIO(data), "trl", limits=ImportLimits(max_bad_lines=100)))
    errors = [e for piece in pieces for e in piece.errors]
    assert len(errors) == 101 and pieces[-1].n_lines == 100
    assert errors[-1].limit == TOO_MANY_BAD_LINES
    assert str(errors[-1]) == "line 100: reading stopped after 100 bad lines"


def test_a_text_over_the_text_limit_is_a_bad_line_naming_the_field():
    data = trl(1) + trl(2, chosen="z" * 50) + trl(3)
    result = parse_file(io.BytesIO(data), "trl", limits=ImportLimits(max_text_chars=40))
    assert len(result.errors) == 1 and not result.errors[0].limit  # the rest of the file is still read
    assert str(result.errors[0]) == (
        "line 2: response 0 is 50 characters long, over the 40-character text limit (PREFSTUDIO_MAX_TEXT_CHARS)"
    )
    assert [r.line for r in result.records] == [1, 3]


def test_a_long_prompt_and_a_long_rationale_are_named():
    record = {
        "id": "x", "kind": "pairwise",
        "prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "p" * 41}],
        "responses": [{"text": "a"}, {"text": "b"}],
    }
    labeled = {**record, "prompt": "p", "labels": [
        {"annotator": "ann", "annotator_kind": "human", "winner": "A", "rationale": "r" * 41}
    ]}
    data = (json.dumps(record) + "\n" + json.dumps(labeled) + "\n").encode()
    result = parse_file(io.BytesIO(data), "native", limits=ImportLimits(max_text_chars=40))
    assert [str(e) for e in result.errors] == [
        "line 1: the prompt's message 1 is 41 characters long, over the 40-character text limit "
        "(PREFSTUDIO_MAX_TEXT_CHARS)",
        "line 2: the rationale of 'ann' is 41 characters long, over the 40-character text limit "
        "(PREFSTUDIO_MAX_TEXT_CHARS)",
    ]


@pytest.mark.parametrize(
    ("n", "text"), [(1 << 20, "1 MiB"), (3 << 30, "3 GiB"), (512 << 10, "512 KiB"), (1000, "1000 bytes")]
)
def test_sizes_are_written_as_people_write_them(n, text):
    assert size_text(n) == text


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="max_line_bytes must be at least 1"):
        ImportLimits(max_line_bytes=0)
