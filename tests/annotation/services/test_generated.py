"""annotation/services/generated.py: how training's generate and judge jobs write into annotation (through the
real database; the jobs themselves are tested in tests/training/test_generation.py and test_judging.py)."""
import pytest

from annotation.errors import PrefStudioError
from annotation.models import Annotator, Item, ItemResponse, Prompt, Response
from annotation.services.generated import (
    SampledResponse, generated_items_write, generated_responses_write, judge_annotator_get_or_create,
)
from annotation.services.projects import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def prompt(user):
    project = project_create(slug="gen", name="Gen", owner=user, task_kinds=["pairwise"])
    return Prompt.objects.create(project=project, external_id="p1", messages=[{"role": "user", "content": "Hi?"}])


def sampled(prompt, text: str, model: str = "tiny", seed: int = 0) -> SampledResponse:
    return SampledResponse(prompt_id=prompt.pk, text=text, model_name=model, seed=seed, gen_params={"n": 2})


def test_responses_are_written_once_per_text_and_model(prompt):
    """The first sample of an identical text wins; a second write of the same texts creates nothing."""
    first = [sampled(prompt, "Hello!", seed=1), sampled(prompt, "Hello!", seed=2), sampled(prompt, "Hey.")]
    stored, created = generated_responses_write(responses=first)
    assert created == 2 and len(stored) == 2
    hello = Response.objects.get(pk=stored[first[0].key])
    assert (hello.text, hello.seed, hello.origin, hello.gen_params) == ("Hello!", 1, "generated", {"n": 2})
    again, created = generated_responses_write(responses=[sampled(prompt, "Hey."), sampled(prompt, "Hey.", "big")])
    assert created == 1 and again[first[2].key] == stored[first[2].key]  # the same text of another model is new
    assert generated_responses_write(responses=[]) == ({}, 0)


def test_items_are_keyed_by_their_prompt_and_responses(prompt):
    stored, _ = generated_responses_write(responses=[sampled(prompt, "A"), sampled(prompt, "B")])
    a, b = stored.values()
    counts = generated_items_write(project=prompt.project, groups={prompt.pk: [(a, b)]}, pairing="all_pairs",
                                   job_id=7, scores={a: 8.0, b: 2.0})
    assert counts == {"items_created": 1, "items_existing": 0}
    item = Item.objects.get()
    assert item.metadata == {"source": "generate", "pairing": "all_pairs", "job": 7, "scores": [8.0, 2.0]}
    assert list(ItemResponse.objects.filter(item=item).order_by("position").values_list("response_id", flat=True)) \
        == [a, b]
    again = generated_items_write(project=prompt.project, groups={prompt.pk: [(a, b)]}, pairing="all_pairs",
                                  job_id=8)
    assert again == {"items_created": 0, "items_existing": 1} and Item.objects.count() == 1


def test_a_judge_annotator_is_created_once_and_must_keep_its_setup():
    identity = {"model": "tiny", "mode": "pairwise"}
    judge = judge_annotator_get_or_create(name="tiny-judge", identity=identity)
    assert judge.kind == "judge" and judge_annotator_get_or_create(name="tiny-judge", identity=identity) == judge
    with pytest.raises(PrefStudioError) as caught:
        judge_annotator_get_or_create(name="tiny-judge", identity={**identity, "mode": "rating"})
    assert caught.value.field == "judge_name" and "another setup" in caught.value.message
    Annotator.objects.create(name="ann", kind="human")
    with pytest.raises(PrefStudioError, match="is a human annotator"):
        judge_annotator_get_or_create(name="ann", identity=identity)
