"""One way from errors to HTTP, for pages and the API alike.

`STATUS` is the one table from error types to status codes. Every entry point reads it through `problem_for`:
- `DomainErrorMiddleware` (MIDDLEWARE): an error raised by a page view becomes the styled error page
  (templates/error.html; its `#error` card alone for an htmx request) with the status; under /api/ a view that
  is not DRF's gets the JSON below;
- `exception_handler` (REST_FRAMEWORK["EXCEPTION_HANDLER"]): an error raised by an API view becomes
  {"error": message, "field": name or null, "details": [...]}, as do DRF's own errors (bad input, no token, ...);
- `page_not_found`, `permission_denied`, `server_error` (handler404/403/500): a URL no view matched, Django's own
  Http404/PermissionDenied, and errors raised outside any view (a middleware's) -- JSON under /api/, the page
  elsewhere.

Views therefore raise and do not catch: a service's NotFound is the 404 page or the API's 404 by itself. A view
catches a domain error only to do something of its own with it (put it next to a form's field and re-render).

To add an error type: subclass PrefStudioError with its `status_code` (annotation/errors.py); nothing here
changes. An error type from outside the domain (a library's) gets one line in STATUS.
"""
import sys
import dataclasses
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.errors import PrefStudioError
from common.config import ConfigError

API_PREFIX = "/api/"
DB_UNAVAILABLE = "the database is unavailable for a moment: retry after a few seconds"

# (error type, status, message), first match first. A status of None is the error's own `status_code`; a message
# of None is the error's own, str(exc) (with its `field` and `details`, if it has them).
STATUS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int | None, str | None], ...] = (
    # The domain's errors carry their status (annotation/errors.py): PrefStudioError 400, NotFound 404,
    # PermissionDenied 403, Conflict 409, TooLarge 413, and any subclass added later.
    (PrefStudioError, None, None),
    # A job config value (common/config.py); services re-raise it as PrefStudioError("config.<field>: ..."),
    # this line catches one that reaches a view as it is.
    (ConfigError, 400, None),
    # The database out of reach (a restart, a failover): retry after Retry-After. Submits are idempotent (a
    # retried label POST stores one label); what the request wrote either committed or was rolled back.
    ((OperationalError, InterfaceError), 503, DB_UNAVAILABLE),
    # Services check what they can; a constraint that still fails is a race with a concurrent request.
    (IntegrityError, 409, "the request conflicts with existing data; reload and retry"),
    (DataError, 400, "a value is out of range or malformed"),
)

# The error page's heading per status; others use the status's name.
TITLES = {
    400: "That cannot be done", 403: "Not allowed", 404: "Not found", 409: "Conflict",
    413: "Too large", 500: "Something went wrong", 503: "Unavailable for a moment",
}
# A second line on the error page where the status calls for advice.
ADVICE = {
    503: "Nothing you sent was lost twice: reload the page in a few seconds; a label you submitted is stored once "
         "even if you send it again.",
}


@dataclass(frozen=True)
class Problem:
    """What the client is told: a status and the one error shape."""

    status: int
    message: str
    field: str | None = None
    details: list[str] = dataclasses.field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.field, self.details)

    def headers(self) -> dict[str, str]:
        if self.status == 503:  # see STATUS: the client may retry
            return {"Retry-After": str(settings.DB_UNAVAILABLE_RETRY_AFTER_SECONDS)}
        return {}


def error_body(message: str, field: str | None = None, details: list[str] | None = None) -> dict[str, Any]:
    return {"error": message, "field": field, "details": list(details or [])}


def problem_for(exc: BaseException | None) -> Problem | None:
    """The answer STATUS gives for `exc`, or None for an error it does not know (a bug: a 500)."""
    for types, status, message in STATUS:
        if isinstance(exc, types):
            return Problem(
                status=status if status is not None else exc.status_code,  # type: ignore[union-attr]
                message=message if message is not None else str(exc),
                field=None if message is not None else getattr(exc, "field", None),
                details=list(getattr(exc, "details", None) or []),
            )
    return None


