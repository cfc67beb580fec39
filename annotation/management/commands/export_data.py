"""python manage.py export_data PROJECT VERSION --format trl --encoding jsonl|parquet|hf --split train --out PATH

Writes the export beside PATH under a temporary name and renames it into place when it is complete,
so a failed or interrupted export leaves nothing at PATH (and an existing PATH untouched unless
--force). `hf` writes a `datasets.load_from_disk` directory. Record shapes: annotation/curation/export.py.
"""
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.curation.export import (
    ENCODINGS,
    FORMATS,
    ROW_GROUP_SIZE,
    SPLITS,
    arrow_schema,
    export_options,
    parquet_chunks_from_jsonl,
    write_hf,
    write_jsonl,
    write_parquet,
)
from annotation.errors import PrefStudioError
from annotation.selectors.dataset_lines import dataset_export_lines, lines_supported
from annotation.selectors.datasets import (
    CHUNK_SIZE,
    dataset_export_count,
    dataset_export_records,
    dataset_version_get,
    dropped_items,
)
from annotation.selectors.identities import annotator_names_for


class Command(BaseCommand):
    help = "Export a dataset version as TRL / KTO / listwise / raw votes: JSONL, Parquet or an HF datasets directory."
    # A data command starts without Django's system checks: they import every URL, view and the curation stack
    # (1.5-3 s, most of a 100k export's wall time) to look for configuration mistakes that `manage.py check`,
    # `migrate` and `runserver` report anyway. `manage.py check` still runs them all.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project slug")
        parser.add_argument("version", type=int, help="Dataset version number (1, 2, ...)")
        # No argparse `choices`: a bad value should get the same sentence as over REST.
        parser.add_argument("--format", default="trl", help=f"One of {', '.join(FORMATS)} (default trl)")
        parser.add_argument("--encoding", default="jsonl", help=f"One of {', '.join(ENCODINGS)} (default jsonl)")
        parser.add_argument("--split", default="train", help=f"One of {', '.join(SPLITS)} (default train)")
        parser.add_argument("--out", required=True, help="Output file (jsonl, parquet) or directory (hf)")
        parser.add_argument("--no-provenance", action="store_true",
                            help="Only the format's own columns: no weight, margin or provenance")
        parser.add_argument("--force", action="store_true", help="Replace PATH if it exists")
        parser.add_argument("--dropped", action="store_true",
                            help="Export the items the curation run dropped, with their reasons, as JSONL "
                                 '({"item": external id, "reason": ...}) instead of the rows')
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="Rows read per query")
        parser.add_argument("--row-group-size", type=int, default=ROW_GROUP_SIZE,
                            help="Rows per Parquet row group / HF writer batch")

    def handle(self, *args, **opts):
        out = Path(opts["out"]).expanduser()
        if opts["chunk_size"] < 1 or opts["row_group_size"] < 1:
            raise CommandError("--chunk-size and --row-group-size must be at least 1")
        if not out.parent.is_dir():
            raise CommandError(f"cannot write {out}: the directory {out.parent} does not exist")
        if out.exists() and not opts["force"]:
            raise CommandError(f"{out} exists; pass --force to replace it")
        if opts["dropped"]:
            return self._dropped(opts, out)
        try:
            options = export_options(format=opts["format"], encoding=opts["encoding"], split=opts["split"],
                                     provenance=not opts["no_provenance"])
            version = dataset_version_get(slug=opts["project"], number=opts["version"])
            total = dataset_export_count(version=version, options=options)
        except PrefStudioError as exc:
            raise CommandError(exc.message) from exc

        def records() -> Iterator[dict]:
            # The command line is the operator's: annotators by name, as the project's owners see them.
            names = annotator_names_for(project=version.project, user=None, visible=True)
            rows = dataset_export_records(version=version, options=options, names=names, chunk_size=opts["chunk_size"])
            return self._progress(rows, total)

        schema = arrow_schema(options) if options.encoding != "jsonl" else None  # pyarrow only where it is used
        started = time.perf_counter()
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        try:
            if options.encoding == "hf":
                with tempfile.TemporaryDirectory(prefix="export-cache-", dir=out.parent) as cache:
                    write_hf(records, schema, tmp, cache_dir=cache, writer_batch_size=opts["row_group_size"])
            else:
                with open(tmp, "wb") as stream:
                    if lines_supported(options):  # PostgreSQL writes the lines; Python moves bytes
                        names = annotator_names_for(project=version.project, user=None, visible=True)
                        lines = self._line_progress(dataset_export_lines(
                            version=version, options=options, names=names, chunk_size=opts["chunk_size"]), total)
                        if options.encoding == "parquet":
                            lines = parquet_chunks_from_jsonl(lines, schema, row_group_size=opts["row_group_size"])
                        for piece in lines:
                            stream.write(piece)
                    elif options.encoding == "parquet":
                        write_parquet(records(), schema, stream, row_group_size=opts["row_group_size"])
                    else:
                        write_jsonl(records(), stream)
            _replace(tmp, out)
        except BaseException as exc:
            _remove(tmp)
            error = _project_error(exc)
            if error is not None:
                raise CommandError(f"nothing written: {error.message}") from exc
            if isinstance(exc, OSError):
                raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from exc
            raise
        self.stdout.write(
            f"{version.project.slug} v{version.number}: {total} {options.format} records ({options.split}) "
            f"→ {out} ({_size(out) / 1e6:.1f} MB, {time.perf_counter() - started:.1f} s)"
        )

    def _dropped(self, opts, out: Path) -> None:
        """The version's dropped items with their reasons, as JSONL, written in place as the rows are."""
        try:
            version = dataset_version_get(slug=opts["project"], number=opts["version"])
        except PrefStudioError as exc:
            raise CommandError(exc.message) from exc
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        try:
            counted = _Counted(dropped_items(version=version, chunk_size=opts["chunk_size"]))
            with open(tmp, "wb") as stream:
                write_jsonl(counted, stream)
            _replace(tmp, out)
        except BaseException:
            _remove(tmp)
            raise
        self.stdout.write(f"{version.project.slug} v{version.number}: {counted.n} dropped items → {out}")

    def _line_progress(self, chunks: Iterable[bytes], total: int) -> Iterator[bytes]:
        """`_progress` of pieces of JSON lines."""
        tty = self.stderr.isatty()
        start, ending = ("\r", "") if tty else ("", "\n")
        step = max(1, total // 10)
        n = 0
        for chunk in chunks:
            yield chunk
            before, n = n, n + chunk.count(b"\n")
            # The marks the piece went past, as `_progress` writes them record by record.
            for mark in range((before // step + 1) * step, min(n, total - 1) + 1, step):
                self.stderr.write(f"{start}exported {mark:,} / {total:,} records ({100 * mark // total} %)",
                                  ending=ending)
        self.stderr.write(f"{start}exported {n:,} / {total:,} records (100 %)")

    def _progress(self, records: Iterable[dict], total: int) -> Iterator[dict]:
        """Pass records through, writing "exported n / total" to stderr about every 10 % (in place on a tty)."""
        tty = self.stderr.isatty()
        start, ending = ("\r", "") if tty else ("", "\n")
        step = max(1, total // 10)
        n = 0
        for n, record in enumerate(records, 1):
            yield record
            if n % step == 0 and n < total:
                self.stderr.write(f"{start}exported {n:,} / {total:,} records ({100 * n // total} %)", ending=ending)
        self.stderr.write(f"{start}exported {n:,} / {total:,} records (100 %)")


class _Counted:
    """An iterable that counts what passes through it."""

    def __init__(self, records: Iterable[dict]) -> None:
        self.records, self.n = records, 0

    def __iter__(self) -> Iterator[dict]:
        for record in self.records:
            self.n += 1
            yield record


def _replace(tmp: Path, out: Path) -> None:
    """Move the finished export into place; an old directory is swapped out, then removed."""
    if out.is_dir() and not out.is_symlink():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
    else:
        if tmp.is_dir() and out.exists():
            out.unlink()
        os.replace(tmp, out)


def _project_error(exc: BaseException | None) -> PrefStudioError | None:
    """The PrefStudioError behind `exc`, if any (datasets wraps what its generator raises)."""
    while exc is not None and not isinstance(exc, PrefStudioError):
        exc = exc.__cause__ or exc.__context__
    return exc


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size
