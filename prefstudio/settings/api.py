"""Django REST framework and the OpenAPI schema."""
from .env import env_str
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotation.api.authentication.ExpiringTokenAuthentication",  # DRF tokens, refused after API_TOKEN_MAX_AGE
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "annotation.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "annotation.api.schema.PrefStudioAutoSchema",
    "EXCEPTION_HANDLER": "prefstudio.errors_http.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "PrefStudio API",
    "DESCRIPTION": "Preference data for LLM alignment: projects, prompts, responses, items, labels, imports.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Name the enums after the choice sets: several fields share one ("kind", "task_kinds") and two
    # choice sets share a field name ("role" of a membership and of a label).
    "ENUM_NAME_OVERRIDES": {
        "TaskKindEnum": "annotation.models.choices.TaskKind",
        "MembershipRoleEnum": "annotation.models.choices.Role",
        "LabelRoleEnum": "annotation.models.choices.LabelRole",
        "WinnerEnum": "annotation.models.choices.Winner",
        "AnnotatorKindEnum": "annotation.models.choices.AnnotatorKind",
        "AssignmentStatusEnum": "annotation.models.choices.AssignmentStatus",
        "ItemStateEnum": "annotation.models.choices.ItemState",
        "JobKindEnum": "training.models.job_kind_choices",  # a callable: trainers registered later are kinds too
        "JobStateEnum": "training.models.JobState",
    },
}

# -- throttling ------------------------------------------------------------------------------------------
# Rates per user (by token or session) and per address for anonymous requests; `api_token` is the scope of
# POST /api/auth/token/ (a password guess each). Counts live in the default cache: set CACHE_URL to a Redis
# URL in production, so that all web processes share them (CACHES below; locmem counts per process).
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "rest_framework.throttling.AnonRateThrottle",
    "rest_framework.throttling.UserRateThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "anon": env_str("API_THROTTLE_ANON", "60/minute"),
    "user": env_str("API_THROTTLE_USER", "1200/minute"),
    "api_token": env_str("API_THROTTLE_TOKEN", "10/minute"),
}

_cache_url = env_str("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
    if _cache_url.startswith(("redis://", "rediss://"))
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
