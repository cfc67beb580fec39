"""Labeling in real Chromium: the queue, the four task pages, the shortcuts, and hostile model output."""
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from annotation.models import Assignment, AssignmentStatus, Label, Response, ResponseOrigin

from .labeling_data import (
    GUIDELINES,
    HOSTILE_TEXT,
    LONG_ANSWER,
    SORT_RESPONSES,
    TUPLE_GOOD,
    TUPLE_PROMPT,
    TUPLE_WEAK,
    listwise,
    make_project,
    pairwise,
    single,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-test-password"


def start(page, login, slug: str) -> None:
    """Log in as ann, open the project's queue and start labeling."""
    login("ann", PASSWORD)
    page.goto(f"/projects/{slug}/label/")
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(rf"/projects/{slug}/label/\d+/$"))


def lease_id(page) -> int:
    return int(re.search(r"/label/(\d+)/$", page.url).group(1))


def shown_positions(page, selector: str) -> list[int]:
    return [int(p) for p in page.locator(selector).evaluate_all("els => els.map(e => e.dataset.position)")]


def test_pairwise_by_keyboard_stores_the_winner_by_position(page, login, user, screenshot):
    make_project(
        user, "tutor",
        [pairwise("q1", TUPLE_PROMPT, TUPLE_GOOD, TUPLE_WEAK), pairwise("q2", "Say hi.", "Hi!", "Hello.")],
        guidelines=GUIDELINES, strength_levels=["slightly better", "better", "much better"], name="Python tutor",
    )
    login("ann", PASSWORD)
    page.goto("/projects/tutor/label/")
    expect(page.locator("#mine-left")).to_have_text("2")
    expect(page.locator("#mine-done")).to_have_text("0")
    screenshot("queue")
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(r"/label/\d+/$"))
    lease = lease_id(page)
    expect(page.locator("#progress")).to_contain_text("Item 1 of 2")
    shown = shown_positions(page, "article.response")
    assert sorted(shown) == [0, 1]
    page.keyboard.press("2")  # the response shown on the right
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.locator('input[name="strength"][value="2"]')).to_be_checked()
    screenshot("pairwise")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: not url.endswith(f"/label/{lease}/"))
    label = Label.objects.get(item__external_id="q1")
    right = shown[1]
    assert label.winner == ("A" if right == 0 else "B")  # stored by position, whatever the screen order
    assert label.shown_order == shown
    assert label.strength == 2 and label.time_spent_ms is not None
    assert Assignment.objects.get(pk=lease).status == AssignmentStatus.SUBMITTED
    expect(page.locator(".flash")).to_contain_text("Label saved")
    expect(page.locator("#progress")).to_contain_text("Item 2 of 2")
    page.keyboard.press("0")  # tie: strength no longer applies
    expect(page.locator("#strength input").first).to_be_disabled()
    page.keyboard.press("Enter")
    page.wait_for_url("**/projects/tutor/label/")
    expect(page.locator("#queue-empty")).to_contain_text("Nothing left for you")
    tie = Label.objects.get(item__external_id="q2")
    assert (tie.winner, tie.strength) == ("tie", None)


def test_listwise_by_drag_and_by_keyboard(page, login, user, screenshot):
    make_project(
        user, "sorting", [listwise("r1", "How do I sort a list in Python?", SORT_RESPONSES),
                          listwise("r2", "How do I sort a list in Python?", SORT_RESPONSES[:3])],
        allow_partial_ranking=True,
    )
    start(page, login, "sorting")
    first_lease = lease_id(page)
    item = Assignment.objects.get(pk=first_lease).item.external_id
    cards = page.locator("#ranking > li.rank-card")
    shown = shown_positions(page, "#ranking > li.rank-card")
    # Drag the last response to the top.
    cards.nth(3).locator(".rank-side").drag_to(cards.nth(0).locator(".rank-side"))
    page.wait_for_function("() => !document.querySelector('#ranking > li[style*=transform]')")  # animation over
    order = shown_positions(page, "#ranking > li.rank-card")
    assert order[0] == shown[3] and sorted(order) == sorted(shown)
    expect(cards.nth(0).locator(".rank-badge")).to_have_text("1")
    screenshot("listwise")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: not url.endswith(f"/label/{first_lease}/"))
    dragged = Label.objects.get(item__external_id=item)
    assert dragged.ranking == [[p] for p in order]
    assert dragged.shown_order == shown

    # By keyboard: focus the first, move it down one, tie the third with the second, cut the last.
    shown = shown_positions(page, "#ranking > li.rank-card")
    page.keyboard.press("j")
    page.keyboard.press("Shift+J")
    expect(page.locator("#ranking > li").nth(1)).to_be_focused()
    page.keyboard.press("j")  # now the third response
    page.keyboard.press("t")
    page.keyboard.press("j")  # the cut-off line
    page.keyboard.press("Shift+K")  # above the third: the third is now unranked (top-2)
    expect(page.locator("#ranking > li").nth(3).locator(".rank-badge")).to_have_text("–")
    page.keyboard.press("Enter")
    page.wait_for_url("**/projects/sorting/label/")
    keyed = Label.objects.exclude(pk=dragged.pk).get()
    assert keyed.ranking == [[shown[1]], [shown[0]]]
    assert keyed.shown_order == shown


