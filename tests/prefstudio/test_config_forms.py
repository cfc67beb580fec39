"""The config-to-form generator (prefstudio/config_forms.py) on a toy dataclass: which form field each dataclass
field becomes, the round trip form -> config -> dataclass, a saved config pre-filled, and a config error shown on
the field it names."""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pytest
from django import forms

from annotation import errors

from prefstudio.config_forms import ConfigForm, refusals_on

COLORS = ("red", "dark_blue")


class Shape(enum.Enum):
    ROUND = "round"
    SQUARE = "square"


class ToyError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass
class Inner:
    depth: int = 3
    """How deep, 1-5."""

    def __post_init__(self) -> None:
        if not 1 <= self.depth <= 5:
            raise ToyError("inner.depth", f"depth must be from 1 to 5, got {self.depth}")


@dataclass
class Toy:
    name: str = "toy"
    """The toy's name."""
    count: int = field(default=2, metadata={"min": 1, "max": 10})
    """How many."""
    ratio: float | None = None
    """A share, 0-1; empty: none."""
    color: Literal["red", "dark_blue"] = "red"
    """Its colour."""
    shape: Shape = Shape.ROUND
    """Its shape."""
    enabled: bool = True
    """Switched on."""
    tags: list[str] = field(default_factory=lambda: ["a", "b"])
    """Free tags."""
    colors: list[str] = field(default_factory=list)
    """Extra colours (the module's COLORS)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """A shape no form shows."""
    inner: Inner = field(default_factory=Inner)
    speed: str = field(default="fast", metadata={"choices": ("fast", "slow"), "help": "How fast.", "label": "Pace"})

    def __post_init__(self) -> None:
        if isinstance(self.inner, dict):
            self.inner = Inner(**self.inner)
        if self.ratio is not None and not 0 <= self.ratio <= 1:
            raise ToyError("ratio", f"ratio must be from 0 to 1, got {self.ratio}")


class ToyForm(ConfigForm):
    config_class = Toy


POSTED = {"name": "bear", "count": "4", "ratio": "", "color": "dark_blue", "shape": "square", "enabled": "",
          "tags": "x, y ,, z", "colors": ["red"], "inner__depth": "2", "speed": "slow"}


def test_each_dataclass_field_becomes_the_form_field_of_its_type():
    """Types, defaults, docstrings and metadata decide the field: bounds, choices, labels, help; dicts are left
    out and a nested dataclass is flattened."""
    form = ToyForm()
    f = form.fields
    assert list(f) == ["name", "count", "ratio", "color", "shape", "enabled", "tags", "colors", "inner__depth",
                       "speed"]  # extra (a dict) has no field
    assert isinstance(f["name"], forms.CharField) and f["name"].initial == "toy"
    assert f["name"].help_text == "The toy's name." and f["name"].label == "Name"
    assert isinstance(f["count"], forms.IntegerField) and f["count"].required
    assert (f["count"].min_value, f["count"].max_value, f["count"].initial) == (1, 10, 2)
    assert isinstance(f["ratio"], forms.FloatField) and not f["ratio"].required  # Optional
    assert f["color"].choices == [("red", "red"), ("dark_blue", "dark blue")] and f["color"].initial == "red"
    assert f["shape"].choices == [("round", "round"), ("square", "square")] and f["shape"].initial == "round"
    assert isinstance(f["enabled"], forms.BooleanField) and f["enabled"].initial is True
    assert isinstance(f["tags"], forms.CharField) and f["tags"].initial == "a, b"
    assert f["tags"].help_text == "Free tags. Separate values with commas."
    assert isinstance(f["colors"], forms.MultipleChoiceField) and [v for v, _ in f["colors"].choices] == list(COLORS)
    assert f["inner__depth"].initial == 3 and f["inner__depth"].help_text == "How deep, 1-5."
    assert (f["speed"].label, f["speed"].help_text) == ("Pace", "How fast.")
    assert [v for v, _ in f["speed"].choices] == ["fast", "slow"]
    html = str(form["count"])
    assert 'min="1"' in html and 'max="10"' in html and 'value="2"' in html


def test_a_posted_form_round_trips_to_the_dataclass():
    """config() nests the fields again, splits comma lists, leaves an empty optional number to the default."""
    form = ToyForm(POSTED)
    assert form.is_valid(), form.errors
    config = form.config()
    assert config == {"name": "bear", "count": 4, "color": "dark_blue", "shape": "square", "enabled": False,
                      "tags": ["x", "y", "z"], "colors": ["red"], "inner": {"depth": 2}, "speed": "slow"}
    toy = Toy(**config)
    assert toy.inner == Inner(depth=2) and toy.ratio is None and toy.extra == {}
    again = ToyForm(values=toy)  # a saved config pre-fills the form
    assert {name: again[name].value() for name in ("name", "count", "tags", "colors", "inner__depth", "shape")} == {
        "name": "bear", "count": 4, "tags": "x, y, z", "colors": ["red"], "inner__depth": 2, "shape": "square"}


def test_a_config_error_lands_on_the_field_it_names():
    """The dataclass's error names "config.inner.depth": it shows on inner__depth, not above the form; a field
    the form does not show puts it above the form; the form's own bounds refuse before the config is built."""
    form = ToyForm({**POSTED, "inner__depth": "9", "ratio": "0.5"})
    assert form.is_valid()
    try:
        Toy(**form.config())
    except ToyError as exc:
        form.add_config_error(f"config.{exc.field}", exc.message)
    assert form.errors == {"inner__depth": ["depth must be from 1 to 5, got 9"]}
    form.add_config_error("config.extra.key", "extra is wrong")
    assert form.non_field_errors() == ["extra is wrong"]
    bounded = ToyForm({**POSTED, "count": "11"})
    assert not bounded.is_valid() and list(bounded.errors) == ["count"]


