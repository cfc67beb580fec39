"""Reads behind a job page that a person can read: the result as facts and tables (never raw JSON), the metric
series summed up, the evaluation next to its baselines, a failed job's one-line reason, and the rows a job wrote
into annotation's tables -- generated candidates (Items of a generate job) and judge verdicts (Labels of a judge
job's annotator) -- as pages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator

from annotation.models import Item, Label

from .engine.trainers.registry import trainer_kinds
from .models import Job, JobKind, JobState, ModelArtifact
from .selectors import job_metric_series, jobs_for_user

__all__ = [
    "JobResult", "MetricTable", "RecordRow", "job_result", "job_metric_summary", "job_failure_reason",
    "job_records_page", "job_eta_seconds", "job_evaluations_of_model",
]

RECORDS_PAGE_SIZE = 20
# Keys of a result shown in their own section, not among the facts.
SECTIONED = {"metrics", "evaluation", "win_rate"}
OUTCOMES = {"wins": "policy wins", "losses": "base model wins", "ties": "tie", "unparsable": "unreadable verdict"}
MAX_LIST_ITEMS = 12  # a list fact shows this many values, then "… (N in all)"


@dataclass(frozen=True)
class MetricTable:
    """A table of numbers: one row per metric, one column per model (or baseline)."""

    title: str
    columns: list[str]
    rows: list[tuple[str, list[Any]]]  # (metric label, value per column; None = not measured)
    note: str = ""


@dataclass(frozen=True)
class JobResult:
    facts: list[tuple[str, Any]]  # (label, scalar or short list) of the result
    tables: list[MetricTable] = field(default_factory=list)
    win_rate: dict[str, Any] | None = None  # counts and up to three examples (engine/trainers/win_rate.py)
    examples: list[tuple[str, str, str, str]] = field(default_factory=list)  # (prompt, policy, reference, outcome)


def _label(key: str) -> str:
    return key.replace("_", " ")


def _flat(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """{"a": {"b": 1}, "c": [1, 2]} -> [("a b", 1), ("c", [1, 2])]: nested dicts as one fact per leaf."""
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for key, inner in value.items():
            out += _flat(inner, f"{prefix}{_label(str(key))} ")
        return out
    if isinstance(value, (list, tuple)) and len(value) > MAX_LIST_ITEMS:
        value = [*value[:MAX_LIST_ITEMS], f"… ({len(value)} in all)"]
    return [(prefix.strip(), value)]


def _eval_rows(metrics: dict[str, Any], columns: int, index: int) -> list[tuple[str, list[Any]]]:
    """Rows of one evaluation dict (evaluation.py's shape) put in column `index` of `columns`."""
    rows: list[tuple[str, list[Any]]] = []
    for key, value in metrics.items():
        if isinstance(value, dict):  # by_source / by_noise: {group: {"n", "accuracy"}}
            for group, inner in value.items():
                for name, number in (inner.items() if isinstance(inner, dict) else []):
                    cells = [None] * columns
                    cells[index] = number
                    rows.append((f"{_label(name)} ({_label(key).removeprefix('by ')} {group})", cells))
        elif not isinstance(value, list):
            cells = [None] * columns
            cells[index] = value
            rows.append((_label(key), cells))
    return rows


def _merge(rows: list[tuple[str, list[Any]]]) -> list[tuple[str, list[Any]]]:
    """Rows of the same label merged into one (each column keeps its first value), in first-seen order."""
    merged: dict[str, list[Any]] = {}
    for name, cells in rows:
        if name not in merged:
            merged[name] = list(cells)
        else:
            merged[name] = [a if a is not None else b for a, b in zip(merged[name], cells)]
    ordered = sorted(merged.items(), key=lambda kv: ("(" in kv[0], kv[0] != "accuracy"))  # overall numbers first
    return ordered


HEURISTIC_BASELINES = ("longer response wins", "chance")  # shown after the models (jsonb does not keep key order)


def _evaluation_table(evaluation: dict[str, Any], model: str) -> MetricTable:
    given = evaluation.get("baselines") or {}
    order = sorted(given, key=lambda name: (HEURISTIC_BASELINES.index(name) if name in HEURISTIC_BASELINES else -1))
    baselines = {name: given[name] for name in order}
    columns = [model, *baselines]
    rows = _eval_rows(evaluation.get("model") or {}, len(columns), 0)
    for i, metrics in enumerate(baselines.values(), start=1):
        rows += _eval_rows(metrics or {}, len(columns), i)
    return MetricTable("Held-out evaluation", columns, _merge(rows),
                       note="On the dataset version's test split; — where a baseline does not measure it.")


def job_result(job: Job) -> JobResult:
    """The job's result (its `artifacts`) as facts, tables and the win rate; empty for a job with no result."""
    artifacts = job.artifacts if isinstance(job.artifacts, dict) else {}
    facts: list[tuple[str, Any]] = []
    for key, value in artifacts.items():
        if key not in SECTIONED:
            facts += _flat(value, f"{_label(key)} ")
    tables = []
    if isinstance(artifacts.get("evaluation"), dict):
        tables.append(_evaluation_table(artifacts["evaluation"], str(artifacts.get("model") or "model")))
    if isinstance(artifacts.get("metrics"), dict) and artifacts["metrics"]:
        # A training job's end-of-training evaluation on the test split; chance is the baseline of a pairwise
        # accuracy (an evaluate job of the model adds the others).
        name = str(artifacts.get("model_artifact") or "trained model")
        evaluation = {"model": artifacts["metrics"]}
        if "accuracy" in artifacts["metrics"]:
            evaluation["baselines"] = {"chance": {"accuracy": 0.5}}
        tables.append(_evaluation_table(evaluation, name))
    win_rate = artifacts.get("win_rate") if isinstance(artifacts.get("win_rate"), dict) else None
    if win_rate is not None:
        # The base model against itself wins half (ties count half): the win rate's baseline.
        tables.append(MetricTable("Win rate against the base model", ["trained policy", "base model (by definition)"],
                                  [("win rate", [win_rate.get("win_rate"), 0.5]),
                                   *((_label(k), [win_rate.get(k), None]) for k in ("wins", "losses", "ties",
                                                                                    "unparsable", "n"))],
                                  note=f"Judged by {win_rate.get('judge') or 'the judge'} on "
                                       f"{win_rate.get('prompts', '?')} held-out prompts."))
    examples = [(_prompt_text(e.get("prompt")), str(e.get("policy", "")), str(e.get("reference", "")),
                 OUTCOMES.get(e.get("outcome"), "—"))
                for e in (win_rate or {}).get("examples") or [] if isinstance(e, dict)]
    return JobResult(facts, tables, win_rate, examples)


def job_metric_summary(job: Job) -> list[tuple[str, Any, Any, Any, int, int]]:
    """One row per recorded metric series: (name, last value, min, max, points, last step)."""
    rows = []
    for series in job_metric_series(job):
        values = [p["y"] for p in series.points]
        rows.append((series.name, values[-1], min(values), max(values), len(values), series.points[-1]["x"]))
    return rows


_EXCEPTION_PREFIX = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Denied|NotFound|Conflict|Exit): ")


