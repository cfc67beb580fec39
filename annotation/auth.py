"""Hooks into django.contrib.auth (kept apart from the services, which they call)."""
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


class RevokeApiTokensOnPasswordChange:
    """An entry of AUTH_PASSWORD_VALIDATORS that never rejects a password: Django calls `password_changed` on
    every validator once a new password has been saved (AbstractBaseUser.save after set_password), whichever
    path changed it -- admin, `manage.py changepassword`, a password form. Sessions are already ended by Django
    (the session hash); this ends the API tokens, which otherwise outlive the password that obtained them."""

    def validate(self, password: str, user: AbstractBaseUser | None = None) -> None:
        return None

    def password_changed(self, password: str, user: AbstractBaseUser | None = None) -> None:
        if user is not None and user.pk is not None:
            from .services.accounts import api_tokens_revoke

            api_tokens_revoke(user=user)

    def get_help_text(self) -> str:
        return ""


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict | None = None) -> HttpResponse:
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): 429 with Retry-After, in the API's
    JSON error shape under /api/ and as a page elsewhere."""
    from axes.helpers import get_cool_off

    from prefstudio.errors_http import API_PREFIX, error_body

    cool_off = get_cool_off(request) or timedelta(0)
    minutes = max(1, round(cool_off.total_seconds() / 60))
    message = (f"too many failed logins for this username from your address: try again in {minutes} minutes, "
               "or ask an administrator to unlock it")
    if request.path.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse(error_body(message, "username"), status=429)
    else:
        response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
