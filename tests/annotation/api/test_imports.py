"""POST /api/imports/: a multipart upload that calls the import service as the requesting user."""
import gzip
import io

import pytest

from annotation.models import Item, Label, Membership, Project, Prompt, Response
from tests.annotation.conftest import NATIVE_ITEMS, hh_lines, jsonl

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def anyone_creates_projects(settings):
    """Uploads that name a new project create it: allowed here for anyone (the default is staff only, below)."""
    settings.PREFSTUDIO_PROJECT_CREATORS = "any"


def test_by_default_an_upload_does_not_create_a_project_for_non_staff(api, user, settings):
    settings.PREFSTUDIO_PROJECT_CREATORS = "staff"
    response = _upload(api(user), jsonl(NATIVE_ITEMS[:1]), project="fresh", format="native")
    assert response.status_code == 403 and "PREFSTUDIO_PROJECT_CREATORS" in response.json()["error"]
    assert _rows() == (0, 0, 0, 0, 0)


def _upload(client, data: bytes, name: str = "data.jsonl", **fields):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post("/api/imports/", {"file": upload, **fields}, format="multipart")


def _rows() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Project, Prompt, Response, Item, Label))


def test_upload_creates_the_project_and_makes_the_uploader_owner(api, user, datasets):
    data = gzip.compress(hh_lines(datasets / "hh_rlhf" / "helpful-online_test.jsonl.gz", 40))
    response = _upload(api(user), data, "hh.jsonl.gz", project="hh-online", format="hh", annotator="crowd")
    assert response.status_code == 200, response.json()
    report = response.json()
    assert report["project_created"] and report["items_created"] == 40 and report["labels_created"] == 40
    assert report["annotators_created"] == ["crowd"] and report["skipped"] == [] and not report["changed_nothing"]
    assert Membership.objects.get(project__slug="hh-online").user == user
    again = _upload(api(user), data, "hh.jsonl.gz", project="hh-online", format="hh", annotator="crowd").json()
    assert again["changed_nothing"] and again["items_existing"] == 40


def test_a_file_with_bad_lines_is_rejected_whole_with_the_line_errors(api, user, datasets):
    """Lines 1-100 of the real harmless-base file hold one pair with an empty response (line 87)."""
    data = hh_lines(datasets / "hh_rlhf" / "harmless-base_test.jsonl.gz", 100)
    before = _rows()
    response = _upload(api(user), data, project="harmless", format="hh")
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "file" and "nothing was imported" in body["error"]
    (detail,) = body["details"]
    assert detail.startswith("line 87: ") and "empty response" in detail
    assert _rows() == before


def test_skip_invalid_imports_the_rest_and_lists_what_it_skipped(api, user, datasets):
    data = hh_lines(datasets / "hh_rlhf" / "harmless-base_test.jsonl.gz", 100)
    report = _upload(api(user), data, project="harmless", format="hh", skip_invalid="true").json()
    assert report["items_created"] == 99 and len(report["skipped"]) == 1 and report["skipped"][0].startswith("line 87")


def test_only_owners_import_into_an_existing_project(api, project, make_user):
    reviewer = make_user("rita", project=project, role="reviewer")
    before = _rows()
    for person in (reviewer, make_user("zed")):
        response = _upload(api(person), jsonl(NATIVE_ITEMS[:1]), project="kinds", format="native")
        assert response.status_code == 403 and response.json()["field"] == "project"
    assert _rows() == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"project": "x", "format": "csv"}, "format"),
        ({"project": "not a slug", "format": "native"}, "project"),
        ({"format": "native"}, "project"),
        ({"project": "x", "format": "native", "annotator_kind": "robot"}, "annotator_kind"),
    ],
)
def test_bad_upload_fields_are_named(api, user, fields, field):
    response = _upload(api(user), jsonl(NATIVE_ITEMS), **fields)
    assert response.status_code == 400 and response.json()["field"] == field
    assert not Project.objects.exists()


def test_missing_or_empty_file(api, user):
    no_file = api(user).post("/api/imports/", {"project": "x", "format": "native"}, format="multipart")
    assert no_file.status_code == 400 and no_file.json()["field"] == "file"
    assert _upload(api(user), b"", project="x", format="native").json()["field"] == "file"


def test_uploads_over_the_limit_are_413(api, user, settings):
    settings.PREFSTUDIO_IMPORT_MAX_UPLOAD_BYTES = 100
    response = _upload(api(user), jsonl(NATIVE_ITEMS), project="big", format="native")
    assert response.status_code == 413 and response.json()["field"] == "file"
    assert not Project.objects.exists()


def test_anonymous_uploads_are_refused(api):
    assert _upload(api(), jsonl(NATIVE_ITEMS), project="x", format="native").status_code == 401
