"""`manage.py load_demo_models`: builds the demo chat model once and registers it (hf + vllm) with all-MiniLM."""
import io

import pytest
from django.core.management import call_command

from training.models import ModelArtifact
from training.services.demo import DEMO_CHAT_DIR, demo_chat_texts, minilm_path

from tests.training.llm_fixtures import native_project

RECORDS = [
    {"id": f"p{i}", "kind": "pairwise", "prompt": f"Question {i}: what is {i} plus {i}?",
     "responses": [{"text": f"It is {2 * i}."}, {"text": f"I think it is {2 * i + 1}."}]}
    for i in range(12)
]


@pytest.mark.django_db
def test_builds_once_and_registers_every_demo_model(tmp_path, settings):
    settings.MODEL_DIR = tmp_path
    native_project("pandalm-demo", RECORDS)
    assert len(demo_chat_texts()) == 24

    out = io.StringIO()
    call_command("load_demo_models", "--steps", "2", stdout=out)
    assert "built the demo chat model" in out.getvalue()
    assert (tmp_path / DEMO_CHAT_DIR / "config.json").is_file()
    models = {m.name: m for m in ModelArtifact.objects.all()}
    assert models["demo-chat (hf)"].backend == "hf" and models["demo-chat (vllm)"].backend == "vllm"
    assert models["demo-chat (hf)"].location == str(tmp_path / DEMO_CHAT_DIR)
    assert minilm_path() is not None and models["all-MiniLM-L6-v2"].location == str(minilm_path())

    again = io.StringIO()
    call_command("load_demo_models", stdout=again)
    assert "nothing changed" in again.getvalue()
    assert ModelArtifact.objects.count() == 3
    assert not ModelArtifact.objects.filter(project__isnull=False).exists()  # global: every project may use them
