"""JUDGE jobs end to end: the real job machinery (job_start -> job_run), the real hf backend on the tiny
model, and labels written through label_create by the judge annotator."""
import json
from functools import partial

import pytest

from annotation.errors import PrefStudioError
from annotation.models import Annotator, AnnotatorKind, Item, ItemState, Label, LabelStatus, Project
from training.engine.judging import JudgeConfig
from training.engine.judging.templates import DEFAULT_TEMPLATES
from training.engine.judging.verdicts import parse_verdict
from training.models import JobKind, JobState, JudgeTemplate, ModelArtifact
from training.services.jobs import job_run, job_start
from training.services.judge_templates import judge_template_get, judge_template_save
from annotation.services.generated import judge_annotator_get_or_create

from tests.training.llm_fixtures import native_project, run_job_inline, tiny, tiny_model_dir  # noqa: F401

pytestmark = pytest.mark.django_db

ITEMS = [
    {"id": "p1", "kind": "pairwise", "prompt": "Name a prime number.",
     "responses": [{"text": "7 is prime."}, {"text": "9 is prime."}],
     "labels": [{"annotator": "ann", "annotator_kind": "human", "winner": "A"}]},
    {"id": "p2", "kind": "pairwise", "prompt": [{"role": "user", "content": "Say hello."}],
     "responses": [{"text": "Hello there!"}, {"text": "Go away."}]},
    {"id": "l1", "kind": "listwise", "prompt": "Summarize the text in one sentence.",
     "responses": [{"text": "A short summary."}, {"text": "No."}, {"text": "The text, summarized well."}]},
    {"id": "t1", "kind": "thumbs", "prompt": "Is this helpful?", "responses": [{"text": "Yes."}]},
]


@pytest.fixture
def project() -> Project:
    return native_project("judged", ITEMS)


run_judge_job = partial(run_job_inline, JobKind.JUDGE)


def test_judge_job_labels_every_pairwise_and_listwise_item_with_probability_and_swap_result(project, tiny):
    job = run_judge_job(project, model_id=tiny.pk, output="choice")
    assert job.state == JobState.SUCCEEDED and job.progress == 100.0
    judge = Annotator.objects.get(pk=job.artifacts["annotator_id"])
    assert judge.kind == AnnotatorKind.JUDGE and judge.name == job.artifacts["judge"]
    assert judge.config["model_id"] == tiny.pk and judge.config["templates"]["pairwise"]["version"] == 1
    labels = {label.item.external_id: label for label in Label.objects.filter(annotator=judge).select_related("item")}
    assert set(labels) == {"p1", "p2", "l1"}  # thumbs items are not judged
    for key in ("p1", "p2"):
        label = labels[key]
        assert label.status == LabelStatus.OK and label.winner in ("A", "B", "tie")
        assert 0.0 <= label.probability <= 1.0
        assert label.swap_consistent in (True, False)
        assert label.shown_order == [0, 1]
        trace = json.loads(label.raw_output)
        pair = trace["pairs"][0]
        assert pair["shown"]["source"] == pair["swapped"]["source"] == "logprobs"
        assert pair["shown"]["outputs"][0] in ("A", "B", "tie") and pair["probability"] == label.probability
        assert label.swap_consistent == pair["swap_consistent"]
    ranking = labels["l1"].ranking
    assert sorted(p for group in ranking for p in group) == [0, 1, 2]
    assert len(json.loads(labels["l1"].raw_output)["pairs"]) == 3
    item = Item.objects.get(project=project, external_id="p2")
    assert item.n_judge_labels == 1 and item.state == ItemState.JUDGED and item.source == "ai"
    assert job.artifacts["items"] == 3 and job.artifacts["written"] == 3
    assert job.metrics and job.metrics[-1]["step"] == 3


def test_the_same_judge_again_skips_what_it_has_labeled(project, tiny):
    first = run_judge_job(project, model_id=tiny.pk, output="choice")
    before = list(Label.objects.order_by("pk").values_list("pk", "probability"))
    again = run_judge_job(project, model_id=tiny.pk, output="choice")
    assert again.artifacts["judge"] == first.artifacts["judge"]
    assert again.artifacts["items"] == 0
    assert list(Label.objects.order_by("pk").values_list("pk", "probability")) == before


def test_free_text_that_states_no_verdict_is_recorded_unparsable_with_its_raw_output(project, tiny):
    """The random tiny model rambles: whatever it wrote, a label is unparsable exactly when no order was readable."""
    job = run_judge_job(project, model_id=tiny.pk, output="text", max_tokens=12, item_ids=list(
        Item.objects.filter(project=project, kind="pairwise").values_list("pk", flat=True)))
    labels = Label.objects.filter(annotator_id=job.artifacts["annotator_id"])
    assert labels.count() == 2
    for label in labels:
        pair = json.loads(label.raw_output)["pairs"][0]
        readable = [parse_verdict(out) is not None for out in pair["shown"]["outputs"] + pair["swapped"]["outputs"]]
        assert (label.status == LabelStatus.UNPARSABLE) == (not any(readable))
        if label.status == LabelStatus.UNPARSABLE:
            assert label.winner == "" and label.probability is None and label.raw_output
    assert job.artifacts["unparsable"] == labels.filter(status=LabelStatus.UNPARSABLE).count()