def problem_response(request: HttpRequest, problem: Problem) -> HttpResponse:
    """JSON under /api/; elsewhere the error page, or its card alone for htmx (which swaps no 4xx/5xx by
    default, so the page around it stays as it was, as with Django's own error pages)."""
    if request.path.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse(problem.body(), status=problem.status)
    else:
        template = "error.html" + ("#error" if request.headers.get("HX-Request") == "true" else "")
        context = {
            "title": TITLES.get(problem.status) or HTTPStatus(problem.status).phrase,
            "message": problem.message,
            "advice": ADVICE.get(problem.status, ""),
        }
        # No request context: the page reads nothing from the database (it is also the 503's page).
        response = HttpResponse(loader.render_to_string(template, context), status=problem.status)
    for name, value in problem.headers().items():
        response[name] = value
    return response


class DomainErrorMiddleware:
    """Turns the errors of STATUS raised by a view into their status and page (or JSON). DRF's views answer
    their own through `exception_handler`; what that passes on (a bug) arrives here and stays a 500."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        problem = problem_for(exception)
        return None if problem is None else problem_response(request, problem)


# -- the API: DRF's exception handler --------------------------------------------------------------
def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    problem = problem_for(exc)
    if problem is not None:
        return Response(problem.body(), status=problem.status, headers=problem.headers())
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let it be a 500 with a traceback in the logs
    if isinstance(exc, ValidationError):
        problems = list(_flatten(exc.detail, ""))
        field = next((name for name, _ in problems if name), None)
        first = problems[0][1] if problems else "invalid input"
        message = f"{field}: {first}" if field else first
        response.data = error_body(message, field, [f"{name}: {text}" if name else text for name, text in problems])
    else:
        detail = getattr(exc, "detail", None)
        response.data = error_body(str(detail) if detail is not None else str(exc))
    return response


def _flatten(detail: Any, path: str):
    """(field path, message) pairs from DRF's nested error detail; non-field errors have path ""."""
    if isinstance(detail, dict):
        for key, inner in detail.items():
            if isinstance(key, int):  # ListField errors are keyed by index
                yield from _flatten(inner, f"{path}[{key}]")
                continue
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            yield from _flatten(inner, f"{path}.{name}" if path and name else (name or path))
    elif isinstance(detail, list):
        for i, inner in enumerate(detail):
            # A list of messages belongs to the field itself; a list of lists/dicts is per element.
            yield from _flatten(inner, f"{path}[{i}]" if isinstance(inner, (dict, list)) else path)
    else:
        yield path, str(detail)


# -- handler404 / handler403 / handler500 (prefstudio/urls.py) -------------------------------------
def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A URL no view matched, or Django's Http404 (get_object_or_404)."""
    if request.path.startswith(API_PREFIX):
        return problem_response(request, Problem(404, f"no API endpoint at {request.path}"))
    return problem_response(request, Problem(404, _own_message(exception) or f"nothing at {request.path}"))


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's PermissionDenied raised by a view (the domain's is in STATUS)."""
    return problem_response(request, Problem(403, _own_message(exception) or "you may not do this"))


def server_error(request: HttpRequest) -> HttpResponse:
    """An error raised outside any view (e.g. in a middleware), or one STATUS does not know (a bug). Django calls
    this while handling the exception, so sys.exc_info() names it: an error of STATUS (the database out of reach,
say) still gets its status."""
    problem = problem_for(sys.exc_info()[1]) or Problem(500, "internal server error")
    return problem_response(request, problem)


def _own_message(exception: Exception) -> str:
    """Http404("...")'s message; the resolver's 404 carries a dict instead, which is no message for a person."""
    message = exception.args[0] if getattr(exception, "args", None) else ""
    return message if isinstance(message, str) else ""
