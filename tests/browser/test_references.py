"""Gold references in real Chromium: an owner sets one on the review page, the agreement page scores against it,
and an annotator's task page never shows it."""
import io
import json

import pytest

from annotation.models import Item
from annotation.services.imports import data_import
from annotation.services.projects import membership_set, project_create
from tests.annotation.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def refs_project(user):
    records = [{"id": f"p{i}", "kind": "pairwise", "prompt": f"question {i}",
                "responses": [{"text": f"answer {i} <b>one</b>"}, {"text": f"answer {i} two"}],
                "labels": [{"annotator": "kim", "annotator_kind": "human", "winner": "A"},
                           {"annotator": "lee", "annotator_kind": "human", "winner": "B" if i % 2 else "A"}],
                **({"reference": {"winner": "A"}} if i < 3 else {})} for i in range(6)]
    project_create(slug="refs", name="Refs", owner=user, overlap=3)  # room for a third person on every item
    data_import(project_slug="refs", fmt="native", user=user,
                stream=io.BytesIO("".join(json.dumps(r) + "\n" for r in records).encode()))
    return Item.objects.get(project__slug="refs", external_id="p4")


def test_an_owner_sets_a_reference_and_the_agreement_page_scores_it(page, login, refs_project, django_user_model):
    login("ann", PASSWORD)
    page.goto(f"/projects/refs/review/{refs_project.pk}/")
    form = page.locator("#reference-form")
    form.get_by_label("Reference verdict").select_option("B")
    form.get_by_role("button", name="Save reference").click()
    page.wait_for_load_state()
    assert "Current: B" in " ".join(page.locator("#reference").inner_text().split())
    assert Item.objects.get(pk=refs_project.pk).reference == {"winner": "B"}
    page.goto("/projects/refs/agreement/")
    table = page.locator("#reference-annotators")
    assert table.locator("tr", has_text="kim").inner_text().count("%") == 2  # accuracy and excluding ties
    assert "4 pairwise items with a reference" in page.locator("#references").inner_text()
    andy = django_user_model.objects.create_user(username="andy", password=PASSWORD)
    membership_set(project=refs_project.project, user=andy, role="annotator")
    page.context.clear_cookies()
    login("andy", PASSWORD)
    page.goto("/projects/refs/label/")
    page.locator("#start").click()
    page.wait_for_url("**/projects/refs/label/*/")
    assert "reference" not in page.content().lower().replace("preference", "")
