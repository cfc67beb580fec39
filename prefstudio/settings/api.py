"""Django REST framework and the OpenAPI schema."""
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "annotation.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "annotation.api.schema.PrefStudioAutoSchema",
    "EXCEPTION_HANDLER": "annotation.api.errors.exception_handler",
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
        "JobKindEnum": "training.models.JobKind",
        "JobStateEnum": "training.models.JobState",
    },
}
