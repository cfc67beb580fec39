"""The review pages and the dashboard in real Chromium, on the real PandaLM slice of the demo."""
from pathlib import Path

import pytest

from annotation.models import Item, ItemState, Label, LabelRole
from annotation.services.imports import data_import
from annotation.services.projects import membership_set, project_create
from tests.annotation.conftest import PASSWORD
from tests.annotation.review_data import review_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PANDALM = Path(__file__).resolve().parents[2] / "demo" / "data" / "pandalm" / "pandalm-first200.jsonl"
HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture
def rita(django_user_model):
    return django_user_model.objects.create_user(username="rita", password=PASSWORD)


@pytest.fixture
def pandalm(user, rita):
    """The first 200 PandaLM lines (197 distinct pairs), 3 people and 2 judges on each: 20 split the people."""
    project = project_create(slug="pandalm", name="PandaLM", owner=user, overlap=3)
    with open(PANDALM, "rb") as stream:
        data_import(project_slug="pandalm", fmt="native", stream=stream, user=user)
    membership_set(project=project, user=rita, role="reviewer")
    return project


@pytest.fixture
def errors(page) -> list[str]:
    """Uncaught JavaScript errors of the page, as they happen."""
    seen: list[str] = []
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def test_a_reviewer_resolves_a_disagreement_and_it_leaves_the_queue(page, login, rita, pandalm, errors, screenshot):
    login("rita", PASSWORD)
    page.get_by_role("link", name="Review queue").click()
    page.wait_for_url("**/projects/pandalm/review/")
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 20
    first = rows.first
    assert first.locator("code").inner_text() == "pandalm-87"
    assert "A ×2 · Tie ×1" in first.inner_text()
    screenshot("review-queue")

    first.get_by_role("link", name="Review").click()
    page.wait_for_url("**/projects/pandalm/review/*/")
    humans = page.locator("#human-labels tbody tr")
    assert [humans.nth(i).locator(".who").inner_text() for i in range(3)] == [f"annotator {n}" for n in (1, 2, 3)]  # pseudonyms per project
    assert [humans.nth(i).locator(".verdict").inner_text() for i in range(3)] == ["A", "Tie", "A"]
    assert page.locator("#judge-labels tbody tr").count() == 2
    assert "pandalm-annotator1" not in page.content()  # blind review
    # 好 is read "hǎo": neither answer says so, whatever the majority thought.
    page.get_by_role("radio", name="Both bad").check()
    page.get_by_label("Note").fill("Neither response gives the pronunciation of 好 (*hǎo*); both are wrong.")
    screenshot("review-item")

    page.get_by_role("button", name="Resolve as final").click()
    page.wait_for_url("**/projects/pandalm/review/")
    assert "pandalm-87 resolved" in page.locator(".flash").inner_text()
    assert rows.count() == 19
    assert page.locator("table.queue code", has_text="pandalm-87").count() == 0
    item = Item.objects.get(project=pandalm, external_id="pandalm-87")
    assert item.state == ItemState.FINAL
    resolution = Label.objects.get(item=item, role=LabelRole.REVIEW)
    assert (resolution.winner, resolution.annotator.user_id) == ("both_bad", rita.pk)
    assert resolution.rationale.startswith("Neither response")
    assert errors == []


def test_a_bad_resolution_shows_its_error_in_place(page, login, rita, pandalm, errors):
    login("rita", PASSWORD)
    item = Item.objects.get(project=pandalm, external_id="pandalm-88")
    page.goto(f"/projects/pandalm/review/{item.pk}/")
    page.get_by_role("radio", name="Tie").check()
    page.get_by_label("Note").fill("   ")  # passes the browser's `required`, not the server
    page.get_by_role("button", name="Resolve as final").click()
    page.locator("#resolve-form .errors").wait_for()
    assert page.url.endswith(f"/projects/pandalm/review/{item.pk}/")  # swapped in place by htmx
    assert page.get_by_role("radio", name="Tie").is_checked()  # what was chosen is kept
    item.refresh_from_db()
    assert item.state == ItemState.LABELED and errors == []


def test_hostile_text_does_not_run_on_the_review_page(page, login, user, errors):
    hostile = f"{HOSTILE_SCRIPT} {HOSTILE_IMG}"
    records = [{
        "id": "evil", "kind": "pairwise", "prompt": hostile,
        "responses": [{"text": hostile, "model": HOSTILE_IMG}, {"text": f"```html\n{hostile}\n```"}],
        "labels": [
            {"annotator": "x", "annotator_kind": "human", "winner": "A", "rationale": hostile},
            {"annotator": "y", "annotator_kind": "human", "winner": "B", "rationale": HOSTILE_IMG},
            {"annotator": "judge", "annotator_kind": "judge", "unparsable": True, "raw_output": hostile},
        ],
    }]
    project = review_project(owner=user, slug="evil", records=records)
    login("ann", PASSWORD)
    page.goto("/projects/evil/review/")
    page.get_by_role("link", name="Review").click()
    page.wait_for_url("**/projects/evil/review/*/")
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main script, main img").count() == 0
    assert page.get_by_text(HOSTILE_SCRIPT).count() >= 3  # prompt, response, rationale, raw output: as text
    assert Item.objects.get(project=project).state == ItemState.LABELED and errors == []


def test_the_dashboard_draws_its_charts(page, login, user, pandalm, errors, screenshot):
    login("ann", PASSWORD)
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url("**/projects/pandalm/dashboard/")
    for canvas in ("chart-states", "chart-hours", "chart-annotators"):
        page.locator(f"#{canvas}").wait_for()
        assert page.evaluate(f"Chart.getChart('{canvas}') !== undefined"), canvas
    assert page.evaluate("Chart.getChart('chart-states').data.datasets[0].data") == [0, 0, 0, 0, 197, 0, 0, 0]
    assert page.locator("#stat-queue").inner_text() == "20"
    rows = page.locator("#annotator-table tbody tr")
    assert rows.count() == 5 and "197" in rows.first.inner_text()
    screenshot("dashboard")
    assert errors == []


def test_the_dashboard_of_an_empty_project_has_no_charts_and_no_errors(page, login, user, errors):
    project_create(slug="empty", name="Empty", owner=user)
    login("ann", PASSWORD)
    page.goto("/projects/empty/dashboard/")
    assert page.locator("#dashboard-empty").is_visible()
    assert page.locator("canvas").count() == 0 and errors == []


def test_an_annotator_cannot_open_the_review_queue(page, login, user, pandalm, django_user_model):
    ada = django_user_model.objects.create_user(username="ada", password=PASSWORD)
    membership_set(project=pandalm, user=ada, role="annotator")
    login("ada", PASSWORD)
    assert page.get_by_role("link", name="Review queue").count() == 0
    response = page.goto("/projects/pandalm/review/")
    assert response.status == 403

