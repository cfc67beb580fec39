"""POST /api/imports/ under the size limits: bombs refused with the line and the limit, big files
become jobs (202), long texts refused; nothing written in every refusal."""
import gzip
import io
import json

import pytest

from annotation.models import ImportRun, Item, Label, Project, Prompt, Response
from tests.annotation.conftest import NATIVE_ITEMS, jsonl

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def may_create_projects(user) -> None:
    """Only staff create projects by default (PREFSTUDIO_PROJECT_CREATORS); these tests are about the limits."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])

LINE_LIMIT = "(PREFSTUDIO_IMPORT_MAX_LINE_BYTES)"


def _upload(client, data: bytes, name: str = "data.jsonl.gz", **fields):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post("/api/imports/", {"file": upload, **fields}, format="multipart")


def _rows() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Project, Prompt, Response, Item, Label, ImportRun))


def one_line_bomb(gib: int = 1) -> bytes:
    """~1 MB of gzip holding one line of `gib` GiB: 1024 gzip members of 1 MiB of 'a' each, per GiB."""
    member = gzip.compress(b"a" * (1 << 20))
    return gzip.compress(b'{"prompt": "') + member * (1024 * gib)


def trl(i: int, chosen: str = "yes") -> bytes:
    return (json.dumps({"prompt": f"question {i}", "chosen": chosen, "rejected": "no"}) + "\n").encode()


def test_a_one_line_gzip_bomb_is_413_naming_the_line_and_the_limit(api, user):
    before = _rows()
    response = _upload(api(user), one_line_bomb(), project="bomb", format="trl")
    assert response.status_code == 413
    body = response.json()
    assert body["error"] == f"import rejected: line 1: longer than the 8 MiB line limit {LINE_LIMIT}; nothing was imported"
    assert body["field"] == "file"
    assert _rows() == before


def test_a_long_line_after_good_ones_names_its_line(api, user, settings):
    settings.PREFSTUDIO_IMPORT_MAX_LINE_BYTES = 1 << 10
    data = trl(1) + trl(2) + trl(3, chosen="c" * 5000) + trl(4)
    before = _rows()
    response = _upload(api(user), data, "data.jsonl", project="long", format="trl", skip_invalid="true")
    assert response.status_code == 413  # a size limit refuses the file even when bad lines are skipped
    assert response.json()["details"] == [f"line 3: longer than the 1 KiB line limit {LINE_LIMIT}"]
    assert _rows() == before


def test_millions_of_bad_lines_stop_at_the_bad_line_limit(api, user):
    before = _rows()
    response = _upload(api(user), gzip.compress(b"{}\n" * 4_000_000), project="many", format="trl")
    assert response.status_code == 400
    details = response.json()["details"]
    assert len(details) == 1000 and details[0].startswith("line 1: ")
    assert response.json()["error"] == (
        "import rejected: line 10000: reading stopped after 10000 bad lines, the first 1000 are listed; "
        "nothing was imported"
    )
    assert _rows() == before


def test_a_small_gzip_that_inflates_past_the_inline_limit_becomes_a_job(api, user, settings, tmp_path):
    """4 million copies of one pair: 1.6 MB of gzip, 240 MB inflated. Refused inline, queued as a job."""
    settings.MEDIA_ROOT = tmp_path
    data = gzip.compress(trl(0) * 4_000_000)
    assert len(data) < settings.PREFSTUDIO_IMPORT_INLINE_MAX_BYTES
    response = _upload(api(user), data, project="copies", format="trl")
    assert response.status_code == 202, response.json()
    run = ImportRun.objects.get()
    body = response.json()
    assert body["id"] == run.pk and body["state"] == "queued" and body["url"].endswith(f"/api/imports/{run.pk}/")
    assert response["Location"] == body["url"]
    assert (run.project_slug, run.format, run.file_bytes, run.created_by) == ("copies", "trl", len(data), user)
    assert (tmp_path / run.file_path).read_bytes() == data
    assert not Project.objects.exists()  # the inline attempt was rolled back


def test_an_upload_over_the_inline_limit_goes_straight_to_a_job(api, user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PREFSTUDIO_IMPORT_INLINE_MAX_BYTES = 100
    response = _upload(api(user), jsonl(NATIVE_ITEMS), "items.jsonl", project="later", format="native",
                       annotator="crowd", skip_invalid="true")
    assert response.status_code == 202
    run = ImportRun.objects.get()
    assert run.options == {"annotator": "crowd", "annotator_kind": "human", "skip_invalid": True}
    assert run.file_path.endswith(".jsonl") and run.file_name == "items.jsonl"
    assert not Project.objects.exists()


def test_a_job_is_refused_at_once_for_a_project_the_user_does_not_own(api, project, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PREFSTUDIO_IMPORT_INLINE_MAX_BYTES = 100
    response = _upload(api(make_user("zed")), jsonl(NATIVE_ITEMS), "items.jsonl", project="kinds", format="native")
    assert response.status_code == 403 and not ImportRun.objects.exists()


def test_only_the_uploader_sees_a_run(api, user, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PREFSTUDIO_IMPORT_INLINE_MAX_BYTES = 100
    url = _upload(api(user), jsonl(NATIVE_ITEMS), "items.jsonl", project="mine", format="native").json()["url"]
    mine = api(user).get(url)
    assert mine.status_code == 200 and mine.json()["state"] == "queued" and mine.json()["percent"] == 0.0
    assert api(make_user("zed")).get(url).status_code == 404
    assert api().get(url).status_code == 401


def test_a_too_long_prompt_is_refused_with_the_line_and_the_limit(api, user, settings):
    settings.PREFSTUDIO_MAX_TEXT_CHARS = 1000
    record = {**NATIVE_ITEMS[1], "prompt": "p" * 1001}
    before = _rows()
    response = _upload(api(user), jsonl([NATIVE_ITEMS[0], record]), "items.jsonl", project="long", format="native")
    assert response.status_code == 400
    assert response.json()["details"] == [
        "line 2: the prompt's message 0 is 1001 characters long, over the 1000-character text limit "
        "(PREFSTUDIO_MAX_TEXT_CHARS)"
    ]
    assert _rows() == before


def test_an_upload_over_the_upload_limit_is_413_before_it_is_saved(api, user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PREFSTUDIO_IMPORT_MAX_UPLOAD_BYTES = 1 << 20
    response = _upload(api(user), b"x" * (2 << 20), "big.jsonl", project="big", format="trl")
    assert response.status_code == 413
    assert response.json()["error"] == "the file is larger than the 1 MiB upload limit (PREFSTUDIO_IMPORT_MAX_UPLOAD_BYTES)"
    assert not any(tmp_path.iterdir()) and not ImportRun.objects.exists()


def test_a_too_long_rationale_is_refused_by_the_label_api(api, project, user, settings):
    settings.PREFSTUDIO_MAX_TEXT_CHARS = 10
    item = Item.objects.get(project=project, external_id="pair-2")
    before = Label.objects.count()
    response = api(user).post(f"/api/items/{item.pk}/labels/", {"winner": "A", "rationale": "r" * 11}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "rationale"
    assert "over the 10-character text limit (PREFSTUDIO_MAX_TEXT_CHARS)" in response.json()["error"]
    assert Label.objects.count() == before