def test_listwise_keyboard_ties(page, login, user):
    make_project(user, "ties", [listwise("r1", "Rank these.", ["one", "two", "three"])])
    start(page, login, "ties")
    shown = shown_positions(page, "#ranking > li.rank-card")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("t")  # the second ties with the first
    expect(page.locator("#ranking > li").nth(1).locator(".rank-badge")).to_have_text("1")
    expect(page.locator("#ranking > li").nth(2).locator(".rank-badge")).to_have_text("3")
    page.keyboard.press("Enter")
    page.wait_for_url("**/projects/ties/label/")
    assert Label.objects.get().ranking == [sorted(shown[:2]), [shown[2]]]


def test_edit_shows_a_live_diff_refuses_an_unchanged_edit_and_stores_the_edit(page, login, user, screenshot):
    original = "He go to school every days, and he like it."
    make_project(user, "grammar", [single("e1", "edit", "Fix the grammar of this sentence.", original)])
    start(page, login, "grammar")
    lease = lease_id(page)
    edited = "He goes to school every day, and he likes it."
    page.keyboard.press("i")
    expect(page.locator("#edited")).to_be_focused()
    page.locator("#edited").fill(edited)
    expect(page.locator("#diff ins").first).to_be_visible()
    expect(page.locator("#diff del").first).to_have_text("go")
    expect(page.locator("#edit-distance")).to_have_text("4")
    page.keyboard.press("Escape")
    screenshot("edit")
    # Back to the original: nothing changed, and the server refuses an unchanged edit.
    page.get_by_role("button", name="Reset to original").click()
    expect(page.locator("#diff")).to_have_text("No changes yet.")
    expect(page.locator("#edit-distance")).to_have_text("0")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator("#form-error")).to_contain_text("Your edit is the same as the original response")
    assert not Label.objects.exists()
    assert Assignment.objects.get(pk=lease).status == AssignmentStatus.ACTIVE
    page.locator("#edited").fill(edited)
    page.keyboard.press("Control+Enter")  # submits from inside the editor
    page.wait_for_url("**/projects/grammar/label/")
    label = Label.objects.get()
    edit = label.edited_response
    assert edit.text == edited
    assert edit.origin == ResponseOrigin.HUMAN_EDIT and edit.parent.text == original
    assert Response.objects.filter(origin=ResponseOrigin.HUMAN_EDIT).count() == 1


def test_thumbs_with_a_reason_and_shortcuts_stay_off_while_typing(page, login, user, screenshot):
    make_project(user, "thumbs", [single("t1", "thumbs", "Give me three tips for a job interview.", LONG_ANSWER)])
    start(page, login, "thumbs")
    expect(page.locator(".collapsible.collapsed")).to_have_count(1)
    page.keyboard.press("2")
    expect(page.locator('input[name="thumbs"][value="down"]')).to_be_checked()
    page.keyboard.press("r")
    page.keyboard.type("Too long, 1? s")  # typed, not shortcuts
    expect(page.locator("#help")).not_to_be_visible()
    expect(page.locator("#skip")).not_to_have_attribute("open", "")
    expect(page.locator('input[name="thumbs"][value="down"]')).to_be_checked()
    page.keyboard.press("Escape")
    screenshot("thumbs")
    page.get_by_role("button", name="Show the whole response").click()
    expect(page.locator(".collapsible.collapsed")).to_have_count(0)
    page.keyboard.press("e")  # collapse again
    expect(page.locator(".collapsible.collapsed")).to_have_count(1)
    page.evaluate("document.activeElement.blur()")  # Enter on the focused toggle would press it
    page.keyboard.press("Enter")
    page.wait_for_url("**/projects/thumbs/label/")
    label = Label.objects.get()
    assert (label.thumbs_up, label.rationale) == (False, "Too long, 1? s")


