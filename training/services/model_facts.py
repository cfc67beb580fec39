"""What a registered model can do, read from its config.json on disk (no weights): its token limit, whether it is a
causal LM (it can generate, and DPO / KTO / listwise training can tune it) and whether it can carry a score head
(reward-model training puts one on it).

Facts come from transformers' `AutoConfig` (it reads config.json only and normalises names such as GPT-2's
`n_positions`) plus the tokenizer's `model_max_length` from tokenizer_config.json, read as JSON because
`AutoTokenizer` would load the whole vocabulary. A model whose config cannot be read here -- a hub id, a server
URL, a LoRA adapter folder, or a machine without transformers -- has unknown facts (None), and the checks that
need them are skipped rather than refusing a model that may well work on the worker.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from annotation.errors import PrefStudioError

from ..models import Backend, ModelArtifact

__all__ = ["ModelFacts", "model_facts", "model_facts_for", "model_check_for_kind", "TOKENIZER_NO_LIMIT"]

# transformers writes model_max_length = int(1e30) when a tokenizer has no limit of its own.
TOKENIZER_NO_LIMIT = 10**9
# Trainers that tune a causal LM policy (and generation, which samples from one); the reward model needs a score head.
CAUSAL_KINDS = frozenset({"train_dpo", "train_kto", "train_listwise", "generate"})
SCORE_HEAD_KINDS = frozenset({"train_rm"})


@dataclass(frozen=True)
class ModelFacts:
    model_type: str
    architectures: tuple[str, ...]
    max_length: int | None
    """Longest sequence in tokens: the smaller of the position embeddings and the tokenizer's limit; None: none."""
    is_causal_lm: bool
    """Has (or is) a causal language-model head: generation, DPO, KTO and listwise training need one."""
    can_score: bool
    """transformers has a sequence-classification class for this model type: a reward head can be put on it."""

    def describe(self) -> str:
        """'causal LM, 2048 tokens' / 'encoder, 512 tokens' for selects and help texts."""
        what = "causal LM" if self.is_causal_lm else ("encoder" if self.can_score else self.model_type)
        return f"{what}, {self.max_length} tokens" if self.max_length else what


def model_facts(location: str) -> ModelFacts | None:
    """The facts of the model in local folder `location`, or None when they cannot be read here."""
    config_file = Path(location) / "config.json"
    try:
        stamp = config_file.stat().st_mtime_ns
    except (OSError, ValueError):
        return None
    return _read_facts(str(Path(location).resolve()), stamp)


@lru_cache(maxsize=256)
def _read_facts(location: str, stamp: int) -> ModelFacts | None:
    """Cached per folder and config.json modification time (a page lists every model; each read parses JSON)."""
    try:
        from transformers import AutoConfig
        from transformers.models.auto import modeling_auto
    except ImportError:  # a web machine without the ML stack: nothing to check against
        return None
    try:
        config = AutoConfig.from_pretrained(location, local_files_only=True)
    except (OSError, ValueError, KeyError):
        return None
    model_type = getattr(config, "model_type", "") or ""
    architectures = tuple(getattr(config, "architectures", None) or ())
    causal_classes = {name for value in modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values()
                      for name in ((value,) if isinstance(value, str) else value)}
    if architectures:
        is_causal = any(arch in causal_classes or arch.endswith("ForCausalLM") for arch in architectures)
    else:
        # No architectures recorded: an encoder-only type (it has a masked-LM head) is not a generator, even
        # where transformers offers a causal head for it (BertLMHeadModel).
        is_causal = (model_type in modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
                     and model_type not in modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES)
    can_score = model_type in modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES
    limits = [getattr(config, "max_position_embeddings", None), _tokenizer_limit(Path(location))]
    known = [int(v) for v in limits if isinstance(v, int) and not isinstance(v, bool) and 0 < v < TOKENIZER_NO_LIMIT]
    return ModelFacts(model_type=model_type, architectures=architectures, max_length=min(known) if known else None,
                      is_causal_lm=is_causal, can_score=can_score)


def _tokenizer_limit(folder: Path) -> int | None:
    try:
        with open(folder / "tokenizer_config.json", encoding="utf-8") as fh:
            if os.fstat(fh.fileno()).st_size > 16 * 2**20:  # a tokenizer config is a few kB; chat templates add some
                return None
            value = json.load(fh).get("model_max_length")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def model_facts_for(model: ModelArtifact) -> ModelFacts | None:
    """The facts of a registered model (None for OpenAI-compatible servers and models not on this disk)."""
    if model.backend == Backend.OPENAI:
        return None
    return model_facts(model.location)


def model_check_for_kind(*, model: ModelArtifact, kind: str, field: str) -> ModelFacts | None:
    """Refuse `model` for a job of `kind` when its facts say it cannot do the job; returns the facts (or None).

    Raises PrefStudioError naming `field` (e.g. "config.base_model_id") with the reason in words.
    """
    facts = model_facts_for(model)
    if facts is None:
        return None
    if kind in CAUSAL_KINDS and not facts.is_causal_lm:
        arch = ", ".join(facts.architectures) or facts.model_type
        doing = "generation" if kind == "generate" else f"a {kind} job"
        raise PrefStudioError(
            f"model {model.name!r} ({arch}) is not a causal language model: {doing} needs one that generates text",
            field=field,
        )
    if kind in SCORE_HEAD_KINDS and not facts.can_score:
        raise PrefStudioError(
            f"model {model.name!r} ({facts.model_type}) cannot carry a score head: transformers has no "
            "sequence-classification class for it",
            field=field,
        )
    return facts


def models_usable_for(*, kind: str, models: list[ModelArtifact]) -> list[ModelArtifact]:
    """The models a form may offer for `kind`: those whose facts allow it, and those whose facts are unknown."""
    usable = []
    for model in models:
        try:
            model_check_for_kind(model=model, kind=kind, field="model")
        except PrefStudioError:
            continue
        usable.append(model)
    return usable
