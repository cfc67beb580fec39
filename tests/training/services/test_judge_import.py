"""Verdicts of judges that ran elsewhere come in through the native import, as labels of a named judge
annotator -- the same kind of row a judge job writes, so both are counted, compared and curated alike."""
import io
import json

import pytest

from annotation.models import Annotator, AnnotatorKind, Item, ItemState, Label, LabelStatus
from annotation.services.imports import data_import
from scripts.convert import pandalm
from training.models import JobKind, JobState, ModelArtifact
from training.services.jobs import job_run, job_start

from tests.training.llm_fixtures import tiny_model_dir  # noqa: F401

pytestmark = pytest.mark.django_db

PAIR = {"id": "q1", "kind": "pairwise", "prompt": "Name a prime number.",
        "responses": [{"text": "7 is prime.", "model": "m1"}, {"text": "9 is prime.", "model": "m2"}]}
PAIR2 = {"id": "q2", "kind": "pairwise", "prompt": "Say hello.",
         "responses": [{"text": "Hello!", "model": "m1"}, {"text": "Go away.", "model": "m2"}]}


def native(records) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(r) + "\n" for r in records).encode())


def test_external_judge_verdicts_add_labels_to_items_already_there():
    data_import(project_slug="ext", fmt="native", stream=native([PAIR, PAIR2]))
    verdicts = [
        {**PAIR, "labels": [{"annotator": "gpt-4o-judge", "annotator_kind": "judge", "winner": "A",
                             "probability": 0.83, "swap_consistent": False, "shown_order": [1, 0],
                             "rationale": "7 is prime; 9 is not.", "raw_output": "[[A]] 7 is prime"}]},
        {**PAIR2, "labels": [{"annotator": "gpt-4o-judge", "annotator_kind": "judge", "unparsable": True,
                              "raw_output": "I'd rather not say."}]},
    ]
    report = data_import(project_slug="ext", fmt="native", stream=native(verdicts))
    assert (report.items_created, report.labels_created) == (0, 2)
    judge = Annotator.objects.get(name="gpt-4o-judge")
    assert judge.kind == AnnotatorKind.JUDGE
    ok = Label.objects.get(annotator=judge, item__external_id="q1")
    assert (ok.winner, ok.probability, ok.swap_consistent, ok.shown_order) == ("A", 0.83, False, [1, 0])
    assert ok.raw_output == "[[A]] 7 is prime" and ok.rationale == "7 is prime; 9 is not."
    bad = Label.objects.get(annotator=judge, item__external_id="q2")
    assert bad.status == LabelStatus.UNPARSABLE and bad.winner == "" and bad.raw_output == "I'd rather not say."
    item = Item.objects.get(external_id="q1")
    assert item.n_judge_labels == 1 and item.state == ItemState.JUDGED
    # Importing the same verdicts again adds nothing.
    assert data_import(project_slug="ext", fmt="native", stream=native(verdicts)).labels_created == 0


def test_pandalm_judges_import_beside_a_judge_job_on_the_same_items(datasets, tiny_model_dir):
    records = [r for r in pandalm.convert(datasets / "pandalm", limit=120) if r["metadata"]["idx"] in (0, 114, 116)]
    assert len(records) == 3
    data_import(project_slug="pandalm-judges", fmt="native", stream=native(records))
    garbage = Label.objects.get(annotator__name="gpt-3.5-turbo", item__external_id="pandalm-114")
    assert garbage.status == LabelStatus.UNPARSABLE and json.loads(garbage.raw_output)["gpt_result"] == "garbage"
    assert Annotator.objects.get(name="pandalm-7b").kind == AnnotatorKind.JUDGE

    tiny = ModelArtifact.objects.create(name="tiny-llama", backend="hf", location=str(tiny_model_dir))
    project = Item.objects.get(external_id="pandalm-0").project
    job = job_start(kind=JobKind.JUDGE, config={"model_id": tiny.pk, "output": "choice"}, project=project)
    assert job_run(job_id=job.pk) == JobState.SUCCEEDED
    for item in Item.objects.filter(project=project):
        judges = set(item.labels.filter(annotator__kind=AnnotatorKind.JUDGE).values_list("annotator__name", flat=True))
        assert judges == {"gpt-3.5-turbo", "pandalm-7b", judge_of(job)}
        assert item.n_judge_labels == 3 and item.n_human_labels == 3


def judge_of(job) -> str:
    job.refresh_from_db()
    return job.artifacts["judge"]
