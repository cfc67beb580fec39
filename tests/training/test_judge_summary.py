"""The judge summary page of a project (annotation/selectors/judges.py): exact rates on a hand-built project.

Four pairwise items; people alice and bob, one judge:
  q1: alice A, bob A  -> majority A.   judge A, swap-consistent, hostile rationale  -> agrees
  q2: alice B, bob A  -> tied vote.    judge B, swap-inconsistent                    -> not compared
  q3: alice B         -> majority B.   judge unparsable                              -> not compared
  q4: alice A         -> majority A.   judge B, swap not checked                     -> disagrees
So: 4 labels, 1 unparsable (25%), swap-consistent 1 of 2 (50%), agreement 1 of 2 (50%).
"""
import io
import json

import pytest

from annotation.models import Project
from annotation.selectors.judges import human_majority_winners, judge_summaries
from annotation.services.imports import data_import
from annotation.services.projects import membership_set

pytestmark = pytest.mark.django_db
HOSTILE = "<script>alert('x')</script> **A** is right"


def record(qid: str, labels: list[dict]) -> dict:
    return {"id": qid, "kind": "pairwise", "prompt": f"Question {qid}?",
            "responses": [{"text": f"{qid} first"}, {"text": f"{qid} second"}], "labels": labels}


def human(name: str, winner: str) -> dict:
    return {"annotator": name, "annotator_kind": "human", "winner": winner}


def judge(**fields) -> dict:
    return {"annotator": "gpt-judge", "annotator_kind": "judge", **fields}


@pytest.fixture
def project(django_user_model) -> Project:
    records = [
        record("q1", [human("alice", "A"), human("bob", "A"),
                      judge(winner="A", swap_consistent=True, rationale=HOSTILE)]),
        record("q2", [human("alice", "B"), human("bob", "A"), judge(winner="B", swap_consistent=False)]),
        record("q3", [human("alice", "B"), judge(unparsable=True, raw_output="I cannot decide")]),
        record("q4", [human("alice", "A"), judge(winner="B", rationale="B is shorter")]),
    ]
    stream = io.BytesIO("".join(json.dumps(r) + "\n" for r in records).encode())
    data_import(project_slug="judged", fmt="native", stream=stream)
    return Project.objects.get(slug="judged")


@pytest.fixture
def reviewer(django_user_model, project):
    person = django_user_model.objects.create_user(username="rita", password="a-long-test-password")
    membership_set(project=project, user=person, role="reviewer")
    return person


def test_the_human_majority_leaves_out_tied_votes(project):
    majority = human_majority_winners(project=project)
    assert {project.items.get(pk=k).external_id: v for k, v in majority.items()} == {"q1": "A", "q3": "B", "q4": "A"}


def test_judge_summary_numbers(project):
    (summary,) = judge_summaries(project=project)
    assert summary.name == "gpt-judge"
    assert (summary.n_labels, summary.n_unparsable, summary.unparsable_rate) == (4, 1, 0.25)
    assert (summary.n_swap_checked, summary.n_swap_consistent, summary.swap_consistency) == (2, 1, 0.5)
    assert (summary.n_compared, summary.n_agree, summary.human_agreement) == (2, 1, 0.5)
    assert len(summary.recent) == 4
    verdicts = {project.items.get(pk=v.item_id).external_id: v.verdict for v in summary.recent}
    assert verdicts == {"q1": "A", "q2": "B", "q3": "Unparsable", "q4": "B"}


def test_no_judges_no_rows(project):
    other = Project.objects.create(slug="empty", name="Empty")
    assert judge_summaries(project=other) == []


def test_the_page_shows_the_rates_and_escapes_rationales(client, project, reviewer):
    client.force_login(reviewer)
    response = client.get("/projects/judged/judges/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "gpt-judge" in page and "25%" in page and "50%" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert('x')&lt;/script&gt;" in page
    assert "<strong>A</strong> is right" in page


def test_the_page_is_for_owners_and_reviewers(client, project, django_user_model):
    annotator = django_user_model.objects.create_user(username="ann", password="a-long-test-password")
    membership_set(project=project, user=annotator, role="annotator")
    outsider = django_user_model.objects.create_user(username="out", password="a-long-test-password")
    client.force_login(annotator)
    assert client.get("/projects/judged/judges/").status_code == 403
    client.force_login(outsider)
    assert client.get("/projects/judged/judges/").status_code == 404


def test_the_project_list_links_reviewers_to_the_judges(client, project, reviewer):
    client.force_login(reviewer)
    page = client.get("/").content.decode()
    assert 'href="/projects/judged/judges/"' in page and "/jobs/judge-templates/judged/" not in page
