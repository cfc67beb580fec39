"""The labeling pages without a browser: access, the forms without JavaScript, the lease fragment."""
import io
import json
import re
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from django.utils import timezone
from jinja2 import UndefinedError

from annotation.models import Assignment, AssignmentStatus, Item, Label, Project, Prompt, Response
from annotation.selectors.labeling import LabelingTask
from annotation.services.imports import data_import
from annotation.services.labeling import queue_next_for_user
from annotation.services.projects import membership_set
from annotation.views.label_form import FormValues
from tests.annotation.conftest import NATIVE_ITEMS, jsonl
from annotation.views.labeling import lease_urls, task_part

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(project, make_user, client):
    person = make_user("ada", project=project, role="annotator")
    client.force_login(person)
    return person


def _lease(user, slug="kinds") -> Assignment:
    return queue_next_for_user(user=user, slug=slug)


def _url(lease: Assignment, action: str = "") -> str:
    return f"/projects/{lease.item.project.slug}/label/{lease.pk}/" + (f"{action}/" if action else "")


def test_queue_page_shows_what_is_left_and_starts_labeling(client, ada):
    page = client.get("/projects/kinds/label/")
    assert page.status_code == 200
    assert page.context["status"].mine_left == 2 and b"Start labeling" in page.content
    started = client.post("/projects/kinds/label/next/")
    lease = Assignment.objects.get(annotator__user=ada)
    assert started.status_code == 302 and started["Location"] == _url(lease)
    assert b"Continue labeling" in client.get("/projects/kinds/label/").content


def test_queue_page_says_when_nothing_is_left(client, ada):
    for _ in range(2):  # ada skips both items open to her, in her own words
        response = client.post(_url(_lease(ada), "skip"), {"reason": "other", "reason_detail": "not for me"})
    assert response["Location"] == "/projects/kinds/label/"
    assert set(Assignment.objects.values_list("skip_reason", flat=True)) == {"not for me"}
    assert b"Nothing left for you" in client.get("/projects/kinds/label/").content


@pytest.mark.parametrize("path", ["/projects/kinds/label/", "/projects/nope/label/"])
def test_non_members_get_404(client, make_user, project, path):
    client.force_login(make_user("stranger"))
    assert client.get(path).status_code == 404
    assert client.post(path + "next/").status_code == 404


def test_someone_elses_lease_is_404(client, ada, project, make_user):
    lease = _lease(make_user("bob", project=project))
    for action in ("", "submit", "skip", "refresh"):
        response = client.get(_url(lease)) if not action else client.post(_url(lease, action), {"winner": "A"})
        assert response.status_code == 404, action
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.ACTIVE


def test_a_missing_verdict_re_renders_the_page_with_a_message_and_changes_nothing(client, ada):
    lease = _lease(ada)
    response = client.post(_url(lease, "submit"), {"idempotency_key": "k1", "rationale": "kept"})
    assert response.status_code == 400
    assert "Choose a verdict" in response.context["error_message"]
    assert response.context["values"].rationale == "kept" and b"kept</textarea>" in response.content
    assert not Label.objects.filter(annotator__user=ada).exists()
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.ACTIVE


def test_a_ranking_submitted_without_javascript_uses_the_rank_numbers(client, ada):
    """Equal numbers tie; with partial rankings allowed, a blank number leaves a response unranked."""
    record = {"id": "r", "kind": "listwise", "prompt": "Rank.", "responses": [{"text": t} for t in "xyz"]}
    data_import(project_slug="ranks", fmt="native", stream=io.BytesIO(json.dumps(record).encode()), user=ada)
    Project.objects.filter(slug="ranks").update(allow_partial_ranking=True)
    lease = _lease(ada, slug="ranks")
    response = client.post(_url(lease, "submit"), {"rank_0": "2", "rank_1": "", "rank_2": "2"})
    assert response.status_code == 302
    assert Label.objects.get(annotator__user=ada).ranking == [[0, 2]]


