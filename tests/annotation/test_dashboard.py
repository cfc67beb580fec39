"""The project dashboard: its numbers on the hand-built review project, its page, and who may see it."""
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Label
from annotation.selectors.dashboard import DEFAULT_DAYS, project_dashboard, project_dashboard_for_user
from annotation.services.projects import project_create
from annotation.services.review import review_resolve
from tests.annotation.review_data import item, review_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user):
    return review_project(owner=user)


@pytest.fixture
def now(project):
    """A fixed 'now'; every label was given an hour before it (so no test depends on the clock)."""
    moment = timezone.now()
    Label.objects.filter(item__project=project).update(created_at=moment - timedelta(hours=1))
    return moment


def test_items_by_state_cover_every_state_in_workflow_order(project, now):
    dashboard = project_dashboard(project=project, now=now)
    states = {state: n for state, _, n in dashboard.states}
    assert [state for state, _, _ in dashboard.states][:3] == ["new", "judged", "routed"]
    assert states == {
        "new": 1, "judged": 0, "routed": 0, "labeling": 1, "labeled": 5, "in_review": 0, "final": 0, "excluded": 1,
    }
    assert (dashboard.n_items, dashboard.n_human_labels, dashboard.n_judge_labels) == (8, 13, 3)
    assert (dashboard.n_review_queue, dashboard.n_resolved) == (4, 0)


def test_per_annotator_progress_people_and_judges_alike(project, now):
    annotators = project_dashboard(project=project, now=now).annotators
    rows = [(a.name, a.kind, a.labels, a.share, a.median_ms) for a in annotators]
    assert rows == [
        ("alice", "human", 7, 7 / 8, 30_000),  # median of 42 s, 20 s and 30 s
        ("bert", "human", 6, 6 / 8, 8_000),
        ("judge-gpt", "judge", 2, 2 / 8, None),  # judges record no time
        ("judge-panda", "judge", 1, 1 / 8, None),
    ]
    assert annotators[0].median_time == "30 s"


def test_labels_per_hour_over_the_last_days(project, now):
    Label.objects.filter(item=item(project, "lonely")).update(created_at=now - timedelta(hours=5))
    Label.objects.filter(item=item(project, "gone")).update(created_at=now - timedelta(days=DEFAULT_DAYS + 1))
    hours = project_dashboard(project=project, now=now).hours
    assert len(hours) == DEFAULT_DAYS * 24
    assert hours[-1][1:] == (0, 0)  # the current hour
    assert hours[-2][1:] == (13 - 1 - 2, 3)  # an hour ago: all but 'lonely' (5 h ago) and 'gone' (too old)
    assert hours[-6][1:] == (1, 0)
    assert sum(h for _, h, _ in hours) == 11 and sum(j for _, _, j in hours) == 3
    assert hours[-1][0] - hours[0][0] == timedelta(hours=DEFAULT_DAYS * 24 - 1)


def test_a_resolution_counts_as_resolved_not_as_a_label(project, now, user):
    review_resolve(item=item(project, "split"), reviewer_user=user, data={"winner": "A"}, note="Paris.")
    dashboard = project_dashboard(project=project, now=now)
    assert (dashboard.n_resolved, dashboard.n_review_queue, dashboard.n_human_labels) == (1, 3, 13)
    assert {state: n for state, _, n in dashboard.states}["final"] == 1
    assert "ann" not in [a.name for a in dashboard.annotators]


def test_chart_data_is_what_the_charts_draw(project, now):
    data = project_dashboard(project=project, now=now).chart_data()
    assert data["states"]["labels"][:2] == ["New", "Judged"] and sum(data["states"]["values"]) == 8
    assert len(data["hours"]["labels"]) == len(data["hours"]["human"]) == DEFAULT_DAYS * 24
    assert data["annotators"] == {
        "labels": ["alice", "bert", "judge-gpt", "judge-panda"], "values": [7, 6, 2, 1],
        "judge": [False, False, True, True],
    }


def test_an_empty_project_has_zeros_and_no_annotators(user):
    empty = project_create(slug="empty", owner=user)
    dashboard = project_dashboard(project=empty)
    assert dashboard.n_items == 0 and all(n == 0 for _, _, n in dashboard.states)
    assert dashboard.annotators == [] and not dashboard.has_recent_labels


def test_a_blind_reviewer_sees_pseudonyms_and_the_owner_sees_names(project, now, user, make_user):
    rita = make_user("rita", project=project, role="reviewer")
    seen_by_rita = [a.name for a in project_dashboard_for_user(user=rita, slug="rev").annotators]
    assert set(seen_by_rita[:2]) == {"annotator 1", "annotator 2"} and seen_by_rita[2:] == ["judge-gpt", "judge-panda"]
    assert [a.name for a in project_dashboard_for_user(user=user, slug="rev").annotators][:2] == ["alice", "bert"]


def test_the_page_renders_charts_for_owners_and_refuses_others(client, project, now, user, make_user):
    client.force_login(user)
    page = client.get("/projects/rev/dashboard/")
    html = page.content.decode()
    assert page.status_code == 200
    for marker in ('id="chart-states"', 'id="chart-hours"', 'id="chart-annotators"', 'id="dashboard-data"',
                   "vendor/chart-4.6.1.umd.min.js", "js/dashboard.js"):
        assert marker in html
    client.force_login(make_user("ada", project=project, role="annotator"))
    assert client.get("/projects/rev/dashboard/").status_code == 403
    client.force_login(make_user("zed"))
    assert client.get("/projects/rev/dashboard/").status_code == 404


def test_the_page_of_an_empty_project_says_so(client, user):
    project_create(slug="empty", owner=user)
    client.force_login(user)
    html = client.get("/projects/empty/dashboard/").content.decode()
    assert 'id="dashboard-empty"' in html and "<canvas" not in html


def test_no_recent_labels_shows_an_empty_chart_state(client, project, user):
    Label.objects.filter(item__project=project).update(created_at=timezone.now() - timedelta(days=30))
    client.force_login(user)
    html = client.get("/projects/rev/dashboard/").content.decode()
    assert 'id="hours-empty"' in html and 'id="chart-hours"' not in html and 'id="chart-states"' in html


def test_the_project_list_links_owners_and_reviewers_to_the_dashboard(client, project, user, make_user):
    client.force_login(user)
    assert "/projects/rev/dashboard/" in client.get("/").content.decode()
    client.force_login(make_user("ada", project=project, role="annotator"))
    assert "/projects/rev/dashboard/" not in client.get("/").content.decode()

