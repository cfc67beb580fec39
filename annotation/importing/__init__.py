"""Parsing and validating import files into plain records (no Django here).

`parse_file(stream, fmt)` reads JSONL (optionally gzipped) and returns every valid record and
every bad line with its number and reason; the service decides whether to write anything.
`parse_chunks` yields the same in pieces, for a writer that works while the parser reads on.
"""
from .formats import FORMATS, parse_chunks, parse_file
from .records import ImportOptions, ItemRecord, LabelRecord, LineError, ParseResult, ResponseRecord

__all__ = [
    "FORMATS",
    "ImportOptions",
    "ItemRecord",
    "LabelRecord",
    "LineError",
    "ParseResult",
    "ResponseRecord",
    "parse_chunks",
    "parse_file",
]
