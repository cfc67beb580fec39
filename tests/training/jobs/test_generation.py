"""GENERATE jobs end to end: the real job machinery, the hf backend on the tiny model, Responses and Items
written in bulk and keyed by content."""
from functools import partial

import pytest

from annotation.models import Item, ItemResponse, Project, Response, ResponseOrigin
from training.engine.generation import GenerationConfig
from training.models import JobKind, JobState, ModelArtifact

from tests.training.llm_fixtures import native_project, run_job_inline, tiny, tiny_model_dir  # noqa: F401

pytestmark = pytest.mark.django_db

PROMPTS = [
    {"id": "x1", "kind": "thumbs", "prompt": "Name a prime number.", "prompt_metadata": {"split": "test"},
     "responses": [{"text": "7"}]},
    {"id": "x2", "kind": "thumbs", "prompt": "Say hello.", "prompt_metadata": {"split": "train", "tags": ["greet"]},
     "responses": [{"text": "Hi"}]},
]


@pytest.fixture
def project() -> Project:
    return native_project("gen", PROMPTS)


run_generate_job = partial(run_job_inline, JobKind.GENERATE)


def generated():
    return Response.objects.filter(origin=ResponseOrigin.GENERATED)


def test_generate_job_records_how_every_response_was_made_and_pairs_them(project, tiny):
    job = run_generate_job(project, model_ids=[tiny.pk], n=3, temperature=1.0, top_p=0.95, max_tokens=8, seed=7)
    assert job.state == JobState.SUCCEEDED
    responses = list(generated())
    assert 4 <= len(responses) <= 6  # 3 per prompt, fewer only if a sample repeated or came out empty
    for response in responses:
        assert response.model_name == "tiny-llama" and response.seed is not None and response.text.strip()
        params = response.gen_params
        assert (params["temperature"], params["top_p"], params["max_tokens"], params["job_seed"]) == (1.0, 0.95, 8, 7)
        assert params["backend"] == "hf" and 0 < params["n_tokens"] <= 8
    items = Item.objects.filter(project=project, metadata__source="generate")
    per_prompt = {}
    for response in responses:
        per_prompt[response.prompt_id] = per_prompt.get(response.prompt_id, 0) + 1
    assert items.count() == sum(n * (n - 1) // 2 for n in per_prompt.values())  # all pairs
    for item in items:
        slots = list(ItemResponse.objects.filter(item=item).order_by("position"))
        assert item.kind == "pairwise" and item.n_responses == 2 and len(slots) == 2
        assert {s.response.prompt_id for s in slots} == {item.prompt_id}
        assert item.metadata["job"] == job.pk
    assert job.artifacts["responses_created"] == len(responses) and job.artifacts["items_created"] == items.count()
    assert "pairwise" in Project.objects.get(pk=project.pk).task_kinds


def test_the_same_generate_job_again_adds_nothing(project, tiny):
    config = {"model_ids": [tiny.pk], "n": 2, "max_tokens": 6, "seed": 3}
    first = run_generate_job(project, **config)
    rows = (list(generated().order_by("pk").values_list("pk", "text")), Item.objects.count())
    again = run_generate_job(project, **config)
    assert again.artifacts["responses_created"] == 0 and again.artifacts["items_created"] == 0
    assert again.artifacts["items_existing"] == first.artifacts["items_created"]
    assert (list(generated().order_by("pk").values_list("pk", "text")), Item.objects.count()) == rows


def test_listwise_item_of_k_from_prompts_picked_by_metadata(project, tiny):
    job = run_generate_job(project, model_ids=[tiny.pk], n=4, max_tokens=6, prompts="metadata",
                           metadata={"tags": ["greet"]}, pairing="listwise_k", k=3)
    [item] = Item.objects.filter(project=project, metadata__source="generate")
    assert item.kind == "listwise" and item.n_responses == 3
    assert item.prompt.external_id == Item.objects.get(project=project, external_id="x2").prompt.external_id
    assert job.artifacts["prompts"] == 1


def test_random_pairs_per_prompt(project, tiny):
    run_generate_job(project, model_ids=[tiny.pk], n=4, max_tokens=6, pairing="random_pairs", pairs_per_prompt=2,
                     prompts="ids", prompt_ids=[Item.objects.get(project=project, external_id="x1").prompt_id])
    assert Item.objects.filter(project=project, metadata__source="generate").count() == 2


def test_best_vs_worst_by_the_scorers_expected_rating(project, tiny):
    run_generate_job(project, model_ids=[tiny.pk], n=3, max_tokens=6, pairing="best_vs_worst", scorer_model_id=tiny.pk)
    items = Item.objects.filter(project=project, metadata__source="generate")
    assert 1 <= items.count() <= 2
    for item in items:
        low, high = sorted(item.metadata["scores"])
        assert 1 <= low < high <= 10  # the pair holds the best and the worst, which differ
        ratings = [s for s in item.metadata["scores"]]
        assert len(ratings) == 2


def test_generate_jobs_go_to_the_gpu_queue_for_vllm_models(project, tiny):
    from training.jobs.registry import job_type

    gpu = ModelArtifact.objects.create(name="big", backend="vllm", location="/models/big")
    jtype = job_type(JobKind.GENERATE)
    assert jtype.queue_for(GenerationConfig(model_ids=[tiny.pk])) == "default"
    assert jtype.queue_for(GenerationConfig(model_ids=[tiny.pk, gpu.pk])) == "gpu"
    assert jtype.queue_for(GenerationConfig(model_ids=[tiny.pk], pairing="best_vs_worst", scorer_model_id=gpu.pk)) == "gpu"
