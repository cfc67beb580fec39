"""Cancel and resume, for real: a run cancelled at step k after a checkpoint at k-1 is re-run with the same
output_dir and continues from that checkpoint to the end, with the same weights as an uninterrupted run."""
import pytest
import torch

from common.progress import Cancelled, MemoryProgress
from training.engine.trainers import RewardTrainConfig, last_checkpoint, train_reward_model

CONFIG = RewardTrainConfig(max_steps=6, batch_size=4, learning_rate=1e-3, logging_steps=1, checkpoint_every=3,
                           use_weights=False)


def test_a_cancelled_run_resumes_from_its_last_checkpoint(tiny_model_dir, tmp_path, pair_rows):
    from transformers import AutoModelForSequenceClassification

    train, test = pair_rows
    out = tmp_path / "job"
    cancelling = MemoryProgress(cancel_at_check=4)  # the 4th step's check: after the checkpoint at step 3
    with pytest.raises(Cancelled):
        train_reward_model(CONFIG, train_rows=train, test_rows=test, model_path=tiny_model_dir, output_dir=out,
                           progress=cancelling)
    assert last_checkpoint(out)[1] == 3 and not (out / "model").exists()
    assert max(m["step"] for m in cancelling.metrics) == 3

    progress = MemoryProgress()
    result = train_reward_model(CONFIG, train_rows=train, test_rows=test, model_path=tiny_model_dir,
                                output_dir=out, progress=progress)
    assert result.resumed_from_step == 3 and result.steps == 6
    assert progress.checks == 3 and [m["step"] for m in progress.metrics if "loss" in m] == [4, 5, 6]
    assert [h["step"] for h in result.history if "loss" in h] == [1, 2, 3, 4, 5, 6]  # the history survives
    assert any("resumed at step 3" in line for line in progress.lines)

    straight = train_reward_model(CONFIG, train_rows=train, test_rows=test, model_path=tiny_model_dir,
                                  output_dir=tmp_path / "straight", progress=MemoryProgress())
    resumed = AutoModelForSequenceClassification.from_pretrained(str(result.model_dir)).state_dict()
    uninterrupted = AutoModelForSequenceClassification.from_pretrained(str(straight.model_dir)).state_dict()
    assert all(torch.allclose(resumed[k], uninterrupted[k], atol=1e-5) for k in uninterrupted)
    assert result.metrics["mean_margin"] == pytest.approx(straight.metrics["mean_margin"], rel=1e-4)
