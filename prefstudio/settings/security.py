"""Security: secret key, cookies, CSRF, password policy, login throttling, API tokens, HTTPS and CSP.
Safe (production) by default."""
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from .base import DEBUG
from .env import env_bool, env_int, env_list, env_str

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"

# HTTPS-only cookies unless explicitly relaxed (make run serves plain http on localhost).
# Secure (https-only) cookies where the site is served over https: HTTPS_ONLY=1 (or BEHIND_TLS_PROXY=1, a proxy that
# terminates TLS). On plain http (make run, a compose stack on localhost) a secure cookie would never come back
# and nobody could log in, so the default follows how the site is served; SECURE_COOKIES overrides it.
_served_over_https = env_bool("HTTPS_ONLY", False) or env_bool("BEHIND_TLS_PROXY", False)
_secure = env_bool("SECURE_COOKIES", _served_over_https)
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

# Revokes a user's API tokens whenever their password changes, by whatever path (admin, `changepassword`, a
# password form): Django calls every validator's documented `password_changed` hook after the new password
# is saved. Not a validator in the usual sense: it never rejects a password.
AUTH_PASSWORD_VALIDATORS.append({"NAME": "annotation.auth.RevokeApiTokensOnPasswordChange"})

# -- login throttling (django-axes) --------------------------------------------------------------------
# The login page and the admin: after AXES_FAILURE_LIMIT wrong passwords for one username from one address, that
# pair is locked out for AXES_COOLOFF_MINUTES (429 and a page saying so); a successful login resets the count.
# Locking the pair rather than the username alone keeps an attacker from locking a real user out everywhere.
# The address is REMOTE_ADDR: behind a proxy, set AXES_CLIENT_IP_CALLABLE (axes docs) or it is the proxy's.
# The token endpoint goes through the same check (it authenticates with the request) and a DRF throttle.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before the password is checked
    # Django's ModelBackend, the session's user read by a prepared statement (its docstring). Sessions that name
    # django.contrib.auth.backends.ModelBackend are read as naming this one (annotation.session_auth.SessionStore).
    "annotation.session_auth.ModelBackend",
]
SESSION_ENGINE = "annotation.session_auth"  # Django's database sessions, the row read by a prepared statement
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "annotation.auth.lockout_response"  # JSON under /api/, a page elsewhere; Retry-After

# -- API tokens -----------------------------------------------------------------------------------------
# A token older than this is refused (401); POST /api/auth/token/ or `manage.py api_token` gives a new one.
API_TOKEN_MAX_AGE = timedelta(hours=env_int("API_TOKEN_MAX_AGE_HOURS", 24 * 7))

# -- HTTPS: SSL redirect and HSTS ---------------------------------------------------------------------------
# Off by default (`make run`, tests and a compose stack on plain http); HTTPS_ONLY=1 turns on the redirect to
# https and HSTS for a year, which `manage.py check --deploy` asks of production (tests/test_deploy_check.py).
# Behind a TLS-terminating proxy, set BEHIND_TLS_PROXY=1 too, or every request looks like http and redirects.
HTTPS_ONLY = env_bool("HTTPS_ONLY", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS_ONLY)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS_ONLY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS_ONLY)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS_ONLY)
SECURE_REFERRER_POLICY = "same-origin"

# -- Content-Security-Policy (django-csp) ------------------------------------------------------------------
# Scripts and styles only from our own static files: no inline <script>, no style="" attributes, no eval.
# Data for a script goes in {{ value|json_script:"id" }} (a JSON block, never run); bar widths in data-width
# (static/js/widths.js sets them); htmx is told not to inject its indicator styles or eval (base.html).
# CSP_REPORT_ONLY=1 sends the same policy as Content-Security-Policy-Report-Only (to try a change first); it is
# the default with DEBUG=1, whose error pages (Django's technical 500) are inline code: the browser's console
# still reports every violation.
_csp = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # Swagger UI's icons are data: URLs
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if env_bool("CSP_REPORT_ONLY", DEBUG):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp
else:
    CONTENT_SECURITY_POLICY = _csp
