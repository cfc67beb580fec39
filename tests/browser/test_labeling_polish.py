"""Issue 12 item 8 in real Chromium: the labeling pages on the demo data (every kind, thumbs included), the sticky
verdict bar on a long context, per-aspect verdicts from the keyboard, word diffs of near-identical rankings,
"no change needed" on edits, the dataset rows table's width, job config names that do not overlap, and the
agreement page's people and judges."""
import io
import json
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotation.models import DatasetRow, DatasetVersion, Label, Project
from annotation.services.accounts import annotator_for_user
from annotation.selectors.labeling import queue_status
from annotation.services.demo import DEMO_ANNOTATOR, DEMO_OWNER, DEMO_PROJECTS, GUIDELINES
from annotation.services.imports import data_import
from annotation.services.projects import membership_set, project_create
from training.models import Job

from .labeling_data import make_project, pairwise

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-test-password"
DEMO_DATA = Path(__file__).resolve().parents[2] / "demo" / "data"
VIEWPORT_H = 900  # the page fixture's viewport


@pytest.fixture(autouse=True)
def _patient(page):
    """The first page of a live server (and the first after a big import) can take over 10 s on a busy machine."""
    page.set_default_timeout(30_000)


def load_demo(*slugs: str) -> None:
    """The demo projects named (as `annotation.services.demo.demo_load` builds them), with its two users."""
    User = get_user_model()
    owner = User.objects.create_superuser(username=DEMO_OWNER.username, password=DEMO_OWNER.password, email="")
    annotator = User.objects.create_user(username=DEMO_ANNOTATOR.username, password=DEMO_ANNOTATOR.password)
    for spec in DEMO_PROJECTS:
        if spec.slug not in slugs:
            continue
        project = project_create(slug=spec.slug, name=spec.name, owner=owner, description=spec.description,
                                 guidelines=GUIDELINES, overlap=spec.overlap, task_kinds=list(spec.task_kinds))
        with open(DEMO_DATA / spec.file, "rb") as stream:
            data_import(project_slug=spec.slug, fmt=spec.fmt, stream=stream, skip_invalid=spec.skip_invalid,
                        user=owner)
        membership_set(project=project, user=annotator, role=DEMO_ANNOTATOR.role)


def open_next(page, slug: str) -> None:
    page.goto(f"/projects/{slug}/label/")
    page.locator("#continue, #start").first.click()
    page.wait_for_url(re.compile(rf"/projects/{slug}/label/\d+/$"))


def in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT_H + 0.5


def scroll_to(page, fraction: float) -> None:
    page.evaluate(f"window.scrollTo(0, {fraction} * (document.documentElement.scrollHeight - innerHeight))")
    target = f"{fraction} * (document.documentElement.scrollHeight - innerHeight)"
    page.wait_for_function(f"Math.abs(scrollY - {target}) < 2")


def test_the_demo_labels_every_kind_thumbs_included(page, login):
    """The annotator of the demo has work of every kind; thumbs (KTO data) and edits are labeled from the keyboard,
    an edit as "no change needed"; the agreement page of LAMP (rankings only) counts its three people."""
    load_demo("pandalm-thumbs-demo", "qa-feedback-demo", "lamp-demo", "hh-demo")
    annotator = annotator_for_user(user=get_user_model().objects.get(username="annotator"))
    kinds_left = {kind for project in Project.objects.all() for kind in project.task_kinds
                  if queue_status(project=project, annotator=annotator).mine_left}
    assert kinds_left == {"pairwise", "listwise", "edit", "thumbs"}
    login(DEMO_ANNOTATOR.username, DEMO_ANNOTATOR.password)

    open_next(page, "pandalm-thumbs-demo")
    assert in_viewport(page, "#verdict-bar")
    page.keyboard.press("1")
    expect(page.locator('input[name="thumbs"][value="up"]')).to_be_checked()
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_contain_text("Label saved")
    thumbs = Label.objects.get(annotator=annotator)
    assert thumbs.kind == "thumbs" and thumbs.thumbs_up is True

    open_next(page, "lamp-demo")  # LAMP's queue holds its edit items: a writer's and an AI's edit each, overlap 3
    expect(page.locator(".labeling")).to_have_attribute("data-kind", "edit")
    page.keyboard.press("?")
    expect(page.locator("#help")).to_contain_text("No change needed")
    page.keyboard.press("Escape")
    scroll_to(page, 0.5)
    assert in_viewport(page, "#no-change")
    page.keyboard.press("n")
    expect(page.locator(".flash")).to_contain_text("Label saved")
    edit = Label.objects.get(annotator=annotator, kind="edit")
    original = edit.item.slots.get(position=0).response
    assert edit.edited_response == original

    page.context.clear_cookies()  # log out
    login(DEMO_OWNER.username, DEMO_OWNER.password)
    page.goto("/projects/lamp-demo/agreement/")
    expect(page.locator("#stat-humans")).to_have_text("3")  # the three named annotators who ranked
    expect(page.locator("#stat-listwise")).to_have_text("20")


