"""The upload page (/imports/new/) and an import job's page (/imports/<id>/), through Django's test client."""
import gzip
import io

import pytest
from django.test import Client

from annotation.models import ImportRun, Item, Project
from tests.annotation.conftest import NATIVE_ITEMS, jsonl

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def may_create_projects(user) -> None:
    """Only staff create projects by default (PREFSTUDIO_PROJECT_CREATORS); these tests are about the limits."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])

URL = "/imports/new/"


@pytest.fixture
def browser(client, user) -> Client:
    client.force_login(user)
    return client


def _post(client: Client, data: bytes, name: str = "items.jsonl", **fields):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(URL, {"file": upload, "format": "native", "annotator_kind": "human", **fields})


def test_the_form_is_for_people_who_are_logged_in(client, browser):
    assert Client().get(URL).status_code == 302
    page = browser.get(URL)
    assert page.status_code == 200 and b'id="import-form"' in page.content and b'enctype="multipart/form-data"' in page.content


def test_a_small_file_is_imported_at_once_and_reported(browser, user):
    page = _post(browser, jsonl(NATIVE_ITEMS), project="fresh")
    assert page.status_code == 200
    assert b'id="import-report"' in page.content and b"5 new items" in page.content
    assert Item.objects.filter(project__slug="fresh").count() == 5 and not ImportRun.objects.exists()


def test_a_bomb_is_refused_with_the_line_and_the_limit(browser):
    member = gzip.compress(b"a" * (1 << 20))
    bomb = gzip.compress(b'{"prompt": "') + member * 1024
    page = _post(browser, bomb, "bomb.jsonl.gz", project="bomb")
    assert page.status_code == 413
    assert b"line 1: longer than the 8 MiB line limit (PREFSTUDIO_IMPORT_MAX_LINE_BYTES)" in page.content
    assert not Project.objects.exists()


def test_an_upload_over_the_upload_limit_is_refused_as_it_arrives(browser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PREFSTUDIO_IMPORT_MAX_UPLOAD_BYTES = 1 << 10
    page = _post(browser, jsonl(NATIVE_ITEMS), project="big")
    assert page.status_code == 413
    assert b"the file is larger than the 1 KiB upload limit (PREFSTUDIO_IMPORT_MAX_UPLOAD_BYTES)" in page.content
    assert not Project.objects.exists() and not any(tmp_path.iterdir())


def test_a_big_file_becomes_a_job_whose_page_polls_its_progress(browser, user, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PREFSTUDIO_IMPORT_INLINE_MAX_BYTES = 100
    response = _post(browser, jsonl(NATIVE_ITEMS), project="later")
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{run.pk}/"
    page = browser.get(response["Location"])
    assert page.status_code == 200 and b'id="run-state"' in page.content
    assert f'hx-get="/imports/{run.pk}/" hx-trigger="every 1s"'.encode() in page.content
    live = browser.get(response["Location"], headers={"HX-Request": "true"})
    assert live.content.lstrip().startswith(b'<section id="run-live"') and b"<html" not in live.content
    ImportRun.objects.filter(pk=run.pk).update(state="succeeded", report={"items_created": 5, "items_existing": 0,
                                                                         "labels_created": 4, "skipped": []})
    done = browser.get(response["Location"], headers={"HX-Request": "true"})
    assert b"hx-get" not in done.content and b"5 new items" in done.content  # polling stops when it ends
    other = Client()
    other.force_login(make_user("zed"))
    assert other.get(response["Location"]).status_code == 404


def test_the_upload_needs_a_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert _post(client, jsonl(NATIVE_ITEMS), project="csrf").status_code == 403
    assert not Project.objects.exists()
