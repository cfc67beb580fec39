"""Project settings in real Chromium: the preview follows an edit before it is saved (htmx), and a saved setting
shows on the labeling page."""
import re

import pytest
from playwright.sync_api import expect

from .labeling_data import make_project, pairwise

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-test-password"


def test_an_owner_changes_the_strength_scale_and_annotators_see_it(page, login, user, screenshot):
    make_project(user, "tone", [pairwise("q1", "Say hi.", "Hi!", "Go away.")],
                 strength_levels=["slightly better", "better", "much better"], rationale_required=False)
    page.set_default_timeout(30_000)  # the machine is shared: a page can take more than the default 10 s
    login("ann", PASSWORD)
    page.goto("/projects/tone/settings/")
    preview = page.locator("#preview")
    expect(preview.locator("#strength .seg")).to_have_count(3)
    page.select_option("select[name=strength_scale]", "5")
    page.check("input[name=rationale_required]")
    # htmx swaps in the preview of the unsaved settings.
    expect(page.locator("#preview #strength .seg")).to_have_count(5)
    expect(page.locator("#preview")).to_contain_text("clearly better")
    expect(page.locator("#preview .req")).to_have_text("required")
    screenshot("project-settings")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash")).to_contain_text("Settings saved.")
    page.goto("/projects/tone/label/")
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(r"/projects/tone/label/\d+/$"))
    expect(page.locator("#strength .seg")).to_have_count(5)
    expect(page.locator("#strength")).to_contain_text("clearly better")
    expect(page.locator("label[for=rationale] .req")).to_have_text("required")
