"""Gold references an owner sets or clears on an item (imports bring them too: annotation.importing.references).

What a reference is for is the project's `reference_use` (evaluation only, calibration, attention check); the
reference itself is stored the same way whatever the use, so an owner can change the use without re-entering it.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ..errors import NotFound, PrefStudioError
from ..importing.reader import RecordError
from ..importing.references import reference_check
from ..models import Item
from .projects import project_require_owner

__all__ = ["item_reference_set"]


@transaction.atomic
def item_reference_set(*, item_id: int, user: AbstractBaseUser | None, reference: Any) -> Item:
    """Set `item_id`'s reference to `reference` (the stored form or an import's short form; None clears it).

    `user` must own the item's project (None: an operator). Raises NotFound for an item outside the user's
    projects, PermissionDenied for a member who is not an owner, PrefStudioError(field="reference") naming what is
    wrong for a reference that does not fit the item's kind. Returns the item as stored."""
    item = Item.objects.select_for_update().select_related("project").filter(pk=item_id).first()
    if item is None:
        raise NotFound(f"no item {item_id} in your projects", field="id")
    if user is not None:
        try:
            project_require_owner(project=item.project, user=user)
        except NotFound as exc:
            raise NotFound(f"no item {item_id} in your projects", field="id") from exc
    try:
        stored = reference_check(reference, kind=item.kind, n_responses=item.n_responses)
    except RecordError as exc:
        raise PrefStudioError(str(exc), field="reference") from exc
    if stored != item.reference:
        item.reference = stored
        item.updated_at = timezone.now()
        item.save(update_fields=["reference", "updated_at"])
    return item
