"""training/jobs/: config parsing (JSON -> dataclass, errors naming the field) and the registry."""
from dataclasses import dataclass, field
from typing import Literal

import pytest

from training.jobs import registry
from common.config import ConfigError, config_from_dict
from training.jobs.runners.diagnostic import DiagnosticConfig


@dataclass
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


@dataclass
class Example:
    model: str
    n: int = 1
    seeds: list[int] = field(default_factory=list)
    mode: Literal["pairs", "listwise"] = "pairs"
    sampling: Sampling = field(default_factory=Sampling)
    note: str | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be at least 1 (the model {self.model} needs a sample)")


def error_of(data) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(Example, data)
    return caught.value


def test_a_full_config_is_built_with_nested_dataclasses_and_defaults():
    config = config_from_dict(Example, {"model": "m", "n": 2.0, "seeds": [1, 2], "sampling": {"top_p": 0.9}})
    assert config == Example(model="m", n=2, seeds=[1, 2], sampling=Sampling(top_p=0.9))
    assert isinstance(config.n, int)


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({}, "model", "required"),
        ({"model": "m", "modle": 1}, "modle", "unknown field"),
        ({"model": 3}, "model", "expected a string"),
        ({"model": "m", "n": 1.5}, "n", "expected an integer"),
        ({"model": "m", "n": True}, "n", "expected an integer"),
        ({"model": "m", "n": 0}, "n", "at least 1"),  # the message also names `model`: the first name wins
        ({"model": "m", "seeds": [1, "x"]}, "seeds[1]", "expected an integer"),
        ({"model": "m", "mode": "triples"}, "mode", "must be one of"),
        ({"model": "m", "sampling": {"temperature": -1}}, "sampling.temperature", ">= 0"),
        ({"model": "m", "sampling": {"top_p": 2}}, "sampling.top_p", "(0, 1]"),
        ({"model": "m", "sampling": 0.5}, "sampling", "expected a JSON object"),
        ({"model": "m", "note": 5}, "note", "expected a string"),
        (None, None, "expected a JSON object"),
    ],
)
def test_errors_name_the_field(data, field, fragment):
    error = error_of(data)
    assert error.field == field
    assert fragment in error.message


def test_null_is_allowed_only_where_the_annotation_allows_it():
    assert config_from_dict(Example, {"model": "m", "note": None}).note is None
    assert error_of({"model": None}).message == "may not be null"


def test_the_diagnostic_kind_is_registered_with_its_queue_from_the_config():
    jtype = registry.job_type("diagnostic")
    assert jtype.config_class is DiagnosticConfig and jtype.rerun_on_worker_lost
    assert jtype.queue_for(jtype.parse_config({})) == "default"
    assert jtype.queue_for(jtype.parse_config({"queue": "gpu"})) == "gpu"


def test_unknown_kinds_and_double_registration_are_refused():
    with pytest.raises(registry.UnknownJobKind):
        registry.job_type("no-such-kind")
    with pytest.raises(ValueError, match="already has a runner"):
        registry.register("diagnostic", config=DiagnosticConfig)(lambda config, progress, context: {})
    with pytest.raises(ValueError, match="not one of"):
        registry.register("not_a_kind_yet", config=DiagnosticConfig, queue="tpu")(lambda config, progress, context: {})
