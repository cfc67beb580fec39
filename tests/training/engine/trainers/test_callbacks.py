"""How transformers' log dicts become Progress metrics (training/engine/trainers/callbacks.py)."""
from training.engine.trainers.callbacks import metric_values


def test_trl_names_are_renamed_aliased_and_non_numbers_dropped():
    values = metric_values({"loss": 0.5, "rewards/accuracies": 0.75, "rewards/margins": 1.5, "epoch": 1,
                            "grad_norm": float("nan"), "learning_rate": float("inf"), "total_flos": 3e12,
                            "note": "text", "flag": True})
    assert values == {"loss": 0.5, "rewards_accuracies": 0.75, "accuracy": 0.75, "rewards_margins": 1.5,
                      "margin": 1.5, "epoch": 1.0}
