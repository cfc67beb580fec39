"""The one error type that services raise for bad input; views and the API turn it into a 4xx."""
from collections.abc import Sequence


class PrefStudioError(Exception):
    """A request that cannot be carried out as asked. `field` names the input at fault, if any."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, details: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = list(details or [])


class NotFound(PrefStudioError):
    status_code = 404


class PermissionDenied(PrefStudioError):
    status_code = 403


class Conflict(PrefStudioError):
    status_code = 409


class TooLarge(PrefStudioError):
    status_code = 413
