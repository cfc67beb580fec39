"""The labeling queue: leases, overlap, skip, expiry, idempotent submit, and concurrency; label_submit_for_user:
through the queue's lease for people, bounded by overlap for owners."""
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from annotation.errors import Conflict, NotFound, PermissionDenied, PrefStudioError
from annotation.models import (Annotator, AnnotatorKind, Assignment, AssignmentStatus, Item, Label, Project, Response,
                               Route)
from annotation.selectors.labeling import queue_status
from annotation.services.accounts import annotator_for_user
from annotation.services.labeling import (
    assignment_refresh,
    assignment_skip,
    label_submit,
    label_submit_for_user,
    queue_next,
)
from tests.annotation.dataset_factory import pairwise_project


def _project(slug: str = "queue", n_items: int = 4, overlap: int = 2) -> Project:
    return pairwise_project(slug=slug, n_items=n_items, overlap=overlap)


def _annotator(name: str) -> Annotator:
    return Annotator.objects.create(name=name, kind=AnnotatorKind.HUMAN)


@pytest.mark.django_db
def test_started_items_come_first_and_overlap_is_respected():
    """After one annotator labels item i0, the next annotator is given i0 (to complete it) first."""
    project = _project(n_items=3, overlap=2)
    first, second, third = _annotator("one"), _annotator("two"), _annotator("three")
    lease = queue_next(project=project, annotator=first)
    label_submit(assignment_id=lease.pk, annotator=first, data={"winner": "A"})
    started = lease.item_id
    assert queue_next(project=project, annotator=second).item_id == started
    label_submit(assignment_id=Assignment.objects.get(annotator=second, status="active").pk, annotator=second, data={"winner": "B"})
    # Overlap 2 reached: nobody else is given that item.
    assert queue_next(project=project, annotator=third).item_id != started
    assert Item.objects.get(pk=started).n_human_labels == 2


@pytest.mark.django_db
def test_live_lease_is_returned_again_and_nobody_gets_an_item_twice():
    project = _project(n_items=2, overlap=1)
    annotator = _annotator("one")
    lease = queue_next(project=project, annotator=annotator)
    assert queue_next(project=project, annotator=annotator).pk == lease.pk
    label_submit(assignment_id=lease.pk, annotator=annotator, data={"winner": "tie"})
    nxt = queue_next(project=project, annotator=annotator)
    assert nxt.item_id != lease.item_id
    label_submit(assignment_id=nxt.pk, annotator=annotator, data={"winner": "A"})
    assert queue_next(project=project, annotator=annotator) is None


@pytest.mark.django_db
def test_ai_only_items_never_reach_a_person():
    project = _project(n_items=2, overlap=1)
    Item.objects.filter(project=project).update(route=Route.AI)
    assert queue_next(project=project, annotator=_annotator("one")) is None


@pytest.mark.django_db
def test_skip_returns_the_item_to_others_but_not_to_the_skipper():
    project = _project(n_items=1, overlap=1)
    one, two = _annotator("one"), _annotator("two")
    lease = queue_next(project=project, annotator=one)
    with pytest.raises(PrefStudioError, match="say why"):
        assignment_skip(assignment_id=lease.pk, annotator=one, reason="  ")
    assignment_skip(assignment_id=lease.pk, annotator=one, reason="I do not read French")
    assert queue_next(project=project, annotator=one) is None
    assert queue_next(project=project, annotator=two).item_id == lease.item_id


@pytest.mark.django_db
def test_expired_lease_frees_the_slot_and_cannot_be_submitted():
    project = _project(n_items=1, overlap=1)
    one, two = _annotator("one"), _annotator("two")
    lease = queue_next(project=project, annotator=one)
    assert queue_next(project=project, annotator=two) is None  # the only slot is leased
    later = timezone.now() + timedelta(minutes=project.lease_minutes + 1)
    assert queue_next(project=project, annotator=two, now=later).item_id == lease.item_id
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.EXPIRED
    with pytest.raises(Conflict):
        label_submit(assignment_id=lease.pk, annotator=one, data={"winner": "A"}, now=later)
    assert not Label.objects.exists()


@pytest.mark.django_db
def test_refresh_extends_the_lease():
    project = _project(n_items=1, overlap=1)
    one = _annotator("one")
    lease = queue_next(project=project, annotator=one)
    soon = lease.expires_at - timedelta(minutes=1)
    refreshed = assignment_refresh(assignment_id=lease.pk, annotator=one, now=soon)
    assert refreshed.expires_at > lease.expires_at


