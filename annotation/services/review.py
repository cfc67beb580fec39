"""Review: a reviewer's final verdict on an item that needs a person (annotation.selectors.review).

The verdict is stored as a Label with role=review, by the reviewer's own annotator, validated by
the same rules as every other label (`label_create`); the reviewer's note is its rationale. The
item then becomes final, which takes it out of the review queue and out of every labeling queue,
and ends the leases annotators still held on it.
"""
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ..errors import Conflict, NotFound, PermissionDenied, PrefStudioError
from ..models import Item, ItemState, Label, LabelRole, Membership
from ..selectors.review import DECIDED_STATES, REVIEWER_ROLES
from .accounts import annotator_for_user
from .labeling import assignments_end_for_item
from .labels import label_create

MAX_NOTE_LENGTH = 20_000  # as a label's rationale in the API


def _check_reviewer(*, item: Item, user: AbstractBaseUser) -> None:
    role = Membership.objects.filter(project_id=item.project_id, user=user).values_list("role", flat=True).first()
    if role is None:
        raise NotFound(f"no item {item.pk} in your projects", field="id")
    if role not in REVIEWER_ROLES:
        raise PermissionDenied("only owners and reviewers of the project may resolve its items", field="item")


@transaction.atomic
def review_resolve(*, item: Item, reviewer_user: AbstractBaseUser, data: dict[str, Any], note: str) -> Label:
    """Record `reviewer_user`'s final verdict on `item` and make the item final.

    `data` is a label payload for the item's kind (winner / strength / aspects, ranking,
    edited_text or thumbs; see annotation.services.labels); `note` says why, and is required.
    Raises NotFound for a user outside the project, PermissionDenied for an annotator, Conflict
    for an item already final or excluded, PrefStudioError naming the field for a bad verdict;
    nothing is written then. Locks the item row, so two reviewers cannot both resolve it.
    """
    _check_reviewer(item=item, user=reviewer_user)
    item = Item.objects.select_for_update().get(pk=item.pk)
    if item.state in DECIDED_STATES:
        raise Conflict(f"item {item.pk} is already {item.state}", field="item")
    note = (note or "").strip()
    if not note:
        raise PrefStudioError("say why you resolve it this way: the note is required", field="note")
    if len(note) > MAX_NOTE_LENGTH:
        raise PrefStudioError(f"the note may be at most {MAX_NOTE_LENGTH} characters", field="note")
    if data.get("rationale"):
        raise PrefStudioError("a reviewer's reason goes in the note, not in the rationale", field="rationale")
    label = label_create(
        item=item,
        annotator=annotator_for_user(user=reviewer_user),
        data={**data, "rationale": note},
        role=LabelRole.REVIEW,
    )
    Item.objects.filter(pk=item.pk).update(state=ItemState.FINAL, updated_at=timezone.now())
    assignments_end_for_item(item_id=item.pk)
    return label
