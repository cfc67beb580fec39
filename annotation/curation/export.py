"""Export of a dataset version: row dict → output record, and streaming writers (JSONL, Parquet, HF).

Plain Python + pyarrow (datasets is imported only by the HF writer). Every writer consumes an iterable
of records and holds at most one Parquet row group (or one JSONL buffer) in memory, so the memory
of an export is flat however large the version.

Input rows (what annotation/selectors/datasets.py yields per DatasetRow):
    {"index": int, "split": "train"|"test", "kind": "pairwise"|"listwise"|"unpaired",
     "data": {...payload of the kind...}, "weight": float, "provenance": {...}}

Formats (the names users type):
    trl                 TRL preference, plain:  {"prompt": str, "chosen": str, "rejected": str}
    trl_conversational  TRL preference, conversational: {"prompt": [messages],
                        "chosen": [{"role": "assistant", "content": str}], "rejected": [...]}
    kto                 TRL unpaired (KTOTrainer), conversational: {"prompt": [messages],
                        "completion": [{"role": "assistant", "content": str}], "label": bool}.
                        Conversational because it keeps system turns and multi-turn prompts exactly;
                        KTOTrainer applies the tokenizer's chat template to it.
    listwise            {"prompt": [messages], "responses": [str, ...], "ranking": [[pos, ...], ...]} best first
    raw_votes           one record per label of the version's items (see `vote_record`)
Only rows of the format's kind are exported (pairwise for trl*, unpaired for kto, listwise for listwise).

Plain prompts (`prompt_text`): a conversation of one user turn is that turn's text; anything else (a
system turn, several turns) is an HH-style transcript "\\n\\nSystem: …\\n\\nHuman: …\\n\\nAssistant: …" that
ends with "\\n\\nAssistant:", so that prompt + " " + chosen reads as the full dialogue.

Provenance (on by default) adds, after the payload: index, split, weight, margin (pairwise formats),
item, origin, source, votes, agreement, probability, noise_score, reasons. `votes` is JSON text (its
shape differs between pairwise and listwise rows, and a Parquet column needs one type).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import PrefStudioError
from .shapes import SPEAKERS as _SPEAKERS

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported by the functions that use it: a JSONL export never needs it (~0.1 s of a command's start).

__all__ = [
    "ENCODINGS", "FORMATS", "SPLITS", "ExportOptions", "export_options", "format_row", "vote_record", "arrow_schema",
    "prompt_text", "jsonl_chunks", "parquet_chunks", "parquet_chunks_from_jsonl", "write_jsonl", "write_parquet",
    "write_hf",
]

# format name → the DatasetRow.kind it exports (None: not rows but labels).
FORMAT_KINDS: dict[str, str | None] = {
    "trl": "pairwise", "trl_conversational": "pairwise", "kto": "unpaired", "listwise": "listwise", "raw_votes": None,
}
FORMATS = tuple(FORMAT_KINDS)
ENCODINGS = ("jsonl", "parquet", "hf")
SPLITS = ("train", "test", "all")
EXTENSIONS = {"jsonl": ".jsonl", "parquet": ".parquet", "hf": ""}
# Rows per Parquet row group (and HF writer batch): the unit a reader can skip to, and the most records a
# writer holds at once (5,000 rows of ~1-2 KB: ~10 MB of Python dicts plus their Arrow copy).
ROW_GROUP_SIZE = 5_000
# Bytes of JSONL gathered before they are handed on: one write per line would be 200k syscalls.
JSONL_BUFFER = 64 * 1024


@dataclass(frozen=True)
class ExportOptions:
    format: str = "trl"
    encoding: str = "jsonl"
    split: str = "train"
    provenance: bool = True

    @property
    def kind(self) -> str | None:
        return FORMAT_KINDS[self.format]


def export_options(
    *, format: str, encoding: str = "jsonl", split: str = "train", provenance: bool = True
) -> ExportOptions:
    """Checked options; PrefStudioError naming the parameter for an unknown format, encoding or split."""
    checks = (("format", format, FORMATS), ("encoding", encoding, ENCODINGS), ("split", split, SPLITS))
    for field, value, allowed in checks:
        if value not in allowed:
            raise PrefStudioError(f"unknown {field} {value!r}; choose one of {', '.join(allowed)}", field=field)
    return ExportOptions(format=format, encoding=encoding, split=split, provenance=provenance)


# -- records ---------------------------------------------------------------------------------------
def _messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    # Exactly role + content: extra keys would change the Parquet struct from row to row.
    return [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in messages]


def _turn(content: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": content}]


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """The prompt as plain text: the one user turn as is, else an HH-style transcript ending in "Assistant:"."""
    if len(messages) == 1 and messages[0].get("role") == "user":
        return str(messages[0].get("content", ""))
    turns = "".join(f"\n\n{_SPEAKERS.get(m.get('role'), str(m.get('role')).title())}: {m.get('content', '')}"
                    for m in messages)
    return f"{turns}\n\nAssistant:"


def _provenance(row: dict[str, Any], *, margin: bool) -> dict[str, Any]:
    prov = row.get("provenance") or {}
    extra: dict[str, Any] = {"index": row["index"], "split": row["split"], "weight": float(row["weight"])}
    if margin:
        value = row["data"].get("margin")
        extra["margin"] = None if value is None else float(value)
    votes = prov.get("votes")
    extra.update(
        item=prov.get("item"), origin=prov.get("origin"), source=prov.get("source"),
        votes=None if votes is None else json.dumps(votes, sort_keys=True),
        agreement=_float(prov.get("agreement")), probability=_float(prov.get("probability")),
        noise_score=_float(prov.get("noise_score")), reasons=[str(r) for r in prov.get("reasons") or []],
    )
    return extra


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _trl(data: dict[str, Any]) -> dict[str, Any]:
    return {"prompt": prompt_text(data["prompt"]), "chosen": data["chosen"], "rejected": data["rejected"]}


def _trl_conversational(data: dict[str, Any]) -> dict[str, Any]:
    return {"prompt": _messages(data["prompt"]), "chosen": _turn(data["chosen"]), "rejected": _turn(data["rejected"])}


def _kto(data: dict[str, Any]) -> dict[str, Any]:
    return {"prompt": _messages(data["prompt"]), "completion": _turn(data["completion"]), "label": bool(data["label"])}


def _listwise(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "prompt": _messages(data["prompt"]), "responses": [str(r) for r in data["responses"]],
        "ranking": [[int(p) for p in group] for group in data["ranking"]],
    }


_PAYLOADS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "trl": _trl, "trl_conversational": _trl_conversational, "kto": _kto, "listwise": _listwise,
}


def format_row(row: dict[str, Any], options: ExportOptions) -> dict[str, Any]:
    """One dataset row (kind = options.kind) → one output record of options.format.

    PrefStudioError if the row's payload lacks a field of its kind (a row written by hand or by a bug).
    """
    try:
        record = _PAYLOADS[options.format](row["data"])
    except (KeyError, TypeError) as exc:
        raise PrefStudioError(
            f"row {row.get('index')} ({row.get('kind')}) has a malformed payload: "
            f"{exc!r} is missing or of the wrong type",
            field="data",
        ) from exc
    if options.provenance:
        record.update(_provenance(row, margin=options.kind == "pairwise"))
    return record


def vote_record(label: dict[str, Any]) -> dict[str, Any]:
    """One label (a dict of the columns below, as the selector reads them) → one raw_votes record.

    Input keys: item, item_kind, annotator, annotator_kind, role, status, winner, ranking, thumbs_up,
    edited_text, strength, probability, swap_consistent, rationale.
    `verdict`: the winner ("A", "B", "tie", "both_bad") of a pairwise label, the ranking as JSON text
    ("[[2], [0, 1]]", positions best first) of a listwise one, "up"/"down" for thumbs, "edit" for an
    edit (the text is in `edited_text`), and null for an unparsable judge output.
    """
    verdict: str | None = None
    if label["status"] == "ok":
        kind = label["item_kind"]
        if kind == "pairwise":
            verdict = label["winner"]
        elif kind == "listwise":
            verdict = json.dumps(label["ranking"])
        elif kind == "thumbs":
            verdict = "up" if label["thumbs_up"] else "down"
        elif kind == "edit":
            verdict = "edit"
    return {
        "item": label["item"], "item_kind": label["item_kind"], "annotator": label["annotator"],
        "annotator_kind": label["annotator_kind"], "role": label["role"], "status": label["status"],
        "verdict": verdict, "strength": label["strength"], "probability": _float(label["probability"]),
        "swap_consistent": label["swap_consistent"], "rationale": label["rationale"] or "",
        "edited_text": label["edited_text"],
    }


# -- Arrow schemas (one per format, so that every row group and every export has the same types) -----
@cache
def _payload_fields() -> dict[str, list[tuple[str, pa.DataType]]]:
    import pyarrow as pa

    messages = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    return {
        "trl": [("prompt", pa.string()), ("chosen", pa.string()), ("rejected", pa.string())],
        "trl_conversational": [("prompt", messages), ("chosen", messages), ("rejected", messages)],
        "kto": [("prompt", messages), ("completion", messages), ("label", pa.bool_())],
        "listwise": [
            ("prompt", messages), ("responses", pa.list_(pa.string())), ("ranking", pa.list_(pa.list_(pa.int64()))),
        ],
        "raw_votes": [
            ("item", pa.string()), ("item_kind", pa.string()), ("annotator", pa.string()),
            ("annotator_kind", pa.string()), ("role", pa.string()), ("status", pa.string()), ("verdict", pa.string()),
            ("strength", pa.int64()), ("probability", pa.float64()), ("swap_consistent", pa.bool_()),
            ("rationale", pa.string()), ("edited_text", pa.string()),
        ],
    }


def arrow_schema(options: ExportOptions) -> pa.Schema:
    import pyarrow as pa

    fields = list(_payload_fields()[options.format])
    if options.provenance and options.kind is not None:
        fields += [("index", pa.int64()), ("split", pa.string()), ("weight", pa.float64())]
        if options.kind == "pairwise":
            fields.append(("margin", pa.float64()))
        fields += [
            ("item", pa.string()), ("origin", pa.string()), ("source", pa.string()), ("votes", pa.string()),
            ("agreement", pa.float64()), ("probability", pa.float64()), ("noise_score", pa.float64()),
            ("reasons", pa.list_(pa.string())),
        ]
    return pa.schema(fields)


def _batches(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- JSONL -------------------------------------------------------------------------------------------
def jsonl_chunks(records: Iterable[dict[str, Any]], *, buffer: int = JSONL_BUFFER) -> Iterator[bytes]:
    """UTF-8 JSON lines, handed on in pieces of about `buffer` bytes (never a whole export)."""
    parts: list[bytes] = []
    size = 0
    for record in records:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        parts.append(line)
        size += len(line)
        if size >= buffer:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)


def write_jsonl(records: Iterable[dict[str, Any]], out: BinaryIO) -> int:
    """Write JSON lines to a binary stream; returns the number of bytes written."""
    written = 0
    for chunk in jsonl_chunks(records):
        out.write(chunk)
        written += len(chunk)
    return written


# -- Parquet -----------------------------------------------------------------------------------------
class _Spool:
    """A write-only file for ParquetWriter whose bytes are taken away after each row group.

    `tell()` counts every byte ever written (the writer records row-group offsets with it), while
    the buffer only holds what has not been handed on yet.
    """

    closed = False

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._position = 0

    def write(self, data) -> int:
        self._buffer += data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def parquet_chunks(
    records: Iterable[dict[str, Any]], schema: pa.Schema, *, row_group_size: int = ROW_GROUP_SIZE
) -> Iterator[bytes]:
    """A Parquet file as byte pieces: the header, one piece per row group, then the footer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    spool = _Spool()
    writer = pq.ParquetWriter(pa.PythonFile(spool, mode="w"), schema)
    try:
        for batch in _batches(records, row_group_size):
            writer.write_table(pa.Table.from_pylist(batch, schema=schema), row_group_size=row_group_size)
            yield spool.take()
    finally:
        writer.close()  # an empty export is still a valid file: the schema and no row groups
    yield spool.take()


