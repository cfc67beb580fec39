"""Trainer configs (defaults, checks naming the field, JSON round trip) and dataset rows -> trainer rows."""
from dataclasses import asdict, fields

import pytest

from training.engine.trainers import DPOTrainConfig, KTOTrainConfig, ListwiseTrainConfig, RewardTrainConfig
from training.engine.trainers.data import (
    expand_listwise, listwise_rows, normalised_weights, pairwise_rows, unpaired_rows,
)
from common.config import ConfigError, config_from_dict

CONFIGS = (RewardTrainConfig, DPOTrainConfig, ListwiseTrainConfig, KTOTrainConfig)
PROMPT = [{"role": "user", "content": "Name a prime number."}]


@pytest.mark.parametrize("cls", CONFIGS)
def test_every_field_has_a_default_and_the_stored_form_round_trips(cls):
    config = cls()
    assert all(f.name in asdict(config) for f in fields(cls))
    assert config_from_dict(cls, asdict(config)) == config


@pytest.mark.parametrize("cls, values, field", [
    (RewardTrainConfig, {"learning_rate": 0}, "learning_rate"),
    (RewardTrainConfig, {"batch_size": 0}, "batch_size"),
    (RewardTrainConfig, {"lora_dropout": 1.0}, "lora_dropout"),
    (RewardTrainConfig, {"checkpoint_every": 0}, "checkpoint_every"),
    (RewardTrainConfig, {"lora_target_modules": []}, "lora_target_modules"),
    (DPOTrainConfig, {"loss": "kto"}, "loss"),
    (DPOTrainConfig, {"robust_epsilon": 0.5}, "robust_epsilon"),
    (DPOTrainConfig, {"beta": -1.0}, "beta"),
    (ListwiseTrainConfig, {"loss": "listmle"}, "loss"),
    (ListwiseTrainConfig, {"temperature": 0.0}, "temperature"),
    (KTOTrainConfig, {"batch_size": 1}, "batch_size"),
    (KTOTrainConfig, {"use_weights": True}, "use_weights"),
])
def test_invalid_values_raise_naming_the_field(cls, values, field):
    with pytest.raises(ValueError, match=field):
        cls(**values)
    with pytest.raises(ConfigError) as caught:
        config_from_dict(cls, values)
    assert caught.value.field == field


def test_listwise_rows_expand_to_every_implied_pair_and_ties_give_none():
    row = {"prompt": PROMPT, "responses": ["a", "b", "c"], "ranking": [[1], [0, 2]], "weight": 0.5, "source": "human"}
    pairs = expand_listwise(row, "row 0")
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [("b", "a"), ("b", "c")]
    assert all(p["weight"] == 0.5 and p["source"] == "human" for p in pairs)
    assert len(pairwise_rows([row, {"prompt": "hi", "chosen": "x", "rejected": "y"}])) == 3


def test_pairwise_rows_read_a_string_prompt_as_a_user_message_and_default_the_weight():
    (row,) = pairwise_rows([{"prompt": "hi", "chosen": "x", "rejected": "y", "margin": None}])
    assert row["prompt"] == [{"role": "user", "content": "hi"}] and row["weight"] == 1.0 and row["margin"] is None


@pytest.mark.parametrize("row, message", [
    ({"prompt": PROMPT, "chosen": "x"}, "rejected"),
    ({"prompt": [], "chosen": "x", "rejected": "y"}, "prompt"),
    ({"prompt": PROMPT, "chosen": "x", "rejected": "y", "weight": -1}, "weight"),
    ({"prompt": PROMPT, "responses": ["a", "b"], "ranking": [[0]]}, "ranking"),
])
def test_bad_pairwise_rows_name_the_row_and_the_problem(row, message):
    with pytest.raises(ValueError, match=f"row 0.*{message}"):
        pairwise_rows([row])


def test_all_tie_lists_are_dropped_and_thumbs_need_a_boolean_label():
    rows = listwise_rows([{"prompt": PROMPT, "responses": ["a", "b"], "ranking": [[0, 1]]},
                          {"prompt": PROMPT, "responses": ["a", "b", "c"], "ranking": [[2], [0, 1]]}])
    assert [r["ranks"] for r in rows] == [[1, 1, 0]]
    with pytest.raises(ValueError, match="label"):
        unpaired_rows([{"prompt": PROMPT, "completion": "x", "label": "up"}])


def test_weights_are_normalised_by_their_mean_and_equal_weights_need_nothing():
    assert normalised_weights([{"weight": 1.0}, {"weight": 3.0}]) == [0.5, 1.5]
    assert normalised_weights([{"weight": 0.7}, {"weight": 0.7}]) is None
    with pytest.raises(ValueError, match="weight 0"):
        normalised_weights([{"weight": 0.0}])
