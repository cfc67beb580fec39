"""Review: the queue on hand-built disagreements, resolving, blind names, and who may review."""
import re

import pytest

from annotation.errors import Conflict, NotFound, PermissionDenied, PrefStudioError
from annotation.models import Item, ItemState, Label, LabelRole
from annotation.selectors.review import project_for_reviewer, review_item_for_user, review_queue
from annotation.selectors.identities import annotator_names_for
from annotation.services.accounts import annotator_for_user
from annotation.services.labels import label_create
from annotation.services.review import review_resolve
from tests.annotation.review_data import IN_QUEUE, item, review_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user):
    return review_project(owner=user)


@pytest.fixture
def rita(project, make_user):
    return make_user("rita", project=project, role="reviewer")


def _queue(project) -> dict[str, list[tuple[str, str]]]:
    return {e.item.external_id: [(r.code, r.detail) for r in e.reasons] for e in review_queue(project=project)}


def test_the_queue_holds_disagreements_and_flagged_items_with_their_reasons(project):
    queue = _queue(project)
    assert set(queue) == IN_QUEUE
    assert queue["split"] == [("disagreement", "A ×1 · B ×1")]
    assert queue["thumb-split"] == [("disagreement", "Thumbs up ×1 · Thumbs down ×1")]
    assert queue["rank-diff"] == [("disagreement", "A > B > C ×1 · B > A > C ×1")]
    assert queue["flagged"] == [("flag", "responses are 97% identical")]


def test_the_same_tie_written_in_another_order_is_agreement(project):
    assert "rank-ties" not in _queue(project)


def test_a_judge_disagreeing_with_people_is_not_annotator_disagreement(project):
    """'agree': people say A, A, a judge says B (human-vs-judge disagreement is curation's to route)."""
    assert "agree" not in _queue(project) and "lonely" not in _queue(project)


def test_a_third_voice_turns_agreement_into_disagreement(project, make_user):
    carl = annotator_for_user(user=make_user("carl", project=project))
    label_create(item=item(project, "agree"), annotator=carl, data={"winner": "tie"})
    assert _queue(project)["agree"] == [("disagreement", "A ×2 · Tie ×1")]


def test_decided_items_are_not_in_the_queue(project):
    assert "gone" not in _queue(project)  # excluded, although its people disagree


def test_an_item_sent_to_review_is_in_the_queue_and_a_flag_adds_to_its_reasons(project):
    Item.objects.filter(pk=item(project, "agree").pk).update(state=ItemState.IN_REVIEW)
    assert _queue(project)["agree"] == [("in_review", "sent to review")]
    split = item(project, "split")
    split.flags.create(name="weak_margin", reason="strength 1 against 3")
    assert [code for code, _ in _queue(project)["split"]] == ["disagreement", "flag"]


def test_resolving_stores_a_review_label_makes_the_item_final_and_takes_it_off_the_queue(project, rita):
    split = item(project, "split")
    label = review_resolve(
        item=split, reviewer_user=rita, data={"winner": "A", "strength": 2, "aspects": {"honesty": "A"}},
        note="  Paris is the capital; B is wrong.  ",
    )
    assert (label.role, label.winner, label.strength, label.aspects) == ("review", "A", 2, {"honesty": "A"})
    assert label.rationale == "Paris is the capital; B is wrong."
    assert label.annotator.user == rita
    split.refresh_from_db()
    assert split.state == ItemState.FINAL
    assert (split.n_human_labels, split.n_judge_labels) == (2, 2)  # a resolution is no annotation
    assert Label.objects.filter(item=split, role=LabelRole.ANNOTATION).count() == 4
    assert "split" not in _queue(project)
    assert set(_queue(project)) == IN_QUEUE - {"split"}


def test_resolving_ends_the_leases_others_still_hold_on_the_item(project, rita, make_user):
    """A lease on an item made final is ended: its slot is freed and its holder cannot submit."""
    from datetime import timedelta

    from django.utils import timezone

    from annotation.models import Assignment, AssignmentStatus
    from annotation.services.labeling import label_submit

    split = item(project, "split")
    holder = annotator_for_user(user=make_user("late"))
    lease = Assignment.objects.create(item=split, annotator=holder, expires_at=timezone.now() + timedelta(minutes=30))
    Item.objects.filter(pk=split.pk).update(n_leases=1)
    review_resolve(item=split, reviewer_user=rita, data={"winner": "A"}, note="A is right.")
    lease.refresh_from_db()
    split.refresh_from_db()
    assert lease.status == AssignmentStatus.EXPIRED and lease.released_at is not None
    assert split.n_leases == 0
    with pytest.raises(Conflict):
        label_submit(assignment_id=lease.pk, annotator=holder, data={"winner": "B"})


