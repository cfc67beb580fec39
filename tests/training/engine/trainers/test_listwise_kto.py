"""The listwise (PRO, LiPO-lambda) and KTO engines end to end on the tiny Llama."""
import pytest
import torch

from common.progress import MemoryProgress
from training.engine.trainers import KTOTrainConfig, ListwiseTrainConfig, train_kto, train_listwise
from training.engine.trainers.data import listwise_rows
from training.engine.trainers.listwise import ListwiseCollator, ListDataset

from .helpers import PARAM, assert_model_dir, assert_trained, base_param

FAST = dict(max_steps=4, batch_size=2, learning_rate=1e-3, logging_steps=2, checkpoint_every=100)


@pytest.mark.parametrize("loss", ["pro", "lipo"])
def test_listwise_trains_and_reports_kendall_tau_on_the_test_lists(tiny_model_dir, tmp_path, list_rows, loss):
    from transformers import AutoModelForCausalLM

    train, test = list_rows
    progress = MemoryProgress()
    result = train_listwise(ListwiseTrainConfig(**FAST, loss=loss), train_rows=train, test_rows=test,
                            model_path=tiny_model_dir, output_dir=tmp_path, progress=progress)
    assert_trained(result, progress, steps=4)
    assert "accuracy" in progress.metrics[0]
    metrics, stored = assert_model_dir(result.model_dir)
    assert stored["loss"] == loss
    assert metrics["n"] == 3 and -1.0 <= metrics["kendall_tau"] <= 1.0 and 0.0 <= metrics["top1_accuracy"] <= 1.0
    assert metrics["top1_accuracy"] == 1.0  # good > bad > unrelated is learnable in 4 steps at this rate
    trained = AutoModelForCausalLM.from_pretrained(str(result.model_dir)).state_dict()[PARAM]
    assert not torch.equal(trained, base_param(tiny_model_dir))


def test_listwise_collator_flattens_lists_and_pads_ranks(tiny_model_dir, list_rows):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    rows = listwise_rows(list_rows[0][:2]) + listwise_rows([{**list_rows[0][0], "responses": ["a", "b"],
                                                                 "ranking": [[1], [0]]}])
    batch = ListwiseCollator(tokenizer.pad_token_id, 1024)([ListDataset(rows, tokenizer, [1.0, 2.0, 3.0])[i]
                                                             for i in range(3)])
    assert batch["input_ids"].shape[0] == 3 + 3 + 2
    assert batch["list_index"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    assert batch["position"].tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    assert batch["ranks"].tolist() == [[0, 1, 2], [0, 1, 2], [1, 0, -1]] and batch["weight"].tolist() == [1, 2, 3]
    # the completion mask covers the response tokens only, never the prompt or padding
    assert ((batch["completion_mask"] == 1) <= (batch["attention_mask"] == 1)).all()
    assert (batch["completion_mask"][:, :5] == 0).all()


def test_kto_trains_and_reports_reward_sign_accuracy_on_the_test_rows(tiny_model_dir, tmp_path, thumbs_rows):
    from transformers import AutoModelForCausalLM

    train, test = thumbs_rows
    progress = MemoryProgress()
    result = train_kto(KTOTrainConfig(**{**FAST, "batch_size": 4}), train_rows=train, test_rows=test,
                       model_path=tiny_model_dir, output_dir=tmp_path, progress=progress)
    assert_trained(result, progress, steps=4)
    metrics, stored = assert_model_dir(result.model_dir)
    assert stored["trainer"] == "KTOTrainConfig"
    assert metrics["n"] == 4 and metrics["accuracy"] == 1.0
    assert metrics["mean_reward_desirable"] > 0 > metrics["mean_reward_undesirable"]
    trained = AutoModelForCausalLM.from_pretrained(str(result.model_dir)).state_dict()[PARAM]
    assert not torch.equal(trained, base_param(tiny_model_dir))