LONG_CONTEXT = [
    {"role": "system", "content": "\n\n".join(f"Passage {i}: " + "The committee met again to review the budget. " * 12
                                              for i in range(24))},
    {"role": "user", "content": "Summarise the passages in two sentences."},
]


def test_the_verdict_bar_stays_in_view_and_aspects_take_the_keyboard(page, login, user, screenshot):
    make_project(user, "long", [pairwise("l1", LONG_CONTEXT, "They reviewed the budget, many times.",
                                         "The committee met.")],
                 aspects=["helpfulness", "honesty"], strength_levels=["slightly better", "better", "much better"])
    login("ann", PASSWORD)
    open_next(page, "long")
    assert page.evaluate("document.documentElement.scrollHeight") > 3 * VIEWPORT_H  # a long context indeed
    shown = [int(p) for p in page.locator("article.response").evaluate_all("els => els.map(e => e.dataset.position)")]
    for fraction in (0, 0.5, 1):
        scroll_to(page, fraction)
        assert in_viewport(page, "#verdict-bar"), f"the verdict bar left the viewport at {fraction:.0%}"
        assert in_viewport(page, "#submit")
    scroll_to(page, 0.5)
    screenshot("pairwise-long", full_page=False)  # the window as the annotator sees it, halfway down
    page.keyboard.press("2")  # the overall verdict: the right-hand response
    page.keyboard.press("ArrowRight")
    page.keyboard.press("a")  # the first aspect row
    expect(page.locator('.aspect-row[data-aspect="helpfulness"] input').first).to_be_focused()
    page.keyboard.press("1")  # helpfulness: the left-hand response
    page.keyboard.press("a")
    page.keyboard.press("x")  # honesty: both bad
    expect(page.locator('.aspect-row[data-aspect="honesty"] input[value="both_bad"]')).to_be_checked()
    page.keyboard.press("Escape")
    # The overall verdict was not touched by the aspect keys.
    expect(page.locator('input[name="winner"][data-key="2"]')).to_be_checked()
    page.keyboard.press("Enter")
    page.wait_for_url("**/projects/long/label/")
    label = Label.objects.get()
    letter = ("A", "B")
    assert label.winner == letter[shown[1]] and label.strength == 1
    assert label.aspects == {"helpfulness": letter[shown[0]], "honesty": "both_bad"}


BASE = "Paris is the capital of France. It has about two million people and many museums, the Louvre first."
NEAR = [
    BASE,
    BASE.replace("two million", "2.1 million").replace("many", "dozens of"),
    BASE.replace(" first.", ' <img src=x onerror="window.__pwned=1"> first.'),
]