@pytest.mark.django_db
def test_submit_is_idempotent_and_a_bad_label_changes_nothing():
    project = _project(n_items=1, overlap=1)
    one = _annotator("one")
    lease = queue_next(project=project, annotator=one)
    with pytest.raises(PrefStudioError):
        label_submit(assignment_id=lease.pk, annotator=one, data={"winner": "C"}, idempotency_key="k1")
    assert not Label.objects.exists()
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.ACTIVE
    first = label_submit(assignment_id=lease.pk, annotator=one, data={"winner": "A"}, idempotency_key="k1")
    again = label_submit(assignment_id=lease.pk, annotator=one, data={"winner": "A"}, idempotency_key="k1")
    assert first.pk == again.pk and Label.objects.count() == 1
    assert Item.objects.get().n_leases == 0


@pytest.mark.django_db
def test_queue_status_counts_what_is_left():
    project = _project(n_items=3, overlap=2)
    one = _annotator("one")
    lease = queue_next(project=project, annotator=one)
    label_submit(assignment_id=lease.pk, annotator=one, data={"winner": "A"})
    status = queue_status(project=project, annotator=one)
    assert status.mine_left == 2 and status.project_left == 5 and status.mine_done == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_never_share_a_slot_and_no_label_is_lost():
    """12 threads, each its own annotator and connection, drain 30 items at overlap 3."""
    project = _project(n_items=30, overlap=3, slug="race")
    annotators = [_annotator(f"worker{i}") for i in range(12)]
    submitted: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(len(annotators))

    def work(annotator: Annotator) -> None:
        try:
            start.wait()
            while True:
                lease = queue_next(project=project, annotator=annotator)
                if lease is None:
                    return
                label_submit(assignment_id=lease.pk, annotator=annotator, data={"winner": "A"})
                with lock:
                    submitted.append((lease.item_id, annotator.pk))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(a,)) for a in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    labels = list(Label.objects.filter(item__project=project).values_list("item_id", "annotator_id"))
    assert sorted(labels) == sorted(submitted)  # no label lost, none invented
    per_item = Counter(item for item, _ in labels)
    assert len(per_item) == 30 and set(per_item.values()) == {3}  # every item exactly at overlap
    assert len(set(labels)) == len(labels)  # nobody twice on an item
    assert not Item.objects.filter(project=project).exclude(n_leases=0).exists()


@pytest.mark.django_db(transaction=True)
def test_a_double_submit_at_the_same_moment_stores_one_label_and_both_get_it():
    """Two requests with one key race for the lease: the loser waits, sees it submitted, and replays."""
    project = _project(n_items=1, overlap=1, slug="double")
    one = _annotator("one")
    lease = queue_next(project=project, annotator=one)
    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def submit() -> None:
        try:
            start.wait()
            label = label_submit(assignment_id=lease.pk, annotator=one, data={"winner": "A"}, idempotency_key="dbl")
            results.append(label.pk)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(results) == 2 and len(set(results)) == 1
    assert Label.objects.count() == 1 and Item.objects.get().n_leases == 0


@pytest.mark.django_db
def test_a_key_from_another_lease_is_refused():
    project = _project(n_items=2, overlap=1)
    one = _annotator("one")
    first = queue_next(project=project, annotator=one)
    label_submit(assignment_id=first.pk, annotator=one, data={"winner": "A"}, idempotency_key="k")
    second = queue_next(project=project, annotator=one)
    with pytest.raises(Conflict, match="already used"):
        label_submit(assignment_id=second.pk, annotator=one, data={"winner": "B"}, idempotency_key="k")
    assert Assignment.objects.get(pk=second.pk).status == AssignmentStatus.ACTIVE


@pytest.mark.django_db
def test_someone_elses_lease_is_not_found():
    project = _project(n_items=1, overlap=1)
    lease = queue_next(project=project, annotator=_annotator("one"))
    with pytest.raises(NotFound):
        label_submit(assignment_id=lease.pk, annotator=_annotator("two"), data={"winner": "A"})


# -- label_submit_for_user (POST /api/items/{id}/labels/), on the 'kinds' project of tests/annotation/conftest.py --
def _counts() -> tuple[int, int, int]:
    return Label.objects.count(), Response.objects.count(), Annotator.objects.count()


@pytest.mark.django_db
def test_label_submit_for_user_needs_membership_and_leaves_nothing_on_failure(items, other_user):
    before = _counts()
    with pytest.raises(NotFound):
        label_submit_for_user(user=other_user, item_id=items["pair-2"].pk, data={"winner": "A"})
    assert _counts() == before


