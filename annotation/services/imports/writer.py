"""Writing parsed records into a project: new rows only, every conflict found, nothing on error."""
import hashlib
import time
from array import array
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import models
from django.db.models.functions import MD5
from django.utils import timezone

from ...importing import ItemRecord, LineError, ParseResult
from ...importing.ids import canonical_json, content_id
from ...importing.keyindex import KeyIndex, content_digest, key_digest
from ...models import (
    Annotator,
    AnnotatorKind,
    Item,
    ItemResponse,
    Label,
    LabelRole,
    LabelStatus,
    Project,
    Prompt,
    Response,
    ResponseOrigin,
)
from ..bulk import Sink
from ..items import item_state_for, items_recount, label_source_for
from ..projects import project_add_task_kinds
from .queue_slots import postgres_mode, queue_slots_add, queue_slots_deferred
from .report import ImportReport


@contextmanager
def foreign_keys_checked_per_statement() -> Iterator[None]:
    """Check the (deferred) foreign keys of the rows written here at the end of each statement.

    Django declares foreign keys DEFERRABLE INITIALLY DEFERRED, so PostgreSQL would queue one
    check per row and run them all at COMMIT: about a million checks for 100k pairs, more than
    half of PostgreSQL's work, done while this process has nothing left to do. Checked per COPY,
    they run while it parses and builds the next rows. The checks are the same; only their time
    moves. Must be entered inside the import's atomic block: if the import fails, rolling back
    its savepoint also restores the constraint mode.
    """
    with postgres_mode("SET CONSTRAINTS ALL IMMEDIATE", "SET CONSTRAINTS ALL DEFERRED"):
        yield


class DrySink:
    """Stands in for the sink once an import is rejected: writes nothing, hands out stand-in ids.

    The ids are negative, so they never meet a real row; the writer's checks (which compare
    keys) keep working, and every conflict in the file gets reported, not just the first.
    """

    def __init__(self) -> None:
        self._next = -1

    @contextmanager
    def session(self) -> Iterator["DrySink"]:
        yield self

    def insert(self, model: type[models.Model], columns: Sequence[str], rows: Sequence[Any]) -> list[int]:
        ids = list(range(self._next, self._next - len(rows), -1))
        self._next -= len(rows)
        return ids


# Label fields an import writes, in the order of the rows below; an existing label by the same
# annotator on the same item must agree on all of them (else the file conflicts with the project).
_LABEL_COLUMNS = (
    "item_id", "annotator_id", "kind", "status", "winner", "strength", "aspects", "rationale", "ranking",
    "edited_response_id", "thumbs_up", "shown_order", "time_spent_ms", "probability", "raw_output",
    "swap_consistent",
)


