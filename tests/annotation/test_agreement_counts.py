"""The agreement page counts people and judges from every kind of vote, and shows the judges' votes by default
where no person has voted."""
import io
import json

import pytest

from annotation.selectors.curation import agreement_page
from annotation.services.imports import data_import
from annotation.services.projects import project_create

pytestmark = pytest.mark.django_db


def _import(user, slug: str, records: list[dict]):
    project = project_create(slug=slug, name=slug, owner=user)
    data_import(project_slug=slug, fmt="native", user=user,
                stream=io.BytesIO("".join(json.dumps(r) + "\n" for r in records).encode()))
    return project


def _ranked(i: int, labels: list[tuple[str, str, list]]) -> dict:
    return {"id": f"r{i}", "kind": "listwise", "prompt": f"Rank {i}",
            "responses": [{"text": "one"}, {"text": "two"}, {"text": "three"}],
            "labels": [{"annotator": n, "annotator_kind": k, "ranking": r} for n, k, r in labels]}


def _pair(i: int, labels: list[tuple[str, str, str]]) -> dict:
    return {"id": f"p{i}", "kind": "pairwise", "prompt": f"Question {i}",
            "responses": [{"text": f"A{i}"}, {"text": f"B{i}"}],
            "labels": [{"annotator": n, "annotator_kind": k, "winner": w} for n, k, w in labels]}


def _kpi(html: str, name: str) -> str:
    return html.split(f'id="stat-{name}">')[1].split("<")[0]


def test_people_who_only_ranked_are_counted(client, user):
    """LAMP's shape: three named people rank, nobody votes pairwise (the page said "0 people")."""
    _import(user, "ranks", [_ranked(i, [("ann", "human", [[0], [1], [2]]), ("bo", "human", [[1], [0], [2]]),
                                         ("cy", "human", [[0], [2], [1]]), ("gpt", "judge", [[0], [1], [2]])])
                            for i in range(2)])
    client.force_login(user)
    html = client.get("/projects/ranks/agreement/").content.decode()
    assert (_kpi(html, "humans"), _kpi(html, "judges"), _kpi(html, "listwise")) == ("3", "1", "2")


def test_someone_with_both_kinds_of_vote_counts_once(user):
    project = _import(user, "both", [_pair(0, [("ann", "human", "A"), ("bo", "human", "B")]),
                                     _ranked(1, [("ann", "human", [[0], [1], [2]])])])
    page = agreement_page(project=project)
    assert (page.n_humans, page.n_judges) == (2, 0)


def test_a_judge_only_project_shows_the_judges_by_default(client, user):
    """Two judges, no person: people-only figures would all be empty, so the page counts the judges."""
    _import(user, "judges", [_pair(i, [("gpt", "judge", w1), ("claude", "judge", w2)])
                             for i, (w1, w2) in enumerate(["AA", "AB", "BB", "AA"])])
    client.force_login(user)
    html = client.get("/projects/judges/agreement/").content.decode()
    assert (_kpi(html, "humans"), _kpi(html, "judges")) == ("0", "2")
    assert "LLM judges (no person has voted)" in html and 'href="?judges=0"' in html
    # gpt and claude agree on 3 of 4 items.
    row = html.split('<tr data-figure="raw_agreement">')[1].split("</tr>")[0]
    assert '<td class="num">0.750</td>' in row
    table = html.split('id="annotator-agreement"')[1].split("</table>")[0]
    assert "gpt" in table and "claude" in table
    people_only = client.get("/projects/judges/agreement/?judges=0").content.decode()
    assert "<strong>people only</strong>" in people_only


def test_a_mixed_project_still_defaults_to_people_only(user):
    project = _import(user, "mixed", [_pair(0, [("ann", "human", "A"), ("gpt", "judge", "B")])])
    assert agreement_page(project=project).include_judges is False
    assert agreement_page(project=project, include_judges=True).include_judges is True
