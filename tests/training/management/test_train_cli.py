"""Starting a training job from the command line: `manage.py jobs start train_rm --dataset-version PROJECT:N`."""
import io
import json

import pytest
from django.core.management import CommandError, call_command

from training.models import Job, JobKind, ModelArtifact

from tests.training.job_fixtures import lab, owner  # noqa: F401
from tests.training.train_fixtures import version_with_rows

pytestmark = pytest.mark.django_db


def test_a_training_job_starts_on_a_version_named_by_project_and_number_or_id(lab, django_capture_on_commit_callbacks):
    version_with_rows(lab, pairwise=4)
    second = version_with_rows(lab, pairwise=4)
    model = ModelArtifact.objects.create(name="minilm", backend="hf", location="/models/minilm")
    out = io.StringIO()
    config = json.dumps({"base_model_id": model.pk, "epochs": 2})
    with django_capture_on_commit_callbacks(execute=False):
        call_command("jobs", "start", "train_rm", "--config", config, "--dataset-version", "lab:2", stdout=out)
        call_command("jobs", "start", "train_rm", "--config", config, "--dataset-version", str(second.pk))
    jobs = list(Job.objects.order_by("pk"))
    assert [j.dataset_version_id for j in jobs] == [second.pk, second.pk] and jobs[0].project == lab
    assert jobs[0].kind == JobKind.TRAIN_RM and jobs[0].config["epochs"] == 2.0
    assert f"job {jobs[0].pk} queued (train_rm)" in out.getvalue()
    for missing in ("lab:9", "nope:1", "lab:x", "999999"):
        with pytest.raises(CommandError, match="no dataset version"):
            call_command("jobs", "start", "train_rm", "--config", config, "--dataset-version", missing)
