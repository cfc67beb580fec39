"""Every API error is JSON of one shape: {"error": message, "field": name or null, "details": [...]}.

`exception_handler` (REST_FRAMEWORK["EXCEPTION_HANDLER"]) turns the project's PrefStudioError,
DRF's own errors and the database errors a request can still provoke into that shape; the
handlers at the bottom do the same for URLs no API view matched, so a client never gets HTML.
"""
import sys
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import PrefStudioError

API_PREFIX = "/api/"


def error_body(message: str, field: str | None = None, details: list[str] | None = None) -> dict[str, Any]:
    return {"error": message, "field": field, "details": list(details or [])}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, PrefStudioError):
        return Response(error_body(exc.message, exc.field, exc.details), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    elif isinstance(exc, IntegrityError):
        # Services check what they can; what is left is a race with a concurrent request.
        body = error_body("the request conflicts with existing data; reload and retry")
        return Response(body, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, DataError):
        return Response(error_body("a value is out of range or malformed"), status=status.HTTP_400_BAD_REQUEST)
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


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: JSON under /api/, the usual page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body(f"no API endpoint at {request.path}"), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: JSON under /api/, the usual page elsewhere; 503 + Retry-After when the database is out of
    reach (an outage raised outside any view, e.g. in a middleware; views' own go through
    prefstudio.middleware). Django calls this while handling the exception, so sys.exc_info() names it."""
    from prefstudio.middleware import database_unavailable_response, is_database_unavailable

    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable_response(request)
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body("internal server error"), status=500)
    return defaults.server_error(request)
