"""pairwise_votes / ranking_votes: a project's labels as curation arrays, through the real import and review."""
import io

import numpy as np
import pytest

from annotation.curation.votes import A, B, NONE, TIE
from annotation.models import Item, Project
from annotation.selectors.votes import pairwise_votes, ranking_votes
from annotation.services.imports import data_import
from annotation.services.projects import membership_set
from annotation.services.review import review_resolve

from ..conftest import jsonl

pytestmark = pytest.mark.django_db

RECORDS = [
    {
        "id": "p1", "kind": "pairwise", "prompt": "Pick one.",
        "responses": [{"text": "one"}, {"text": "two"}],
        "labels": [
            {"annotator": "h1", "annotator_kind": "human", "winner": "A", "strength": 3},
            {"annotator": "h2", "annotator_kind": "human", "winner": "both_bad"},
            {"annotator": "gpt", "annotator_kind": "judge", "winner": "B", "probability": 0.3,
             "swap_consistent": False},
        ],
    },
    {"id": "p2", "kind": "pairwise", "prompt": "Again.", "responses": [{"text": "x"}, {"text": "y"}]},
    {
        "id": "p3", "kind": "pairwise", "prompt": "Third.", "responses": [{"text": "u"}, {"text": "v"}],
        "labels": [{"annotator": "h2", "annotator_kind": "human", "winner": "B", "strength": 1}],
    },
    {
        "id": "r1", "kind": "listwise", "prompt": "Rank.", "responses": [{"text": "a"}, {"text": "b"}, {"text": "c"}],
        "labels": [{"annotator": "h1", "annotator_kind": "human", "ranking": [[2], [0, 1]]}],
    },
]


@pytest.fixture
def project(user) -> Project:
    data_import(project_slug="votes", fmt="native", stream=io.BytesIO(jsonl(RECORDS)), user=user)
    return Project.objects.get(slug="votes")


def test_pairwise_votes_hold_every_parsed_annotation_in_item_order(project):
    votes = pairwise_votes(project=project)
    ids = {item.external_id: item.pk for item in Item.objects.filter(project=project)}
    assert votes.item_ids.tolist() == sorted([ids["p1"], ids["p2"], ids["p3"]])  # p2 listed without votes
    names = [votes.annotator_names[j] for j in votes.annotators]
    by_name = dict(zip(names, zip(votes.items.tolist(), votes.values.tolist())))
    p1, p3 = votes.item_ids.tolist().index(ids["p1"]), votes.item_ids.tolist().index(ids["p3"])
    assert by_name["h1"] == (p1, A) and by_name["gpt"] == (p1, B)
    assert sorted(v for n, v in zip(names, votes.values.tolist()) if n == "h2") == [B, TIE]  # both_bad -> tie
    assert votes.annotator_is_judge[votes.annotator_names.index("gpt")]
    # strength 3 of 3 levels -> 1.0, 1 of 3 -> 1/3; the judge's probability and swap check come along
    h1 = names.index("h1")
    assert votes.strength[h1] == pytest.approx(1.0)
    gpt = names.index("gpt")
    assert votes.probability[gpt] == pytest.approx(0.3) and votes.swap_consistent[gpt] == 0.0
    assert np.isnan(votes.probability[h1])
    assert votes.gold.tolist() == [NONE] * 3


def test_a_reviewer_resolution_is_gold_not_a_vote(project, user):
    membership_set(project=project, user=user, role="owner")
    item = Item.objects.get(project=project, external_id="p1")
    review_resolve(item=item, reviewer_user=user, data={"winner": "B"}, note="the judge was right")
    votes = pairwise_votes(project=project)
    assert len(votes.values) == 4  # 3 on p1 + 1 on p3: the resolution added no vote
    assert votes.gold[votes.item_ids.tolist().index(item.pk)] == B


def test_ranking_votes_and_an_empty_project(project, user):
    ranks = ranking_votes(project=project)
    assert ranks.rankings == [[[2], [0, 1]]] and ranks.n_responses.tolist() == [3]
    data_import(project_slug="empty", fmt="native", stream=io.BytesIO(jsonl([RECORDS[1]])), user=user)
    empty = pairwise_votes(project=Project.objects.get(slug="empty"))
    assert len(empty.values) == 0 and empty.n_items == 1 and empty.n_annotators == 0


def test_without_a_judge_verdict_probability_and_swap_are_nan_views(user):
    """A project of people only: the selector holds no per-vote probability or swap array (NaN views), and a
    project with a judge still gets the judge's values (test above)."""
    people = [{**r, "labels": [lab for lab in r.get("labels", []) if lab["annotator_kind"] == "human"]}
              for r in RECORDS if r["kind"] == "pairwise"]
    data_import(project_slug="people", fmt="native", stream=io.BytesIO(jsonl(people)), user=user)
    votes = pairwise_votes(project=Project.objects.get(slug="people"))
    assert len(votes.values) == 3 and votes.items.dtype == votes.annotators.dtype == np.int32
    for array in (votes.probability, votes.swap_consistent):
        assert array.strides == (0,) and len(array) == 3 and np.isnan(array).all()
    assert votes.strength.strides != (0,) and votes.strength.tolist()[0] == pytest.approx(1.0)


def test_without_a_strength_the_votes_hold_none_and_a_later_one_fills_in_nan_before_it(user):
    """No label gives a strength: strength is a NaN view (no 8 bytes a vote). The first label with one (h1's 3 of
    3, on the first item) starts the array: the votes before it are NaN, its own is 1.0."""
    plain = [{**r, "labels": [{k: v for k, v in lab.items() if k != "strength"} for lab in r.get("labels", [])
                              if lab["annotator_kind"] == "human"]} for r in RECORDS if r["kind"] == "pairwise"]
    data_import(project_slug="plain", fmt="native", stream=io.BytesIO(jsonl(plain)), user=user)
    votes = pairwise_votes(project=Project.objects.get(slug="plain"))
    assert len(votes.values) == 3 and votes.strength.strides == (0,) and np.isnan(votes.strength).all()

    later = [dict(r) for r in plain]
    later[2] = {**later[2], "labels": [{**later[2]["labels"][0], "strength": 2}]}  # p3's one vote: 2 of 3
    data_import(project_slug="later", fmt="native", stream=io.BytesIO(jsonl(later)), user=user)
    votes = pairwise_votes(project=Project.objects.get(slug="later"))
    assert votes.strength.strides != (0,)
    assert np.isnan(votes.strength[:2]).all() and votes.strength[2] == pytest.approx(2 / 3)
