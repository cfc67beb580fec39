"""The JUDGE job's config: one documented dataclass, checked on creation (stored as `asdict(config)`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["MAX_SAMPLES", "JudgeConfig"]

MAX_SAMPLES = 16
MAX_NAME = 150  # Annotator.name


@dataclass
class JudgeConfig:
    """An LLM judge run over a project's items; its verdicts become Labels of the judge annotator."""

    model_id: int
    """The ModelArtifact that judges (backend hf, vllm or openai). A reward model (kind "reward", e.g. one a
    train_rm job registered) judges by its scores instead (engine/judging/reward.py): mode, output, template and
    sampling do not apply to it."""
    mode: Literal["pairwise", "rating", "checklist"] = "pairwise"
    """pairwise: which of two responses is better, asked in both orders (listwise items: every pair).
    rating: each response rated 1-10 on its own; rank by expected rating. checklist: a yes/no checklist
    is written per prompt, each response scored by its expected pass rate."""
    template_version: int | None = None
    """Version of the project's judge template for the mode (training.models.JudgeTemplate); None = the
    latest (version 1 = the built-in default, created on first use)."""
    judge_name: str = ""
    """The judge's Annotator name; "" derives one from model, mode, template version and output."""
    output: Literal["text", "choice", "json"] = "choice"
    """choice (default): answers constrained to the verdict words, ratings or yes/no, read with their
    probabilities from one scoring pass per request (no rationale, no generation), which is what lets a CPU
    judge the demo's projects. text: free text with the verdict on the first line and a rationale after it, up
    to max_tokens generated per request and order (pick it on a GPU, or with a model that writes useful
    rationales). json: constrained to {"verdict"/"rating"/"answer": ..., "rationale": ...} (vllm and openai
    backends only). Checklists are written as text (a JSON list with json)."""
    use_logprobs: bool = True
    """Compute verdict probabilities from the log-probabilities of the verdict tokens (else: from the
    votes of the samples)."""
    samples: int = 1
    """Samples per verdict (k); with k > 1 the vote fraction is recorded as a confidence."""
    temperature: float = 0.0
    """Sampling temperature of the judge's answers; 0 = greedy. Must be > 0 when samples > 1."""
    max_tokens: int = 256
    """Longest answer (rationale included), in tokens; text and json output only (choice answers are one
    choice)."""
    seed: int = 0
    """Base seed; each request's seed derives from it and the item, so re-runs give the same answers."""
    item_ids: list[int] = field(default_factory=list)
    """Items to judge; empty = every pairwise and listwise item of the project. Items this judge has
    already labeled are skipped (so a re-run continues where the last one stopped)."""
    batch_size: int = 16
    """Items judged per engine call (one progress step, one cancel check, one write)."""
    checklist_max_items: int = 5
    """checklist mode: most questions per checklist."""

    def __post_init__(self) -> None:
        if self.model_id < 1:
            raise ValueError(f"model_id must be a ModelArtifact id, got {self.model_id}")
        if self.template_version is not None and self.template_version < 1:
            raise ValueError(f"template_version must be >= 1, got {self.template_version}")
        if len(self.judge_name) > MAX_NAME:
            raise ValueError(f"judge_name must be at most {MAX_NAME} characters")
        if not 1 <= self.samples <= MAX_SAMPLES:
            raise ValueError(f"samples must be from 1 to {MAX_SAMPLES}, got {self.samples}")
        if not 0 <= self.temperature <= 5:
            raise ValueError(f"temperature must be from 0 to 5, got {self.temperature}")
        if self.samples > 1 and self.temperature == 0:
            raise ValueError("temperature must be > 0 when samples > 1 (greedy samples are all the same)")
        if not 1 <= self.max_tokens <= 8192:
            raise ValueError(f"max_tokens must be from 1 to 8192, got {self.max_tokens}")
        if any(i < 1 for i in self.item_ids):
            raise ValueError("item_ids must be item ids (positive integers)")
        if not 1 <= self.batch_size <= 1024:
            raise ValueError(f"batch_size must be from 1 to 1024, got {self.batch_size}")
        if not 1 <= self.checklist_max_items <= 20:
            raise ValueError(f"checklist_max_items must be from 1 to 20, got {self.checklist_max_items}")
