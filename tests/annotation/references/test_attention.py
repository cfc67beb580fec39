"""Attention checks: with reference_use "attention", about attention_rate of an annotator's tasks are reference
items they have not labeled (services/attention.py via queue_next), and their accuracy on them is scored with a
95 % interval on the agreement page and in the API."""
import io
import json

import pytest

from annotation.models import Annotator, AnnotatorKind, Item, Project
from annotation.selectors.references import attention_scores
from annotation.services.attention import attention_due
from annotation.services.imports import data_import
from annotation.services.labeling import label_submit, queue_next


def _project(*, n_items=40, n_refs=10, use="attention", rate=0.2, overlap=1) -> Project:
    lines = [json.dumps({"id": f"i{i:02d}", "kind": "pairwise", "prompt": f"q{i}",
                         "responses": [{"text": f"a{i}"}, {"text": f"b{i}"}],
                         **({"reference": {"winner": "A"}} if i < n_refs else {})}) for i in range(n_items)]
    data_import(project_slug="att", fmt="native", stream=io.BytesIO("\n".join(lines).encode()))
    Project.objects.filter(slug="att").update(reference_use=use, attention_rate=rate, overlap=overlap)
    return Project.objects.get(slug="att")


def _label_n(project, annotator, n, winner="A") -> list[Item]:
    served = []
    for _ in range(n):
        lease = queue_next(project=project, annotator=annotator)
        if lease is None:
            break
        served.append(lease.item)
        label_submit(assignment_id=lease.pk, annotator=annotator, data={"winner": winner})
    return served


def test_the_schedule_serves_one_check_per_block_at_a_drawn_position():
    due = []
    n_checks = 0
    for n_tasks in range(100):
        if attention_due(project_id=1, annotator_id=7, rate=0.1, n_tasks=n_tasks, n_checks=n_checks):
            due.append(n_tasks)
            n_checks += 1
    assert len(due) == 10 and [d // 10 for d in due] == list(range(10))  # one in each block of ten
    assert len({d % 10 for d in due}) > 1  # not at a fixed step
    assert not attention_due(project_id=1, annotator_id=7, rate=0.0, n_tasks=5, n_checks=0)


@pytest.mark.django_db
def test_annotators_get_checks_at_about_the_rate_and_never_one_twice():
    """Overlap 1 and 10 reference items: the regular queue alone would hand the first items (references among
    them) once; with checks each annotator sees about 20 % reference items, ones they have not labeled."""
    project = _project(n_refs=10, rate=0.2, n_items=60)
    for name in ("one", "two"):
        annotator = Annotator.objects.create(name=name, kind=AnnotatorKind.HUMAN)
        served = _label_n(project, annotator, 20)
        checks = [item for item in served if item.reference is not None]
        assert len(served) == 20 and len({i.pk for i in served}) == 20
        assert 3 <= len(checks) <= 5, [i.external_id for i in served]


@pytest.mark.django_db
def test_no_checks_unless_the_project_uses_references_as_attention_checks():
    project = _project(use="evaluation", n_refs=10, n_items=60)
    annotator = Annotator.objects.create(name="one", kind=AnnotatorKind.HUMAN)
    Item.objects.filter(project=project, reference__isnull=False).update(priority=-1)  # last in the regular queue
    served = _label_n(project, annotator, 20)
    assert not [i for i in served if i.reference is not None]


@pytest.mark.django_db
def test_accuracy_on_checks_is_scored_per_annotator_with_an_interval(api, user):
    project = _project(n_refs=10, rate=0.5, n_items=30)
    careful = Annotator.objects.create(name="careful", kind=AnnotatorKind.HUMAN)
    careless = Annotator.objects.create(name="careless", kind=AnnotatorKind.HUMAN)
    _label_n(project, careful, 10, winner="A")
    _label_n(project, careless, 10, winner="B")
    scores = {Annotator.objects.get(pk=s.annotator_id).name: s.accuracy for s in attention_scores(project=project)}
    assert scores["careful"].value == 1.0 and scores["careful"].n >= 3 and scores["careful"].low < 1.0
    assert scores["careless"].value == 0.0 and scores["careless"].high > 0.0
    from annotation.services.projects import membership_set

    membership_set(project=project, user=user, role="owner")
    body = api(user).get(f"/api/projects/{project.slug}/references/").json()
    rows = {row["annotator"]: row["accuracy"] for row in body["annotators"]}
    assert rows["careful"]["value"] == 1.0 and rows["careless"]["value"] == 0.0
    assert body["reference_use"] == "attention" and body["n_references"] >= 3


@pytest.mark.django_db
def test_the_rest_hot_path_serves_checks_too(api, user):
    """POST /api/projects/{slug}/next/ is one stored function on PostgreSQL; on an attention project it hands the
    call to the path that keeps the checks' schedule, so REST annotators get checks at the rate as well."""
    from annotation.models import Membership, Role

    project = _project(n_refs=10, rate=0.2, n_items=60)
    Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
    client = api(user)
    served = []
    for _ in range(20):
        body = client.post(f"/api/projects/{project.slug}/next/").json()
        served.append(body["item"]["id"])
        answer = client.post(f"/api/assignments/{body['assignment']}/submit/", {"winner": "A"}, format="json")
        assert answer.status_code in (200, 201), answer.content
    checks = Item.objects.filter(project=project, pk__in=served, reference__isnull=False).count()
    assert len(set(served)) == 20 and 3 <= checks <= 5, served
    # ... and nothing of the reference reaches the annotator.
    body = client.post(f"/api/projects/{project.slug}/next/").json()
    assert "reference" not in json.dumps(body)
