"""The operator's outbound allow-lists (prefstudio/settings/security.py) as the engine's OutboundPolicy, and the
check of a model's endpoint and key variable when it is registered or a job is started.

The same policy is checked again in the worker right before each request (training.engine.backends.openai_api):
settings may have changed since the model was registered.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings

from annotation.errors import PrefStudioError
from prefstudio.settings.env import READ as SETTINGS_VARIABLES

from ..engine.backends.outbound import OutboundPolicy, OutboundRefused, policy_from
from ..engine.backends.registry import backend_is_remote

# Never a model's API key, even if PREFSTUDIO_API_KEY_ENV_ALLOWLIST lists it: what configures Django, the
# database, the broker and PrefStudio itself (plus every variable a settings module reads: SETTINGS_VARIABLES).
FORBIDDEN_KEY_ENVS = frozenset({"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "PGPASSWORD"})
FORBIDDEN_KEY_ENV_PREFIXES = ("DJANGO_", "CELERY_", "PREFSTUDIO_", "DATABASE_", "POSTGRES", "PG", "REDIS_")


def outbound_policy() -> OutboundPolicy:
    """The policy of the current settings (read each time: a worker sees a changed setting on its next job)."""
    return policy_from(
        endpoints=settings.PREFSTUDIO_OUTBOUND_ALLOWLIST,
        key_envs=settings.PREFSTUDIO_API_KEY_ENV_ALLOWLIST,
        forbidden=FORBIDDEN_KEY_ENVS | SETTINGS_VARIABLES,
        forbidden_prefixes=FORBIDDEN_KEY_ENV_PREFIXES,
    )


def model_outbound_check(*, backend: str, location: str, model_settings: dict[str, Any]) -> None:
    """For a model of a remote backend (`openai`): raise PrefStudioError (400) naming the setting unless its URL
    and its api_key_env are allowed. Local backends send nothing anywhere; they pass."""
    if not backend_is_remote(backend):
        return
    policy = outbound_policy()
    try:
        policy.check_url(location)
    except OutboundRefused as exc:
        raise PrefStudioError(f"location: {exc}", field="location") from exc
    if "api_key_env" in model_settings:
        try:
            policy.check_api_key_env(model_settings["api_key_env"])
        except OutboundRefused as exc:
            raise PrefStudioError(f"settings.api_key_env: {exc}", field="settings") from exc