class Writer:
    """Writes parsed records into one project, piece by piece, inserting only rows whose keys are new.

    Keys (external ids) already in the project are looked up per piece; keys written earlier in
    this import are remembered in KeyIndexes (32 bytes a key: the row's id, the first line that used
    the key and a digest of what it said there), so memory does not grow with the texts, and a piece's
    own keys in plain dicts that are dropped after it. Each check that finds a conflict adds a
    LineError, and from then on nothing more is written (the import will be rejected and rolled back).
    """

    def __init__(self, project: Project, sink: Sink, report: ImportReport) -> None:
        self.project = project
        self.sink = sink
        self.dry_sink = DrySink()
        self.report = report
        self.fresh = report.project_created  # a project created by this import has no rows to look up
        self.dry = False
        self.errors: list[LineError] = []
        self.seconds = 0.0  # spent writing pieces (building rows, handing them to the sink)
        self.drain_seconds = 0.0  # spent waiting for the sink to finish, after the last piece
        self.kinds: set[str] = set()
        self.annotators: dict[str, tuple[int, str, int]] = {}  # name → (pk, kind, first line)
        # Every key of this import: prompt external id → (pk, first line, digest of the messages);
        # "prompt pk NUL response external id" → (pk, first line, digest of the text).
        self.prompt_index = KeyIndex()
        self.response_index = KeyIndex()
        # The keys of the piece being written (reset by `write`):
        self.prompts: dict[str, int] = {}  # external id → pk
        self.responses: dict[tuple[int, str], int] = {}  # (prompt pk, external id) → pk
        self.items: dict[str, int] = {}  # external id → pk
        self.new_items: set[int] = set()
        self.created_items = array("q")  # every item this import inserted: their queue slots are added at the end
        self.touched: set[int] = set()  # items that were there before and got new labels

    def _insert(self, model: type[models.Model], columns: Sequence[str], rows: list[tuple]) -> list[int]:
        sink = self.dry_sink if self.dry or self.errors else self.sink
        return sink.insert(model, columns, rows)

    def _error(self, line: int, reason: str) -> None:
        self.errors.append(LineError(line, reason))

    def write_pieces(self, pieces: Iterator[ParseResult], *, skip_invalid: bool) -> list[LineError]:
        """Write every piece's records; returns the bad lines. Check foreign keys per statement.

        A bad line, unless skipped, dooms the import: the records after it are still checked
        (so that every conflict is reported) but no longer written.
        """
        parse_errors: list[LineError] = []
        with foreign_keys_checked_per_statement(), queue_slots_deferred(), self.sink.session():
            for piece in pieces:
                parse_errors += piece.errors
                if parse_errors and not skip_invalid:
                    self.dry = True
                began = time.perf_counter()
                self.write(piece.records)
                self.seconds += time.perf_counter() - began
            began = time.perf_counter()  # the sink finishes what it has queued as the session ends
        self.drain_seconds = time.perf_counter() - began
        return parse_errors

    def write(self, records: list[ItemRecord]) -> None:
        if not records:
            return
        self.report.records += len(records)
        self.kinds.update(r.kind for r in records)
        self.prompts, self.responses, self.items, self.new_items = {}, {}, {}, set()
        self._annotators(records)
        self._prompts(records)
        self._responses(records)
        self._items(records)
        self._edit_responses(records)
        self._labels(records)

    def finish(self) -> None:
        """Add the new items' queue slots, update the counters of items that got labels, and the project's task
        kinds."""
        queue_slots_add(project_pk=self.project.pk, item_ids=self.created_items)
        items_recount(item_ids=self.touched)
        if self.report.project_created:
            self.project.task_kinds = sorted(self.kinds)
            self.project.save(update_fields=["task_kinds"])
        else:
            project_add_task_kinds(project=self.project, kinds=self.kinds)

    # -- annotators ---------------------------------------------------------------------------
    def _annotators(self, records: list[ItemRecord]) -> None:
        new: dict[str, tuple[str, int]] = {}  # name → (kind, first line), for names not met before
        for record in records:
            for label in record.labels:
                name, kind = label.annotator, label.annotator_kind
                known = self.annotators.get(name)
                first = (known[1], known[2]) if known is not None else new.setdefault(name, (kind, record.line))
                if first[0] != kind:
                    self._error(record.line, f"annotator {name!r} is a {first[0]} on line {first[1]} but a {kind} here")
        if not new:
            return
        names = list(new)
        there = set(Annotator.objects.filter(name__in=names).values_list("name", flat=True))
        missing = [Annotator(name=name, kind=kind) for name, (kind, _) in new.items() if name not in there]
        if missing and not (self.dry or self.errors):
            # ignore_conflicts: a concurrent import may create the same name; it is read back below.
            Annotator.objects.bulk_create(missing, ignore_conflicts=True)
            self.report.annotators_created += [a.name for a in missing]
        stored = {n: (pk, k) for n, pk, k in Annotator.objects.filter(name__in=names).values_list("name", "id", "kind")}
        for name, (kind, line) in new.items():
            pk, stored_kind = stored.get(name, (None, kind))
            if stored_kind != kind:
                self._error(line, f"annotator {name!r} already exists as a {stored_kind}, not a {kind}")
            if pk is None:  # not created: the import is rejected
                pk = self.dry_sink.insert(Annotator, (), [()])[0]
            self.annotators[name] = (pk, kind, line)

    # -- prompts ------------------------------------------------------------------------------
    def _prompts(self, records: list[ItemRecord]) -> None:
        digests = {key: key_digest(key) for key in dict.fromkeys(r.prompt_external_id for r in records)}
        earlier = self.prompt_index.find(list(digests.values()))  # written by an earlier piece
        fresh_keys = [key for key, digest in digests.items() if digest not in earlier]
        existing: dict[str, int] = {}
        if fresh_keys and not self.fresh:
            existing = dict(
                Prompt.objects.filter(project=self.project, external_id__in=fresh_keys).values_list("external_id", "id")
            )
        first_here: dict[str, tuple[int, int]] = {}  # key → (digest of the messages, line)
        rows, keys, compare = [], [], []
        project_pk = self.project.pk
        for record in records:
            key = record.prompt_external_id
            said = content_digest(record.messages_json or canonical_json(record.messages))
            first = earlier.get(digests[key])
            if first is not None:
                self.prompts[key] = first[0]
                first = (first[2], first[1])
            else:
                first = first_here.get(key)
            if first is not None:
                if first[0] != said:
                    self._error(record.line, f"prompt id {key!r} has other messages on line {first[1]}")
                continue
            first_here[key] = (said, record.line)
            if key in existing:
                self.prompts[key] = existing[key]
                compare.append(record)
            else:
                keys.append(key)
                rows.append((project_pk, key, record.messages, record.prompt_metadata))
        if compare:
            wanted = [existing[r.prompt_external_id] for r in compare]
            stored = dict(Prompt.objects.filter(pk__in=wanted).values_list("id", "messages"))
            for record in compare:
                if stored[existing[record.prompt_external_id]] != record.messages:
                    key = record.prompt_external_id
                    self._error(record.line, f"prompt id {key!r} already exists with other messages")
        for key, pk in zip(keys, self._insert(Prompt, ("project_id", "external_id", "messages", "metadata"), rows)):
            self.prompts[key] = pk
        self.prompt_index.add(
            [digests[key] for key in first_here], [self.prompts[key] for key in first_here],
            [line for _, line in first_here.values()], [said for said, _ in first_here.values()],
        )
        self.report.prompts_created += len(rows)

    # -- responses ----------------------------------------------------------------------------
    def _responses(self, records: list[ItemRecord]) -> None:
        prompts = self.prompts
        digests: dict[tuple[int, str], bytes] = {}
        for record in records:
            prompt_pk = prompts[record.prompt_external_id]
            for response in record.responses:
                key = (prompt_pk, response.external_id)
                if key not in digests:
                    digests[key] = _response_digest(key)
        earlier = self.response_index.find(list(digests.values()))  # written by an earlier piece
        existing = self._existing_responses(records) if len(earlier) < len(digests) else {}
        first_here: dict[tuple[int, str], tuple[int, int]] = {}  # key → (digest of the text, line)
        rows, keys, compare = [], [], []
        imported = ResponseOrigin.IMPORTED
        for record in records:
            prompt_pk = prompts[record.prompt_external_id]
            for response in record.responses:
                key = (prompt_pk, response.external_id)
                said = content_digest(response.text)
                first = earlier.get(digests[key])
                if first is not None:
                    self.responses[key] = first[0]
                    first = (first[2], first[1])
                else:
                    first = first_here.get(key)
                if first is not None:
                    if first[0] != said:
                        self._error(
                            record.line, f"response id {response.external_id!r} has other text on line {first[1]}"
                        )
                    continue
                first_here[key] = (said, record.line)
                if key in existing:
                    self.responses[key] = existing[key][0]
                    compare.append((record.line, response, existing[key][1]))
                    continue
                keys.append(key)
                rows.append((
                    prompt_pk, response.external_id, response.text, response.model_name, response.gen_params,
                    response.seed, imported,
                ))
        for line, response, digest in compare:
            if hashlib.md5(response.text.encode("utf-8")).hexdigest() != digest:
                self._error(line, f"response id {response.external_id!r} already exists with other text")
        columns = ("prompt_id", "external_id", "text", "model_name", "gen_params", "seed", "origin")
        for key, pk in zip(keys, self._insert(Response, columns, rows)):
            self.responses[key] = pk
        self.response_index.add(
            [digests[key] for key in first_here], [self.responses[key] for key in first_here],
            [line for _, line in first_here.values()], [said for said, _ in first_here.values()],
        )
        self.report.responses_created += len(rows)

    def _existing_responses(self, records: list[ItemRecord]) -> dict[tuple[int, str], tuple[int, str]]:
        """(prompt pk, external id) → (pk, md5 of the text) for this piece's responses already stored."""
        if self.fresh:
            return {}
        prompt_pks = {self.prompts[r.prompt_external_id] for r in records}
        prompt_pks = [pk for pk in prompt_pks if pk > 0]  # stand-in ids of a rejected import are < 0
        if not prompt_pks:
            return {}
        external_ids = {response.external_id for r in records for response in r.responses}
        found = (
            Response.objects.filter(prompt_id__in=prompt_pks, external_id__in=external_ids)
            .annotate(digest=MD5("text"))
            .values_list("prompt_id", "external_id", "id", "digest")
        )
        return {(p, e): (pk, digest) for p, e, pk, digest in found}

    def _edit_responses(self, records: list[ItemRecord]) -> None:
        """Edited texts become responses of origin human_edit whose parent is the edited one."""
        wanted = []
        for record in records:
            if record.kind != "edit":
                continue
            prompt_pk = self.prompts[record.prompt_external_id]
            original = record.responses[0]
            for label in record.labels:
                if label.edited_text is not None:
                    key = (prompt_pk, _edit_id(label.annotator, original.external_id, label.edited_text))
                    wanted.append((key, label.edited_text, self.responses[(prompt_pk, original.external_id)],
                                   record.line))
        if not wanted:
            return
        digests = {key: _response_digest(key) for key, _, _, _ in wanted}
        earlier = self.response_index.find(list(digests.values()))
        for key, digest in digests.items():
            if digest in earlier:
                self.responses[key] = earlier[digest][0]
        if not self.fresh:
            prompt_pks = [key[0] for key, _, _, _ in wanted if key[0] > 0]
            for p, e, pk in Response.objects.filter(
                prompt_id__in=prompt_pks, external_id__in=[key[1] for key, _, _, _ in wanted]
            ).values_list("prompt_id", "external_id", "id"):
                self.responses.setdefault((p, e), pk)
        rows, keys, lines = [], [], []
        for key, text, parent, line in wanted:
            if key in self.responses:
                continue
            self.responses[key] = 0  # placeholder until inserted; also dedupes within the file
            keys.append(key)
            lines.append((line, content_digest(text)))
            rows.append((key[0], key[1], text, ResponseOrigin.HUMAN_EDIT, parent))
        columns = ("prompt_id", "external_id", "text", "origin", "parent_id")
        for key, pk in zip(keys, self._insert(Response, columns, rows)):
            self.responses[key] = pk
        self.response_index.add(
            [digests[key] for key in keys], [self.responses[key] for key in keys],
            [line for line, _ in lines], [said for _, said in lines],
        )
        self.report.responses_created += len(rows)

    # -- items --------------------------------------------------------------------------------
    def _items(self, records: list[ItemRecord]) -> None:
        existing: dict[str, tuple[int, str, int]] = {}
        references: dict[int, Any] = {}  # existing item pk -> its stored reference
        slots: dict[int, list[str]] = defaultdict(list)
        if not self.fresh:
            existing = {}
            for e, pk, kind, prompt, reference in Item.objects.filter(
                project=self.project, external_id__in=[r.external_id for r in records]
            ).values_list("external_id", "id", "kind", "prompt_id", "reference"):
                existing[e] = (pk, kind, prompt)
                references[pk] = reference
            if existing:
                for item_pk, ext in (
                    ItemResponse.objects.filter(item_id__in=[pk for pk, _, _ in existing.values()])
                    .order_by("item_id", "position")
                    .values_list("item_id", "response__external_id")
                ):
                    slots[item_pk].append(ext)
        rows, new_records = [], []
        project_pk, overlap, human = self.project.pk, self.project.overlap, AnnotatorKind.HUMAN.value
        derived: dict[tuple[int, int], tuple[str, str]] = {}  # (n_human, n_judge) → (source, state)
        for record in records:
            prompt_pk = self.prompts[record.prompt_external_id]
            if record.external_id in existing:
                pk, kind, stored_prompt = existing[record.external_id]
                self.items[record.external_id] = pk
                self.report.items_existing += 1
                if kind != record.kind:
                    self._error(record.line, f"item {record.external_id!r} already exists as a {kind} item")
                elif stored_prompt != prompt_pk or slots[pk] != [r.external_id for r in record.responses]:
                    self._error(
                        record.line, f"item {record.external_id!r} already exists with another prompt or other responses"
                    )
                elif record.reference is not None and record.reference != references.get(pk) and not (
                        self.dry or self.errors):
                    # A file that brings a reference for a known item sets it (inside the import's transaction:
                    # a rejected file rolls it back); a file without one leaves the stored one alone.
                    Item.objects.filter(pk=pk).update(reference=record.reference, updated_at=timezone.now())
                continue
            n_human = 0
            for label in record.labels:
                if label.annotator_kind == human:
                    n_human += 1
            n_judge = len(record.labels) - n_human
            source_state = derived.get((n_human, n_judge))
            if source_state is None:
                source_state = derived[n_human, n_judge] = (
                    label_source_for(n_human=n_human, n_judge=n_judge),
                    item_state_for(current="new", n_human=n_human, n_judge=n_judge, overlap=overlap),
                )
            rows.append((
                project_pk, prompt_pk, record.external_id, record.kind, len(record.responses), n_human, n_judge,
                *source_state, record.metadata, record.reference,
            ))
            new_records.append((record, prompt_pk))
        columns = (
            "project_id", "prompt_id", "external_id", "kind", "n_responses", "n_human_labels", "n_judge_labels",
            "source", "state", "metadata", "reference",
        )
        slot_rows = []
        responses = self.responses
        for (record, prompt_pk), pk in zip(new_records, self._insert(Item, columns, rows)):
            self.items[record.external_id] = pk
            self.new_items.add(pk)
            self.created_items.append(pk)
            for position, response in enumerate(record.responses):
                slot_rows.append((pk, position, responses[(prompt_pk, response.external_id)]))
        self._insert(ItemResponse, ("item_id", "position", "response_id"), slot_rows)
        self.report.items_created += len(rows)

    # -- labels -------------------------------------------------------------------------------
    def _labels(self, records: list[ItemRecord]) -> None:
        items, new_items = self.items, self.new_items
        old_items = [items[r.external_id] for r in records if r.labels and items[r.external_id] not in new_items]
        have: dict[tuple[int, int], tuple] = {}
        if old_items:
            have = {
                (row[0], row[1]): row
                for row in Label.objects.filter(item_id__in=old_items, role=LabelRole.ANNOTATION).values_list(
                    *_LABEL_COLUMNS
                )
            }
        rows = []
        ok, unparsable = LabelStatus.OK, LabelStatus.UNPARSABLE
        for record in records:
            item_pk = items[record.external_id]
            for label in record.labels:
                annotator_pk = self.annotators[label.annotator][0]
                edited = None
                if label.edited_text is not None:
                    prompt_pk = self.prompts[record.prompt_external_id]
                    edited = self.responses[
                        (prompt_pk, _edit_id(label.annotator, record.responses[0].external_id, label.edited_text))
                    ]
                row = (
                    item_pk, annotator_pk, record.kind, unparsable if label.unparsable else ok, label.winner,
                    label.strength, label.aspects, label.rationale, label.ranking, edited, label.thumbs_up,
                    label.shown_order, label.time_spent_ms, label.probability, label.raw_output,
                    label.swap_consistent,
                )
                if item_pk not in new_items:
                    stored = have.get((item_pk, annotator_pk))
                    if stored is not None:
                        if stored != row:
                            said = f"already has a label by {label.annotator!r} that says otherwise"
                            self._error(record.line, f"item {record.external_id!r} {said}")
                        self.report.labels_existing += 1
                        continue
                    self.touched.add(item_pk)
                rows.append(row)
        self._insert(Label, _LABEL_COLUMNS, rows)
        self.report.labels_created += len(rows)


def _response_digest(key: tuple[int, str]) -> bytes:
    """The response index's key of (prompt pk, external id)."""
    return key_digest(f"{key[0]}\x00{key[1]}")


def _edit_id(annotator: str, original_external_id: str, edited_text: str) -> str:
    """The external id of an edit response; services/labels.py keys interactive edits the same way."""
    return content_id("edit", annotator, original_external_id, edited_text, prefix="e-")
