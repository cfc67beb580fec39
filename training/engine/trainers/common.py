"""What the four trainers share: the result type, TrainingArguments from a config, LoRA, checkpoints, saving.

Directory layout under a job's `output_dir`:
    checkpoints/checkpoint-<step>/   transformers checkpoints (model, optimizer, scheduler, RNG, trainer state)
    model/                           the final weights (or LoRA adapter), tokenizer, config, metrics.json,
                                     train_config.json
A run that finds a checkpoint in checkpoints/ resumes from the latest one (`resume_from_checkpoint`): that is
how a killed job continues when its runner is started again with the same output_dir.
"""
from __future__ import annotations

import gc
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from common.progress import Progress

from .callbacks import ProgressCallback
from .config import TrainConfig

__all__ = ["TrainResult", "trainer_args", "LengthGroupedMixin", "token_lengths", "lora_config", "last_checkpoint", "run_training", "save_final",
           "write_metrics", "free_memory", "device_kwargs", "config_hash"]

CHECKPOINTS = "checkpoints"
MODEL = "model"


@dataclass
class TrainResult:
    """What a trainer returns (the runner turns it into artifacts and a ModelArtifact)."""

    metrics: dict[str, Any]
    """Final evaluation numbers on the test rows (empty when eval_at_end is off); also in model_dir/metrics.json."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """Every logged dict of the run (transformers' log_history: step, loss, learning_rate, ...), resumed part too."""
    model_dir: Path | None = None
    """Final weights or adapter + tokenizer + config + metrics.json + train_config.json."""
    resumed_from_step: int | None = None
    """The checkpoint step this run continued from; None for a fresh run."""
    steps: int = 0
    """Optimizer steps done in total (including those before a resume)."""


def device_kwargs() -> dict[str, Any]:
    """CPU: float32 and `use_cpu` (TRL's defaults refuse to start otherwise); GPU: bf16 where supported."""
    if torch.cuda.is_available():
        return {"use_cpu": False, "bf16": torch.cuda.is_bf16_supported()}
    return {"use_cpu": True, "bf16": False}


def trainer_args(args_cls, config: TrainConfig, output_dir: Path, **extra):
    """`args_cls` (RewardConfig, DPOConfig, KTOConfig or TrainingArguments) filled from the job config."""
    return args_cls(
        output_dir=str(Path(output_dir) / CHECKPOINTS),
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        warmup_steps=config.warmup_ratio,  # a float < 1 is a ratio of the total steps (transformers 5)
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.checkpoint_every,
        save_total_limit=config.save_total_limit,
        eval_strategy="no",  # evaluation on the test rows is ours, at the end (evaluation.py)
        seed=config.seed,
        report_to="none",
        disable_tqdm=True,
        **device_kwargs(),
        # off: the args class's own default (random; sequential for KTO, whose KL term pairs neighbouring rows)
        **({"train_sampling_strategy": "group_by_length"} if config.group_by_length else {}),
        **extra,
    )


def token_lengths(dataset) -> list[int]:
    """Each training row's padded cost in tokens: the prompt plus its longest completion.

    Rows are TRL's tokenized columns (prompt_ids with chosen_ids / rejected_ids or completion_ids; the reward
    trainer's chosen_ids / rejected_ids hold the whole sequence), or a dataset with its own `token_lengths()`
    (listwise). KTO's KL_completion_ids are mismatched completions, not this row's: left out.
    """
    if hasattr(dataset, "token_lengths"):
        return dataset.token_lengths()
    columns = [c for c in dataset.column_names if c.endswith("_ids") and c not in ("prompt_ids", "KL_completion_ids")]
    if not columns:
        raise ValueError(f"no token id columns to group by length in {dataset.column_names}")
    prompts = dataset["prompt_ids"] if "prompt_ids" in dataset.column_names else None
    longest = [max(len(ids) for ids in row) for row in zip(*(dataset[c] for c in columns))]
    return longest if prompts is None else [len(p) + n for p, n in zip(prompts, longest)]


class LengthGroupedMixin:
    """For a transformers / TRL Trainer: with `train_sampling_strategy="group_by_length"` (TrainConfig's
    group_by_length) batches hold rows of similar length, by transformers' own LengthGroupedSampler.

    transformers looks for an `input_ids` column (or a precomputed "length" column, which TRL's trainers drop as
    unused before the sampler is built); preference rows have prompt / chosen / rejected ids instead, so the
    lengths come from token_lengths.
    """

    def _get_train_sampler(self, train_dataset=None):
        from transformers.trainer_pt_utils import LengthGroupedSampler

        dataset = self.train_dataset if train_dataset is None else train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or dataset is None:
            return super()._get_train_sampler(train_dataset)  # type: ignore[misc]
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return LengthGroupedSampler(batch, lengths=token_lengths(dataset))


def lora_config(config: TrainConfig, task_type: str):
    """A peft LoraConfig from the job config; task_type "CAUSAL_LM" or "SEQ_CLS" (which also trains the head)."""
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules or "all-linear",
        task_type=task_type,
    )


