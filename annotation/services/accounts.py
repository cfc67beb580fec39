"""Accounts: the human annotator behind a user, and API tokens."""
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from ..errors import Conflict
from ..models import Annotator, AnnotatorKind

NAME_LENGTH = Annotator._meta.get_field("name").max_length


def annotator_for_user(*, user: AbstractBaseUser) -> Annotator:
    """The human Annotator linked to `user`, created on first use.

    It is named after the username; if an annotator without this user already has that name
    (say "annotator1" from an imported file), it is named `f"{username}-{user.pk}"` instead, so a
    person never inherits someone else's labels by choosing their name.
    """
    existing = Annotator.objects.filter(user=user).first()
    if existing is not None:
        return existing
    name = user.get_username()[:NAME_LENGTH]
    if Annotator.objects.filter(name=name).exists():
        suffix = f"-{user.pk}"
        name = user.get_username()[: NAME_LENGTH - len(suffix)] + suffix
    try:
        with transaction.atomic():
            return Annotator.objects.create(kind=AnnotatorKind.HUMAN, name=name, user=user)
    except IntegrityError:
        # A concurrent request created it first (user is unique), or the fallback name is taken.
        existing = Annotator.objects.filter(user=user).first()
        if existing is not None:
            return existing
        raise Conflict(f"cannot create an annotator for {user.get_username()!r}: name {name!r} is taken", field="user")


def api_token_get_or_create(*, user: AbstractBaseUser, rotate: bool = False) -> str:
    """The user's REST API token (created if missing; replaced by a new one when `rotate` or when it has
    expired: older than API_TOKEN_MAX_AGE)."""
    return api_token_issue(user=user, rotate=rotate)[0]


def api_token_issue(*, user: AbstractBaseUser, rotate: bool = False) -> tuple[str, datetime]:
    """(key, expiry) of the user's API token; a new token if there is none, it has expired, or `rotate`.

    The caller has authenticated `user` (a password, or an operator at the command line).
    """
    with transaction.atomic():
        token = Token.objects.select_for_update().filter(user=user).first()
        if token is not None and (rotate or api_token_expired(created=token.created)):
            token.delete()
            token = None
        if token is None:
            token = Token.objects.create(user=user)
    return token.key, token.created + settings.API_TOKEN_MAX_AGE


def api_token_expired(*, created: datetime) -> bool:
    return created + settings.API_TOKEN_MAX_AGE <= timezone.now()


def api_tokens_revoke(*, user: AbstractBaseUser) -> int:
    """Delete the user's API tokens (their password changed); returns how many there were."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted
