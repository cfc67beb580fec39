"""An LLM judge at work: asks the backend, reads the answers, scores, and returns one result per item.

`Judge.judge(tasks)` handles one batch (every request of the batch goes to the backend in one
`generate` and one `score_choices` call, which is what makes vLLM fast); `run_judge` walks all tasks
in batches, reporting progress and stopping when the job is cancelled. No Django: tasks and results
are plain dataclasses, and the service turns results into Labels.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from common.progress import Progress

from ..backends import Constraint, LLMBackend, Messages
from .config import JudgeConfig
from .scoring import (
    argmax_verdict, choice_samples, combine_orders, expected_value, normalize_logprobs, p_first_better,
    poisson_binomial, preference_from_scores, ranking_from_pairwise, ranking_from_scores, vote_distribution,
)
from .templates import DEFAULT_TEMPLATES, conversation_text, render
from .verdicts import clean_output, parse_checklist, parse_rating, parse_verdict, parse_yes_no

__all__ = ["Answer", "Judge", "JudgeResult", "JudgeTask", "Question", "run_judge"]

MAX_RAW_CHARS = 20_000  # per answer kept in the trace; a runaway generation is cut, not stored whole
SCALE = tuple(range(1, 11))


@dataclass(frozen=True)
class JudgeTask:
    """One item to judge: its key (the item id), kind, conversation and responses in item order."""

    key: int
    kind: str  # "pairwise" or "listwise"
    conversation: Messages
    responses: list[str]


@dataclass
class JudgeResult:
    """A judge's label on one item, in item positions (A = position 0). `trace` becomes raw_output."""

    key: int
    unparsable: bool
    winner: str = ""
    ranking: list[list[int]] | None = None
    probability: float | None = None
    swap_consistent: bool | None = None
    rationale: str = ""
    trace: dict[str, Any] = field(default_factory=dict)

    @property
    def raw_output(self) -> str:
        return json.dumps(self.trace, ensure_ascii=False)


@dataclass(frozen=True)
class Question:
    """What the judge is asked, as a kind of answer: how to parse it, which choices to score, and how.

    `choices` are the answer values; `scored` the strings whose log-probs are compared (with the
    character that ends the value where one choice is a prefix of another, "1" vs "10"); `prefix` is
    the answer's start in json output ('{"verdict": "'), `schema` the JSON schema for json output.
    """

    parse: Callable[[str], Any]
    to_choice: Callable[[Any], str]
    choices: tuple[str, ...]
    text_scored: tuple[str, ...]
    json_prefix: str
    json_scored: tuple[str, ...]
    schema: dict[str, Any]


def _schema(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {key: value, "rationale": {"type": "string", "maxLength": 2000}},
            "required": [key, "rationale"], "additionalProperties": False}


VERDICT = Question(
    parse=parse_verdict, to_choice=lambda v: v.winner, choices=("A", "B", "tie"), text_scored=("A", "B", "tie"),
    json_prefix='{"verdict": "', json_scored=('A"', 'B"', 'tie"'), schema=_schema("verdict", {"enum": ["A", "B", "tie"]}),
)
RATING = Question(
    parse=parse_rating, to_choice=str, choices=tuple(str(i) for i in SCALE),
    text_scored=tuple(f"{i}\n" for i in SCALE), json_prefix='{"rating": ', json_scored=tuple(f"{i}," for i in SCALE),
    schema=_schema("rating", {"type": "integer", "minimum": 1, "maximum": 10}),
)
YES_NO = Question(
    parse=parse_yes_no, to_choice=lambda v: "yes" if v else "no", choices=("yes", "no"), text_scored=("yes", "no"),
    json_prefix='{"answer": "', json_scored=('yes"', 'no"'), schema=_schema("answer", {"enum": ["yes", "no"]}),
)
CHECKLIST_SCHEMA = {"type": "array", "items": {"type": "string", "maxLength": 300}, "minItems": 1}


@dataclass
class Answer:
    """The judge's answers to one request: raw texts, parsed values (None = unreadable), and the
    distribution over the question's choices (None when no sample was readable), with its source."""

    outputs: list[str]
    parsed: list[Any]
    distribution: list[float] | None
    source: str  # "logprobs", "votes" or "unparsable"

    def trace(self) -> dict[str, Any]:
        return {"outputs": self.outputs, "distribution": self.distribution, "source": self.source}


def request_seed(base: int, *parts: Any) -> int:
    """A seed for one request, stable across runs and batchings: a hash of the base seed and the request."""
    digest = hashlib.blake2b(json.dumps([base, *parts]).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


class Judge:
    """A configured judge: a backend, a JudgeConfig, the template texts per mode, the project's guidelines."""

    def __init__(self, backend: LLMBackend, config: JudgeConfig, templates: dict[str, str] | None = None,
                 guidelines: str = "") -> None:
        self.backend = backend
        self.config = config
        self.templates = {**DEFAULT_TEMPLATES, **(templates or {})}
        self.guidelines = f"\n[Guidelines]\n{guidelines.strip()}\n" if guidelines.strip() else ""
        self.checklists: dict[str, list[str] | None] = {}  # conversation (JSON) -> checklist, written once
        self.checklist_raw: dict[str, str] = {}

    # -- asking -------------------------------------------------------------------------------------------
    def ask(self, prompts: list[Messages], seeds: list[int], question: Question) -> list[Answer]:
        """Ask every prompt `question`: samples from `generate`, log-probs from `score_choices`."""
        if not prompts:
            return []
        cfg = self.config
        if cfg.output == "choice" and cfg.use_logprobs:
            return self._ask_by_scores(prompts, seeds, question)
        constraint = None
        if cfg.output == "choice":
            constraint = Constraint(choice=question.choices)
        elif cfg.output == "json":
            constraint = Constraint(json_schema=question.schema)
        completions = self.backend.generate(prompts, n=cfg.samples, temperature=cfg.temperature,
                                            max_tokens=cfg.max_tokens, seeds=seeds, constraint=constraint)
        logprobs: list[list[float]] | None = None
        if cfg.use_logprobs:
            json_out = cfg.output == "json"
            logprobs = self.backend.score_choices(
                prompts, list(question.json_scored if json_out else question.text_scored),
                prefix=question.json_prefix if json_out else "",
            )
        answers = []
        for i, samples in enumerate(completions):
            outputs = [clean_output(c.text)[:MAX_RAW_CHARS] for c in samples]
            parsed = [question.parse(text) for text in outputs]
            distribution, source = None, "unparsable"
            if any(p is not None for p in parsed):  # an answer nobody can read gets no distribution
                if logprobs is not None:
                    distribution, source = normalize_logprobs(logprobs[i]), "logprobs"
                if distribution is None:
                    votes = [question.to_choice(p) if p is not None else None for p in parsed]
                    distribution, source = vote_distribution(votes, question.choices), "votes"
            answers.append(Answer(outputs, parsed, distribution, source))
        return answers

    def _ask_by_scores(self, prompts: list[Messages], seeds: list[int], question: Question) -> list[Answer]:
        """Choice output with log-probabilities: one `score_choices` call, and the answers read from it.

        A choice-constrained answer is a draw from P(choice | prompt) -- its argmax at temperature 0 -- and that
        distribution is exactly what the scores give, so the answers are taken from the scores instead of asking
        the backend to generate them: one pass over each prompt instead of two (a constrained generation on top
        of the scoring), and on vLLM no structured-output decoding. Sampled answers (temperature > 0) come from
        softmax(log P / temperature) with the request's seed, so re-runs give the same answers.
        """
        cfg = self.config
        logprobs = self.backend.score_choices(prompts, list(question.text_scored))
        answers = []
        for row, seed in zip(logprobs, seeds):
            distribution = normalize_logprobs(row)
            if distribution is None:  # no mass on any choice: nothing to answer, nothing guessed
                answers.append(Answer([""] * cfg.samples, [None] * cfg.samples, None, "unparsable"))
                continue
            picks = choice_samples(row, n=cfg.samples, temperature=cfg.temperature, seed=seed)
            outputs = [question.choices[i] for i in picks]
            answers.append(Answer(outputs, [question.parse(text) for text in outputs], distribution, "logprobs"))
        return answers

    # -- modes --------------------------------------------------------------------------------------------
    def judge(self, tasks: Sequence[JudgeTask]) -> list[JudgeResult]:
        """One result per task, in order. See the module docs of scoring and verdicts for the rules."""
        mode = self.config.mode
        if mode == "pairwise":
            return self._pairwise(tasks)
        scores = self._ratings(tasks) if mode == "rating" else self._checklists(tasks)
        return [self._from_scores(task, *scored) for task, scored in zip(tasks, scores)]

    def _pairwise(self, tasks: Sequence[JudgeTask]) -> list[JudgeResult]:
        requests = []  # (task index, first, second): response `first` shown as A
        for t, task in enumerate(tasks):
            for i, j in combinations(range(len(task.responses)), 2):
                requests += [(t, i, j), (t, j, i)]
        prompts = [self._pair_prompt(tasks[t], a, b) for t, a, b in requests]
        seeds = [request_seed(self.config.seed, tasks[t].key, a, b) for t, a, b in requests]
        answers = dict(zip(requests, self.ask(prompts, seeds, VERDICT)))
        results = []
        for t, task in enumerate(tasks):
            pairs, trace, prefs = {}, {"mode": "pairwise", "pairs": []}, {}
            for i, j in combinations(range(len(task.responses)), 2):
                shown, swapped = answers[(t, i, j)], answers[(t, j, i)]
                combined = combine_orders(shown.distribution, swapped.distribution)
                pairs[(i, j)] = (combined, shown, swapped)
                trace["pairs"].append({
                    "positions": [i, j], "shown": shown.trace(), "swapped": swapped.trace(),
                    "probability": combined.probability if combined else None,
                    "swap_consistent": combined.swap_consistent if combined else None,
                })
                if combined is not None:
                    prefs[(i, j)] = combined.probability
            results.append(self._pair_result(task, pairs, prefs, trace))
        return results

    def _pair_prompt(self, task: JudgeTask, first: int, second: int) -> Messages:
        return render(self.templates["pairwise"], guidelines=self.guidelines,
                      question=conversation_text(task.conversation),
                      response_a=task.responses[first], response_b=task.responses[second])

    def _pair_result(self, task: JudgeTask, pairs: dict, prefs: dict, trace: dict) -> JudgeResult:
        verdicts = []  # every readable sample, in item positions, for the vote fraction
        for _, shown, swapped in pairs.values():
            verdicts += [v.winner for v in shown.parsed if v is not None]
            verdicts += [{"A": "B", "B": "A"}.get(v.winner, v.winner) for v in swapped.parsed if v is not None]
        if task.kind == "pairwise":
            combined, shown, swapped = pairs[(0, 1)]
            if combined is None:
                return JudgeResult(task.key, unparsable=True, trace=trace)
            readable = next((v for v in shown.parsed + swapped.parsed if v is not None), None)
            trace["vote_fraction"] = sum(v == combined.winner for v in verdicts) / len(verdicts)
            return JudgeResult(task.key, False, winner=combined.winner, probability=combined.probability,
                               swap_consistent=combined.swap_consistent,
                               rationale=readable.rationale if readable else "", trace=trace)
        ranking = ranking_from_pairwise(len(task.responses), prefs)
        if ranking is None:
            return JudgeResult(task.key, unparsable=True, trace=trace)
        checked = [c.swap_consistent for c, _, _ in pairs.values() if c is not None and c.swap_consistent is not None]
        return JudgeResult(task.key, False, ranking=ranking, swap_consistent=all(checked) if checked else None,
                           trace=trace)

    def expected_ratings(self, tasks: Sequence[JudgeTask]) -> list[list[float | None]]:
        """Each task's responses rated 1-10 on their own: the expected rating (None = unreadable answer)."""
        return [
            [expected_value(d, SCALE) if d is not None else None for d in dists]
            for dists, _ in self._ratings(tasks)
        ]

    def _ratings(self, tasks: Sequence[JudgeTask]) -> list[tuple[list[list[float] | None], dict]]:
        """Per task: each response's rating distribution over 1..10 (None = unreadable) and a trace."""
        requests = [(t, r) for t, task in enumerate(tasks) for r in range(len(task.responses))]
        prompts = [render(self.templates["rating"], guidelines=self.guidelines,
                          question=conversation_text(tasks[t].conversation), response=tasks[t].responses[r])
                   for t, r in requests]
        seeds = [request_seed(self.config.seed, tasks[t].key, r, "rating") for t, r in requests]
        answers = dict(zip(requests, self.ask(prompts, seeds, RATING)))
        out = []
        for t, task in enumerate(tasks):
            mine = [answers[(t, r)] for r in range(len(task.responses))]
            trace = {"mode": "rating", "responses": [a.trace() for a in mine]}
            for a, entry in zip(mine, trace["responses"]):
                entry["expected"] = expected_value(a.distribution, SCALE) if a.distribution else None
            rationale = "\n\n".join(
                f"{chr(65 + r) if r < 26 else r}: {a.outputs[0]}" for r, a in enumerate(mine) if a.outputs
            )
            trace["rationale"] = rationale
            out.append(([a.distribution for a in mine], trace))
        return out

    def _checklists(self, tasks: Sequence[JudgeTask]) -> list[tuple[list[list[float] | None], dict]]:
        """Per task: each response's distribution of passed checks (0..Q) and a trace."""
        self._write_checklists(tasks)
        requests = []
        for t, task in enumerate(tasks):
            checks = self.checklists[_conv_key(task.conversation)] or []
            requests += [(t, r, q) for r in range(len(task.responses)) for q in range(len(checks))]
        prompts, seeds = [], []
        for t, r, q in requests:
            task = tasks[t]
            check = self.checklists[_conv_key(task.conversation)][q]
            prompts.append(render(self.templates["checklist_check"], question=conversation_text(task.conversation),
                                  response=task.responses[r], check=check))
            seeds.append(request_seed(self.config.seed, task.key, r, q, "check"))
        answers = dict(zip(requests, self.ask(prompts, seeds, YES_NO)))
        out = []
        for t, task in enumerate(tasks):
            key = _conv_key(task.conversation)
            checks = self.checklists[key]
            trace: dict[str, Any] = {"mode": "checklist", "checklist": checks, "checklist_output": self.checklist_raw[key]}
            if not checks:
                out.append(([None] * len(task.responses), trace))
                continue
            dists, trace["responses"] = [], []
            for r in range(len(task.responses)):
                mine = [answers[(t, r, q)] for q in range(len(checks))]
                p_yes = [a.distribution[0] if a.distribution else None for a in mine]
                trace["responses"].append({"checks": [a.trace() for a in mine], "p_yes": p_yes})
                dists.append(None if None in p_yes else poisson_binomial(p_yes))
                trace["responses"][-1]["pass_rate"] = (
                    sum(p_yes) / len(p_yes) if None not in p_yes else None
                )
            trace["rationale"] = "\n".join(
                f"- {c}: " + ", ".join(
                    f"{chr(65 + r) if r < 26 else r} {entry['p_yes'][q]:.2f}" if entry["p_yes"][q] is not None
                    else f"{chr(65 + r) if r < 26 else r} ?" for r, entry in enumerate(trace["responses"])
                ) for q, c in enumerate(checks)
            )
            out.append((dists, trace))
        return out

    def _write_checklists(self, tasks: Sequence[JudgeTask]) -> None:
        todo = {}
        for task in tasks:
            key = _conv_key(task.conversation)
            if key not in self.checklists and key not in todo:
                todo[key] = task.conversation
        if not todo:
            return
        cfg = self.config
        prompts = [render(self.templates["checklist_write"], guidelines=self.guidelines,
                          question=conversation_text(conv), max_items=cfg.checklist_max_items) for conv in todo.values()]
        seeds = [request_seed(cfg.seed, key, "checklist") for key in todo]
        constraint = Constraint(json_schema=CHECKLIST_SCHEMA) if cfg.output == "json" else None
        written = self.backend.generate(prompts, n=1, temperature=cfg.temperature, max_tokens=cfg.max_tokens,
                                        seeds=seeds, constraint=constraint)
        for key, (completion,) in zip(todo, written):
            text = clean_output(completion.text)[:MAX_RAW_CHARS]
            self.checklist_raw[key] = text
            self.checklists[key] = parse_checklist(text, max_items=cfg.checklist_max_items)

    def _from_scores(self, task: JudgeTask, dists: list[list[float] | None], trace: dict) -> JudgeResult:
        """A label from per-response score distributions (ratings or pass counts): unreadable if any is None."""
        rationale = trace.pop("rationale", "")
        if any(d is None for d in dists):
            return JudgeResult(task.key, unparsable=True, trace=trace)
        values = [expected_value(d, range(len(d))) for d in dists]
        if task.kind == "pairwise":
            verdict = preference_from_scores(dists[0], dists[1])
            trace["preference"] = verdict
            return JudgeResult(task.key, False, winner=argmax_verdict(verdict),
                               probability=p_first_better(verdict), rationale=rationale, trace=trace)
        trace["expected"] = values
        return JudgeResult(task.key, False, ranking=ranking_from_scores(values), rationale=rationale,
                           trace=trace)


def _conv_key(conversation: Messages) -> str:
    return json.dumps(conversation, sort_keys=True, ensure_ascii=False)


def run_judge(
    judge: Judge,
    tasks: Iterable[JudgeTask],
    *,
    total: int,
    progress: Progress,
    write: Callable[[list[JudgeResult]], None],
) -> dict[str, Any]:
    """Judge `tasks` (`total` of them) batch by batch, handing each batch's results to `write`.

    Checks for cancellation before each batch, so a cancelled job stops with the batches done so far
    written (a re-run skips them). Returns counts: items, unparsable, swap_inconsistent, seconds.
    """
    stats = {"items": 0, "unparsable": 0, "swap_inconsistent": 0}
    started = time.monotonic()
    batch: list[JudgeTask] = []
    size = judge.config.batch_size

    def flush() -> None:
        progress.check_cancelled()
        results = judge.judge(batch)
        write(results)
        stats["items"] += len(results)
        stats["unparsable"] += sum(r.unparsable for r in results)
        stats["swap_inconsistent"] += sum(r.swap_consistent is False for r in results)
        elapsed = time.monotonic() - started
        progress.metric(stats["items"], items_per_s=stats["items"] / max(elapsed, 1e-9),
                        unparsable=stats["unparsable"], swap_inconsistent=stats["swap_inconsistent"])
        progress.update(stats["items"] / max(total, 1), f"judged {stats['items']} of {total} items")
        batch.clear()

    for task in tasks:
        batch.append(task)
        if len(batch) >= size:
            flush()
    if batch:
        flush()
    stats["seconds"] = round(time.monotonic() - started, 3)
    return stats
