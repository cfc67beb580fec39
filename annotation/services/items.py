"""Item bookkeeping shared by imports, labeling and judging: counters, source and state."""
from collections.abc import Iterable

from django.db.models import Count, Q
from django.utils import timezone

from ..models import AnnotatorKind, Item, ItemState, LabelRole, LabelSource

# States a label count may move an item between; later states (review, final, excluded) are
# decisions of people and are never undone by counting.
_COUNTED_STATES = {ItemState.NEW, ItemState.JUDGED, ItemState.ROUTED, ItemState.LABELING, ItemState.LABELED}


def label_source_for(*, n_human: int, n_judge: int) -> str:
    if n_human and n_judge:
        return LabelSource.HYBRID
    if n_human:
        return LabelSource.HUMAN
    if n_judge:
        return LabelSource.AI
    return LabelSource.NONE


def item_state_for(*, current: str, n_human: int, n_judge: int, overlap: int) -> str:
    """The state an item's label counts put it in (from `current`, which may be a decision)."""
    if current not in _COUNTED_STATES:
        return current
    if n_human >= overlap:
        return ItemState.LABELED
    if n_human > 0:
        return ItemState.LABELING
    if current == ItemState.ROUTED:
        return current
    return ItemState.JUDGED if n_judge else ItemState.NEW


def items_recount(*, item_ids: Iterable[int]) -> int:
    """Recompute the label counters, source and state of the given items from their labels.

    Call inside the transaction that changed the labels. Returns the number of items updated.
    """
    ids = list(item_ids)
    if not ids:
        return 0
    annotation_labels = Q(labels__role=LabelRole.ANNOTATION)
    items = (
        Item.objects.filter(pk__in=ids)
        .select_related("project")
        .annotate(
            human=Count("labels", filter=annotation_labels & Q(labels__annotator__kind=AnnotatorKind.HUMAN)),
            judge=Count("labels", filter=annotation_labels & Q(labels__annotator__kind=AnnotatorKind.JUDGE)),
        )
    )
    changed = []
    now = timezone.now()
    for item in items:
        item.updated_at = now
        item.n_human_labels, item.n_judge_labels = item.human, item.judge
        item.source = label_source_for(n_human=item.human, n_judge=item.judge)
        item.state = item_state_for(
            current=item.state, n_human=item.human, n_judge=item.judge, overlap=item.project.overlap
        )
        changed.append(item)
    Item.objects.bulk_update(changed, ["n_human_labels", "n_judge_labels", "source", "state", "updated_at"], batch_size=2000)
    return len(changed)
