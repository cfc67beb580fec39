"""Reads of dataset versions: which versions a user sees, a version's rows, and the raw votes behind them.

Rows and votes are read in chunks by keyset — rows by (version, index), votes by (item, label id) —
so an export never loads a version into memory and never pages with OFFSET (each chunk is one index
range scan, however deep into the version it is).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, Min, QuerySet

from ..curation.export import ExportOptions, format_row, vote_record
from ..errors import NotFound, PrefStudioError
from ..models import DatasetRow, DatasetVersion, DroppedItem, Label, Project
from . import project_for_user
from .identities import AnnotatorNames

__all__ = [
    "CHUNK_SIZE", "dataset_versions_for_user", "dataset_version_for_user", "dataset_version_get",
    "dataset_version_counts", "version_row_counts", "VersionRowPages", "dropped_items", "dataset_rows",
    "dataset_rows_iter", "dataset_votes_iter", "dataset_export_count", "dataset_export_records",
]

# Rows per query: big enough that the round trips do not dominate, small enough that a chunk of
# long conversations stays a few MB.
CHUNK_SIZE = 2_000
ROW_COLUMNS = ("index", "split", "kind", "data", "weight", "provenance")
VOTE_COLUMNS = {
    "item": "item__external_id", "item_kind": "item__kind", "annotator": "annotator__name",
    "annotator_kind": "annotator__kind", "role": "role", "status": "status", "winner": "winner",
    "ranking": "ranking", "thumbs_up": "thumbs_up", "edited_text": "edited_response__text", "strength": "strength",
    "probability": "probability", "swap_consistent": "swap_consistent", "rationale": "rationale",
}


# -- versions ----------------------------------------------------------------------------------------
def dataset_versions_for_user(*, user: AbstractBaseUser, slug: str) -> QuerySet[DatasetVersion]:
    """The versions of one of the user's projects, newest first; NotFound for a non-member."""
    project = project_for_user(user=user, slug=slug)
    return DatasetVersion.objects.filter(project=project).select_related("project", "created_by").order_by("-number")


def dataset_version_for_user(*, user: AbstractBaseUser, slug: str, number: int) -> DatasetVersion:
    """Version `number` of one of the user's projects; `version.project.role` is the user's role."""
    project = project_for_user(user=user, slug=slug)
    version = DatasetVersion.objects.filter(project=project, number=number).select_related("created_by").first()
    if version is None:
        raise NotFound(f"project {slug!r} has no dataset version {number}", field="number")
    version.project = project  # the instance annotated with the user's role
    return version


def dataset_version_get(*, slug: str, number: int) -> DatasetVersion:
    """Version `number` of project `slug`, without access checks (the command line)."""
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        raise NotFound(f"no project {slug!r}", field="project")
    version = DatasetVersion.objects.filter(project=project, number=number).first()
    if version is None:
        raise NotFound(f"project {slug!r} has no dataset version {number}", field="number")
    return version


def version_row_counts(*, version: DatasetVersion) -> dict[str, dict[str, int]]:
    """Rows per split, per kind and per label source: {"splits": {"train": n, ...}, "kinds": {...},
    "sources": {...}} (source "" where a row's provenance names none).

    A version never changes after its freeze, which stores these counts in `stats["row_counts"]`
    (services.datasets): read from there, a page of a million-row version counts nothing. Older versions
    are counted from their rows (one GROUP BY)."""
    stored = _frozen_row_counts(version)
    if stored is None:
        stored = [[split, kind, source, n] for split, kind, source, n in (
            DatasetRow.objects.filter(version=version).values_list("split", "kind", "provenance__source")
            .annotate(n=Count("id")).order_by())]
    counts: dict[str, dict[str, int]] = {"splits": {}, "kinds": {}, "sources": {}}
    for split, kind, source, n in stored:
        for key, value in (("splits", split), ("kinds", kind), ("sources", str(source or ""))):
            counts[key][value] = counts[key].get(value, 0) + int(n)
    return counts


