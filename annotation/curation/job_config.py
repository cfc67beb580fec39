"""The config of a curation run (the `curate` job): which CurationConfig, and a name for the version it freezes.

Plain Python (no Django). Annotation's curation page builds its form from it and training's job runner
(training/jobs/runners/curate.py) parses a job's config with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.config import ConfigError, config_from_dict

from .dataset import CurationConfig

__all__ = ["CurateJobConfig"]


@dataclass
class CurateJobConfig:
    """A curation run: the CurationConfig (annotation.curation.dataset) as JSON, and a name for the version."""

    curation: dict[str, Any] = field(default_factory=dict)
    """The CurationConfig fields (method, drop, downweight, ties, listwise_pairs, test_fraction, seed, ...);
    missing ones take their defaults. Checked when the job is started, so a typo never reaches a worker."""
    name: str = ""
    """A name for the dataset version (at most 200 characters)."""

    def __post_init__(self) -> None:
        if len(self.name) > 200:
            raise ValueError(f"name may be at most 200 characters, got {len(self.name)}")
        try:
            config_from_dict(CurationConfig, self.curation)
        except ConfigError as exc:
            raise ConfigError(f"curation.{exc.field}" if exc.field else "curation", exc.message) from exc
