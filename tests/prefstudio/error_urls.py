"""A test-only urlconf for tests/prefstudio/test_errors_http.py: one page view and one API view that raise
whatever error the test names (?error=...), including an error type the app does not have (`Gone`)."""
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import errors
from common.config import ConfigError

HOSTILE = '<script>window.__pwned=1</script>'


class Gone(errors.PrefStudioError):
    """A domain error type added the way the README says: a subclass with its status, nothing else."""

    status_code = 410


ERRORS = {
    "gone": lambda: Gone(f"the item went away {HOSTILE}", field="item", details=["archived on Monday"]),
    "not-found": lambda: errors.NotFound("no project 'x' among yours", field="slug"),
    "forbidden": lambda: errors.PermissionDenied("only owners may do this"),
    "conflict": lambda: errors.Conflict("the job has already finished"),
    "too-large": lambda: errors.TooLarge("the file is over 10 MB", field="file"),
    "bad": lambda: errors.PrefStudioError("steps must be positive", field="steps"),
    "config": lambda: ConfigError("sampling.temperature", "must be at least 0"),
    "integrity": lambda: IntegrityError('duplicate key value violates unique constraint "x"'),
    "bug": lambda: ZeroDivisionError("division by zero"),
}


def raising_page(request: HttpRequest) -> HttpResponse:
    raise ERRORS[request.GET["error"]]()


class RaisingApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []

    def get(self, request: Request) -> Response:
        raise ERRORS[request.query_params["error"]]()


urlpatterns = [
    path("page/", raising_page),
    path("api/raise/", RaisingApi.as_view()),
]
urlpatterns.append(path("", include("prefstudio.urls")))  # the app's own, for the error page's links
