"""Training engines: reward model, DPO, listwise (PRO / LiPO-lambda) and KTO on TRL, PEFT and transformers.

Plain Python (no Django). Every trainer has the same shape:

    train_x(config, *, train_rows, test_rows, model_path, output_dir, progress, noise_rate=None) -> TrainResult

`config` is the job's config dataclass (config.py), rows are the dataset-row dicts (data.py), `model_path` a
local model folder, `output_dir` the job's artifact folder (checkpoints/ and model/ go there; a re-run with the
same folder resumes from the latest checkpoint), `progress` a common.progress.Progress.

Import cost: the config dataclasses are imported eagerly (job registration needs them and must stay cheap);
everything else (torch, transformers, TRL) is imported on first use of its name (PEP 562 `__getattr__`).
"""
from importlib import import_module

from .config import DPOTrainConfig, KTOTrainConfig, ListwiseTrainConfig, RewardTrainConfig, TrainConfig

_LAZY = {
    "TrainResult": ".common", "last_checkpoint": ".common", "config_hash": ".common",
    "train_reward_model": ".reward", "train_dpo": ".dpo", "train_listwise": ".listwise", "train_kto": ".kto",
    "pro_loss": ".losses", "lipo_lambda_loss": ".losses",
}

__all__ = ["TrainConfig", "RewardTrainConfig", "DPOTrainConfig", "ListwiseTrainConfig", "KTOTrainConfig", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
