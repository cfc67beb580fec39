"""training.services.training: the rows a trainer reads, a version's noise rate, the config hash and the
registration of a trained model."""
import pytest

from annotation.errors import PrefStudioError
from training.engine.trainers.config import DPOTrainConfig, RewardTrainConfig
from training.models import ArtifactKind, Job, JobKind, ModelArtifact
from training.services.training import (
    MAX_NOISE_RATE, dataset_version_noise_rate, training_base_location, training_config_hash,
    training_result_register, training_rows,
)

from tests.training.job_fixtures import lab, owner  # noqa: F401
from tests.training.train_fixtures import version_with_rows

pytestmark = pytest.mark.django_db


def test_rows_come_split_in_order_with_weight_source_and_noise_score(lab):
    version = version_with_rows(lab, pairwise=8, listwise=2, unpaired=2)
    train, test = training_rows(dataset_version_id=version.pk, kind="pairwise")
    assert len(train) == 6 and len(test) == 2  # every 4th pairwise row is a test row
    assert [r["prompt"][0]["content"] for r in test] == ["Is 9 a prime number? (3)", "Is 9 a prime number? (7)"]
    first = train[0]
    assert first["chosen"] == "Paris is the capital of France." and first["rejected"] == "The capital is Rome."
    assert first["weight"] == 1.0 and first["split"] == "train" and first["source"] == "human"
    assert first["noise_score"] == 0.1 and first["margin"] is None
    listwise, _ = training_rows(dataset_version_id=version.pk, kind="listwise")
    assert listwise[0]["ranking"] == [[1], [2], [0]] and len(listwise[0]["responses"]) == 3
    thumbs, _ = training_rows(dataset_version_id=version.pk, kind="unpaired")
    assert [r["label"] for r in thumbs] == [True, False]


def test_a_version_without_rows_of_the_kind_is_refused_by_name(lab):
    version = version_with_rows(lab, pairwise=4)
    with pytest.raises(PrefStudioError, match="has no listwise rows in its train split") as caught:
        training_rows(dataset_version_id=version.pk, kind="listwise")
    assert caught.value.field == "dataset_version"
    with pytest.raises(PrefStudioError, match="no dataset version 999999"):
        training_rows(dataset_version_id=999999, kind="pairwise")


def test_noise_rate_is_the_mean_noise_score_of_train_rows_or_the_stated_one(lab):
    assert dataset_version_noise_rate(dataset_version_id=version_with_rows(lab, pairwise=8, noise=0.2).pk) == \
        pytest.approx(0.2)
    assert dataset_version_noise_rate(dataset_version_id=version_with_rows(lab, pairwise=4, noise=None).pk) is None
    stated = version_with_rows(lab, pairwise=4, stats={"noise_rate": 0.07})
    assert dataset_version_noise_rate(dataset_version_id=stated.pk) == pytest.approx(0.07)
    huge = version_with_rows(lab, pairwise=4, noise=0.9)
    assert dataset_version_noise_rate(dataset_version_id=huge.pk) == MAX_NOISE_RATE  # rDPO needs eps < 1/2


def test_the_config_hash_changes_with_the_config_and_the_version():
    base = training_config_hash(config=RewardTrainConfig(base_model_id=1), dataset_version_id=1)
    assert base == training_config_hash(config=RewardTrainConfig(base_model_id=1), dataset_version_id=1)
    assert base != training_config_hash(config=RewardTrainConfig(base_model_id=1, epochs=2.0), dataset_version_id=1)
    assert base != training_config_hash(config=RewardTrainConfig(base_model_id=1), dataset_version_id=2)
    assert len(base) == 64


def test_a_reward_model_is_registered_once_as_a_reward_artifact(lab):
    version = version_with_rows(lab, pairwise=4)
    job = Job.objects.create(kind=JobKind.TRAIN_RM, project=lab, dataset_version=version)
    config = RewardTrainConfig(base_model_id=7)
    kwargs = dict(job_id=job.pk, kind="train_rm", dataset_version_id=version.pk, config=config, model_dir="/m",
                  metrics={"accuracy": 0.75}, lora=False, base_model_id=7)
    artifact = training_result_register(**kwargs)
    assert artifact.kind == ArtifactKind.REWARD and artifact.backend == "hf" and artifact.location == "/m"
    assert artifact.produced_by_id == job.pk and artifact.name == f"rm-job{job.pk}"
    assert artifact.settings["trained_on"] == version.pk and artifact.settings["metrics"] == {"accuracy": 0.75}
    assert artifact.settings["config_hash"] == training_config_hash(config=config, dataset_version_id=version.pk)
    assert training_result_register(**kwargs) == artifact  # a re-run of the job registers nothing new
    assert ModelArtifact.objects.filter(produced_by=job).count() == 1


@pytest.mark.parametrize(("lora", "kind"), [(True, ArtifactKind.ADAPTER), (False, ArtifactKind.BASE)])
def test_a_policy_is_an_adapter_with_lora_else_a_base_model(lab, lora, kind):
    version = version_with_rows(lab, pairwise=4)
    job = Job.objects.create(kind=JobKind.TRAIN_DPO, project=lab, dataset_version=version)
    artifact = training_result_register(job_id=job.pk, kind="train_dpo", dataset_version_id=version.pk,
                                        config=DPOTrainConfig(base_model_id=1, lora=lora), model_dir="/p",
                                        metrics={}, lora=lora, base_model_id=1)
    assert artifact.kind == kind and artifact.name == f"dpo-job{job.pk}"


def test_the_base_model_must_be_a_local_model():
    local = ModelArtifact.objects.create(name="local", backend="hf", location="/models/x")
    served = ModelArtifact.objects.create(name="served", backend="openai", location="http://h/v1")
    assert training_base_location(model_id=local.pk) == "/models/x"
    with pytest.raises(PrefStudioError, match="needs local weights") as caught:
        training_base_location(model_id=served.pk)
    assert caught.value.field == "config.base_model_id"
    with pytest.raises(PrefStudioError, match="no model 424242"):
        training_base_location(model_id=424242)