def job_failure_reason(job: Job) -> str:
    """A failed job's reason in one line, without the exception's class name: what anyone who sees the job may
    read (the traceback is in the log, which only its managers see)."""
    if job.state != JobState.FAILED:
        return ""
    first = next((line.strip() for line in (job.error or job.message or "failed").splitlines() if line.strip()), "")
    return _EXCEPTION_PREFIX.sub("", first)[:300] or "failed"


def job_eta_seconds(job: Job, *, now: Any) -> float | None:
    """Seconds left of a running job, as of `now`: the runner's estimate, or the pace since the job started when
    that is longer -- so the ETA keeps moving while a step takes longer than the ones before (the runner writes
    its estimate only when the progress moves)."""
    if job.state != JobState.RUNNING or job.eta_seconds is None:
        return None
    fraction = job.progress / 100.0
    if job.started_at is None or not 0.0 < fraction < 1.0:
        return job.eta_seconds
    elapsed = (now - job.started_at).total_seconds()
    return max(job.eta_seconds, elapsed * (1.0 - fraction) / fraction)


# -- the rows a job wrote ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordRow:
    """One generated item or judge verdict, ready to show (model output is text: the template escapes it)."""

    item_id: int
    prompt: str
    candidates: list[tuple[str, str, str]]  # (position letter, model name, text)
    verdict: str = ""
    probability: float | None = None
    rationale: str = ""
    agreement: str = ""  # both-order agreement: "agree" | "disagree" | "" (not asked)
    judge: str = ""


