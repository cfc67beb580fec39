"""Reads of background imports: a user sees the runs they started."""
from django.contrib.auth.models import AbstractBaseUser

from ..errors import NotFound
from ..models import ImportRun


def import_run_for_user(*, user: AbstractBaseUser, run_id: int) -> ImportRun:
    """The run, if `user` started it (else NotFound: someone else's upload is not theirs to see)."""
    run = ImportRun.objects.filter(pk=run_id, created_by=user).first()
    if run is None:
        raise NotFound(f"no import run {run_id}")
    return run
