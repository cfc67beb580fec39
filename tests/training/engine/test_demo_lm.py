"""The demo chat model: trained from nothing on (prompt, response) text, saved, and loadable by the app's backend."""
import pytest

from training.engine.backends import BackendSpec, open_backend
from training.engine.demo_lm import DemoLMConfig, build_demo_lm
from common.progress import MemoryProgress

TEXTS = [
    ("Rewrite the sentence to be concise: I am writing to tell you that I will be late.", "I will be late."),
    ("What is the capital of France?", "Paris is the capital of France."),
    ("Name a prime number.", "7 is a prime number."),
    ("Say hello politely.", "Hello! How are you today?"),
] * 8
SMALL = DemoLMConfig(vocab_size=400, hidden_size=64, intermediate_size=128, num_layers=1, num_heads=2,
                     seq_len=32, batch_size=4, steps=25, learning_rate=1e-2)


def test_training_lowers_the_loss_and_the_model_loads_back(tmp_path):
    progress = MemoryProgress()
    figures = build_demo_lm(tmp_path / "m", texts=TEXTS, config=SMALL, progress=progress)
    assert figures["loss_last"] < figures["loss_first"] - 1.0, figures
    assert [p["step"] for p in progress.metrics][-1] == SMALL.steps
    assert progress.fractions[-1] == pytest.approx(1.0)

    backend = open_backend(BackendSpec(backend="hf", location=str(tmp_path / "m")))
    try:
        [[completion]] = backend.generate([[{"role": "user", "content": "What is the capital of France?"}]],
                                          temperature=0, max_tokens=8)
        assert completion.text.strip()
    finally:
        backend.close()


def test_no_text_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="texts"):
        build_demo_lm(tmp_path / "m", texts=[("", "x"), ("  ", "")], config=SMALL)


def test_head_size_too_small_for_vllm_is_refused():
    with pytest.raises(ValueError, match="head size"):
        DemoLMConfig(hidden_size=64, num_heads=4)
