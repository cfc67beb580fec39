"""selectors.identities: who may see names, and the per-project pseudonyms everyone else sees."""
import pytest

from annotation.curation.identities import annotator_token
from annotation.models import Annotator
from annotation.selectors.identities import annotator_names_for, identities_visible
from annotation.services.accounts import annotator_for_user
from annotation.services.labels import label_create
from annotation.services.projects import membership_set
from tests.annotation.review_data import item, review_project

pytestmark = pytest.mark.django_db


def test_only_owners_see_names_in_a_blind_project(user, make_user):
    project = review_project(owner=user)
    assert project.blind_review
    assert [identities_visible(project=project, role=r) for r in ("owner", "reviewer", "annotator", None)] == [
        True, False, False, False]
    project.blind_review = False
    assert all(identities_visible(project=project, role=r) for r in ("owner", "reviewer", "annotator"))


def test_people_are_numbered_by_first_label_judges_and_the_viewer_keep_names(user, make_user):
    project = review_project(owner=user)  # alice labels first, then bert (tests/annotation/review_data.py)
    rita = make_user("rita", project=project, role="reviewer")
    label_create(item=item(project, "flagged"), annotator=annotator_for_user(user=rita), data={"winner": "A"})
    ids = {a.name: a.pk for a in Annotator.objects.all()}
    seen = annotator_names_for(project=project, user=rita)
    assert not seen.visible
    assert (seen.name(ids["alice"]), seen.name(ids["bert"])) == ("annotator 1", "annotator 2")
    assert seen.name(ids["judge-gpt"]) == "judge-gpt" and seen.name(ids["rita"]) == "rita"
    assert seen.render(f"votes ({annotator_token(ids['bert'])} 0.30)") == "votes (annotator 2 0.30)"
    owner = annotator_names_for(project=project, user=user)
    assert owner.visible and owner.name(ids["alice"]) == "alice" and owner.name(ids["rita"]) == "rita"
    annotator = make_user("amy", project=project, role="annotator")
    assert annotator_names_for(project=project, user=annotator).name(ids["rita"]) == "annotator 3"


def test_numbers_are_per_project_and_outsiders_are_never_named(user, make_user):
    first = review_project(owner=user)
    second = review_project(owner=user, slug="rev-2", records=[{
        "id": "x", "kind": "pairwise", "prompt": "p", "responses": [{"text": "a"}, {"text": "b"}],
        "labels": [{"annotator": "bert", "annotator_kind": "human", "winner": "A"}]}])
    rita = make_user("rita")
    for project in (first, second):
        membership_set(project=project, user=rita, role="reviewer")
    bert = Annotator.objects.get(name="bert").pk
    assert annotator_names_for(project=first, user=rita).name(bert) == "annotator 2"
    assert annotator_names_for(project=second, user=rita).name(bert) == "annotator 1"
    stranger = Annotator.objects.create(name="carol-elsewhere", kind="human")
    assert annotator_names_for(project=first, user=rita).name(stranger.pk) == "a former annotator"
    assert annotator_names_for(project=first, user=user).name(stranger.pk) == "carol-elsewhere"


def test_provenance_is_copied_only_when_its_reasons_name_someone(user, make_user):
    project = review_project(owner=user)
    rita = make_user("rita", project=project, role="reviewer")
    bert = Annotator.objects.get(name="bert").pk
    names = annotator_names_for(project=project, user=rita)
    plain = {"source": "human", "reasons": ["annotators split 1–1 (agreement 0.50 < 0.75)"]}
    assert names.render_provenance(plain) is plain  # the export's common case: no copy
    named = {"source": "human", "reasons": [f"votes ({annotator_token(bert)} 0.30; < 0.60)"]}
    assert names.render_provenance(named) == {"source": "human", "reasons": ["votes (annotator 2 0.30; < 0.60)"]}
    assert named["reasons"] == [f"votes ({annotator_token(bert)} 0.30; < 0.60)"]
