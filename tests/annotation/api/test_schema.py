"""The OpenAPI schema: generated without warnings, served with offline docs, and obeyed by the API.

The last test runs schemathesis over the WSGI app with a real token: every operation, with data
that fits the schema and data that does not, against random ids and against real ones. It asserts
no 5xx and that every response (errors included) has a status, content type, headers and body
that the schema documents. It does not assert schemathesis's "negative data is rejected" check:
DRF coerces some off-schema values (the string "5" for an integer), which is intended leniency.
"""
from pathlib import Path

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from annotation.models import ImportRun, Label, Response
from annotation.services.accounts import api_token_get_or_create
from annotation.services.labeling import label_submit_for_user, queue_next_for_user
from training.services.jobs import job_start

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Examples per operation, mode and id source: ~13 operations × 2 modes × 1-2 id sources × this.
EXAMPLES = 12
SWAGGER_BUNDLE = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"


def test_schema_generates_valid_and_without_warnings(tmp_path):
    out = Path(tmp_path) / "schema.yaml"
    call_command("spectacular", "--file", str(out), "--validate", "--fail-on-warn")
    text = out.read_text()
    assert "/api/items/{id}/labels/" in text and "/api/imports/" in text and "Error:" in text


def test_docs_work_offline(client, user):
    page = client.get("/api/docs/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f"/static/{SWAGGER_BUNDLE}" in html and "cdn.jsdelivr.net" not in html
    assert finders.find(SWAGGER_BUNDLE) is not None  # the asset ships with the app
    assert client.get("/api/schema/").status_code == 200


@pytest.fixture
def wsgi_app(settings):
    """The real WSGI app, sharing the test's transaction the way Django's test client does."""
    settings.ALLOWED_HOSTS = ["localhost"]  # schemathesis's WSGI transport sends Host: localhost
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _real_ids(items, project, user) -> dict[str, dict]:
    label = label_submit_for_user(user=user, item_id=items["pair-2"].pk, data={"winner": "A"})
    item = items["rank-1"]
    lease = queue_next_for_user(user=user, slug=project.slug)
    return {
        "assignments": {"id": lease.pk},
        "items": {"id": item.pk},
        "prompts": {"id": item.prompt_id},
        "responses": {"id": Response.objects.filter(origin="human_edit").first().pk},
        "labels": {"id": Label.objects.exclude(pk=label.pk).first().pk},
        "projects": {"slug": project.slug},
        # A finished import run of the user's (the row an import job leaves; no file needed to read it back).
        "imports": {"id": ImportRun.objects.create(
            project_slug=project.slug, format="native", file_path="imports/none.jsonl", file_bytes=0,
            state="succeeded", created_by=user).pk},
        "jobs": {"id": job_start(kind="diagnostic", config={}, project=project, user=None).pk},  # staff-only kind
    }


def test_the_api_conforms_to_its_schema(wsgi_app, project, items, user):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    headers = {"Authorization": f"Token {api_token_get_or_create(user=user)}"}
    real = _real_ids(items, project, user)
    runs = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        resource = operation.path.split("/")[2]
        # Besides the path, is there anything negative data can break? (If not, a real id leaves none.)
        more = len(operation.query) > 0 or len(operation.body) > 0
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode == GenerationMode.NEGATIVE and not more and "{slug}" in operation.path:
                continue  # a non-slug that still fits in one path segment: schemathesis finds none
            sources = [None]
            if "{" in operation.path and (mode == GenerationMode.POSITIVE or more):
                sources.append(real[resource])
            for path_parameters in sources:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

                @given(case=strategy)
                @hypothesis_settings(
                    max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                )
                def run(case):
                    response = case.call(headers=headers)
                    case.validate_response(response, checks=CHECKS, headers=headers)

                run()
                runs += 1
    assert runs >= 30
