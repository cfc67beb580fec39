"""Attention checks: for a project whose references are attention checks (reference_use "attention"), about
`attention_rate` of each annotator's tasks are reference items they have not labeled, served like any item
(the task page and the API show nothing that tells them apart) and scored afterwards
(annotation.selectors.references.attention_scores).

When: an annotator's tasks are cut into blocks of B = round(1 / attention_rate) (a rate of 0.1: blocks of ten);
each block holds one check, at a position drawn per (project, annotator, block) from a seeded hash, so the
checks come at the set rate but not at a fixed, guessable step. A check that cannot be served at its position
(no reference item left for this annotator) is served later in the block, or not at all.

Called by services.labeling.queue_next inside its transaction, after the annotator's row lock and the check for a
live lease, before the regular queue.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.db.models import Exists, F, OuterRef

from ..models import Annotator, Assignment, Item, ItemState, Label, LabelRole, Project, ReferenceUse

__all__ = ["attention_check_next", "attention_due"]

CHECK_KINDS = ("pairwise", "listwise")  # the kinds a reference can be given for (importing.references)


def _position(project_id: int, annotator_id: int, block: int, size: int) -> int:
    """The check's position 0..size-1 in the annotator's block `block` (stable: the same on every call)."""
    digest = hashlib.blake2b(f"{project_id}:{annotator_id}:{block}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % size


def attention_due(*, project_id: int, annotator_id: int, rate: float, n_tasks: int, n_checks: int) -> bool:
    """Whether the annotator's next task (after `n_tasks` labels, `n_checks` of them on reference items) is a
    check. Pure: the schedule in the module docstring."""
    if rate <= 0:
        return False
    size = max(1, round(1 / rate))
    block = n_tasks // size
    return n_checks <= block and n_tasks % size >= _position(project_id, annotator_id, block, size)


def attention_check_next(*, project: Project, annotator: Annotator, now: datetime) -> Assignment | None:
    """A lease on a reference item `annotator` has neither labeled nor been handed, when a check is due; else
    None (the regular queue then picks). Precondition: inside queue_next's transaction, holding the annotator's
    row lock, with no live lease of theirs."""
    if project.reference_use != ReferenceUse.ATTENTION or project.attention_rate <= 0:
        return None
    labels = Label.objects.filter(item__project=project, annotator=annotator, role=LabelRole.ANNOTATION)
    n_tasks = labels.count()
    n_checks = labels.filter(item__reference__isnull=False).count()
    if not attention_due(project_id=project.pk, annotator_id=annotator.pk, rate=project.attention_rate,
                         n_tasks=n_tasks, n_checks=n_checks):
        return None
    labeled = Label.objects.filter(item=OuterRef("pk"), annotator=annotator)
    handed = Assignment.objects.filter(item=OuterRef("pk"), annotator=annotator)
    item = (
        Item.objects.filter(project=project, reference__isnull=False, kind__in=CHECK_KINDS)
        .exclude(state=ItemState.EXCLUDED).exclude(state=ItemState.FINAL)
        .filter(~Exists(labeled), ~Exists(handed))
        .order_by("n_human_labels", "id")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
    if item is None:
        return None
    Item.objects.filter(pk=item.pk).update(n_leases=F("n_leases") + 1, updated_at=now)
    return Assignment.objects.create(item=item, annotator=annotator,
                                     expires_at=now + timedelta(minutes=project.lease_minutes))