def last_checkpoint(output_dir: Path) -> tuple[Path, int] | None:
    """The latest complete checkpoint under output_dir/checkpoints and its step, or None."""
    folder = Path(output_dir) / CHECKPOINTS
    found = []
    for path in folder.glob("checkpoint-*") if folder.is_dir() else []:
        match = re.fullmatch(r"checkpoint-(\d+)", path.name)
        # trainer_state.json is written last: a folder without it is a save cut short by a kill.
        if match and (path / "trainer_state.json").is_file():
            found.append((int(match.group(1)), path))
    if not found:
        return None
    step, path = max(found)
    return path, step


def run_training(trainer, output_dir: Path, progress: Progress, *, label: str) -> int | None:
    """Train (resuming from the latest checkpoint if there is one); returns the step resumed from, or None."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # with tqdm off it prints every log dict to stdout; Progress has them
    trainer.add_callback(ProgressCallback(progress, label=label))
    checkpoint = last_checkpoint(output_dir)
    if checkpoint is not None:
        progress.log(f"resuming from {checkpoint[0].name}")
    trainer.train(resume_from_checkpoint=str(checkpoint[0]) if checkpoint else None)
    return checkpoint[1] if checkpoint else None


def save_final(trainer, output_dir: Path, config: TrainConfig, *, extra_config: dict | None = None) -> Path:
    """Write the final model (or adapter) and tokenizer to output_dir/model with train_config.json; returns it."""
    model_dir = Path(output_dir) / MODEL
    trainer.save_model(str(model_dir))  # LoRA: adapter_config.json + adapter weights only
    if trainer.processing_class is not None:
        trainer.processing_class.save_pretrained(str(model_dir))
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "peft_config"):
        model.get_base_model().config.save_pretrained(str(model_dir / "base_config"))
    stored = {"trainer": type(config).__name__, **asdict(config), "config_hash": config_hash(config),
              **(extra_config or {})}
    (model_dir / "train_config.json").write_text(json.dumps(stored, indent=2, sort_keys=True))
    return model_dir


def config_hash(config: TrainConfig) -> str:
    """sha256 (hex, 16 chars) of the config's canonical JSON: equal configs, equal hash (runs to compare)."""
    canonical = json.dumps({"trainer": type(config).__name__, **asdict(config)}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def write_metrics(model_dir: Path, metrics: dict[str, Any]) -> None:
    (Path(model_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))


def free_memory() -> None:
    """Free GPU memory that the caller's dropped models and trainers held (a worker lives on after the job).

    Trainers hold reference cycles, so their tensors wait for a full garbage collection. On a GPU that memory is
    what the next job needs, so collect now; on the CPU the interpreter's own collections free it soon enough,
    and a full collection of a process that has imported torch, transformers and TRL costs ~0.4 s per job.
    """
    if torch.cuda.is_available():
        gc.collect()
        torch.cuda.empty_cache()


class WeightColumnMixin:
    """Mixin for a TRL collator: adds a (B,) float "weight" tensor when the rows carry a "weight".

    TRL's DPO and reward collators are two different classes of the same name; each trainer mixes this into
    its own (`class C(WeightColumnMixin, DataCollatorForPreference)`).
    """

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        batch = super().torch_call(examples)  # type: ignore[misc]
        if "weight" in examples[0]:
            batch["weight"] = torch.tensor([e["weight"] for e in examples], dtype=torch.float)
        return batch
