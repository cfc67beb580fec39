"""Small helpers shared by the trainer tests."""
import json
from pathlib import Path

import torch

PARAM = "model.layers.0.self_attn.q_proj.weight"  # a backbone weight every tiny-Llama head shares


def state(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.state_dict().items()}


def base_param(model_dir: Path, name: str = PARAM) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(model_dir)).state_dict()[name]


def assert_trained(result, progress, *, steps: int):
    """Loss was logged (history and Progress), progress reached 1, the run did `steps` steps."""
    assert result.steps == steps
    assert any("loss" in entry for entry in result.history)
    logged = [m for m in progress.metrics if "loss" in m]
    assert logged and all(torch.isfinite(torch.tensor(m["loss"])) for m in logged)
    assert progress.fraction == 1.0 and "ETA" in progress.messages[-1]
    assert progress.checks == steps  # check_cancelled once per step


def assert_model_dir(model_dir: Path, *, adapter: bool = False):
    names = {p.name for p in model_dir.iterdir()}
    assert {"tokenizer.json", "tokenizer_config.json", "metrics.json", "train_config.json"} <= names
    if adapter:
        assert {"adapter_config.json", "adapter_model.safetensors"} <= names and "model.safetensors" not in names
    else:
        assert {"config.json", "model.safetensors"} <= names
    metrics = json.loads((model_dir / "metrics.json").read_text())
    return metrics, json.loads((model_dir / "train_config.json").read_text())
