"""DPO training on TRL's DPOTrainer: sigmoid (DPO), ipo, robust (rDPO) and hinge losses, per-row weights, LoRA.

rDPO (Chowdhury et al. 2024) is TRL's loss_type "robust" with label_smoothing = epsilon, the assumed rate of
flipped labels: `robust_epsilon`, or when it is None the dataset version's estimated noise rate (`noise_rate`,
passed by the runner; clipped to [0, 0.49] since the loss divides by 1 - 2 epsilon).

Per-row weights: TRL 1.16 has no per-row weight, but it does have WPO weighting (`use_weighting`), which multiplies
each pair's loss by w_c * w_r with w = exp(mean over completion tokens of (log p - log_sum_sq_probs)), computed
without gradient from the policy's outputs. `WeightedDPOTrainer` turns that hook into ours: a forward hook sets
log_sum_sq_probs := log p - log(weight) / 2 on both sequences of a pair, so w_c * w_r = sqrt(weight)^2 = weight
exactly, and TRL's own loss and metrics do the rest. The weight is the row's curation weight / the mean training
weight; without weights (or all equal) the hook is not installed and training is plain TRL DPO.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from trl import DPOConfig, DPOTrainer
from trl.trainer.dpo_trainer import DataCollatorForPreference

from common.progress import Progress

from .common import (
    LengthGroupedMixin, TrainResult, WeightColumnMixin, free_memory, lora_config, run_training, save_final,
    trainer_args, write_metrics,
)
from .config import DPOTrainConfig
from .data import normalised_weights, pairwise_rows
from .evaluation import evaluate_dpo

__all__ = ["train_dpo", "build_dpo_trainer", "WeightedDPOTrainer", "load_policy", "robust_epsilon"]

MAX_EPSILON = 0.49  # rDPO divides by 1 - 2 epsilon


class WeightedDPOCollator(WeightColumnMixin, DataCollatorForPreference):
    """TRL's DPO collator plus a (B,) "weight" tensor when the rows have one."""


class WeightedDPOTrainer(LengthGroupedMixin, DPOTrainer):
    """DPOTrainer that multiplies each pair's loss by its "weight" (see the module docstring for how)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._row_weight: torch.Tensor | None = None  # (B,) of the batch being computed, else None
        if self.use_weighting:
            self.accelerator.unwrap_model(self.model).register_forward_hook(self._weight_hook)

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if "weight" not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, "weight"]

    def _weight_hook(self, module, args, output):
        if self._row_weight is not None and getattr(output, "log_sum_sq_probs", None) is not None:
            # (2B,): the batch is [chosen rows; rejected rows], both halves get the pair's weight
            weight = torch.cat([self._row_weight, self._row_weight]).to(output.log_probs.device)
            half_log_w = 0.5 * torch.log(weight.clamp(min=1e-12))[:, None]  # (2B, 1); clamp: a 0 weight stays finite
            output.log_sum_sq_probs = output.log_probs.detach() - half_log_w  # (2B, T-1)
        return output

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self._row_weight = inputs.pop("weight", None)
        try:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        finally:
            self._row_weight = None


def robust_epsilon(config: DPOTrainConfig, noise_rate: float | None) -> float:
    """rDPO's epsilon: the config's, else the version's noise rate; raises ValueError when neither is known."""
    if config.robust_epsilon is not None:
        return config.robust_epsilon
    if noise_rate is None or not math.isfinite(float(noise_rate)):
        raise ValueError("robust_epsilon: the loss 'robust' needs robust_epsilon or the version's estimated noise "
                         f"rate (got noise_rate={noise_rate!r})")
    return min(max(float(noise_rate), 0.0), MAX_EPSILON)


def load_policy(model_path: str | Path):
    """(causal LM, tokenizer) from a local folder; float32 on CPU, bf16 on GPU."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        str(model_path), dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32
    )
    return model, tokenizer


def _dataset(rows: list[dict], weights: list[float] | None):
    from datasets import Dataset

    records = []
    for i, row in enumerate(rows):
        record = {"prompt": row["prompt"], "chosen": [{"role": "assistant", "content": row["chosen"]}],
                  "rejected": [{"role": "assistant", "content": row["rejected"]}]}
        if weights is not None:
            record["weight"] = weights[i]
        records.append(record)
    return Dataset.from_list(records)


def build_dpo_trainer(config: DPOTrainConfig, train: list[dict], model, tokenizer, output_dir: Path, *,
                      epsilon: float = 0.0) -> WeightedDPOTrainer:
    """The trainer for validated pairwise rows (data.pairwise_rows); model and tokenizer from load_policy."""
    weights = normalised_weights(train) if config.use_weights else None
    args = trainer_args(DPOConfig, config, output_dir, loss_type=[config.loss], beta=config.beta,
                        label_smoothing=epsilon, max_length=config.max_length, use_weighting=weights is not None)
    return WeightedDPOTrainer(
        model=model, args=args, train_dataset=_dataset(train, weights), processing_class=tokenizer,
        data_collator=WeightedDPOCollator(pad_token_id=tokenizer.pad_token_id, max_length=config.max_length),
        peft_config=lora_config(config, "CAUSAL_LM") if config.lora else None,
    )


def train_dpo(config: DPOTrainConfig, *, train_rows, test_rows, model_path: str | Path, output_dir: str | Path,
              progress: Progress, noise_rate: float | None = None) -> TrainResult:
    """Train a DPO policy on the train rows, evaluate implicit-reward accuracy on the test rows, save it.

    Same contract as train_reward_model (common.TrainResult; resume from output_dir/checkpoints).
    """
    output_dir = Path(output_dir)
    train, test = pairwise_rows(train_rows), pairwise_rows(test_rows) if test_rows else []
    epsilon = robust_epsilon(config, noise_rate) if config.loss == "robust" else 0.0
    model, tokenizer = load_policy(model_path)
    trainer = None
    try:
        trainer = build_dpo_trainer(config, train, model, tokenizer, output_dir, epsilon=epsilon)
        progress.log(f"DPO ({config.loss}{f', epsilon={epsilon:.3f}' if config.loss == 'robust' else ''}): "
                     f"{len(train)} training pairs, {len(test)} test pairs")
        resumed = run_training(trainer, output_dir, progress, label="DPO")
        model_dir = save_final(trainer, output_dir, config,
                               extra_config={"noise_rate": noise_rate, "label_smoothing": epsilon})
        metrics = {}
        if config.eval_at_end and test:
            progress.log(f"evaluating on {len(test)} test pairs")
            policy = trainer.accelerator.unwrap_model(trainer.model)
            ref = None if config.lora else trainer.ref_model
            metrics = evaluate_dpo(policy, ref, tokenizer, test, beta=config.beta, max_length=config.max_length)
        write_metrics(model_dir, metrics)
        return TrainResult(metrics=metrics, history=list(trainer.state.log_history), model_dir=model_dir,
                           resumed_from_step=resumed, steps=trainer.state.global_step)
    finally:
        del trainer, model
        free_memory()