def test_rating_mode_labels_pairs_from_expected_ratings(project, tiny):
    job = run_judge_job(project, model_id=tiny.pk, mode="rating", output="choice")
    label = Label.objects.get(annotator_id=job.artifacts["annotator_id"], item__external_id="p2")
    trace = json.loads(label.raw_output)
    assert [r["source"] for r in trace["responses"]] == ["logprobs", "logprobs"]
    assert all(1 <= r["expected"] <= 10 for r in trace["responses"])
    assert 0 <= label.probability <= 1 and label.swap_consistent is None
    assert "rating" in job.artifacts["judge"]


def test_template_versions_name_the_judge(project, tiny):
    first = judge_template_get(project=project, mode="pairwise")
    assert (first.version, first.text) == (1, DEFAULT_TEMPLATES["pairwise"])
    edited = judge_template_save(project=project, mode="pairwise", text=DEFAULT_TEMPLATES["pairwise"] + "\nBe strict.")
    assert edited.version == 2
    assert judge_template_save(project=project, mode="pairwise", text=edited.text) == edited  # no empty version
    with pytest.raises(PrefStudioError) as caught:
        judge_template_save(project=project, mode="pairwise", text="Compare $response_a and $reponse_b")
    assert caught.value.field == "text"
    v1 = run_judge_job(project, model_id=tiny.pk, output="choice", template_version=1,
                       item_ids=[Item.objects.get(project=project, external_id="p2").pk])
    latest = run_judge_job(project, model_id=tiny.pk, output="choice",
                           item_ids=[Item.objects.get(project=project, external_id="p2").pk])
    assert v1.artifacts["judge"] != latest.artifacts["judge"]
    judge = Annotator.objects.get(pk=latest.artifacts["annotator_id"])
    assert judge.config["templates"]["pairwise"]["version"] == 2
    prompt = json.loads(Label.objects.get(annotator=judge).raw_output)
    assert prompt["pairs"][0]["shown"]["outputs"]  # judged with the edited template
    assert JudgeTemplate.objects.filter(project=project, mode="pairwise").count() == 2


def test_a_judge_name_cannot_change_its_setup(project, tiny):
    run_judge_job(project, model_id=tiny.pk, output="choice", judge_name="my-judge")
    job = run_judge_job(project, model_id=tiny.pk, output="choice", judge_name="my-judge", mode="rating")
    assert job.state == JobState.FAILED and "another setup" in job.error
    with pytest.raises(PrefStudioError, match="human"):
        Annotator.objects.create(name="someone", kind=AnnotatorKind.HUMAN)
        judge_annotator_get_or_create(name="someone", identity={})


def test_judge_job_config_is_checked_when_started(project, tiny):
    with pytest.raises(PrefStudioError) as caught:
        job_start(kind=JobKind.JUDGE, config={"model_id": tiny.pk, "samples": 3}, project=project)
    assert caught.value.field == "config.temperature"
    with pytest.raises(PrefStudioError) as caught:
        job_start(kind=JobKind.JUDGE, config={"model_id": tiny.pk, "mode": "vibes"}, project=project)
    assert caught.value.field == "config.mode"


def test_judge_jobs_go_to_the_gpu_queue_only_for_in_process_vllm(project, tiny):
    from training.jobs.registry import job_type

    gpu = ModelArtifact.objects.create(name="big", backend="vllm", location="/models/big")
    served = ModelArtifact.objects.create(name="served", backend="openai", location="http://x/v1")
    jtype = job_type(JobKind.JUDGE)
    assert jtype.queue_for(JudgeConfig(model_id=tiny.pk)) == "default"
    assert jtype.queue_for(JudgeConfig(model_id=served.pk)) == "default"
    assert jtype.queue_for(JudgeConfig(model_id=gpu.pk)) == "gpu"


def test_a_missing_model_is_refused_at_start_and_fails_a_queued_job_with_a_clear_error(project, tiny):
    with pytest.raises(PrefStudioError) as refused:
        run_judge_job(project, model_id=999_999)
    assert refused.value.field == "config.model_id" and "no model 999999" in refused.value.message
    job = job_start(kind=JobKind.JUDGE, config={"model_id": tiny.pk}, project=project)
    tiny.delete()  # gone before a worker takes the job
    assert job_run(job_id=job.pk, worker="test") == JobState.FAILED
    job.refresh_from_db()
    assert "no model" in job.error and str(job.config["model_id"]) in job.error


def test_a_judge_job_works_on_a_project_that_allows_partial_rankings(project, tiny):
    """The random tiny model says nothing readable in 4 tokens: its listwise verdict is unparsable, and the label is
    recorded as such (issue 12, item 4: label_create checked the ranking before seeing the verdict unparsable)."""
    Project.objects.filter(pk=project.pk).update(allow_partial_ranking=True)
    listwise = Item.objects.get(project=project, kind="listwise")
    job = run_judge_job(project, model_id=tiny.pk, max_tokens=4, item_ids=[listwise.pk])
    assert job.state == JobState.SUCCEEDED, job.error
    label = Label.objects.get(annotator_id=job.artifacts["annotator_id"], item=listwise)
    assert label.status == LabelStatus.UNPARSABLE or label.ranking
