"""Dataset versions for the training tests, written directly as DatasetVersion + DatasetRow rows in the schema
curation writes (see the brief's "Dataset rows"): a pairwise row prefers a short correct answer to a wrong one.

`version_with_rows(project, pairwise=..., listwise=..., unpaired=..., test_share=...)`; `tiny_encoder_dir`
(session): a tiny BERT-style sequence classifier built locally for reward-model runs; `artifact_dir` points
ARTIFACT_DIR at a temporary directory.
"""
from pathlib import Path

import pytest

from annotation.models import DatasetRow, DatasetVersion

QUESTIONS = [("What is the capital of France?", "Paris is the capital of France.", "The capital is Rome."),
             ("Name a prime number.", "7 is prime.", "9 is prime."),
             ("Say hello.", "Hello there! How are you today?", "No."),
             ("Is 9 a prime number?", "No: 9 is 3 x 3.", "Yes, 9 is prime.")]


def pair_row(i: int, *, noise: float | None = 0.1, source: str = "human") -> dict:
    q, good, bad = QUESTIONS[i % len(QUESTIONS)]
    return {"kind": "pairwise",
            "data": {"prompt": [{"role": "user", "content": f"{q} ({i})"}], "chosen": good, "rejected": bad,
                     "margin": None},
            "provenance": {"item": f"p{i}", "origin": "pairwise", "source": source, "noise_score": noise}}


def training_pair(i: int, *, flip: bool = False) -> dict:
    """A pairwise row as the engines read it (what training_rows returns); `flip` swaps chosen and rejected."""
    spec = pair_row(i)
    data = dict(spec["data"])
    if flip:
        data["chosen"], data["rejected"] = data["rejected"], data["chosen"]
    return {**data, "weight": 1.0, "split": "train", "source": "human", "noise_score": 0.1}


def list_row(i: int) -> dict:
    q, good, bad = QUESTIONS[i % len(QUESTIONS)]
    return {"kind": "listwise",
            "data": {"prompt": [{"role": "user", "content": q}], "responses": [bad, good, "I do not know."],
                     "ranking": [[1], [2], [0]]},
            "provenance": {"item": f"l{i}", "origin": "listwise", "source": "human", "noise_score": 0.0}}


def thumbs_row(i: int) -> dict:
    q, good, bad = QUESTIONS[i % len(QUESTIONS)]
    up = i % 2 == 0
    return {"kind": "unpaired",
            "data": {"prompt": [{"role": "user", "content": q}], "completion": good if up else bad, "label": up},
            "provenance": {"item": f"t{i}", "origin": "thumbs", "source": "human", "noise_score": None}}


def version_with_rows(project, *, pairwise: int = 0, listwise: int = 0, unpaired: int = 0, test_every: int = 4,
                      stats: dict | None = None, noise: float | None = 0.1) -> DatasetVersion:
    """A frozen version of `project`: every `test_every`-th row of each kind in the test split."""
    number = DatasetVersion.objects.filter(project=project).count() + 1
    version = DatasetVersion.objects.create(project=project, number=number, name=f"v{number}", config_hash="x" * 64,
                                            stats=stats or {})
    specs = ([pair_row(i, noise=noise, source=("human", "ai")[i % 2]) for i in range(pairwise)]
             + [list_row(i) for i in range(listwise)] + [thumbs_row(i) for i in range(unpaired)])
    rows, per_kind = [], {}
    for index, spec in enumerate(specs):
        n = per_kind[spec["kind"]] = per_kind.get(spec["kind"], -1) + 1
        split = "test" if n % test_every == test_every - 1 else "train"
        rows.append(DatasetRow(version=version, index=index, split=split, kind=spec["kind"], data=spec["data"],
                               weight=1.0, provenance=spec["provenance"]))
    DatasetRow.objects.bulk_create(rows)
    version.n_rows = len(rows)
    version.save(update_fields=["n_rows"])
    return version


@pytest.fixture
def artifact_dir(settings, tmp_path) -> Path:
    settings.ARTIFACT_DIR = tmp_path / "artifacts"
    return settings.ARTIFACT_DIR