def test_a_ranking_and_thumbs_are_resolved_with_their_own_payloads(project, user):
    ranked = review_resolve(item=item(project, "rank-diff"), reviewer_user=user,
                            data={"ranking": [[1], [0, 2]]}, note="B first; A and C tie.")
    thumbs = review_resolve(item=item(project, "thumb-split"), reviewer_user=user, data={"thumbs": "down"},
                            note="Not helpful.")
    assert (ranked.ranking, thumbs.thumbs_up) == ([[1], [0, 2]], False)
    assert set(_queue(project)) == {"split", "flagged"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "winner"),
        ({"winner": "C"}, "winner"),
        ({"winner": "A", "strength": 4}, "strength"),  # the project's scale has 3 levels
        ({"winner": "A", "aspects": {"wit": "A"}}, "aspects"),
        ({"thumbs": "up"}, "thumbs"),
        ({"winner": "A", "rationale": "here"}, "rationale"),
    ],
)
def test_a_bad_verdict_is_rejected_by_the_label_rules_and_changes_nothing(project, rita, data, field):
    split = item(project, "split")
    with pytest.raises(PrefStudioError) as error:
        review_resolve(item=split, reviewer_user=rita, data=data, note="because")
    assert error.value.field == field
    split.refresh_from_db()
    assert split.state == ItemState.LABELED
    assert not Label.objects.filter(item=split, role=LabelRole.REVIEW).exists()


def test_the_note_is_required(project, rita):
    with pytest.raises(PrefStudioError) as error:
        review_resolve(item=item(project, "split"), reviewer_user=rita, data={"winner": "A"}, note="   ")
    assert error.value.field == "note"


def test_a_second_resolution_is_a_conflict(project, rita, user):
    split = item(project, "split")
    review_resolve(item=split, reviewer_user=rita, data={"winner": "A"}, note="first")
    with pytest.raises(Conflict):
        review_resolve(item=split, reviewer_user=user, data={"winner": "B"}, note="second")
    assert Label.objects.filter(item=split, role=LabelRole.REVIEW).count() == 1


def test_a_reviewer_who_also_labeled_the_item_can_resolve_it(project, user):
    """The owner's own annotation and their resolution are two rows (item, annotator, role)."""
    owner_label = label_create(item=item(project, "flagged"), annotator=annotator_for_user(user=user),
                               data={"winner": "B"})
    resolution = review_resolve(item=item(project, "flagged"), reviewer_user=user, data={"winner": "B"}, note="ok")
    assert owner_label.annotator_id == resolution.annotator_id and resolution.role == "review"


def test_annotators_and_outsiders_may_not_review(project, make_user):
    ada = make_user("ada", project=project, role="annotator")
    zed = make_user("zed")
    with pytest.raises(PermissionDenied):
        review_resolve(item=item(project, "split"), reviewer_user=ada, data={"winner": "A"}, note="mine")
    with pytest.raises(NotFound):
        review_resolve(item=item(project, "split"), reviewer_user=zed, data={"winner": "A"}, note="mine")
    with pytest.raises(PermissionDenied):
        project_for_reviewer(user=ada, slug="rev")
    with pytest.raises(NotFound):
        project_for_reviewer(user=zed, slug="rev")
    assert item(project, "split").state == ItemState.LABELED


def test_blind_review_names_people_by_number_and_judges_by_name(project, rita):
    review = review_item_for_user(user=rita, slug="rev", item_id=item(project, "split").pk)
    names = annotator_names_for(project=project, user=rita)  # the pseudonyms of every other surface
    assert [h.who for h in review.humans] == [names.name(h.label.annotator_id) for h in review.humans]
    assert all(re.fullmatch(r"annotator \d+", h.who) for h in review.humans)
    assert [j.who for j in review.judges] == ["judge-gpt", "judge-panda"]
    shown = repr(review.humans)  # every field the page can show
    assert "alice" not in shown and "bert" not in shown


def test_without_blind_review_people_keep_their_names(user, rita):
    project = review_project(owner=user, slug="open", blind_review=False)
    review = review_item_for_user(user=user, slug="open", item_id=item(project, "split").pk)
    assert [h.who for h in review.humans] == ["alice", "bert"]


def test_the_review_page_shows_every_detail_of_every_label(project, rita):
    review = review_item_for_user(user=rita, slug="rev", item_id=item(project, "split").pk)
    first, second = review.humans
    assert (first.verdict, first.strength, first.aspects) == ("A", "much better", [("honesty", "A")])
    assert (first.shown_order, first.time_spent, first.label.rationale) == ("B, A", "42 s", "A is right.")
    assert (second.verdict, second.strength, second.time_spent) == ("B", "slightly better", "8 s")
    gpt, panda = review.judges
    assert (gpt.verdict, gpt.probability, gpt.swap, gpt.unparsable) == ("A", "0.82", "flipped when swapped", False)
    assert (panda.unparsable, panda.verdict, panda.label.raw_output) == (True, "", "<b>Winner</b>: maybe?")
    assert [r.letter for r in review.responses] == ["A", "B"]
    assert [r.code for r in review.reasons] == ["disagreement"]
    assert review.is_open and review.resolution is None


def test_an_item_of_another_project_is_not_found(project, rita, user):
    other = review_project(owner=user, slug="other")
    with pytest.raises(NotFound):
        review_item_for_user(user=rita, slug="rev", item_id=item(other, "split").pk)