def test_near_identical_rankings_show_their_differences_as_text(page, login, user, screenshot):
    make_project(user, "near", [{"id": "n1", "kind": "listwise", "prompt": "What do you know about Paris?",
                                 "responses": [{"text": t} for t in NEAR]}])
    login("ann", PASSWORD)
    open_next(page, "near")
    cards = page.locator("#ranking > li.rank-card")
    expect(cards.nth(0).locator("details.word-diff")).to_have_count(0)  # the reference: the first shown
    for i in (1, 2):
        expect(cards.nth(i).locator("details.word-diff")).to_have_count(1)
    changed = page.locator(".word-diff ins, .word-diff del")
    assert changed.count() >= 3
    texts = changed.all_text_contents()
    assert any('<img src=x onerror="window.__pwned=1">' in t for t in texts)  # shown as text, not run
    assert any("2.1" in t for t in texts) and any("two" in t for t in texts)
    expect(page.locator(".word-diff img, .word-diff script")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    screenshot("listwise-diff")
    page.keyboard.press("d")
    expect(page.locator("details.word-diff[open]")).to_have_count(0)
    page.keyboard.press("d")
    expect(page.locator("details.word-diff[open]")).to_have_count(2)


def test_the_dataset_rows_table_uses_the_page_width(page, login, user):
    project = project_create(slug="rows", name="Rows", owner=user)
    version = DatasetVersion.objects.create(project=project, number=1, filter_config={}, config_hash="f" * 64,
                                            n_rows=3, created_by=user, stats={})
    for index in range(3):
        DatasetRow.objects.create(
            version=version, index=index, split="train", kind="pairwise", weight=1.0,
            data={"prompt": [{"role": "user", "content": "Explain photosynthesis to a child. " * 4}],
                  "chosen": "Plants eat sunlight: they make sugar from light, water and air. " * 3,
                  "rejected": "Photosynthesis is a process. " * 5, "margin": None},
            provenance={"item": f"i{index}", "source": "human", "noise_score": 0.1,
                        "reasons": ["an unusually long reason that once took most of the table's width " * 2]},
        )
    login("ann", PASSWORD)
    for width in (1280, 1600):
        page.set_viewport_size({"width": width, "height": VIEWPORT_H})
        page.goto("/projects/rows/datasets/1/")
        table = page.locator("table.rows").bounding_box()
        assert table["width"] >= 0.85 * width, (width, table)
        texts = sum(page.locator(f"table.rows tbody tr:first-child td.{name}").bounding_box()["width"]
                    for name in ("snippet:nth-child(2)", "chosen", "rejected"))
        # The three texts get most of the width (auto layout gave them 42% on the demo's version, at 1280 px).
        assert texts >= 0.55 * table["width"], (width, texts, table)


def _overlaps(page, selector: str) -> list:
    """Pairs of elements matching `selector` whose boxes overlap, and elements whose text overflows its box."""
    return page.evaluate("""(selector) => {
      const els = Array.from(document.querySelectorAll(selector)).filter(e => e.offsetParent !== null);
      const boxes = els.map(e => e.getBoundingClientRect());
      const out = [];
      for (let i = 0; i < els.length; i++) {
        if (els[i].scrollWidth > els[i].clientWidth + 1) out.push(["overflows", els[i].textContent.trim()]);
        for (let j = i + 1; j < els.length; j++) {
          const a = boxes[i], b = boxes[j];
          if (Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
              Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5)
            out.push([els[i].textContent.trim(), els[j].textContent.trim()]);
        }
      }
      return out;
    }""", selector)


def test_config_labels_do_not_overlap(page, login, user):
    project = project_create(slug="cfg", name="Config", owner=user)
    job = Job.objects.create(kind="train_rm", project=project, created_by=user, config={
        "gradient_accumulation_steps": 1, "per_device_train_batch_size": 8, "center_rewards_coefficient": None,
        "learning_rate": 1e-5, "max_length": 512, "lora_target_modules": ["q_proj", "v_proj"], "seed": 42})
    login("ann", PASSWORD)
    for width in (1280, 900):
        page.set_viewport_size({"width": width, "height": VIEWPORT_H})
        page.goto(f"/jobs/{job.pk}/")
        expect(page.locator("#job-config dt")).to_have_count(7)
        assert _overlaps(page, "#job-config dt, #job-config dd") == [], width
        page.goto("/projects/cfg/curation/")
        assert _overlaps(page, ".config-fields label, .config-fields legend") == [], width


def test_a_judge_only_project_shows_the_judges_by_default(page, login, user):
    project_create(slug="judged", name="Judged", owner=user)
    records = [{"id": f"p{i}", "kind": "pairwise", "prompt": f"Question {i}",
                "responses": [{"text": f"A{i}"}, {"text": f"B{i}"}],
                "labels": [{"annotator": "gpt", "annotator_kind": "judge", "winner": w1},
                           {"annotator": "claude", "annotator_kind": "judge", "winner": w2}]}
               for i, (w1, w2) in enumerate(["AA", "AB", "BB", "AA"])]
    data_import(project_slug="judged", fmt="native", user=user,
                stream=io.BytesIO("".join(json.dumps(r) + "\n" for r in records).encode()))
    login("ann", PASSWORD)
    page.goto("/projects/judged/agreement/")
    expect(page.locator("#stat-humans")).to_have_text("0")
    expect(page.locator("#stat-judges")).to_have_text("2")
    expect(page.locator("#agreement-scope")).to_contain_text("LLM judges (no person has voted)")
    expect(page.locator('#agreement-figures tr[data-figure="raw_agreement"] td').first).to_have_text("0.750")
    expect(page.locator("#annotator-agreement")).to_contain_text("gpt")
    expect(page.locator("#annotator-agreement")).to_contain_text("claude")
