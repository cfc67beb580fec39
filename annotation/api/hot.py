"""The labeling loop's two REST calls without DRF's machinery (issue 13): `next` and `submit` for token requests.

    POST /api/projects/{slug}/next/         one statement: token, membership, annotator, lease, item, counters
    POST /api/assignments/{id}/submit/      two: token + lease + item + project (read), then the label (write)

Profiled inside a gunicorn worker (bench/RESULTS.md, *The labeling loop*), DRF's request wrapping, authentication
(an ORM query per request), content negotiation, throttling and above all its serializers (a ModelSerializer builds
and deep-copies its fields on every instance) were most of the server's CPU per label. So a request that carries
`Authorization: Token <key>`, on PostgreSQL, takes this path: the token is checked by the statement that does the
work (a deleted or expired token, or an inactive user, stops working at once: nothing is cached), the label is
checked by the same rules (`services.labeling`), and the body is built as LeaseSerializer / LabelSerializer would
(tests/annotation/api/test_queue_hot.py compares them).

Everything else goes through the DRF views of annotation.api.queue, unchanged, and they stay the endpoints' schema
(`hot_path` keeps them as the URL's `cls`): session requests (CSRF), a token that is not live (DRF's 401 says why),
a lease that is not the token user's (404), a body that is not JSON, or a label with a field this path does not
check itself (ranking, edited_text, no_change) or a value that is not plainly valid (DRF's 400 names the field).
Domain errors answer in the API's shape (prefstudio/errors_http.py). Not throttled: each call is one or two
bounded statements, and the user rate limit would cap an annotator below the loop's target.
"""
import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers

from prefstudio.errors_http import problem_for

from ..models import Label, Winner
from ..services.labeling import TOKEN_REFUSED, label_submit_for_token, queue_next_for_token
from .serializers import MAX_INT32, MAX_POSITION

_DATETIME = serializers.DateTimeField()  # DRF's rendering of a datetime (ISO 8601, "Z" for UTC)
_WINNERS = frozenset(Winner.values)
# What DRF's CharField refuses besides length: NUL and lone surrogates.
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


def hot_path(drf_view: Callable, handler: Callable) -> Callable:
    """The URL's view: `handler(request, key, **kwargs)` for a token request on PostgreSQL, else (or when the
    handler returns None) `drf_view`. Carries `cls` / `initkwargs` so the schema generator documents `drf_view`.
    (HotPathMiddleware usually answers these requests before the URL is resolved: this is the path without it.)"""

    @csrf_exempt  # token requests carry no cookie; the DRF view checks CSRF for session requests itself
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        key = _token_key(request)
        if key is None or request.method != "POST" or connection.vendor != "postgresql":
            return drf_view(request, **kwargs)
        response = _answer(handler, request, key, **kwargs)
        return drf_view(request, **kwargs) if response is None else response

    view.cls = drf_view.cls
    view.initkwargs = drf_view.initkwargs
    return view


def _answer(handler: Callable, request: HttpRequest, key: str, **kwargs: Any) -> HttpResponse | None:
    """`handler`'s answer, a domain error as the API's JSON problem; None: DRF's view answers."""
    try:
        return handler(request, key, **kwargs)
    except Exception as exc:
        problem = problem_for(exc)
        if problem is None:
            raise  # a bug: a 500 with its traceback, as on the DRF path
        return _json(problem.body(), status=problem.status, headers=problem.headers())


# The two routes of annotation/api/urls.py ("api/" + "projects/<slug:slug>/next/", "assignments/<int:pk>/submit/");
# tests/annotation/api/test_queue_hot.py checks them against reverse().
_NEXT_PATH = re.compile(r"/api/projects/(?P<slug>[-a-zA-Z0-9_]+)/next/")
_SUBMIT_PATH = re.compile(r"/api/assignments/(?P<pk>[0-9]+)/submit/")


class HotPathMiddleware:
    """The first middleware: answers a token `next` / `submit` before the rest of the chain and the URL resolver.

    Measured in one process (the two calls of a label through Django's WSGI handler, the same database work): the
    middleware chain and URL resolution were 0.38 of 1.31 ms of the server's CPU per label (bench/RESULTS.md, *The
    labeling loop, round 6*). What those middlewares do is not needed by a token request: no session, cookie, CSRF
    (token requests are exempt), login, message, htmx or static file. What they add to the response is: the headers
    of SecurityMiddleware, the CSP middleware, CommonMiddleware and XFrameOptionsMiddleware are set here by those
    same classes' `process_response` (a test compares every header with the full chain's). A request this does
    not answer (a session, no token, another path, HTTPS redirect due, SQLite, or a body for DRF's path) goes
    through the whole chain as before; Django's handler still sends request_started / finished (connections)."""

    def __init__(self, get_response: Callable) -> None:
        from django.middleware.clickjacking import XFrameOptionsMiddleware
        from django.middleware.common import CommonMiddleware
        from django.middleware.security import SecurityMiddleware

        from prefstudio.csp_middleware import CSPMiddleware

        self.get_response = get_response
        self.redirect = settings.SECURE_SSL_REDIRECT  # read once, as SecurityMiddleware does
        # Innermost first, as the chain runs process_response (prefstudio/settings/base.py's MIDDLEWARE order).
        self.finish = [m(get_response).process_response for m in (XFrameOptionsMiddleware, CommonMiddleware,
                                                                  CSPMiddleware, SecurityMiddleware)]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self._hot(request) if request.method == "POST" else None
        if response is None:
            return self.get_response(request)
        for process_response in self.finish:
            response = process_response(request, response)
        return response

    def _hot(self, request: HttpRequest) -> HttpResponse | None:
        path = request.path_info
        if not path.startswith("/api/") or connection.vendor != "postgresql":
            return None
        if self.redirect and not request.is_secure():
            return None  # SecurityMiddleware's redirect
        key = _token_key(request)
        if key is None:
            return None
        if match := _NEXT_PATH.fullmatch(path):
            return _answer(project_next, request, key, slug=match["slug"])
        if match := _SUBMIT_PATH.fullmatch(path):
            return _answer(assignment_submit, request, key, pk=int(match["pk"]))
        return None


