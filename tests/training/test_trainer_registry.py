"""One table per trainer (training/engine/trainers/registry.py): a trainer registered in one place -- here, a toy
one registered by this test -- is on the start form, in the API schema and the job list's filters, and a job of its
kind runs its engine entry point. The built-in trainers are read from the same table."""
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from drf_spectacular.plumbing import _load_enum_name_overrides

from annotation.models import DatasetVersion
from training.engine.trainers.config import TrainConfig
from training.engine.trainers.registry import TrainerSpec, trainer_register, trainer_spec, trainer_unregister
from training.models import Job, JobKind, JobState, ModelArtifact, job_kind_choices
from training.services.jobs import job_run, job_start

from .job_fixtures import lab, owner  # noqa: F401
from .train_fixtures import artifact_dir, version_with_rows  # noqa: F401

pytestmark = pytest.mark.django_db
CALLS: list[dict] = []  # what the toy engine was called with


@dataclass
class ToyTrainConfig(TrainConfig):
    """A toy trainer that learns nothing: it counts its rows."""

    flavour: str = field(default="plain", metadata={"choices": ("plain", "spicy")})
    """How the toy trains (a str field whose values its metadata lists: the form shows a select)."""


def toy_train(config, *, train_rows, test_rows, model_path, output_dir, progress, noise_rate=None) -> dict:
    """The toy's engine entry point: records the call and writes a "model" folder."""
    CALLS.append({"flavour": config.flavour, "train_rows": len(train_rows), "model_path": model_path})
    model_dir = Path(output_dir) / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "toy.json").write_text(json.dumps({"rows": len(train_rows)}))
    progress.metric(1, loss=0.5)
    return {"model_dir": str(model_dir), "metrics": {"rows": len(train_rows)}, "steps": 1}


TOY = TrainerSpec("train_toy", "Toy trainer", "Train a toy", "pairwise", ToyTrainConfig,
                  f"{__name__}:toy_train")


@pytest.fixture
def toy():
    """The toy trainer, registered for the test only (the one place a new trainer is written down)."""
    trainer_register(TOY)
    _load_enum_name_overrides.cache_clear()  # drf-spectacular caches the JobKindEnum choices
    CALLS.clear()
    yield TOY
    trainer_unregister(TOY.kind)
    _load_enum_name_overrides.cache_clear()


@pytest.fixture
def base():
    return ModelArtifact.objects.create(name="toy-base", backend="hf", location="/models/toy-base")


def test_the_built_in_trainers_come_from_the_table():
    assert [trainer_spec(k).row_kind for k in ("train_rm", "train_dpo", "train_listwise", "train_kto")] == [
        "pairwise", "pairwise", "listwise", "unpaired"]
    assert JobKind.TRAIN_DPO.label == trainer_spec("train_dpo").job_label == "Train with DPO"
    assert "train_toy" not in dict(job_kind_choices())


def test_a_spec_with_a_bad_kind_or_row_kind_is_refused():
    with pytest.raises(ValueError, match="train_<lowercase name>"):
        TrainerSpec("toy", "Toy", "Train a toy", "pairwise", ToyTrainConfig, f"{__name__}:toy_train")
    with pytest.raises(ValueError, match="row_kind must be one of"):
        TrainerSpec("train_toy", "Toy", "Train a toy", "pairs", ToyTrainConfig, f"{__name__}:toy_train")


def test_a_registered_trainer_has_a_tab_and_a_form_built_from_its_spec(client, owner, lab, base, toy):
    version_with_rows(lab, pairwise=8)
    client.force_login(owner)
    page = client.get("/jobs/train/?trainer=toy").content.decode()  # its short name works too
    assert 'data-trainer="train_toy"' in page and ">Toy trainer</a>" in page
    assert 'data-trainer="train_dpo"' in page  # beside the built-in ones
    assert "A toy trainer that learns nothing" in page  # the config's docstring
    assert '<select name="flavour"' in page and '<option value="spicy"' in page  # metadata choices: a select
    assert "toy-base" in page  # a causal-LM trainer: base models are offered


def test_a_registered_trainer_is_a_job_kind_in_the_api_schema_and_the_job_list(client, owner, lab, toy):
    client.force_login(owner)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    kinds = schema["components"]["schemas"]["JobKindEnum"]["enum"]
    assert "train_toy" in kinds and "train_dpo" in kinds
    assert client.get("/api/jobs/?kind=train_toy").status_code == 200  # the filter knows it
    assert client.get("/api/jobs/?kind=train_nothing").status_code == 400


def test_a_job_of_the_registered_kind_runs_its_entry_point(lab, base, toy, artifact_dir):
    version = version_with_rows(lab, pairwise=8)
    job = job_start(kind="train_toy", config={"base_model_id": base.pk, "flavour": "spicy"},
                    dataset_version=version)
    assert job.get_kind_display() == "Train a toy" and job.config["flavour"] == "spicy"
    assert job_run(job_id=job.pk, worker="test") == "succeeded"
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert CALLS == [{"flavour": "spicy", "train_rows": 6, "model_path": "/models/toy-base"}]
    trained = ModelArtifact.objects.get(produced_by=job)
    assert trained.name == f"toy-job{job.pk}" and trained.kind == "base" and trained.project == lab
    assert job.artifacts["metrics"] == {"rows": 6} and job.artifacts["train_rows"] == 6


def test_an_unregistered_trainer_kind_is_refused_by_job_start_and_the_page(client, owner, lab):
    version = version_with_rows(lab, pairwise=4)
    from annotation.errors import PrefStudioError

    with pytest.raises(PrefStudioError, match="no job runner for kind 'train_toy'"):
        job_start(kind="train_toy", config={}, dataset_version=version)
    client.force_login(owner)
    assert client.get("/jobs/train/?trainer=train_toy").status_code == 404
    assert not Job.objects.exists() and DatasetVersion.objects.count() == 1
