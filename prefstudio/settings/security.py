"""Security: secret key, cookies, CSRF, password policy. Safe (production) by default."""
from django.core.exceptions import ImproperlyConfigured

from .base import DEBUG
from .env import env_bool, env_int, env_list, env_str

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"

# HTTPS-only cookies unless explicitly relaxed (make run serves plain http on localhost).
_secure = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = _secure
CSRF_COOKIE_SECURE = _secure
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]


# -- Models, outbound requests and jobs (issue 10, items 1 and 6; README "Security: models and jobs") --------------
# Environment variables a model's `settings.api_key_env` may name (the openai backend sends the value as its Bearer
# token). Empty by default: no model reads any variable. Names the app itself is configured by (every variable a
# settings module reads, SECRET_KEY, DATABASE_URL, DJANGO_* / CELERY_* / PREFSTUDIO_* ...) are refused even if
# listed here (training.services.outbound.FORBIDDEN_KEY_ENV_PREFIXES).
PREFSTUDIO_API_KEY_ENV_ALLOWLIST = env_list("PREFSTUDIO_API_KEY_ENV_ALLOWLIST", [])
# Where the openai backend may send requests: host names ("localhost", "api.openai.com"), IP addresses or networks
# ("10.0.0.0/8"), or URL prefixes ("https://api.openai.com/v1"). A host name not listed is judged by the addresses
# it resolves to. Default: loopback only, so a local `vllm serve` works and nothing leaves the machine.
PREFSTUDIO_OUTBOUND_ALLOWLIST = env_list("PREFSTUDIO_OUTBOUND_ALLOWLIST", ["127.0.0.1", "::1", "localhost"])
# Who may create projects (and so become an owner who registers models and starts jobs): "staff" or "any".
PREFSTUDIO_PROJECT_CREATORS = env_str("PREFSTUDIO_PROJECT_CREATORS", "staff").strip().lower()
if PREFSTUDIO_PROJECT_CREATORS not in ("staff", "any"):
    raise ImproperlyConfigured(f"PREFSTUDIO_PROJECT_CREATORS={PREFSTUDIO_PROJECT_CREATORS!r}: use staff or any")
# Project roles whose members may start jobs in their project (staff always may): owner, reviewer, annotator.
PREFSTUDIO_JOB_STARTER_ROLES = env_list("PREFSTUDIO_JOB_STARTER_ROLES", ["owner"])
# Jobs queued or running at once: per project (anyone but an operator at the command line; 0 = no cap), and per
# person in a project by their role ("owner=4,reviewer=2"; a role not named has no cap; staff have none).
PREFSTUDIO_MAX_ACTIVE_JOBS_PER_PROJECT = env_int("PREFSTUDIO_MAX_ACTIVE_JOBS_PER_PROJECT", 8)


def _role_caps(name: str, default: str) -> dict[str, int]:
    caps: dict[str, int] = {}
    for part in env_list(name, default.split(",")):
        role, _, number = part.partition("=")
        if not role.strip() or not number.strip().isdigit():
            raise ImproperlyConfigured(f"{name}: {part!r} is not role=number (e.g. owner=4,reviewer=2)")
        caps[role.strip()] = int(number)
    return caps


PREFSTUDIO_MAX_ACTIVE_JOBS_PER_ROLE = _role_caps(
    "PREFSTUDIO_MAX_ACTIVE_JOBS_PER_ROLE", "owner=4,reviewer=2,annotator=1"
)
