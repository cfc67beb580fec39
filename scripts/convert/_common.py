"""Helpers shared by the converters: skip accounting, JSONL writing and the command line.

No Django here: the converters must run on a machine that has only Python.
"""
import argparse
import gzip
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

Record = dict[str, Any]


class Skips:
    """Source records a converter left out (or repaired), counted by reason, with a few examples."""

    MAX_EXAMPLES = 5

    def __init__(self) -> None:
        self.skipped: Counter[str] = Counter()
        self.repaired: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def skip(self, where: str, reason: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < self.MAX_EXAMPLES:
            self.examples[reason].append(where)

    def repair(self, reason: str) -> None:
        """A value was fixed up rather than dropped (the converter's docstring says how)."""
        self.repaired[reason] += 1

    @property
    def total(self) -> int:
        return sum(self.skipped.values())

    def summary(self, name: str, written: int) -> str:
        lines = [f"{name}: wrote {written} item(s), skipped {self.total} source record(s)"]
        for reason, n in self.skipped.most_common():
            lines.append(f"  skipped {n}: {reason} (e.g. {', '.join(self.examples[reason])})")
        for reason, n in self.repaired.most_common():
            lines.append(f"  repaired {n}: {reason}")
        return "\n".join(lines)


def open_text(path: Path, mode: str = "rt") -> TextIO:
    """Open a text file, through gzip when its name ends in .gz."""
    if str(path).endswith(".gz"):
        return gzip.open(path, mode, encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(1-based line number, parsed object) for every non-blank line."""
    with open_text(path) as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                yield number, json.loads(line)


def write_jsonl(records: Iterable[Record], out: Path | TextIO) -> int:
    """Write one JSON object per line (gzipped when `out` ends in .gz); returns the count."""
    if isinstance(out, Path | str):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        with open_text(Path(out), "wt") as f:
            return write_jsonl(records, f)
    n = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        n += 1
    return n


def main(
    name: str,
    doc: str | None,
    convert: Callable[..., Iterator[Record]],
    argv: list[str] | None = None,
) -> int:
    """`SCRIPT SRC OUT [--limit N]`: convert, write OUT (or stdout for '-'), summarize on stderr."""
    parser = argparse.ArgumentParser(
        prog=f"{name}.py", description=(doc or "").split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("src", type=Path, help="the dataset folder (or its main file)")
    parser.add_argument("out", help="the native JSONL file to write (.jsonl or .jsonl.gz; '-' for stdout)")
    parser.add_argument("--limit", type=int, default=None, help="convert only the first N source records")
    args = parser.parse_args(argv)
    if not args.src.exists():
        parser.error(f"{args.src} does not exist")
    skips = Skips()
    records = convert(args.src, limit=args.limit, skips=skips)
    written = write_jsonl(records, sys.stdout if args.out == "-" else Path(args.out))
    print(skips.summary(name, written), file=sys.stderr)
    return 0
