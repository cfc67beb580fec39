"""Importing preference data into a project: all or nothing, and idempotent.

`data_import` parses the whole file first (annotation/importing, no database); a file with any
bad record writes nothing and the error lists every bad line. Rows are keyed by external ids
(given, or derived from content), so importing the same file twice changes nothing, and a file
that adds labels to items already there (a judge's verdicts, say) adds just those labels.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from typing import IO

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from ..errors import PermissionDenied, PrefStudioError
from ..importing import ImportOptions, ItemRecord, LineError, ParseResult, parse_file
from ..importing.ids import content_id
from ..models import (
    Annotator,
    AnnotatorKind,
    Item,
    ItemResponse,
    Label,
    LabelStatus,
    Project,
    Prompt,
    Response,
    ResponseOrigin,
    Role,
)
from .bulk import Sink, default_sink
from .items import item_state_for, items_recount, label_source_for
from .projects import project_add_task_kinds, project_create

MAX_REPORTED_ERRORS = 1000


class ImportRejected(PrefStudioError):
    """The file has bad records (or conflicts with the project); nothing was written."""

    def __init__(self, errors: list[LineError]) -> None:
        shown = errors[:MAX_REPORTED_ERRORS]
        more = f" (and {len(errors) - len(shown)} more)" if len(errors) > len(shown) else ""
        super().__init__(
            f"import rejected: {len(errors)} bad record(s){more}; nothing was imported",
            field="file",
            details=[str(e) for e in shown],
        )
        self.errors = errors


@dataclass
class ImportReport:
    project: str
    format: str
    project_created: bool = False
    records: int = 0
    prompts_created: int = 0
    responses_created: int = 0
    items_created: int = 0
    items_existing: int = 0
    labels_created: int = 0
    labels_existing: int = 0
    annotators_created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def changed_nothing(self) -> bool:
        return not (self.prompts_created or self.responses_created or self.items_created or self.labels_created)


def data_import(
    *,
    project_slug: str,
    fmt: str,
    stream: IO[bytes],
    options: ImportOptions | None = None,
    skip_invalid: bool = False,
    user: AbstractBaseUser | None = None,
    sink: Sink | None = None,
) -> ImportReport:
    """Import a JSONL file of format `fmt` into project `project_slug`, creating the project if needed.

    With `skip_invalid`, valid records are imported and bad lines are listed in the report;
    otherwise any bad line rejects the whole file. `user`, when given, must own the project
    (or becomes the owner of the new one).
    """
    try:
        parsed = parse_file(stream, fmt, options)
    except ValueError as exc:
        raise PrefStudioError(str(exc), field="format") from exc
    if parsed.errors and not (skip_invalid and parsed.records):
        raise ImportRejected(parsed.errors)
    with transaction.atomic():
        project = Project.objects.select_for_update().filter(slug=project_slug).first()
        created = project is None
        if created:
            project = project_create(
                slug=project_slug, owner=user, task_kinds=sorted({r.kind for r in parsed.records})
            )
        elif user is not None and not project.memberships.filter(user=user, role=Role.OWNER).exists():
            raise PermissionDenied(f"only an owner of {project_slug!r} may import into it", field="project")
        else:
            project_add_task_kinds(project=project, kinds={r.kind for r in parsed.records})
        report = ImportReport(project=project.slug, format=fmt, project_created=created, records=len(parsed.records))
        report.skipped = [str(e) for e in parsed.errors]
        _Writer(project, sink or default_sink(), fresh=created).write(parsed, report)
    return report


class _Writer:
    """Writes parsed records into one project, inserting only rows whose keys are new."""

    def __init__(self, project: Project, sink: Sink, *, fresh: bool) -> None:
        self.project = project
        self.sink = sink
        self.fresh = fresh  # a project created by this import has no rows to look up
        self.errors: list[LineError] = []

    def write(self, parsed: ParseResult, report: ImportReport) -> None:
        records = parsed.records
        annotators = self._annotators(records, report)
        prompts = self._prompts(records, report)
        responses = self._responses(records, prompts, report)
        items, new_items, slots = self._items(records, prompts, responses, report)
        if self.errors:
            raise ImportRejected(sorted(self.errors, key=lambda e: e.line))
        edits = self._edit_responses(records, prompts, responses, annotators, report)
        touched = self._labels(records, prompts, items, new_items, annotators, edits, report)
        items_recount(item_ids=touched)

    # -- annotators ---------------------------------------------------------------------------
    def _annotators(self, records: list[ItemRecord], report: ImportReport) -> dict[str, Annotator]:
        wanted: dict[str, tuple[str, int]] = {}
        for record in records:
            for label in record.labels:
                kind, line = wanted.setdefault(label.annotator, (label.annotator_kind, record.line))
                if kind != label.annotator_kind:
                    self.errors.append(
                        LineError(record.line, f"annotator {label.annotator!r} is a {kind} on line {line} but a {label.annotator_kind} here")
                    )
        found = {a.name: a for a in Annotator.objects.filter(name__in=list(wanted))}
        for name, (kind, line) in wanted.items():
            if name in found and found[name].kind != kind:
                self.errors.append(LineError(line, f"annotator {name!r} already exists as a {found[name].kind}, not a {kind}"))
        missing = [Annotator(name=n, kind=k) for n, (k, _) in wanted.items() if n not in found]
        for annotator in Annotator.objects.bulk_create(missing):
            found[annotator.name] = annotator
            report.annotators_created.append(annotator.name)
        return found

    # -- prompts ------------------------------------------------------------------------------
    def _prompts(self, records: list[ItemRecord], report: ImportReport) -> dict[str, int]:
        existing = {} if self.fresh else dict(
            Prompt.objects.filter(project=self.project).values_list("external_id", "id")
        )
        seen: dict[str, ItemRecord] = {}
        rows = []
        for record in records:
            key = record.prompt_external_id
            first = seen.get(key)
            if first is not None:
                if first.messages != record.messages:
                    self.errors.append(LineError(record.line, f"prompt id {key!r} has other messages on line {first.line}"))
                continue
            seen[key] = record
            if key not in existing:
                rows.append({"project_id": self.project.pk, "external_id": key, "messages": record.messages, "metadata": record.prompt_metadata})
        for row, pk in zip(rows, self.sink.insert(Prompt, rows)):
            existing[row["external_id"]] = pk
        report.prompts_created = len(rows)
        return existing

    # -- responses ----------------------------------------------------------------------------
    def _responses(self, records: list[ItemRecord], prompts: dict[str, int], report: ImportReport) -> dict[tuple[int, str], int]:
        existing = {} if self.fresh else {
            (p, e): pk for p, e, pk in Response.objects.filter(prompt__project=self.project).values_list("prompt_id", "external_id", "id")
        }
        rows, keys = [], []
        for record in records:
            prompt_pk = prompts[record.prompt_external_id]
            for response in record.responses:
                key = (prompt_pk, response.external_id)
                if key in existing:
                    continue
                existing[key] = -1  # placeholder until inserted; also dedupes within the file
                keys.append(key)
                rows.append({
                    "prompt_id": prompt_pk, "external_id": response.external_id, "text": response.text,
                    "model_name": response.model_name, "gen_params": response.gen_params, "seed": response.seed,
                    "origin": ResponseOrigin.IMPORTED,
                })
        for key, pk in zip(keys, self.sink.insert(Response, rows)):
            existing[key] = pk
        report.responses_created = len(rows)
        return existing

    def _edit_responses(self, records, prompts, responses, annotators, report) -> dict[tuple[int, str], int]:
        """Edited texts become responses of origin human_edit whose parent is the edited one."""
        rows, keys = [], []
        edits: dict[tuple[int, str], int] = {}
        for record in records:
            if record.kind != "edit":
                continue
            prompt_pk = prompts[record.prompt_external_id]
            original = record.responses[0]
            for label in record.labels:
                if label.edited_text is None:
                    continue
                ext = content_id("edit", label.annotator, original.external_id, label.edited_text, prefix="e-")
                key = (prompt_pk, ext)
                if key in responses or key in edits:
                    edits.setdefault(key, responses.get(key, -1))
                    continue
                edits[key] = -1
                keys.append(key)
                rows.append({
                    "prompt_id": prompt_pk, "external_id": ext, "text": label.edited_text,
                    "model_name": "", "origin": ResponseOrigin.HUMAN_EDIT,
                    "parent_id": responses[(prompt_pk, original.external_id)],
                })
        for key, pk in zip(keys, self.sink.insert(Response, rows)):
            edits[key] = pk
        report.responses_created += len(rows)
        return edits

    # -- items --------------------------------------------------------------------------------
    def _items(self, records, prompts, responses, report):
        existing = {} if self.fresh else {
            ext: (pk, kind) for ext, pk, kind in Item.objects.filter(project=self.project).values_list("external_id", "id", "kind")
        }
        slots: dict[int, list[str]] = defaultdict(list)
        if existing:
            wanted = {existing[r.external_id][0] for r in records if r.external_id in existing}
            for item_pk, ext in (
                ItemResponse.objects.filter(item__project=self.project)
                .order_by("item_id", "position")
                .values_list("item_id", "response__external_id")
            ):
                if item_pk in wanted:
                    slots[item_pk].append(ext)
        item_rows, new_records = [], []
        for record in records:
            if record.external_id in existing:
                pk, kind = existing[record.external_id]
                if kind != record.kind or slots[pk] != [r.external_id for r in record.responses]:
                    self.errors.append(LineError(record.line, f"item {record.external_id!r} already exists with other responses or kind"))
                continue
            n_human = sum(1 for l in record.labels if l.annotator_kind == AnnotatorKind.HUMAN)
            n_judge = len(record.labels) - n_human
            item_rows.append({
                "project_id": self.project.pk, "prompt_id": prompts[record.prompt_external_id],
                "external_id": record.external_id, "kind": record.kind, "n_responses": len(record.responses),
                "n_human_labels": n_human, "n_judge_labels": n_judge,
                "source": label_source_for(n_human=n_human, n_judge=n_judge),
                "state": item_state_for(current="new", n_human=n_human, n_judge=n_judge, overlap=self.project.overlap),
                "metadata": record.metadata,
            })
            new_records.append(record)
        new_items: set[int] = set()
        slot_rows = []
        for record, pk in zip(new_records, self.sink.insert(Item, item_rows)):
            existing[record.external_id] = (pk, record.kind)
            new_items.add(pk)
            prompt_pk = prompts[record.prompt_external_id]
            for position, response in enumerate(record.responses):
                slot_rows.append({"item_id": pk, "position": position, "response_id": responses[(prompt_pk, response.external_id)]})
        self.sink.insert(ItemResponse, slot_rows)
        report.items_created = len(item_rows)
        report.items_existing = len(records) - len(item_rows)
        return {ext: pk for ext, (pk, _) in existing.items()}, new_items, slots

    # -- labels -------------------------------------------------------------------------------
    def _labels(self, records, prompts, items, new_items, annotators, edits, report) -> set[int]:
        """Insert labels; returns the existing items that got new labels (their counters are stale)."""
        old_items = {items[r.external_id] for r in records} - new_items
        have: set[tuple[int, int]] = set()
        if old_items:
            have = {
                pair for pair in Label.objects.filter(item__project=self.project).values_list("item_id", "annotator_id")
                if pair[0] in old_items
            }
        rows, touched = [], set()
        for record in records:
            item_pk = items[record.external_id]
            for label in record.labels:
                annotator = annotators[label.annotator]
                if (item_pk, annotator.pk) in have:
                    report.labels_existing += 1
                    continue
                edited = None
                if label.edited_text is not None:
                    ext = content_id("edit", label.annotator, record.responses[0].external_id, label.edited_text, prefix="e-")
                    edited = edits[(prompts[record.prompt_external_id], ext)]
                rows.append({
                    "item_id": item_pk, "annotator_id": annotator.pk, "kind": record.kind,
                    "status": LabelStatus.UNPARSABLE if label.unparsable else LabelStatus.OK,
                    "winner": label.winner, "strength": label.strength, "aspects": label.aspects,
                    "rationale": label.rationale, "ranking": label.ranking, "edited_response_id": edited,
                    "thumbs_up": label.thumbs_up, "shown_order": label.shown_order,
                    "time_spent_ms": label.time_spent_ms, "probability": label.probability,
                    "raw_output": label.raw_output, "swap_consistent": label.swap_consistent,
                })
                if item_pk not in new_items:
                    touched.add(item_pk)
        self.sink.insert(Label, rows)
        report.labels_created = len(rows)
        return touched

