"""Importing preference data into a project: all or nothing, and idempotent.

`data_import` reads the file with the Django-free parser (annotation/importing) in a helper
thread, a piece at a time, while this thread writes the pieces already read; everything happens
in one transaction, so a file with any bad record, or with a record that conflicts with the
project, writes nothing, and the error lists every bad line. Rows are keyed by external ids
(given, or derived from content), so importing the same file twice changes nothing, and a file
that adds labels to items already there (a judge's verdicts, say) adds just those labels.
"""
import time
from collections.abc import Callable, Iterator
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from ...errors import PermissionDenied, PrefStudioError
from ...importing import FORMATS, ImportLimits, ImportOptions, ParseResult
from ...models import Project, Role
from ..bulk import Sink, default_sink
from ..projects import project_create
from .parsing import ParseAhead, gc_paused
from .report import MAX_REPORTED_ERRORS, ImportRejected, ImportReport
from .writer import Writer

__all__ = [
    "MAX_REPORTED_ERRORS", "PIECE_RECORDS", "ImportRejected", "ImportReport", "data_import", "import_limits",
]

# Records per piece: parsed ahead by the helper thread and written in one round of COPYs. Large
# enough that per-statement costs vanish, small enough that writing starts early (5k and 20k
# were both slower on the 100k-pair benchmark).
PIECE_RECORDS = 10_000
# An import of this many records or more refreshes the planner's statistics of the tables it wrote
# (ANALYZE samples 30k rows a table: about a second at a million items). Until autovacuum gets to
# them, PostgreSQL would plan the pages' queries for the table's old size: on a project of 10k items
# just imported, the review queue's count took 3 s with nested loops planned for 39 items, 1 s after.
ANALYZE_AFTER_RECORDS = 10_000
_IMPORTED_TABLES = (
    "annotation_prompt", "annotation_response", "annotation_item", "annotation_itemresponse", "annotation_label",
)


def import_limits(**overrides: int | str) -> ImportLimits:
    """The size limits of the settings (prefstudio/settings/imports.py), with `overrides`."""
    return ImportLimits(**{
        "max_bytes": settings.PREFSTUDIO_IMPORT_MAX_DECOMPRESSED_BYTES,
        "max_line_bytes": settings.PREFSTUDIO_IMPORT_MAX_LINE_BYTES,
        "max_text_chars": settings.PREFSTUDIO_MAX_TEXT_CHARS,
        **overrides,
    })


def data_import(
    *,
    project_slug: str,
    fmt: str,
    stream: IO[bytes],
    options: ImportOptions | None = None,
    skip_invalid: bool = False,
    user: AbstractBaseUser | None = None,
    sink: Sink | None = None,
    requested_by: AbstractBaseUser | None = None,
    limits: ImportLimits | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a JSONL file of format `fmt` into project `project_slug`, creating the project if needed.

    With `skip_invalid`, valid records are imported and bad lines are listed in the report;
    otherwise any bad line rejects the whole file. Conflicts with rows already in the project
    reject it in both modes, and so does a file over a size limit (`limits`, by default the
    settings': a 413). `user`, when given, must own the project (or becomes the owner of the new
    one). `requested_by`: the person asking (the API), who must be allowed to create projects
    (PREFSTUDIO_PROJECT_CREATORS) if the slug names none. Reads `stream` in a helper thread that has
    finished when this returns. `progress`, if given, is called with (lines read, records written so
    far) after each piece, inside the import's transaction (so it must write elsewhere, if it writes).
    """
    if fmt not in FORMATS:
        raise PrefStudioError(f"unknown format {fmt!r}; choose one of {', '.join(sorted(FORMATS))}", field="format")
    started = time.perf_counter()
    report = ImportReport(project=project_slug, format=fmt)
    limits = limits or import_limits()
    reading = ParseAhead(stream, fmt, options, size=PIECE_RECORDS, limits=limits)
    with gc_paused(), reading as pieces, transaction.atomic():
        project = _project_for_import(slug=project_slug, user=user, report=report, requested_by=requested_by)
        writer = Writer(project, sink or default_sink(), report)
        parse_errors = writer.write_pieces(_reported(pieces, progress, report), skip_invalid=skip_invalid)
        stopped = any(e.limit for e in parse_errors)  # a size limit or too many bad lines: never partial
        if writer.errors or stopped or (parse_errors and not (skip_invalid and report.records)):
            raise ImportRejected(sorted(parse_errors + writer.errors, key=lambda e: e.line))
        finishing = time.perf_counter()
        writer.finish()
        report.skipped = [str(e) for e in parse_errors]
    if report.records >= ANALYZE_AFTER_RECORDS:
        _tables_analyze()
        _figures_in_background(project)
    report.timings = {
        "parse": pieces.cpu_seconds,
        "waiting": pieces.wait_seconds,
        "write": writer.seconds,
        "drain": writer.drain_seconds,
        "finish": time.perf_counter() - finishing,
        "total": time.perf_counter() - started,
    }
    return report


def _figures_in_background(project) -> None:
    """A project now too large for its pages to compute their figures (stored_figures.LIVE_LABELS): a worker
    computes the ones the pages open with, so that no first view waits for them (services.figures)."""
    from ...selectors.stored_figures import LIVE_LABELS, figures_signature  # the curation stack: only when needed
    from ..figures import OPENING_FIGURES, figures_refresh_enqueue

    if figures_signature(project)[1] > LIVE_LABELS:
        figures_refresh_enqueue(project_id=project.pk, names=OPENING_FIGURES)


def _tables_analyze() -> None:
    """Refresh PostgreSQL's statistics of the tables an import writes (after it committed, if not nested)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in _IMPORTED_TABLES:
            cursor.execute(f"ANALYZE {table}")


def _reported(
    pieces: Iterator[ParseResult], progress: Callable[[int, int], None] | None, report: ImportReport
) -> Iterator[ParseResult]:
    """The pieces, calling `progress(lines read, records written)` after each is written."""
    for piece in pieces:
        yield piece
        if progress is not None:
            progress(piece.n_lines, report.records)


def _project_for_import(*, slug: str, user: AbstractBaseUser | None, report: ImportReport,
                        requested_by: AbstractBaseUser | None) -> Project:
    """The project to import into, locked for the import; a new one if there is none (then `user` owns it)."""
    project = Project.objects.select_for_update().filter(slug=slug).first()
    if project is None:
        # Created before the first row, with its real kinds set in Writer.finish; a rejected
        # import rolls it back with everything else.
        report.project_created = True
        return project_create(slug=slug, owner=user, requested_by=requested_by)
    if user is not None and not project.memberships.filter(user=user, role=Role.OWNER).exists():
        raise PermissionDenied(f"only an owner of {slug!r} may import into it", field="project")
    return project
