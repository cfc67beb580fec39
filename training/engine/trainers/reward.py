"""Bradley-Terry reward model training on TRL's RewardTrainer, with margins and per-row weights.

Loss per pair (Ouyang et al. 2022; margin as in Llama 2): l = -log sigmoid(r(x, y_c) - r(x, y_r) - m), m the row's
margin when `use_margin` (TRL's "margin" column), and with `use_weights` each pair's l is multiplied by its
curation weight / the mean training weight. TRL 1.16's RewardTrainer has no per-row weights, so
`WeightedRewardTrainer` adds them in `compute_loss`, reusing TRL's forward and metrics.

Any AutoModelForSequenceClassification-compatible base works: decoder LMs get a fresh scalar head and read the
conversation through the chat template; encoders without a template (all-MiniLM) read (prompt, response) as a
sentence pair. The rows are tokenized here (logprobs.reward_input_ids) so that training and evaluation see the same ids.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from trl import RewardConfig, RewardTrainer
from trl.trainer.reward_trainer import DataCollatorForPreference

from common.progress import Progress

from .common import (
    LengthGroupedMixin, TrainResult, WeightColumnMixin, free_memory, lora_config, run_training, save_final, trainer_args, write_metrics,
)
from .config import RewardTrainConfig
from .data import normalised_weights, pairwise_rows
from .evaluation import evaluate_reward_model
from .logprobs import reward_input_ids

__all__ = ["train_reward_model", "build_reward_trainer", "WeightedRewardTrainer", "load_reward_model"]


class WeightedPreferenceCollator(WeightColumnMixin, DataCollatorForPreference):
    """TRL's reward collator plus a (B,) "weight" tensor when the rows have one."""


class WeightedRewardTrainer(LengthGroupedMixin, RewardTrainer):
    """RewardTrainer whose loss is the weight-multiplied mean of the per-pair losses when a batch has weights."""

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if "weight" not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, "weight"]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        weight = inputs.pop("weight", None)  # (B,) normalised weights; the model must not see them
        if weight is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        # TRL's loss for its forward pass and logged metrics; the loss that trains is recomputed per pair below.
        _, outputs = super().compute_loss(model, inputs, return_outputs=True)
        chosen, rejected = torch.chunk(outputs.logits.squeeze(-1), chunks=2)  # (B,), (B,)
        diff = chosen - rejected - inputs.get("margin", 0.0)
        loss = (-F.logsigmoid(diff) * weight.to(diff.dtype)).mean()
        if self.args.center_rewards_coefficient is not None:
            loss = loss + self.args.center_rewards_coefficient * torch.mean((chosen + rejected) ** 2)
        return (loss, outputs) if return_outputs else loss


def _dataset(rows: list[dict], tokenizer, config: RewardTrainConfig):
    from datasets import Dataset

    weights = normalised_weights(rows) if config.use_weights else None
    use_margin = config.use_margin and any(r["margin"] is not None for r in rows)
    records = []
    for i, row in enumerate(rows):
        record = {"chosen_ids": reward_input_ids(tokenizer, row["prompt"], row["chosen"], config.max_length),
                  "rejected_ids": reward_input_ids(tokenizer, row["prompt"], row["rejected"], config.max_length)}
        if use_margin:
            record["margin"] = row["margin"] or 0.0
        if weights is not None:
            record["weight"] = weights[i]
        records.append(record)
    return Dataset.from_list(records)


def load_reward_model(model_path: str | Path):
    """(model, tokenizer) of a base for reward modelling: a sequence classifier with one output."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_path), num_labels=1, dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def build_reward_trainer(config: RewardTrainConfig, train: list[dict], model, tokenizer,
                         output_dir: Path) -> WeightedRewardTrainer:
    """The trainer for validated pairwise rows (data.pairwise_rows); model and tokenizer from load_reward_model."""
    args = trainer_args(RewardConfig, config, output_dir, max_length=None,  # truncated in _dataset, not dropped
                        center_rewards_coefficient=config.center_rewards_coefficient)
    return WeightedRewardTrainer(
        model=model, args=args, train_dataset=_dataset(train, tokenizer, config), processing_class=tokenizer,
        data_collator=WeightedPreferenceCollator(pad_token_id=tokenizer.pad_token_id),
        peft_config=lora_config(config, "SEQ_CLS") if config.lora else None,
    )


def train_reward_model(config: RewardTrainConfig, *, train_rows, test_rows, model_path: str | Path,
                       output_dir: str | Path, progress: Progress, noise_rate: float | None = None) -> TrainResult:
    """Train a reward model on the train rows, evaluate it on the test rows, save it under output_dir/model.

    `noise_rate` is accepted for a uniform signature and recorded in train_config.json; the RM does not use it.
    Raises ValueError for unusable rows; `Cancelled` from `progress` propagates (checkpoints stay for a resume).
    """
    from transformers import set_seed

    output_dir = Path(output_dir)
    train, test = pairwise_rows(train_rows), pairwise_rows(test_rows) if test_rows else []
    set_seed(config.seed)  # the fresh reward head is random: seed before loading
    model, tokenizer = load_reward_model(model_path)
    trainer = None
    try:
        trainer = build_reward_trainer(config, train, model, tokenizer, output_dir)
        progress.log(f"reward model: {len(train)} training pairs, {len(test)} test pairs")
        resumed = run_training(trainer, output_dir, progress, label="reward model")
        model_dir = save_final(trainer, output_dir, config, extra_config={"noise_rate": noise_rate})
        metrics = {}
        if config.eval_at_end and test:
            progress.log(f"evaluating on {len(test)} test pairs")
            metrics = evaluate_reward_model(trainer.model, tokenizer, test, max_length=config.max_length)
        write_metrics(model_dir, metrics)
        return TrainResult(metrics=metrics, history=list(trainer.state.log_history), model_dir=model_dir,
                           resumed_from_step=resumed, steps=trainer.state.global_step)
    finally:
        del trainer, model
        free_memory()