def _token_key(request: HttpRequest) -> str | None:
    """The key of `Authorization: Token <key>` (as DRF's TokenAuthentication reads it), else None."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) != 2 or parts[0].lower() != "token" or "\x00" in parts[1]:
        return None  # (a NUL would not reach PostgreSQL as text: DRF's 401 answers it)
    return parts[1]


def _json(body: Any, *, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    """JSON as DRF's JSONRenderer writes it (compact, UTF-8; U+2028/9 escaped for script contexts)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    response = HttpResponse(text.encode(), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# -- next -------------------------------------------------------------------------------------------
def project_next(request: HttpRequest, key: str, slug: str) -> HttpResponse | None:
    lease = queue_next_for_token(key=key, slug=slug)
    if lease is TOKEN_REFUSED:
        return None
    if lease is None:
        return HttpResponse(status=204)
    return _json(lease_body(lease), status=200)


def lease_body(lease: dict) -> dict:
    """LeaseSerializer's shape from the row `queue_next_for_token` returns (no model instances, no queries)."""
    item = lease["item"]
    prompt = item["prompt"]
    return {
        "assignment": lease["assignment"],
        "project": lease["project"],
        "status": lease["status"],
        "expires_at": _DATETIME.to_representation(lease["expires_at"]),
        "item": {
            "id": item["id"], "external_id": item["external_id"], "kind": item["kind"],
            # ItemPromptSerializer: MessageSerializer keeps role and content, as strings.
            "prompt": {"id": prompt["id"], "external_id": prompt["external_id"],
                       "messages": [{"role": _str(m["role"]), "content": _str(m["content"])}
                                    for m in prompt["messages"] or []]},
            "responses": item["responses"],
        },
        "queue": lease["queue"],
    }


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


# -- submit -----------------------------------------------------------------------------------------
def assignment_submit(request: HttpRequest, key: str, pk: int) -> HttpResponse | None:
    if request.content_type != "application/json":
        return None  # a form or multipart body: DRF's parsers
    try:
        data = json.loads(request.body)
    except ValueError:
        return None  # DRF's 400 for malformed JSON
    data = plain_label(data)
    if data is None:
        return None
    idempotency_key = data.pop("idempotency_key", None)
    label = label_submit_for_token(key=key, assignment_id=pk, data=data, idempotency_key=idempotency_key)
    if label is TOKEN_REFUSED:
        return None
    return _json(label_body(label), status=201)


def _is_int(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high  # not bool, not "3": those take DRF's path


def _is_text(value: Any, max_length: int) -> bool:
    return type(value) is str and len(value) <= max_length and _BAD_CHARS.search(value) is None


# LabelCreateSerializer's fields this path checks itself, each with the values DRF would pass through unchanged.
_PLAIN_FIELDS: dict[str, Callable[[Any], bool]] = {
    "winner": lambda v: type(v) is str and v in _WINNERS,
    "strength": lambda v: _is_int(v, 1, 10),
    "aspects": lambda v: type(v) is dict and all(type(x) is str and x in _WINNERS for x in v.values()),
    "rationale": lambda v: _is_text(v, 20_000),
    "thumbs": lambda v: v in ("up", "down"),
    "shown_order": lambda v: type(v) is list and len(v) <= 16 and all(_is_int(x, 0, MAX_POSITION) for x in v),
    "time_spent_ms": lambda v: _is_int(v, 0, MAX_INT32),
    # CharField(max_length=64) trims whitespace and refuses blanks: a key that would change takes DRF's path.
    "idempotency_key": lambda v: _is_text(v, 64) and v != "" and v == v.strip(),
}
_DRF_ONLY_FIELDS = frozenset({"ranking", "edited_text", "no_change"})


def plain_label(data: Any) -> dict | None:
    """`data` if it is a label body that LabelCreateSerializer would accept unchanged, checked without DRF; None
    when DRF must look at it (a field of _DRF_ONLY_FIELDS, a value to coerce or to refuse). Unknown keys are
    dropped, as DRF drops them."""
    if type(data) is not dict:
        return None
    out = {}
    for name, value in data.items():
        check = _PLAIN_FIELDS.get(name)
        if check is None:
            if name in _DRF_ONLY_FIELDS:
                return None
            continue
        if not check(value):
            return None
        out[name] = value
    return out


def label_body(label: Label) -> dict:
    """LabelSerializer's shape for the user's own label (shown under their own name, as the DRF view does)."""
    return {
        "id": label.pk, "item": label.item_id, "project": label.item.project.slug,
        "annotator": label.annotator.name, "annotator_kind": label.annotator.kind, "kind": label.kind,
        "role": label.role, "status": label.status, "winner": label.winner, "strength": label.strength,
        "aspects": {str(k): _str(v) for k, v in (label.aspects or {}).items()}, "rationale": label.rationale,
        "ranking": label.ranking, "edited_response": label.edited_response_id,
        "edited_text": label.edited_response.text if label.edited_response_id else None,
        "thumbs_up": label.thumbs_up, "shown_order": label.shown_order, "time_spent_ms": label.time_spent_ms,
        "probability": label.probability, "raw_output": label.raw_output, "swap_consistent": label.swap_consistent,
        "created_at": _DATETIME.to_representation(label.created_at),
    }
