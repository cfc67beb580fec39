"""KTO training (Ethayarajh et al. 2024) on thumbs rows with TRL's KTOTrainer.

Rows are unpaired: (prompt, completion, label) with label True for thumbs up. Class imbalance is handled by
TRL's desirable_weight / undesirable_weight (the paper suggests keeping
desirable_weight * n_desirable / (undesirable_weight * n_undesirable) in [1, 4/3]); per-row weights are not
supported. Evaluation: accuracy of sign(beta * (log pi - log pi_ref)) vs the label on the test rows.
"""
from __future__ import annotations

from pathlib import Path

from trl import KTOConfig, KTOTrainer

from common.progress import Progress

from .common import TrainResult, free_memory, lora_config, run_training, save_final, trainer_args, write_metrics
from .config import KTOTrainConfig
from .data import unpaired_rows
from .dpo import load_policy
from .evaluation import evaluate_kto

__all__ = ["train_kto"]


def _dataset(rows: list[dict]):
    from datasets import Dataset

    return Dataset.from_list([
        {"prompt": r["prompt"], "completion": [{"role": "assistant", "content": r["completion"]}], "label": r["label"]}
        for r in rows
    ])


def train_kto(config: KTOTrainConfig, *, train_rows, test_rows, model_path: str | Path, output_dir: str | Path,
              progress: Progress, noise_rate: float | None = None) -> TrainResult:
    """Train a KTO policy on thumbs train rows, evaluate reward-sign accuracy on the test rows, save it.

    Same contract as train_reward_model (common.TrainResult; resume from output_dir/checkpoints).
    """
    output_dir = Path(output_dir)
    train, test = unpaired_rows(train_rows), unpaired_rows(test_rows) if test_rows else []
    if len(train) < config.batch_size:
        raise ValueError(f"batch_size: KTO needs at least batch_size ({config.batch_size}) training rows, "
                         f"got {len(train)}")
    model, tokenizer = load_policy(model_path)
    trainer = None
    try:
        args = trainer_args(KTOConfig, config, output_dir, beta=config.beta, max_length=config.max_length,
                            desirable_weight=config.desirable_weight, undesirable_weight=config.undesirable_weight)
        trainer = KTOTrainer(model=model, args=args, train_dataset=_dataset(train), processing_class=tokenizer,
                             peft_config=lora_config(config, "CAUSAL_LM") if config.lora else None)
        n_up = sum(r["label"] for r in train)
        progress.log(f"KTO: {n_up} desirable and {len(train) - n_up} undesirable training rows, {len(test)} test rows")
        resumed = run_training(trainer, output_dir, progress, label="KTO")
        model_dir = save_final(trainer, output_dir, config, extra_config={"noise_rate": noise_rate})
        metrics = {}
        if config.eval_at_end and test:
            progress.log(f"evaluating on {len(test)} test rows")
            policy = trainer.accelerator.unwrap_model(trainer.model)
            metrics = evaluate_kto(policy, None if config.lora else trainer.ref_model, tokenizer, test,
                                   beta=config.beta, max_length=config.max_length)
        write_metrics(model_dir, metrics)
        return TrainResult(metrics=metrics, history=list(trainer.state.log_history), model_dir=model_dir,
                           resumed_from_step=resumed, steps=trainer.state.global_step)
    finally:
        del trainer, model
        free_memory()