def _frozen_row_counts(version: DatasetVersion) -> list[list] | None:
    """[[split, kind, source, n], ...] as the freeze stored them in the version's stats; None for older versions."""
    return (version.stats or {}).get("row_counts")


def dropped_items(*, version: DatasetVersion, chunk_size: int = 20_000) -> Iterator[dict[str, str]]:
    """{"item": external id, "reason": why the run dropped it} of every item `version` left out, by external id."""
    rows = DroppedItem.objects.filter(version=version).order_by("external_id").values_list("external_id", "reason")
    for external_id, reason in rows.iterator(chunk_size=chunk_size):
        yield {"item": external_id, "reason": reason}


def dataset_version_counts(*, version: DatasetVersion) -> dict[str, dict[str, int]]:
    """Rows per split and per kind: {"splits": {"train": n, ...}, "kinds": {...}} (see version_row_counts)."""
    counts = version_row_counts(version=version)
    return {"splits": counts["splits"], "kinds": counts["kinds"]}


class VersionRowPages:
    """The rows of `dataset_rows(version, split)` as a sequence that Django's Paginator and DRF's pagination
    slice, without a COUNT over the version: its length comes from `version_row_counts`, and a page of the whole
    version ("all") is an index range (indexes are dense from 0), one index scan however deep the page.
    A page of one split is an OFFSET within that split."""

    def __init__(self, *, version: DatasetVersion, split: str = "all", rows: QuerySet[DatasetRow] | None = None) -> None:
        """`rows`: the version's rows of `split` in index order (default `dataset_rows(version, split)`)."""
        self.version, self.split = version, split
        splits = version_row_counts(version=version)["splits"]
        self._len = sum(splits.values()) if split == "all" else splits.get(split, 0)
        self.rows = dataset_rows(version=version, split=split) if rows is None else rows

    def __len__(self) -> int:
        return self._len

    def count(self) -> int:
        return self._len

    def __getitem__(self, key):
        if not isinstance(key, slice):
            return self[key:key + 1][0]
        start, stop, _ = key.indices(self._len)
        if self.split == "all":
            return list(self.rows.filter(index__gte=start, index__lt=stop))
        return list(self.rows[start:stop])


# -- rows --------------------------------------------------------------------------------------------
def dataset_rows(*, version: DatasetVersion, split: str = "all", kind: str | None = None) -> QuerySet[DatasetRow]:
    """The version's rows of `split` ("train", "test" or "all") and `kind` (any if None), in index order."""
    rows = DatasetRow.objects.filter(version=version)
    if split != "all":
        rows = rows.filter(split=split)
    if kind is not None:
        rows = rows.filter(kind=kind)
    return rows.select_related("item").order_by("index")


