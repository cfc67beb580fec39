"""The labeling loop as the pages and the API drive it: take the next item, submit, skip.

Thin compositions of the queue service (`services.assignment`), so that a view or an API call
is one service call. The rules (overlap, leases, idempotency, validation) live there.
"""
from django.contrib.auth.models import AbstractBaseUser

from ..models import Assignment, Label, Project
from ..selectors import project_for_user
from .accounts import annotator_for_user
from .assignment import assignment_skip, item_next, label_submit


def lease_next_for_user(*, user: AbstractBaseUser, slug: str) -> Assignment | None:
    """A lease on the user's next item in project `slug` (their live one if they hold one); None when done.

    NotFound if the user is not a member of the project. Any member may label.
    """
    project = project_for_user(user=user, slug=slug)
    return item_next(project=project, annotator=annotator_for_user(user=user))


def label_submit_and_next(
    *, lease: Assignment, data: dict, idempotency_key: str | None = None
) -> tuple[Label, Assignment | None]:
    """Submit the label for `lease` (a user's own, from `selectors.labeling.lease_for_user`) and
    take the next item. A retried submission returns the first label and the lease taken after it."""
    label = label_submit(
        assignment_id=lease.pk, annotator=lease.annotator, data=data, idempotency_key=idempotency_key
    )
    return label, _next(lease)


def assignment_skip_and_next(*, lease: Assignment, reason: str) -> Assignment | None:
    """Give `lease` back with a reason and take the next item (None when nothing is left)."""
    assignment_skip(assignment_id=lease.pk, annotator=lease.annotator, reason=reason)
    return _next(lease)


def _next(lease: Assignment) -> Assignment | None:
    project = Project.objects.get(pk=lease.item.project_id)
    return item_next(project=project, annotator=lease.annotator)
