"""API authentication classes (kept apart from the views: DRF imports these while it loads its settings)."""
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from ..services.accounts import api_token_expired


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token KEY`, refusing tokens older than API_TOKEN_MAX_AGE. A password change deletes
    the user's tokens (annotation.auth), so neither an old nor a leaked token outlives either."""

    def authenticate_credentials(self, key: str):
        user, token = super().authenticate_credentials(key)
        if api_token_expired(created=token.created):
            raise exceptions.AuthenticationFailed("token expired: get a new one with POST /api/auth/token/")
        return user, token