def parquet_chunks_from_jsonl(
    chunks: Iterable[bytes], schema: pa.Schema, *, row_group_size: int = ROW_GROUP_SIZE
) -> Iterator[bytes]:
    """`parquet_chunks` of records given as JSON lines (pieces of whole lines, each ending in "\n"), parsed
    by Arrow's JSON reader against `schema` one row group at a time: no Python object per value, and the
    same row groups, columns and values as `parquet_chunks` of the parsed records."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow import json as pa_json

    parse = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")

    def table(lines: list[bytes]) -> pa.Table:
        data = b"\n".join(lines) + b"\n"
        read = pa_json.ReadOptions(block_size=max(len(data), 1 << 20), use_threads=False)
        return pa_json.read_json(pa.BufferReader(data), read_options=read, parse_options=parse).select(
            schema.names).cast(schema)

    spool = _Spool()
    writer = pq.ParquetWriter(pa.PythonFile(spool, mode="w"), schema)
    head = spool.take()  # the magic bytes: a download starts before the first row group is parsed
    if head:
        yield head
    pending: list[bytes] = []
    try:
        for chunk in chunks:
            pending += chunk.split(b"\n")[:-1]
            while len(pending) >= row_group_size:
                group, pending = pending[:row_group_size], pending[row_group_size:]
                writer.write_table(table(group), row_group_size=row_group_size)
                yield spool.take()
        if pending:
            writer.write_table(table(pending), row_group_size=row_group_size)
            yield spool.take()
    finally:
        writer.close()
    yield spool.take()


def write_parquet(
    records: Iterable[dict[str, Any]], schema: pa.Schema, out: BinaryIO, *, row_group_size: int = ROW_GROUP_SIZE
) -> int:
    """Write a Parquet file to a binary stream, one row group at a time; returns the bytes written."""
    written = 0
    for chunk in parquet_chunks(records, schema, row_group_size=row_group_size):
        out.write(chunk)
        written += len(chunk)
    return written


# -- HF datasets -------------------------------------------------------------------------------------
def write_hf(
    records: Callable[[], Iterable[dict[str, Any]]], schema: pa.Schema, path: str | os.PathLike, *,
    cache_dir: str | os.PathLike, writer_batch_size: int = ROW_GROUP_SIZE,
) -> None:
    """`datasets.Dataset.from_generator(records)` then `save_to_disk(path)` (a directory).

    `records` is called to get a fresh iterator. The generator's Arrow cache goes to `cache_dir`
    (the caller removes it), not ~/.cache: one export must not leave gigabytes behind.
    """
    import datasets

    def generate():
        yield from records()

    features = datasets.Features.from_arrow_schema(schema)
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # the caller reports progress; tqdm bars would interleave with it
    try:
        dataset = datasets.Dataset.from_generator(
            generate, features=features, cache_dir=str(cache_dir), keep_in_memory=False,
            writer_batch_size=writer_batch_size,
        )
        dataset.save_to_disk(str(path))
    finally:
        if bars:
            datasets.enable_progress_bars()
