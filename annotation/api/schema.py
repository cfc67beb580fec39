"""OpenAPI: every operation documents the error responses it can give, in the one error shape."""
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="What went wrong, in words.")
    field = serializers.CharField(allow_null=True, help_text="The input at fault, if one is.")
    details = serializers.ListField(
        child=serializers.CharField(), help_text="Every problem found, e.g. one per bad line."
    )


# Every operation can meet these: a bad query or body, no or a bad token, a CSRF failure or a
# role that may not, an object outside the user's projects (or an invalid page), too many requests (the
# throttles of prefstudio/settings/api.py; Retry-After says when to retry) and the database out of reach for a
# moment (prefstudio/errors_http.py; Retry-After too).
COMMON_ERRORS = {
    "400": "Invalid input", "401": "Not authenticated", "403": "Not allowed", "404": "Not found",
    "429": "Too many requests", "503": "Database unavailable",
}
# Operations that read a body can also meet a body they cannot parse (a broken multipart stream,
# an unknown content type): DRF answers 415.
BODY_ERRORS = {"415": "Unsupported media type"}
BODY_METHODS = {"POST", "PUT", "PATCH"}


class PrefStudioAutoSchema(AutoSchema):
    # Extra error codes an operation declares on its view, e.g. {"POST": {"409": "..."}}.
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        extra = getattr(self.view, "error_responses", {}).get(self.method, {})
        body = BODY_ERRORS if self.method in BODY_METHODS else {}
        for code, description in {**COMMON_ERRORS, **body, **extra}.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = description
                responses[code] = response
        return responses