def test_refresh_extends_the_lease_and_returns_the_fragment(client, ada):
    lease = _lease(ada)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() + timedelta(minutes=1))
    response = client.post(_url(lease, "refresh"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith('<span id="lease"') and "Reserved for you" in html and "<html" not in html
    assert Assignment.objects.get(pk=lease.pk).expires_at > timezone.now() + timedelta(minutes=25)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    ended = client.post(_url(lease, "refresh"), headers={"HX-Request": "true"}).content.decode()
    assert "reservation of this item ended" in ended and "hx-trigger" not in ended


def test_a_finished_lease_sends_you_back_to_the_queue(client, ada):
    lease = _lease(ada)
    client.post(_url(lease, "submit"), {"winner": "A"})
    response = client.get(_url(lease))
    assert response.status_code == 302 and response["Location"] == "/projects/kinds/label/"


def test_model_output_is_rendered_through_the_sanitiser(client, ada, items):
    lease = _lease(ada)
    slot = lease.item.slots.get(position=0)
    slot.response.text = '<script>window.__pwned=1</script> <img src=x onerror="alert(1)">'
    slot.response.save(update_fields=["text"])
    html = client.get(_url(lease)).content.decode()
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "<script>window.__pwned" not in html and "<img src=x" not in html


# -- the label form with htmx: one request per label (issue 13 item 4) -------------------------------------------
HX = {"HX-Request": "true"}
MODEL = "secret-model-name-7b"  # must never reach an annotator's page


def _pairwise_project(slug: str, n_items: int, user) -> None:
    lines = [json.dumps({"id": f"i{i}", "kind": "pairwise", "prompt": f"question {i}",
                         "responses": [{"text": f"answer {i} a", "model": MODEL}, {"text": f"answer {i} b",
                                                                                   "model": MODEL + "-b"}]})
             for i in range(n_items)]
    data_import(project_slug=slug, fmt="native", stream=io.BytesIO("\n".join(lines).encode()))
    membership_set(project=Project.objects.get(slug=slug), user=user, role="annotator")


def test_an_htmx_submit_answers_with_the_next_task_page_and_pushes_its_url(client, ada):
    """Stored, released, and the next lease's page in the same answer: only the main region, its title, the saved
    message and the next lease's form; HX-Push-Url names the next task page, which loads on its own too."""
    _pairwise_project("hx", 3, ada)
    lease = _lease(ada, slug="hx")
    response = client.post(_url(lease, "submit"), {"winner": "B", "idempotency_key": "hx-1"}, headers=HX)
    assert response.status_code == 200, response.content
    following = Assignment.objects.get(annotator__user=ada, status=AssignmentStatus.ACTIVE)
    assert following.pk != lease.pk and following.item_id != lease.item_id
    assert response["HX-Push-Url"] == _url(following)
    html = response.content.decode()
    assert "<html" not in html and "<header" not in html  # the fragment for <main>, not the whole page
    assert re.match(r"\s*<title>Pairwise · [^<]+ · PrefStudio</title>", html)  # htmx sets the document's title
    assert "Label saved." in html and f'action="{_url(following, "submit")}"' in html
    assert f'hx-post="{_url(following, "submit")}"' in html and "Item <strong>2</strong> of" in html
    assert following.item.prompt.messages[0]["content"] in html
    assert MODEL not in html  # blind: no model names on the page
    label = Label.objects.get(idempotency_key="hx-1")
    assert (label.item_id, label.winner) == (lease.item_id, "B")
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.SUBMITTED
    whole = client.get(response["HX-Push-Url"])  # the pushed URL: a reload or "back" there shows the same item
    assert whole.status_code == 200 and b"<html" in whole.content and b'id="label-form"' in whole.content


def test_an_htmx_submit_retried_with_its_key_stores_one_label_and_shows_the_same_next_item(client, ada):
    _pairwise_project("hx", 3, ada)
    lease = _lease(ada, slug="hx")
    first = client.post(_url(lease, "submit"), {"winner": "A", "idempotency_key": "again"}, headers=HX)
    retry = client.post(_url(lease, "submit"), {"winner": "A", "idempotency_key": "again"}, headers=HX)
    assert first.status_code == retry.status_code == 200
    assert first["HX-Push-Url"] == retry["HX-Push-Url"]
    assert Label.objects.filter(annotator__user=ada).count() == 1
    assert Assignment.objects.filter(annotator__user=ada, status=AssignmentStatus.ACTIVE).count() == 1


def test_the_last_htmx_submit_sends_the_browser_to_the_queue(client, ada):
    _pairwise_project("hx", 1, ada)
    lease = _lease(ada, slug="hx")
    response = client.post(_url(lease, "submit"), {"winner": "tie"}, headers=HX)
    assert response.status_code == 200 and response["HX-Redirect"] == "/projects/hx/label/"
    assert "HX-Push-Url" not in response
    queue = client.get("/projects/hx/label/").content.decode()
    assert "Label saved." in queue and "Nothing left for you" in queue


def test_a_refused_htmx_submit_re_renders_the_same_item_with_the_error(client, ada):
    _pairwise_project("hx", 2, ada)
    lease = _lease(ada, slug="hx")
    response = client.post(_url(lease, "submit"), {"rationale": "kept", "idempotency_key": "k"}, headers=HX)
    assert response.status_code == 400 and "HX-Push-Url" not in response
    html = response.content.decode()
    assert "<html" not in html and "Choose a verdict" in html and "kept</textarea>" in html
    assert f'action="{_url(lease, "submit")}"' in html
    assert not Label.objects.filter(annotator__user=ada).exists()
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.ACTIVE


def test_an_htmx_submit_on_an_ended_lease_sends_the_browser_to_the_queue(client, ada):
    _pairwise_project("hx", 2, ada)
    lease = _lease(ada, slug="hx")
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.post(_url(lease, "submit"), {"winner": "A"}, headers=HX)
    assert response.status_code == 200 and response["HX-Redirect"] == "/projects/hx/label/"
    assert not Label.objects.filter(annotator__user=ada).exists()


# -- the task page's template (Jinja2: annotation/jinja_env.py) -----------------------------------------------------
def test_the_next_items_model_text_in_an_htmx_answer_is_escaped(client, ada):
    _pairwise_project("hx", 2, ada)
    lease = _lease(ada, slug="hx")
    hostile = '<script>window.__pwned=1</script> <img src=x onerror="alert(1)"> [x](javascript:alert(1))'
    Response.objects.filter(prompt__project__slug="hx").exclude(prompt=lease.item.prompt).update(text=hostile)
    html = client.post(_url(lease, "submit"), {"winner": "A"}, headers=HX).content.decode()
    assert html.count("&lt;script&gt;window.__pwned=1&lt;/script&gt;") == 2  # both responses, as text
    assert "<script>window" not in html and "<img" not in html and 'href="javascript' not in html


def test_the_lease_urls_are_the_ones_the_urlconf_names(ada):
    urls = lease_urls("kinds", 42)
    assert urls == {"queue_url": reverse("labeling-queue", args=["kinds"]),
                    **{f"{name}_url": reverse(f"labeling-{name}", args=["kinds", 42])
                       for name in ("task", "submit", "skip", "refresh")}}


def test_both_forms_of_an_htmx_answer_carry_a_token_the_csrf_check_accepts(ada):
    _pairwise_project("hx", 3, ada)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ada)
    lease = _lease(ada, slug="hx")
    whole = strict.get(_url(lease)).content.decode()  # sets the CSRF cookie
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', whole).group(1)
    answer = strict.post(_url(lease, "submit"), {"csrfmiddlewaretoken": token, "winner": "A"}, headers=HX)
    assert answer.status_code == 200
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', answer.content.decode())
    assert len(tokens) == 2 and tokens[0] == tokens[1]  # the label form and the skip form
    following = Assignment.objects.get(annotator__user=ada, status=AssignmentStatus.ACTIVE)
    form = {"reason": "other", "reason_detail": "not mine"}
    assert strict.post(_url(following, "skip"), form).status_code == 403  # without it: refused
    assert strict.post(_url(following, "skip"), {"csrfmiddlewaretoken": tokens[1], **form}).status_code == 302
    assert Assignment.objects.get(pk=following.pk).status == AssignmentStatus.SKIPPED


def test_a_name_the_task_template_does_not_get_fails_the_page_instead_of_printing_nothing():
    with pytest.raises(UndefinedError):
        render_to_string("annotation/labeling/task.jinja", {"part": "lease"}, using="jinja2")


HOSTILE = '<script>window.__pwned=1</script>'


def test_text_the_page_prints_without_markdown_is_escaped_too(client, ada):
    """The project's name, aspect and strength names, a prompt's role and what the annotator typed are printed as
    they are (no markdown filter): the template's autoescape is what keeps them text."""
    _pairwise_project("hx", 2, ada)
    Project.objects.filter(slug="hx").update(name=f"P {HOSTILE}", aspects=[f"a {HOSTILE}"],
                                             strength_levels=[f"s {HOSTILE}", "much"])
    Item.objects.filter(project__slug="hx").update(kind="pairwise")
    Prompt.objects.filter(project__slug="hx").update(messages=[{"role": HOSTILE, "content": "q"}])
    lease = _lease(ada, slug="hx")
    pages = [client.get(_url(lease)).content.decode(),  # the whole page
             client.post(_url(lease, "submit"), {"rationale": HOSTILE}, headers=HX).content.decode()]  # refused
    for html in pages:
        assert "<script>window" not in html
        assert html.count("&lt;script&gt;window.__pwned=1&lt;/script&gt;") >= 5, html  # name, aspect, level, role…
    assert f"{escape(HOSTILE)}</textarea>" in pages[1]  # the rationale, given back


@pytest.mark.parametrize("kind, marker", [("pairwise", 'name="winner"'), ("listwise", 'id="ranking"'),
                                          ("edit", 'id="edited"'), ("thumbs", 'name="thumbs"')])
def test_every_kinds_task_page_renders_whole_and_with_an_error(client, ada, kind, marker):
    record = next({**r, "labels": []} for r in NATIVE_ITEMS if r["kind"] == kind)  # open to ada: no labels yet
    data_import(project_slug=f"one-{kind}", fmt="native", stream=io.BytesIO(jsonl([record])), user=ada)
    lease = _lease(ada, slug=f"one-{kind}")
    page = client.get(_url(lease))
    assert page.status_code == 200 and marker in page.content.decode() and b"<html" in page.content
    refused = client.post(_url(lease, "skip"), {"reason": ""})  # no reason: the page again, with the error
    assert refused.status_code == 400 and "Say why you skip" in refused.content.decode()
    assert marker in refused.content.decode()
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.ACTIVE


def test_the_settings_preview_of_an_item_without_responses_renders():
    """A kind's controls with no panel print nothing for the panel, as the Django template did."""
    task = LabelingTask(lease=None, project=Project(slug="p", name="p"), kind="edit", messages=[], panels=[],
                        shown_order=[])
    for kind in ("edit", "thumbs"):
        html = task_part(None, kind, {"task": task, "project": task.project, "values": FormValues(),
                                      "ranked_panels": [], "aspect_rows": [], "original": ""})
        assert "Original response" in html or 'name="thumbs"' in html
