"""The trainers: one `TrainerSpec` per training job kind, the one table everything else reads.

The start form (its tab, its fields and selects), the API's job kinds, the job runner and `accelerate launch`,
the rows a job reads, which base models it may start from, the trained model's kind, the job pages' "training
run" features and the "Train on this version" links of a dataset version all come from here:

    TrainerSpec(
        kind="train_dpo",                               # Job.kind; must start with "train_" (the DB checks that)
        label="DPO", job_label="Train with DPO",        # the trainer tab / what a job of this kind is called
        row_kind="pairwise",                            # DatasetRow.kind it reads
        config_class=DPOTrainConfig,                    # its documented config dataclass (the form is built from it)
        entry="training.engine.trainers.dpo:train_dpo", # the engine function, imported only when a job runs
        model="causal_lm",                              # trains a causal LM policy, or "score": a reward model
    )

Adding a trainer: write its engine function and config dataclass (training/engine/trainers/<name>.py), then add
its entry to BUILTIN below -- or call `trainer_register(spec)` from your own code. README: "How to add a trainer".

Plain Python (no Django), cheap to import: the config dataclasses are imported here, the engines (torch, TRL)
only by `trainer_entry`.
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from common.registry import Table

from .config import DPOTrainConfig, KTOTrainConfig, ListwiseTrainConfig, RewardTrainConfig

__all__ = ["KIND_PREFIX", "ROW_KINDS", "TrainerSpec", "trainer_register", "trainer_unregister", "trainer_spec",
           "trainer_specs", "trainer_kinds", "trainer_entry", "BUILTIN"]

KIND_PREFIX = "train_"  # every trainer's job kind starts with it: Job.kind's CHECK constraint admits any such kind
ROW_KINDS = ("pairwise", "listwise", "unpaired")  # the DatasetRow kinds curation writes
KIND_LENGTH = 16  # Job.kind is a varchar(16)


@dataclass(frozen=True)
class TrainerSpec:
    """One trainer. See the module docstring for an example of every field."""

    kind: str
    label: str
    job_label: str
    row_kind: str
    config_class: type
    entry: str  # "package.module:function" -- the engine function `train(config, *, train_rows, ...)`
    # "causal_lm": tunes a policy (its base must generate text; the result is a base model, or a LoRA adapter);
    # "score": trains a reward model (its base must carry a score head; the result is a reward model).
    model: Literal["causal_lm", "score"] = "causal_lm"
    queue: str = "gpu"  # the Celery queue its jobs go to

    def __post_init__(self) -> None:
        if not re.fullmatch(rf"{KIND_PREFIX}[a-z0-9_]+", self.kind) or len(self.kind) > KIND_LENGTH:
            raise ValueError(f"a trainer's kind must be {KIND_PREFIX}<lowercase name>, at most {KIND_LENGTH} "
                             f"characters, got {self.kind!r}")
        if self.row_kind not in ROW_KINDS:
            raise ValueError(f"row_kind must be one of {', '.join(ROW_KINDS)}, got {self.row_kind!r}")
        if self.model not in ("causal_lm", "score"):
            raise ValueError(f"model must be 'causal_lm' or 'score', got {self.model!r}")
        if ":" not in self.entry:
            raise ValueError(f"entry must be 'package.module:function', got {self.entry!r}")

    @property
    def name(self) -> str:
        """The short name ("dpo"), also accepted as ?trainer= on the start page."""
        return self.kind.removeprefix(KIND_PREFIX)


_specs: Table[TrainerSpec] = Table("trainer", key=lambda spec: spec.kind)


def trainer_register(spec: TrainerSpec) -> TrainerSpec:
    """Add `spec` to the table (a kind has one spec; registering the same spec again is a no-op)."""
    return _specs.register(spec)


def trainer_unregister(kind: str) -> None:
    """Forget a trainer (tests register throw-away trainers and remove them again)."""
    _specs.unregister(kind)


def trainer_spec(kind: str) -> TrainerSpec:
    """The spec of job kind `kind`; raises KeyError naming the trainers there are."""
    return _specs.get(kind)


def trainer_specs() -> list[TrainerSpec]:
    """Every trainer, in registration order (the built-in ones first: the order of the start page's tabs)."""
    return _specs.entries()


def trainer_kinds() -> tuple[str, ...]:
    """The job kinds that are training runs."""
    return _specs.names()


def trainer_entry(kind: str) -> Callable[..., Any]:
    """The engine function of `kind`. Imports its module (torch, TRL): call it where a trainer runs."""
    module, _, function = trainer_spec(kind).entry.partition(":")
    return getattr(importlib.import_module(module), function)


BUILTIN = tuple(trainer_register(spec) for spec in (
    TrainerSpec("train_rm", "Reward model", "Train a reward model", "pairwise", RewardTrainConfig,
                "training.engine.trainers.reward:train_reward_model", model="score"),
    TrainerSpec("train_dpo", "DPO", "Train with DPO", "pairwise", DPOTrainConfig,
                "training.engine.trainers.dpo:train_dpo"),
    TrainerSpec("train_listwise", "Listwise (PRO / LiPO)", "Train with a listwise loss", "listwise",
                ListwiseTrainConfig, "training.engine.trainers.listwise:train_listwise"),
    TrainerSpec("train_kto", "KTO", "Train with KTO", "unpaired", KTOTrainConfig,
                "training.engine.trainers.kto:train_kto"),
))