def dataset_rows_iter(
    *, version: DatasetVersion, split: str = "all", kind: str | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[dict[str, Any]]:
    """Row dicts (ROW_COLUMNS) in index order, one query per range of `chunk_size` indexes.

    Keyset by (version, index) ranges rather than LIMIT: each query reads at most `chunk_size` rows
    whatever plan PostgreSQL picks (with the statistics of a table just filled by a new version, a
    LIMIT query was planned as a sort of the whole rest of the version, for every chunk). Indexes are
    dense from 0 (a sparse version only costs some near-empty queries). At most one chunk is held at a
    time; versions are immutable, so the queries need no common snapshot.
    """
    rows = dataset_rows(version=version, split=split, kind=kind).values(*ROW_COLUMNS)
    for low in _index_ranges(version, chunk_size):
        yield from _drain(list(rows.filter(index__gte=low, index__lt=low + chunk_size)))


def _index_ranges(version: DatasetVersion, chunk_size: int) -> range:
    """The first index of each chunk of the version: one aggregate query."""
    bounds = DatasetRow.objects.filter(version=version).aggregate(low=Min("index"), high=Max("index"))
    if bounds["low"] is None:
        return range(0)
    return range(bounds["low"], bounds["high"] + 1, chunk_size)


def _drain(chunk: list) -> Iterator:
    """The chunk's items in order, each dropped from the chunk as it is handed on: the next query's
    rows then never sit in memory beside a whole previous chunk."""
    chunk.reverse()
    while chunk:
        yield chunk.pop()


def dataset_votes_iter(
    *, version: DatasetVersion, names: AnnotatorNames, split: str = "all", chunk_size: int = CHUNK_SIZE
) -> Iterator[dict[str, Any]]:
    """Every label (parsed or not, annotations and reviewer resolutions) of the items behind the
    version's rows of `split`: items by their first row's chunk (then by id), each item's labels by id.

    Dicts with the keys of VOTE_COLUMNS; `annotator` is the name as `names` shows it to its viewer
    (a pseudonym in a blind project, for all but owners). Walks the rows in ranges of `chunk_size`
    indexes (as `dataset_rows_iter`) and reads the labels of the items first seen in that range: an
    item behind several rows (a ranking expanded to pairs) is emitted once, and nothing grows with the version.
    """
    rows = _version_rows(version, split).order_by().values_list("item_id", flat=True)
    columns = {key: column for key, column in VOTE_COLUMNS.items() if key != "annotator"}
    labels = Label.objects.order_by("item_id", "id").values_list("annotator_id", *columns.values())
    keys = tuple(columns)
    for low in _index_ranges(version, chunk_size):
        items = set(rows.filter(index__gte=low, index__lt=low + chunk_size))
        if not items:
            continue
        items -= set(rows.filter(item_id__in=items, index__lt=low))  # emitted with an earlier chunk
        for annotator_id, *values in labels.filter(item_id__in=items):
            yield {**dict(zip(keys, values)), "annotator": names.name(annotator_id)}


def _version_rows(version: DatasetVersion, split: str) -> QuerySet[DatasetRow]:
    """The version's rows of `split` that come from an item (rows of a deleted item have none)."""
    rows = DatasetRow.objects.filter(version=version, item__isnull=False)
    return rows if split == "all" else rows.filter(split=split)


# -- exports -----------------------------------------------------------------------------------------
def dataset_export_count(*, version: DatasetVersion, options: ExportOptions) -> int:
    """How many records the export will have; PrefStudioError (naming format or split) if none.

    An empty export is refused rather than written: a training job fed an empty file fails much
    later and much less clearly.
    """
    if options.kind is None:
        n = Label.objects.filter(item_id__in=_version_rows(version, options.split).values("item_id")).count()
        what = "labels on its items"
    else:
        stored = _frozen_row_counts(version)  # no COUNT of a million rows
        n = (sum(int(c) for split, kind, _, c in stored if kind == options.kind and options.split in ("all", split))
             if stored is not None else dataset_rows(version=version, split=options.split, kind=options.kind).count())
        what = f"{options.kind} rows"
    if n == 0:
        field = "format" if dataset_rows(version=version, split=options.split).exists() else "split"
        where = "" if options.split == "all" else f" in split {options.split!r}"
        raise PrefStudioError(
            f"version {version.number} has no {what}{where}: nothing to export as {options.format}", field=field
        )
    return n


def dataset_export_records(
    *, version: DatasetVersion, options: ExportOptions, names: AnnotatorNames, chunk_size: int = CHUNK_SIZE
) -> Iterator[dict[str, Any]]:
    """The export's records, one at a time (see annotation/curation/export.py for their shapes), naming
    annotators (raw votes, and the reasons in provenance) as `names` shows them to its viewer."""
    if options.kind is None:
        for label in dataset_votes_iter(version=version, names=names, split=options.split, chunk_size=chunk_size):
            yield vote_record(label)
        return
    for row in dataset_rows_iter(version=version, split=options.split, kind=options.kind, chunk_size=chunk_size):
        row["provenance"] = names.render_provenance(row["provenance"])
        yield format_row(row, options)