def test_started_puts_a_service_refusal_on_its_field_and_lets_a_403_through():
    """What every start view does with a service call: its result; a refusal naming a config field on that field
    (None back); PermissionDenied is not a form error but the error middleware's 403."""
    form = ToyForm(POSTED)
    assert form.is_valid()
    assert form.started(lambda: 42) == 42 and not form.errors

    def refuse() -> None:
        raise errors.PrefStudioError("depth 3 is too deep for this model", field="config.inner.depth")

    assert form.started(refuse) is None
    assert form.errors == {"inner__depth": ["depth 3 is too deep for this model"]}

    def forbid() -> None:
        raise errors.PermissionDenied("only the project's owners may start jobs")

    with pytest.raises(errors.PermissionDenied):
        ToyForm(POSTED).started(forbid)


def test_job_form_settings_default_in_help_lists_left_out_advanced_json_underneath():
    """show_default adds the default to the help, show_lists=False leaves lists to the advanced JSON, and the
    fields win over the JSON's keys except where they are left empty."""

    class JobForm(ConfigForm):
        config_class = Toy
        show_default = True
        show_lists = False
        empty_means_none = frozenset({"count"})
        advanced = forms.CharField(required=False)

    form = JobForm({**POSTED, "count": "", "advanced": '{"ratio": 0.25, "name": "json", "tags": ["j"]}'})
    assert "tags" not in form.fields and "colors" not in form.fields
    assert form.fields["count"].help_text == "How many. Default: 2."
    form.fields["count"].required = False
    assert form.is_valid(), form.errors
    config = form.config()
    assert (config["name"], config["ratio"], config["tags"], config["count"]) == ("bear", 0.25, ["j"], None)
    bad = JobForm({**POSTED, "advanced": "[1]"})
    assert not bad.is_valid() and "must be a JSON object" in bad.errors["advanced"][0]


def test_refusals_on_puts_the_refusal_on_the_form_skips_the_rest_of_the_block_and_lets_a_403_through():
    """What the plain form views do around a service call (ConfigForm.started is the same with config paths)."""
    form = ToyForm(POSTED)
    assert form.is_valid()
    done = []
    with refusals_on(form):
        done.append("called")
        raise errors.Conflict("the name is taken", field="name")
    done.append("after")  # the block's remaining lines do not run; the view goes on here
    assert done == ["called", "after"]
    assert form.errors == {"name": ["the name is taken"]} and form.refusal.status_code == 409
    elsewhere = ToyForm(POSTED)
    elsewhere.is_valid()
    with refusals_on(elsewhere):
        raise errors.PrefStudioError("no such field here", field="config.nowhere")
    assert elsewhere.errors == {"__all__": ["no such field here"]}
    with pytest.raises(errors.PermissionDenied), refusals_on(ToyForm(POSTED)):
        raise errors.PermissionDenied("only the project's owners may do this")
