"""The database out of reach (a PostgreSQL restart, a failover) is a 503 with Retry-After, not a 500.

A client that retries after Retry-After is safe: submits are idempotent (a retried label POST stores one
label). What the failed request had written either committed before the failure or was rolled back.
"""
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

API_PREFIX = "/api/"
MESSAGE = "the database is unavailable for a moment: retry after a few seconds"


def is_database_unavailable(exc: BaseException | None) -> bool:
    """OperationalError (cannot connect, connection lost) and InterfaceError (connection already closed).
    IntegrityError and DataError are not: they are the request's fault (annotation/api/errors.py)."""
    return isinstance(exc, (OperationalError, InterfaceError))


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse({"error": MESSAGE, "field": None, "details": []}, status=503)
    else:
        # A page of its own, not base.html: that one reads the user (the database) for its menu.
        response = HttpResponse(loader.render_to_string("503.html", {"message": MESSAGE}), status=503)
    response["Retry-After"] = str(settings.DB_UNAVAILABLE_RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Turns a database outage raised by a view (or a DRF view: its exception handler passes these on) into
    a 503. Outages raised in other middleware reach handler500, which does the same (annotation/api/errors.py)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            return database_unavailable_response(request)
        return None
