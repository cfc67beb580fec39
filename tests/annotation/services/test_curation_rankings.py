"""Consensus refresh on listwise items: their noise score and signals on ItemConsensus, "noise:*" flags with
reasons, gold clearing them, and the dataset builder dropping a flagged ranking."""
import pytest

from annotation.models import DatasetRow, ItemConsensus, ItemFlag
from annotation.selectors.review import review_queue
from annotation.services.curation import consensus_refresh
from annotation.services.datasets import dataset_version_create
from annotation.services.review import review_resolve
from tests.annotation.services.curation_data import JUDGE, human, import_records, item

pytestmark = pytest.mark.django_db

ABC, CBA = [[0], [1], [2]], [[2], [1], [0]]
RESPONSES = [{"text": "first"}, {"text": "second"}, {"text": "third"}]


def ranked(eid: str, labels: list[dict]) -> dict:
    return {"id": eid, "kind": "listwise", "prompt": f"Rank {eid}.", "responses": RESPONSES, "labels": labels}


@pytest.fixture
def project(user):
    return import_records(owner=user, slug="ranks", records=[
        ranked("opposite", [human("alice", ranking=ABC), human("bert", ranking=CBA)]),
        ranked("unanimous", [human("alice", ranking=ABC), human("bert", ranking=ABC), human("carl", ranking=ABC)]),
        # people agree; the judge has it backwards
        ranked("judged", [human("alice", ranking=ABC), human("bert", ranking=ABC),
                          {"annotator": JUDGE, "annotator_kind": "judge", "ranking": CBA}]),
    ])


def _flags(project) -> dict[tuple[str, str], ItemFlag]:
    return {(f.item.external_id, f.name): f for f in ItemFlag.objects.filter(item__project=project)
            .select_related("item")}


def _consensus(project, external_id: str) -> ItemConsensus:
    return ItemConsensus.objects.get(item=item(project, external_id))


def test_disagreeing_rankings_get_a_noise_flag_with_a_reason_and_a_score(project):
    summary = consensus_refresh(project=project, embeddings=False)
    flags = _flags(project)
    disagreement = flags[("opposite", "noise:annotator_disagreement")]
    assert "−1.00" in disagreement.reason and "2 votes" in disagreement.reason
    assert disagreement.value == pytest.approx(-1.0)
    assert ("opposite", "noise:top_disagreement") in flags
    opposite = _consensus(project, "opposite")
    assert opposite.noise_score == pytest.approx(1.0)  # disagreement (w 1) and top (w 0.5), both severity 1
    assert opposite.signals["annotator_disagreement"] == pytest.approx(-1.0)
    assert opposite.signals["top_disagreement"] == pytest.approx(0.5)
    unanimous = _consensus(project, "unanimous")
    assert unanimous.noise_score == 0.0 and unanimous.signals["annotator_disagreement"] == 1.0
    # Values keep each signal's unit (tau -1..1); severities, which drop rules read, are 0 = clean .. 1 = noisy.
    assert opposite.severities["annotator_disagreement"] == pytest.approx(1.0)
    assert unanimous.severities["annotator_disagreement"] == 0.0
    assert not [name for eid, name in flags if eid == "unanimous"]
    assert summary["noise_flags"]["annotator_disagreement"] == 1
    queue = {e.item.external_id for e in review_queue(project=project)}
    assert "opposite" in queue and "unanimous" not in queue


def test_a_judge_ranking_against_the_people_is_flagged(project):
    consensus_refresh(project=project, embeddings=False)
    flags = _flags(project)
    assert ("judged", "noise:human_vs_judge") in flags
    assert ("judged", "noise:annotator_disagreement") not in flags  # the two people agree
    assert _consensus(project, "judged").noise_score == pytest.approx(1.0 / 2.5)


def test_a_reviewers_order_clears_the_flags_and_a_refresh_replaces_them(project, make_user):
    consensus_refresh(project=project, embeddings=False)
    rita = make_user("rita", project=project, role="reviewer")
    review_resolve(item=item(project, "opposite"), reviewer_user=rita, data={"ranking": CBA}, note="C is best.")
    consensus_refresh(project=project, embeddings=False)
    opposite = _consensus(project, "opposite")
    assert (opposite.source, opposite.noise_score, opposite.ranking) == ("gold", 0.0, CBA)
    assert not ItemFlag.objects.filter(item=item(project, "opposite"), name__startswith="noise:").exists()


def test_a_drop_rule_on_a_listwise_signal_drops_the_item_from_the_dataset(project):
    version = dataset_version_create(project=project, config={
        "embeddings": False, "test_fraction": 0, "drop": {"annotator_disagreement": True}, "downweight": 1.0})
    kept = set(DatasetRow.objects.filter(version=version).values_list("item__external_id", flat=True))
    assert kept == {"unanimous", "judged"}
    assert version.stats["dropped"] == {"signal:annotator_disagreement": 1}
    weights = dict(DatasetRow.objects.filter(version=version).values_list("item__external_id", "weight"))
    assert weights["unanimous"] == 1.0 and weights["judged"] == pytest.approx(1 - 0.4)  # 1 − noise score
