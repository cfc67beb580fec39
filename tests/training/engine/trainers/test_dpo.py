"""The DPO engine end to end on the tiny Llama: weighted sigmoid DPO, rDPO with LoRA, and the weighting itself."""
import json

import pytest
import torch

from common.progress import MemoryProgress
from training.engine.trainers import DPOTrainConfig, train_dpo
from training.engine.trainers.data import pairwise_rows
from training.engine.trainers.dpo import build_dpo_trainer, load_policy
from training.engine.trainers.evaluation import evaluate_dpo

from .helpers import PARAM, assert_model_dir, assert_trained, base_param

FAST = dict(max_steps=4, batch_size=4, learning_rate=1e-3, logging_steps=2, checkpoint_every=100)


def test_weighted_dpo_trains_and_reports_implicit_reward_accuracy_on_the_test_rows(tiny_model_dir, tmp_path,
                                                                                     pair_rows):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    train, test = pair_rows
    progress = MemoryProgress()
    result = train_dpo(DPOTrainConfig(**FAST), train_rows=train, test_rows=test, model_path=tiny_model_dir,
                       output_dir=tmp_path, progress=progress)
    assert_trained(result, progress, steps=4)
    assert "accuracy" in progress.metrics[0] and "rewards_margins" in progress.metrics[0]
    metrics, stored = assert_model_dir(result.model_dir)
    assert stored["loss"] == "sigmoid" and stored["label_smoothing"] == 0.0
    assert metrics["n"] == 6 and set(metrics["by_source"]) == {"ai", "gold"}
    assert metrics["accuracy"] == 1.0 and metrics["mean_margin"] > 0

    policy = AutoModelForCausalLM.from_pretrained(str(result.model_dir))
    assert not torch.equal(policy.state_dict()[PARAM], base_param(tiny_model_dir))
    reference = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(result.model_dir))
    again = evaluate_dpo(policy, reference, tokenizer, pairwise_rows(test), beta=0.1, max_length=1024)
    assert again["mean_margin"] == pytest.approx(metrics["mean_margin"], rel=1e-4)


@pytest.mark.parametrize("loss", ["sigmoid", "robust", "ipo", "hinge"])
def test_weighted_dpo_loss_is_the_weighted_mean_of_the_unweighted_pair_losses(tiny_model_dir, tmp_path, pair_rows,
                                                                              loss):
    """TRL's loss for each pair alone (no weighting), times its weight 0.5 / 1.5, averaged, equals the loss of the
    weighted batch: the WPO hook multiplies each pair's loss by exactly its weight. The policy is nudged away
    from the reference first, so that the pairs' losses differ."""
    train = pairwise_rows(pair_rows[0][:4])
    model, tokenizer = load_policy(tiny_model_dir)
    trainer = build_dpo_trainer(DPOTrainConfig(**FAST, loss=loss), train, model, tokenizer, tmp_path, epsilon=0.2)
    examples = [trainer.train_dataset[i] for i in range(4)]
    batch = trainer.data_collator(examples)
    assert batch["weight"].tolist() == [0.5, 1.5, 0.5, 1.5]
    torch.manual_seed(0)
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        weighted = trainer.compute_loss(trainer.model, dict(batch)).item()
        trainer.use_weighting = False  # plain TRL DPO for the single pairs
        singles = []
        for example in examples:
            one = trainer.data_collator([{k: v for k, v in example.items() if k != "weight"}])
            singles.append(trainer.compute_loss(trainer.model, dict(one)).item())
    expected = sum(w * l for w, l in zip([0.5, 1.5, 0.5, 1.5], singles)) / 4
    assert weighted == pytest.approx(expected, rel=1e-4)
    assert len(set(round(s, 6) for s in singles)) > 1  # distinct pair losses make this a real check


def test_robust_dpo_with_lora_takes_epsilon_from_the_noise_rate_and_saves_only_the_adapter(tiny_model_dir,
                                                                                          tmp_path, pair_rows):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    train, test = pair_rows
    progress = MemoryProgress()
    config = DPOTrainConfig(**FAST, loss="robust", lora=True, lora_r=4, lora_alpha=8)
    result = train_dpo(config, train_rows=train, test_rows=test, model_path=tiny_model_dir, output_dir=tmp_path,
                       progress=progress, noise_rate=0.2)
    assert_trained(result, progress, steps=4)
    metrics, stored = assert_model_dir(result.model_dir, adapter=True)
    assert stored["label_smoothing"] == 0.2 and stored["noise_rate"] == 0.2 and stored["lora"] is True
    assert metrics["n"] == 6
    assert json.loads((result.model_dir / "adapter_config.json").read_text())["r"] == 4

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    before = {k: v.clone() for k, v in base.state_dict().items()}
    adapted = PeftModel.from_pretrained(base, str(result.model_dir))
    lora_b = [p for name, p in adapted.named_parameters() if "lora_B" in name]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # LoRA B starts at zero: it was trained
    merged = adapted.merge_and_unload()
    assert not torch.equal(merged.state_dict()[PARAM], before[PARAM])  # the adapter changes the model...
    base_again = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).state_dict()
    assert all(torch.equal(base_again[k], before[k]) for k in before)  # ...and the base on disk is untouched


def test_robust_dpo_needs_an_epsilon_and_empty_rows_are_refused(tiny_model_dir, tmp_path, pair_rows):
    train, test = pair_rows
    with pytest.raises(ValueError, match="robust_epsilon"):
        train_dpo(DPOTrainConfig(loss="robust"), train_rows=train, test_rows=test, model_path=tiny_model_dir,
                  output_dir=tmp_path, progress=MemoryProgress())
    with pytest.raises(ValueError, match="robust_epsilon"):
        train_dpo(DPOTrainConfig(loss="robust"), train_rows=train, test_rows=test, model_path=tiny_model_dir,
                  output_dir=tmp_path, progress=MemoryProgress(), noise_rate=float("nan"))
    with pytest.raises(ValueError, match="no pairwise rows"):
        train_dpo(DPOTrainConfig(), train_rows=[], test_rows=test, model_path=tiny_model_dir,
                  output_dir=tmp_path, progress=MemoryProgress())
