"""/api/projects/{slug}/datasets/...: list, detail, rows, streaming export, and who may use them."""
import io
import json

import pyarrow.parquet as pq
import pytest
from django.http import StreamingHttpResponse

from annotation.curation.export import export_options, format_row
from tests.annotation.curation.export_rows import ROWS
from tests.annotation.dataset_factory import add_judge_labels, make_version

pytestmark = pytest.mark.django_db
BASE = "/api/projects/kinds/datasets"


@pytest.fixture
def version(project):
    add_judge_labels(project)
    return make_version(project)


@pytest.fixture
def reviewer(project, make_user):
    return make_user("rita", project=project, role="reviewer")


def _body(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)  # streamed, not built in memory
    return b"".join(response.streaming_content)


def _expected(fmt: str, split: str) -> list[dict]:
    options = export_options(format=fmt)
    return [format_row(r, options) for r in ROWS if r["kind"] == options.kind and split in ("all", r["split"])]


def test_members_list_versions_newest_first(api, project, version, make_user):
    make_version(project, rows=ROWS[:1], number=2)
    annotator = make_user("ada", project=project, role="annotator")
    body = api(annotator).get(f"{BASE}/").json()
    assert [v["number"] for v in body["results"]] == [2, 1]
    assert body["results"][1] == {
        "number": 1, "project": "kinds", "name": "v1", "config_hash": "c0ffee", "n_rows": 5, "created_by": None,
        "created_at": body["results"][1]["created_at"],
    }


def test_detail_has_config_stats_and_rows_per_split_and_kind(api, user, version):
    body = api(user).get(f"{BASE}/1/").json()
    assert body["filter_config"] == {"seed": 7, "drop": ["duplicate"]}
    assert body["stats"] == {"kept": 5, "dropped": {"duplicate": 1}}
    assert (body["n_rows"], body["splits"], body["kinds"]) == (
        5, {"train": 4, "test": 1}, {"pairwise": 3, "listwise": 1, "unpaired": 1}
    )


def test_rows_are_paginated_in_index_order_with_provenance(api, user, version):
    client = api(user)
    first = client.get(f"{BASE}/1/rows/?page_size=2").json()
    assert first["count"] == 5 and [r["index"] for r in first["results"]] == [0, 1]
    row = first["results"][0]
    assert (row["split"], row["kind"], row["weight"], row["data"], row["provenance"]) == (
        "train", "pairwise", 0.8, ROWS[0]["data"], ROWS[0]["provenance"]
    )
    assert row["item"] == version.rows.get(index=0).item_id
    last = client.get(f"{BASE}/1/rows/?page_size=2&page=3").json()
    assert [r["index"] for r in last["results"]] == [4] and last["next"] is None
    test = client.get(f"{BASE}/1/rows/?split=test").json()
    assert [r["index"] for r in test["results"]] == [1]


@pytest.mark.parametrize(("fmt", "split"), [
    ("trl", "train"), ("trl", "all"), ("trl_conversational", "test"), ("kto", "train"), ("listwise", "all"),
])
def test_jsonl_export_streams_the_exact_records(api, user, version, fmt, split):
    response = api(user).get(f"{BASE}/1/export/?format={fmt}&split={split}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"] == f'attachment; filename="kinds-v1-{fmt}-{split}.jsonl"'
    lines = _body(response).decode().splitlines()
    assert [json.loads(line) for line in lines] == _expected(fmt, split)