def test_skip_with_s_help_with_question_mark_and_guidelines(page, login, user):
    make_project(user, "skips", [pairwise("q1", "2+2?", "4", "5")], guidelines=GUIDELINES)
    start(page, login, "skips")
    lease = lease_id(page)
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    expect(page.locator("#help")).to_contain_text("Both bad")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).not_to_be_visible()
    page.keyboard.press("g")
    expect(page.locator("#guidelines")).to_contain_text("Correctness first")
    page.keyboard.press("s")
    expect(page.locator(".skip-form")).to_be_visible()
    page.keyboard.press("Space")  # the first reason has the focus
    page.keyboard.press("Enter")
    page.wait_for_url("**/projects/skips/label/")
    skipped = Assignment.objects.get(pk=lease)
    assert skipped.status == AssignmentStatus.SKIPPED and skipped.skip_reason == "I cannot judge this topic"
    assert not Label.objects.exists()


def test_the_open_page_keeps_its_lease(page, login, user):
    """The lease fragment polls its refresh URL (every minute); one poll, fired now, extends the lease."""
    make_project(user, "keep", [pairwise("q1", "2+2?", "4", "5")])
    start(page, login, "keep")
    lease = lease_id(page)
    soon = timezone.now() + timedelta(minutes=1)
    Assignment.objects.filter(pk=lease).update(expires_at=soon)
    expect(page.locator("#lease")).to_have_attribute("hx-trigger", "every 60s")
    page.evaluate(
        """() => htmx.ajax("POST", document.getElementById("lease").getAttribute("hx-post"),
                           {source: "#lease", target: "#lease", swap: "outerHTML"})"""
    )
    expect(page.locator("#lease")).to_contain_text("Reserved for you for 29 minutes")
    assert Assignment.objects.get(pk=lease).expires_at > soon + timedelta(minutes=20)


def test_a_double_submit_stores_one_label(page, login, user):
    make_project(user, "twice", [pairwise("q1", "2+2?", "4", "5"), pairwise("q2", "3+3?", "6", "7")])
    start(page, login, "twice")
    page.keyboard.press("1")
    page.locator("#submit").dblclick()
    expect(page.locator("#progress")).to_contain_text("Item 2 of 2")
    expect(page.locator("html")).to_have_class(re.compile(r"\bjs\b"))  # the shortcuts are listening
    assert Label.objects.count() == 1
    # The same form posted twice at once (a retried request): the server stores one label.
    page.keyboard.press("2")
    statuses = page.evaluate(
        """async () => {
            const form = document.getElementById("label-form");
            const data = new FormData(form);
            const posts = [1, 2].map(() => fetch(form.action, {method: "POST", body: data}));
            return (await Promise.all(posts)).map(r => r.status);
        }"""
    )
    assert statuses == [200, 200]
    assert Label.objects.count() == 2
    assert Label.objects.filter(item__external_id="q2").count() == 1


def test_hostile_model_output_is_shown_as_text_and_never_runs(page, login, user):
    make_project(user, "hostile", [pairwise("x1", HOSTILE_TEXT, HOSTILE_TEXT, "A harmless answer.")],
                 guidelines=HOSTILE_TEXT)
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    start(page, login, "hostile")
    response = page.locator("article.response").filter(has_text="click me")
    expect(response.get_by_text("<script>window.__pwned=1</script>")).to_be_visible()
    expect(response.get_by_text('<img src=x onerror="window.__pwned=1">')).to_be_visible()
    expect(response.locator("script, img, iframe")).to_have_count(0)
    assert page.locator('a[href^="javascript"], [onerror], [onclick]').count() == 0
    response.get_by_text("click me").click()
    response.get_by_text("raw link").click()
    page.keyboard.press("g")
    page.locator("#guidelines").get_by_text("click me").click()
    assert page.evaluate("window.__pwned") is None
    assert alerts == []
    assert page.url.endswith(f"/label/{lease_id(page)}/")