def _prompt_text(messages: Any) -> str:
    """The last user turn of a chat conversation (what the candidates answer)."""
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return str(message.get("content", ""))
        return str(messages[-1].get("content", "")) if messages and isinstance(messages[-1], dict) else ""
    return str(messages or "")


def _letter(position: int) -> str:
    return chr(ord("A") + position) if position < 26 else str(position + 1)


def _candidates(item: Item) -> list[tuple[str, str, str]]:
    slots = sorted(item.slots.all(), key=lambda s: s.position)
    return [(_letter(s.position), s.response.model_name, s.response.text) for s in slots]


def _verdict(label: Label) -> str:
    if label.status != "ok":
        return "unreadable"
    if label.winner:
        return label.get_winner_display()
    if label.ranking:
        return " > ".join("=".join(_letter(int(p)) for p in group) for group in label.ranking)
    return "—"


def _judge_labels(job: Job):
    annotator_id = (job.artifacts or {}).get("annotator_id") if isinstance(job.artifacts, dict) else None
    if job.kind != JobKind.JUDGE or annotator_id is None:
        return None
    # One judge annotator may serve several jobs (same model, template and sampling): this job's verdicts are
    # those it wrote while it ran.
    labels = Label.objects.filter(annotator_id=annotator_id, item__project_id=job.project_id,
                                  created_at__gte=job.created_at)
    if job.finished_at is not None:
        labels = labels.filter(created_at__lte=job.finished_at)
    return labels.select_related("item__prompt", "annotator").prefetch_related("item__slots__response").order_by("pk")


def job_records_page(job: Job, *, page: Any) -> tuple[str, Page | None]:
    """("verdicts" | "candidates" | "", a page of RecordRows): a judge job's verdicts, a generate job's items.

    `page` is the requested page number (anything; Paginator.get_page clamps it)."""
    labels = _judge_labels(job)
    if labels is not None:
        result = Paginator(labels, RECORDS_PAGE_SIZE).get_page(page)
        result.object_list = [
            RecordRow(item_id=label.item_id, prompt=_prompt_text(label.item.prompt.messages),
                      candidates=_candidates(label.item), verdict=_verdict(label), probability=label.probability,
                      rationale=label.rationale, judge=label.annotator.name,
                      agreement={True: "agree", False: "disagree"}.get(label.swap_consistent, ""))
            for label in result.object_list
        ]
        return "verdicts", result
    if job.kind == JobKind.GENERATE:
        items = (Item.objects.filter(project_id=job.project_id, metadata__job=job.pk).select_related("prompt")
                 .prefetch_related("slots__response").order_by("pk"))
        result = Paginator(items, RECORDS_PAGE_SIZE).get_page(page)
        result.object_list = [RecordRow(item_id=item.pk, prompt=_prompt_text(item.prompt.messages),
                                        candidates=_candidates(item)) for item in result.object_list]
        return "candidates", result
    return "", None


def job_evaluations_of_model(*, user: Any, job: Job) -> tuple[ModelArtifact | None, list[Job]]:
    """(the model a training job registered, the evaluate jobs of it that `user` may see, newest first)."""
    if job.kind not in trainer_kinds():
        return None, []
    artifact = ModelArtifact.objects.filter(produced_by=job).only("pk", "name").first()
    if artifact is None:
        return None, []
    jobs = jobs_for_user(user=user).filter(kind=JobKind.EVALUATE, config__model_id=artifact.pk)
    return artifact, list(jobs[:10])