@pytest.mark.django_db
def test_label_submit_for_user_rolls_back_the_new_annotator_too(items, project, make_user):
    member = make_user("carol", project=project, role="owner")  # owners may label without a lease
    before = _counts()
    with pytest.raises(PrefStudioError):
        label_submit_for_user(user=member, item_id=items["pair-2"].pk, data={"winner": "nope"})
    assert _counts() == before
    label = label_submit_for_user(user=member, item_id=items["pair-2"].pk, data={"winner": "tie"})
    assert label.annotator.user == member and label.annotator.name == "carol"


# -- the direct path: a lease for people, overlap for owners (issue 10, item 4) ------------------------------
def _overlap(project, n: int) -> None:
    project.overlap = n
    project.save(update_fields=["overlap"])


@pytest.mark.django_db
def test_a_member_without_a_lease_is_refused_and_nothing_is_written(items, project, make_user):
    for role in ("annotator", "reviewer"):
        member = make_user(f"no-lease-{role}", project=project, role=role)
        before = _counts()
        with pytest.raises(PermissionDenied, match="/api/projects/kinds/next/"):
            label_submit_for_user(user=member, item_id=items["pair-2"].pk, data={"winner": "A"})
        assert _counts() == before


@pytest.mark.django_db
def test_a_lease_holder_labels_on_the_lease_which_is_released(items, project, make_user):
    amy = make_user("amy", project=project, role="annotator")
    lease = queue_next(project=project, annotator=annotator_for_user(user=amy))
    assert lease.item_id == items["pair-2"].pk  # at overlap 1 the only pairwise item without a human label
    data = {"winner": "A"}
    label = label_submit_for_user(user=amy, item_id=lease.item_id, data=data, idempotency_key="amy-1")
    lease.refresh_from_db()
    assert lease.status == AssignmentStatus.SUBMITTED and Item.objects.get(pk=lease.item_id).n_leases == 0
    again = label_submit_for_user(user=amy, item_id=lease.item_id, data=data, idempotency_key="amy-1")
    assert again.pk == label.pk and Label.objects.filter(annotator__user=amy).count() == 1


@pytest.mark.django_db
def test_an_owner_labels_directly_only_while_the_item_wants_human_labels(items, project, make_user):
    _overlap(project, 2)
    pair = items["pair-1"]  # one human label from the import
    first = make_user("olga", project=project, role="owner")
    label_submit_for_user(user=first, item_id=pair.pk, data={"winner": "B"})
    second = make_user("otto", project=project, role="owner")
    before = _counts()
    with pytest.raises(Conflict, match="overlap"):
        label_submit_for_user(user=second, item_id=pair.pk, data={"winner": "A"})
    assert _counts() == before
    assert Item.objects.get(pk=pair.pk).n_human_labels == 2


@pytest.mark.django_db
def test_leases_handed_out_hold_their_slots_against_owners(items, project, make_user):
    """The bug of issue 10: an item at overlap 2 ended with 4 human labels (2 leased, 2 posted directly)."""
    _overlap(project, 2)
    holders = [make_user(name, project=project, role="annotator") for name in ("amy", "bo")]
    leases = [queue_next(project=project, annotator=annotator_for_user(user=u)) for u in holders]
    item = leases[0].item
    assert leases[1].item_id == item.pk  # items already started come first
    owner = make_user("olga", project=project, role="owner")
    with pytest.raises(Conflict, match="2 handed out"):
        label_submit_for_user(user=owner, item_id=item.pk, data={"winner": "A"})
    for person in holders:
        label_submit_for_user(user=person, item_id=item.pk, data={"winner": "A"})
    assert Item.objects.get(pk=item.pk).n_human_labels == 2
    assert not Assignment.objects.filter(status=AssignmentStatus.ACTIVE).exists()


@pytest.mark.django_db(transaction=True)
def test_owners_racing_for_the_last_slots_never_exceed_the_overlap(project, items, make_user):
    """Six owners post on an item with two free slots at the same moment: the item's row lock lets two in."""
    _overlap(project, 2)
    item = items["pair-2"]
    owners = [make_user(f"owner-{i}", project=project, role="owner") for i in range(6)]
    for person in owners:
        annotator_for_user(user=person)  # created beforehand: the race is for the slots only
    start = threading.Barrier(len(owners))
    outcomes: list[str] = []

    def post(person) -> None:
        try:
            start.wait()
            label_submit_for_user(user=person, item_id=item.pk, data={"winner": "A"})
            outcomes.append("stored")
        except Conflict:
            outcomes.append("full")
        except BaseException as exc:  # surfaced below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(person,)) for person in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["full"] * 4 + ["stored"] * 2
    assert Label.objects.filter(item=item).count() == 2 == Item.objects.get(pk=item.pk).n_human_labels