def test_parquet_export_reads_back_as_the_same_records(api, user, version):
    response = api(user).get(f"{BASE}/1/export/?format=trl_conversational&encoding=parquet&split=all")
    assert response.status_code == 200 and response["Content-Type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(_body(response)))
    assert table.to_pylist() == _expected("trl_conversational", "all")


def test_a_broken_jsonl_download_resumes_at_an_offset(api, user, version):
    """The client keeps the complete lines it got, asks for the rest by offset, and has the whole file."""
    whole = api(user).get(f"{BASE}/1/export/?format=trl&split=all")
    assert whole["X-Export-Offset"] == "0"
    body = _body(whole)
    cut = body[:body.index(b"\n") + 5]  # the connection broke inside the second line
    kept = cut[:cut.rindex(b"\n") + 1]
    lines = kept.count(b"\n")
    rest = api(user).get(f"{BASE}/1/export/?format=trl&split=all&offset={lines}")
    assert rest.status_code == 200 and rest["X-Export-Offset"] == "1"
    assert rest["Content-Disposition"] == 'attachment; filename="kinds-v1-trl-all-from-1.jsonl"'
    assert kept + _body(rest) == body
    assert [json.loads(line) for line in body.splitlines()] == _expected("trl", "all")


def test_an_offset_resumes_parquet_and_raw_votes_too(api, user, version):
    rest = api(user).get(f"{BASE}/1/export/?format=trl&split=all&encoding=parquet&offset=2")
    assert pq.read_table(io.BytesIO(_body(rest))).to_pylist() == _expected("trl", "all")[2:]
    votes = [json.loads(x) for x in _body(api(user).get(f"{BASE}/1/export/?format=raw_votes&split=all")).splitlines()]
    tail = api(user).get(f"{BASE}/1/export/?format=raw_votes&split=all&offset=2")
    assert [json.loads(x) for x in _body(tail).splitlines()] == votes[2:]


@pytest.mark.parametrize(("offset", "words"), [("3", "offset 3 is past the end of the export"),
                                               ("-1", "greater than or equal to 0"), ("x", "valid integer")])
def test_an_offset_past_the_end_or_not_a_count_is_a_400_naming_offset(api, user, version, offset, words):
    body = api(user).get(f"{BASE}/1/export/?format=trl&split=all&offset={offset}").json()
    assert body["field"] == "offset" and words in body["error"], body


def test_export_without_provenance_has_only_the_trl_columns(api, user, version):
    response = api(user).get(f"{BASE}/1/export/?format=trl&provenance=false")
    records = [json.loads(line) for line in _body(response).decode().splitlines()]
    assert records == [
        {"prompt": "Name a prime number.", "chosen": "7 is prime.", "rejected": "9 is prime."},
        {"prompt": "Sort these answers.", "chosen": "third", "rejected": "first"},
    ]


def test_raw_votes_list_every_label_of_the_version_items_once(api, user, version):
    response = api(user).get(f"{BASE}/1/export/?format=raw_votes&split=all")
    votes = [json.loads(line) for line in _body(response).decode().splitlines()]
    # pair-1 (row 0): annotator1, judge-1, judge-2 (unparsable); pair-2: none; rank-1 (rows 2 and 3): once;
    # thumb-1: judge-1. The owner of a project sees annotator names.
    assert [(v["item"], v["annotator"], v["verdict"]) for v in votes] == [
        ("pair-1", "annotator1", "A"), ("pair-1", "judge-1", "B"), ("pair-1", "judge-2", None),
        ("rank-1", "annotator1", "[[2], [0, 1]]"), ("thumb-1", "judge-1", "up"),
    ]
    judge = votes[1]
    assert (judge["annotator_kind"], judge["probability"], judge["swap_consistent"], judge["rationale"]) == (
        "judge", 0.25, False, "B is shorter."
    )
    assert (votes[0]["strength"], votes[0]["annotator_kind"], votes[2]["status"]) == (2, "human", "unparsable")


def test_raw_votes_hide_names_from_a_reviewer_of_a_blind_project(api, project, version, reviewer):
    assert project.blind_review
    response = api(reviewer).get(f"{BASE}/1/export/?format=raw_votes&split=train")
    names = {json.loads(line)["annotator"] for line in _body(response).decode().splitlines()}
    # People by per-project pseudonym; judges are models and keep their names.
    assert {n for n in names if not n.startswith("judge-")} == {"annotator 1"} and "annotator1" not in names


def test_reviewers_may_export_annotators_get_403_outsiders_404_anonymous_401(api, project, version, reviewer,
                                                                           make_user):
    annotator = make_user("ada", project=project, role="annotator")
    outsider = make_user("zed")
    for path in ("rows/", "export/?format=trl"):
        assert api(reviewer).get(f"{BASE}/1/{path}").status_code == 200
        assert api(annotator).get(f"{BASE}/1/{path}").status_code == 403
        assert api(outsider).get(f"{BASE}/1/{path}").status_code == 404
        assert api().get(f"{BASE}/1/{path}").status_code == 401
    assert api(outsider).get(f"{BASE}/").status_code == 404
    assert api().get(f"{BASE}/1/").status_code == 401


@pytest.mark.parametrize(("query", "field", "words"), [
    ("format=dpo", "format", "dpo"),
    ("encoding=csv", "encoding", "csv"),
    ("encoding=hf", "encoding", "export_data"),
    ("split=validation", "split", "validation"),
    ("provenance=maybe", "provenance", "boolean"),
    ("format=kto&split=test", "format", "no unpaired rows in split 'test'"),
])
def test_bad_export_parameters_are_a_400_naming_the_parameter(api, user, version, query, field, words):
    response = api(user).get(f"{BASE}/1/export/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field and words in body["error"], body


def test_a_split_with_no_rows_is_a_400_naming_the_split(api, user, project):
    make_version(project, rows=ROWS[:1])  # train only
    body = api(user).get(f"{BASE}/1/export/?split=test").json()
    assert body["field"] == "split" and "no pairwise rows in split 'test'" in body["error"]


def test_bad_rows_split_and_missing_version_are_clear(api, user, version):
    response = api(user).get(f"{BASE}/1/rows/?split=dev")
    assert response.status_code == 400 and response.json()["field"] == "split"
    missing = api(user).get(f"{BASE}/9/export/?format=trl")
    assert missing.status_code == 404 and missing.json()["error"] == "project 'kinds' has no dataset version 9"


@pytest.fixture
def wsgi_app(settings):
    """The real WSGI app, sharing the test's transaction (as in test_schema.py)."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    settings.ALLOWED_HOSTS = ["localhost"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_dataset_endpoints_conform_to_the_schema_on_a_real_version(wsgi_app, user, version):
    """schemathesis over the four dataset operations with the real slug and version number, so that
    streamed 200s (JSONL and Parquet) are checked against the schema too, not only the 404s."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hypothesis_settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

    from annotation.services.accounts import api_token_get_or_create

    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    headers = {"Authorization": f"Token {api_token_get_or_create(user=user)}"}
    statuses: set[tuple[str, int]] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        if "/datasets/" not in operation.path:
            continue
        path_parameters = {"slug": "kinds", **({"number": 1} if "{number}" in operation.path else {})}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode == GenerationMode.NEGATIVE and len(operation.query) == 0:
                continue  # every path parameter is fixed: nothing is left to break
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @given(case=strategy)
            @hypothesis_settings(max_examples=15, deadline=None, database=None, derandomize=True,
                                 phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def run(case):
                response = case.call(headers=headers)
                case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                         content_type_conformance], headers=headers)
                statuses.add((operation.path.rsplit("/", 2)[-2], response.status_code))

            run()
    assert {("export", 200), ("export", 400), ("rows", 200), ("datasets", 200)} <= statuses
