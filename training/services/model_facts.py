"""What a registered model can do, read from its config.json on disk (no weights): its token limit, whether it is a
causal LM (it can generate, and DPO / KTO / listwise training can tune it) and whether it can carry a score head
(reward-model training puts one on it).

Read without importing transformers: `AutoConfig` would do (it reads config.json only), but importing it imports
torch, and so does transformers' `modeling_auto` with its model-type tables -- measured 30 to 60 s on this busy
2-core machine, paid by the first web request that shows a model select. So config.json and the tokenizer's
tokenizer_config.json are read as JSON, and transformers' own tables (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, ...) are
read from its installed modeling_auto.py with `ast` (about 0.1 s, once per process); if that file ever stops
holding them as literals, the module is imported after all. A model whose config cannot be read here -- a hub id,
a server URL, a LoRA adapter folder, or a machine without transformers -- has unknown facts (None), and the checks
that need them are skipped rather than refusing a model that may well work on the worker.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from annotation.errors import PrefStudioError

from ..engine.trainers.registry import trainer_kinds, trainer_spec
from ..engine.backends.registry import backend_is_remote
from ..models import ModelArtifact

__all__ = ["ModelFacts", "model_facts", "model_facts_for", "model_check_for_kind", "TOKENIZER_NO_LIMIT"]

# transformers writes model_max_length = int(1e30) when a tokenizer has no limit of its own.
TOKENIZER_NO_LIMIT = 10**9


def _needs(kind: str) -> str | None:
    """What a job of `kind` needs of its model: "causal_lm" (generation, and the trainers that tune a policy),
    "score" (a reward-model trainer: a score head), or None. The trainers say so in their TrainerSpec."""
    if kind == "generate":
        return "causal_lm"
    return trainer_spec(kind).model if kind in trainer_kinds() else None


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


# config.json keys of the longest sequence, by model family (GPT-2 says n_positions; most say the first).
POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
MAPPINGS = ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_MASKED_LM_MAPPING_NAMES",
            "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES")
MAX_JSON_BYTES = 16 * 2**20  # a config or tokenizer config is a few kB (chat templates add some): refuse to read more


@lru_cache(maxsize=256)
def _read_facts(location: str, stamp: int) -> ModelFacts | None:
    """Cached per folder and config.json modification time (a page lists every model)."""
    tables = _auto_tables()
    config = _json_file(Path(location) / "config.json")
    if tables is None or not isinstance(config, dict):
        return None
    causal_types, masked_types, scoring_types = (tables[name] for name in MAPPINGS)
    model_type = str(config.get("model_type") or "")
    architectures = tuple(a for a in config.get("architectures") or () if isinstance(a, str))
    causal_classes = {name for value in causal_types.values()
                      for name in ((value,) if isinstance(value, str) else value)}
    if architectures:
        is_causal = any(arch in causal_classes or arch.endswith("ForCausalLM") for arch in architectures)
    else:
        # No architectures recorded: an encoder-only type (it has a masked-LM head) is not a generator, even
        # where transformers offers a causal head for it (BertLMHeadModel).
        is_causal = model_type in causal_types and model_type not in masked_types
    tokenizer = _json_file(Path(location) / "tokenizer_config.json")
    limits = [next((config[key] for key in POSITION_KEYS if key in config), None),
              tokenizer.get("model_max_length") if isinstance(tokenizer, dict) else None]
    known = [v for v in limits if isinstance(v, int) and not isinstance(v, bool) and 0 < v < TOKENIZER_NO_LIMIT]
    return ModelFacts(model_type=model_type, architectures=architectures, max_length=min(known) if known else None,
                      is_causal_lm=is_causal, can_score=model_type in scoring_types)


def _json_file(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            if os.fstat(fh.fileno()).st_size > MAX_JSON_BYTES:
                return None
            return json.load(fh)
    except (OSError, ValueError):
        return None


@lru_cache(maxsize=1)
def _auto_tables() -> dict[str, dict[str, Any]] | None:
    """transformers' model-type tables {name: {model_type: class name(s)}}, or None without transformers."""
    spec = importlib.util.find_spec("transformers")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(spec.submodule_search_locations[0]) / "models" / "auto" / "modeling_auto.py"
    tables: dict[str, dict[str, Any]] = {}
    try:
        for node in ast.parse(source.read_text(encoding="utf-8")).body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id in MAPPINGS and isinstance(node.value, ast.Call) and node.value.args):
                tables[node.targets[0].id] = dict(ast.literal_eval(node.value.args[0]))  # OrderedDict([(k, v), ...])
    except (OSError, SyntaxError, ValueError, TypeError):
        tables = {}
    if len(tables) == len(MAPPINGS):
        return tables
    from transformers.models.auto import modeling_auto  # the slow way (imports torch), still correct

    return {name: dict(getattr(modeling_auto, name)) for name in MAPPINGS}


def model_facts_for(model: ModelArtifact) -> ModelFacts | None:
    """The facts of a registered model (None for remote backends' servers and models not on this disk)."""
    if backend_is_remote(model.backend):
        return None
    return model_facts(model.location)


def model_check_for_kind(*, model: ModelArtifact, kind: str, field: str) -> ModelFacts | None:
    """Refuse `model` for a job of `kind` when its facts say it cannot do the job; returns the facts (or None).

    Raises PrefStudioError naming `field` (e.g. "config.base_model_id") with the reason in words.
    """
    facts = model_facts_for(model)
    if facts is None:
        return None
    needs = _needs(str(getattr(kind, "value", kind)))
    if needs == "causal_lm" and not facts.is_causal_lm:
        arch = ", ".join(facts.architectures) or facts.model_type
        doing = "generation" if kind == "generate" else f"a {kind} job"
        raise PrefStudioError(
            f"model {model.name!r} ({arch}) is not a causal language model: {doing} needs one that generates text",
            field=field,
        )
    if needs == "score" and not facts.can_score:
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
