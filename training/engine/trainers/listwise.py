"""Listwise preference training (PRO or LiPO-lambda, losses.py) as a compact transformers Trainer subclass.

A batch holds B lists; every response of every list is one sequence (prompt via the chat template + response as
the assistant turn), so one forward pass scores them all: sequence log-probs (N,) are scattered back to (B, K).
PRO trains on length-normalised log-likelihoods / temperature; LiPO on beta * (log pi - log pi_ref) with a frozen
reference model (the base model, or the LoRA policy with its adapter disabled). Each list's loss is multiplied by
its normalised curation weight. Checkpoints, resume, logging and progress are transformers' (common.py).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from transformers import Trainer, TrainingArguments

from common.progress import Progress

from .common import LengthGroupedMixin, TrainResult, free_memory, lora_config, run_training, save_final, trainer_args, write_metrics
from .config import ListwiseTrainConfig
from .data import listwise_rows, normalised_weights
from .dpo import load_policy
from .evaluation import evaluate_listwise
from .logprobs import collate_completions, sequence_logps, tokenize_completion
from .losses import lipo_lambda_loss, pro_loss

__all__ = ["train_listwise", "ListwiseTrainer", "ListwiseCollator"]


class ListDataset(Dataset):
    """Tokenized lists: {"pairs": [(prompt_ids, completion_ids), ...], "ranks": [...], "weight": float}."""

    def __init__(self, rows: list[dict], tokenizer, weights: list[float] | None) -> None:
        self.items = [
            {"pairs": [tokenize_completion(tokenizer, row["prompt"], r) for r in row["responses"]],
             "ranks": row["ranks"], "weight": 1.0 if weights is None else weights[i]}
            for i, row in enumerate(rows)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def token_lengths(self) -> list[int]:
        """Per list, its longest prompt + response: what a batch holding it is padded to (group_by_length)."""
        return [max(len(p) + len(c) for p, c in item["pairs"]) for item in self.items]

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


class ListwiseCollator:
    """B lists -> input_ids / attention_mask / completion_mask (N, T) over all N responses, plus
    list_index (N,) and position (N,) to scatter scores back, ranks (B, K) (-1 = padding), weight (B,)."""

    def __init__(self, pad_token_id: int, max_length: int) -> None:
        self.pad_token_id, self.max_length = pad_token_id, max_length

    def __call__(self, lists: list[dict]) -> dict[str, torch.Tensor]:
        pairs = [pair for item in lists for pair in item["pairs"]]
        batch = collate_completions(pairs, self.pad_token_id, self.max_length)
        width = max(len(item["ranks"]) for item in lists)
        ranks = torch.full((len(lists), width), -1, dtype=torch.long)
        for b, item in enumerate(lists):
            ranks[b, : len(item["ranks"])] = torch.tensor(item["ranks"])
        batch["list_index"] = torch.tensor([b for b, item in enumerate(lists) for _ in item["pairs"]])
        batch["position"] = torch.tensor([k for item in lists for k in range(len(item["pairs"]))])
        batch["ranks"] = ranks
        batch["weight"] = torch.tensor([item["weight"] for item in lists], dtype=torch.float)
        return batch


class ListwiseTrainer(LengthGroupedMixin, Trainer):
    """Trainer whose loss is PRO or LiPO-lambda over lists; `ref_model` None with LiPO means LoRA adapter off."""

    def __init__(self, *args, loss: str, beta: float, temperature: float, ref_model=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_name, self.beta, self.temperature, self.ref_model = loss, beta, temperature, ref_model
        self._metrics: dict[str, list[float]] = defaultdict(list)

    def _to_lists(self, values: torch.Tensor, inputs) -> torch.Tensor:
        """(N,) per-response values -> (B, K), zeros at padding."""
        out = values.new_zeros(inputs["ranks"].shape)
        return out.index_put((inputs["list_index"], inputs["position"]), values)

    def _reference_logps(self, model, seqs) -> torch.Tensor:
        with torch.no_grad():
            if self.ref_model is not None:
                return sequence_logps(self.ref_model, seqs)[0]
            with self.accelerator.unwrap_model(model).disable_adapter():
                return sequence_logps(model, seqs)[0]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        seqs = {k: inputs[k] for k in ("input_ids", "attention_mask", "completion_mask")}
        logps, lengths = sequence_logps(model, seqs)  # (N,), (N,)
        ranks = inputs["ranks"]  # (B, K)
        if self.loss_name == "pro":
            scores = self._to_lists(logps / lengths.clamp(min=1), inputs)  # length-normalised, as in the paper
            per_list = pro_loss(scores, ranks, temperature=self.temperature)
        else:
            scores = self._to_lists(self.beta * (logps - self._reference_logps(model, seqs)), inputs)
            per_list = lipo_lambda_loss(scores, ranks)
        loss = (per_list * inputs["weight"].to(per_list.dtype)).mean()
        with torch.no_grad():  # top-1 accuracy: the best-scored response is in the best gold group
            best = scores.detach().masked_fill(ranks < 0, float("-inf")).argmax(dim=-1)  # (B,)
            self._metrics["accuracy"].append((ranks.gather(1, best[:, None]) == 0).float().mean().item())
        return (loss, {"scores": scores}) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        logs.update({k: sum(v) / len(v) for k, v in self._metrics.items() if v})
        self._metrics.clear()
        super().log(logs, start_time)


def train_listwise(config: ListwiseTrainConfig, *, train_rows, test_rows, model_path: str | Path,
                   output_dir: str | Path, progress: Progress, noise_rate: float | None = None) -> TrainResult:
    """Train a policy with PRO or LiPO-lambda on listwise train rows; Kendall tau / top-1 on the test rows.

    Same contract as train_reward_model (common.TrainResult; resume from output_dir/checkpoints).
    """
    from transformers import set_seed

    output_dir = Path(output_dir)
    train, test = listwise_rows(train_rows), listwise_rows(test_rows) if test_rows else []
    set_seed(config.seed)
    model, tokenizer = load_policy(model_path)
    ref_model, trainer = None, None
    try:
        if config.lora:
            from peft import get_peft_model

            model = get_peft_model(model, lora_config(config, "CAUSAL_LM"))
        elif config.loss == "lipo":
            ref_model = load_policy(model_path)[0].eval().requires_grad_(False)
        weights = normalised_weights(train) if config.use_weights else None
        args: Any = trainer_args(TrainingArguments, config, output_dir, remove_unused_columns=False)
        trainer = ListwiseTrainer(
            model=model, args=args, train_dataset=ListDataset(train, tokenizer, weights), processing_class=tokenizer,
            data_collator=ListwiseCollator(tokenizer.pad_token_id, config.max_length),
            loss=config.loss, beta=config.beta, temperature=config.temperature, ref_model=ref_model,
        )
        if ref_model is not None:
            ref_model.to(trainer.args.device)
        progress.log(f"listwise ({config.loss}): {len(train)} training lists, {len(test)} test lists")
        resumed = run_training(trainer, output_dir, progress, label=f"listwise {config.loss}")
        model_dir = save_final(trainer, output_dir, config, extra_config={"noise_rate": noise_rate})
        metrics = {}
        if config.eval_at_end and test:
            progress.log(f"evaluating on {len(test)} test lists")
            policy = trainer.accelerator.unwrap_model(trainer.model)
            ref = ref_model  # LiPO full fine-tuning; None: LoRA adapter off (LiPO) or not needed (PRO)
            metrics = evaluate_listwise(policy, ref, tokenizer, test, loss=config.loss, beta=config.beta,
                                        max_length=config.max_length)
        write_metrics(model_dir, metrics)
        return TrainResult(metrics=metrics, history=list(trainer.state.log_history), model_dir=model_dir,
                           resumed_from_step=resumed, steps=trainer.state.global_step)
    finally:
        del trainer, model, ref_model
        free_memory()
