"""POST /api/auth/token/: the endpoint that hands out API tokens (throttled; they expire: .authentication)."""
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from ..services.accounts import api_token_issue


class TokenCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class ApiTokenCreateApi(APIView):
    """POST username and password -> your API token and when it expires (the same token until then)."""

    authentication_classes: list = []  # credentials come in the body; no session, so no CSRF either
    permission_classes = [AllowAny]
    # Each call is a password guess: the `api_token` rate per address, on top of django-axes' lockout of a
    # username and address after AXES_FAILURE_LIMIT failures (authenticate() below goes through axes).
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "api_token"

    def get_authenticate_header(self, request: Request) -> str:
        return "Token"  # a failed login is a 401 with the scheme to use, not DRF's 403 for views without auth

    @extend_schema(
        request=TokenCreateSerializer,
        responses={200: inline_serializer("ApiToken", {"token": serializers.CharField(),
                                                        "expires_at": serializers.DateTimeField()})},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The Django request: django-axes reads the address from it and counts the failure.
        user = authenticate(request._request, **serializer.validated_data)
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("wrong username or password (or too many failed attempts)")
        key, expires_at = api_token_issue(user=user)
        return Response({"token": key, "expires_at": expires_at})
