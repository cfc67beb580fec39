"""Parsing and validating import files into plain records (no Django here).

`parse_file(stream, fmt)` reads JSONL (optionally gzipped) and returns every valid record and
every bad line with its number and reason; the service decides whether to write anything.
`parse_chunks` yields the same in pieces, for a writer that works while the parser reads on.
"""
from .formats import FORMATS, TOO_MANY_BAD_LINES, parse_chunks, parse_file
from .reader import LimitExceeded
from .records import (
    ImportLimits,
    ImportOptions,
    ItemRecord,
    LabelRecord,
    LineError,
    ParseResult,
    ResponseRecord,
    text_too_long,
)

__all__ = [
    "FORMATS",
    "TOO_MANY_BAD_LINES",
    "ImportLimits",
    "ImportOptions",
    "LimitExceeded",
    "ItemRecord",
    "LabelRecord",
    "LineError",
    "ParseResult",
    "ResponseRecord",
    "parse_chunks",
    "parse_file",
    "text_too_long",
]
