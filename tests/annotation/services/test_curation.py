"""Consensus refresh: hand-worked consensus per item, gold, noise flags in the review queue, replacement."""
import re

import numpy as np
import pytest

from annotation.errors import PrefStudioError
from annotation.models import ItemConsensus, ItemFlag
from annotation.selectors.identities import annotator_names_for
from annotation.selectors.review import review_queue
from annotation.services.curation import consensus_refresh
from annotation.services.review import review_resolve
from tests.annotation.services.curation_data import curation_project, item

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user):
    return curation_project(owner=user)


def _consensus(project) -> dict[str, ItemConsensus]:
    return {c.item.external_id: c for c in ItemConsensus.objects.filter(item__project=project).select_related("item")}


def _refresh(project, **options):
    return consensus_refresh(project=project, **{"method": "majority", "embeddings": False, **options})


def test_every_voted_item_gets_its_hand_worked_consensus(project):
    summary = _refresh(project)
    found = _consensus(project)
    assert set(found) == {"agree", "split", "ai-only", "tie", "dup", "disputed", "excluded", "rank"}
    verdicts = {eid: (c.winner, c.source, c.n_votes) for eid, c in found.items() if c.winner}
    assert verdicts["agree"] == ("A", "hybrid", 3)
    assert verdicts["split"] == ("B", "hybrid", 4)
    assert verdicts["ai-only"] == ("B", "ai", 1)
    assert verdicts["tie"] == ("tie", "human", 2)
    assert found["agree"].agreement == 1.0 and found["split"].agreement == pytest.approx(0.75)
    assert found["rank"].ranking[0] == [2] and found["rank"].winner == "" and found["rank"].method == "plackett_luce"
    assert summary["consensus"] == 8 and summary["pairwise_items"] == 8 and summary["listwise_items"] == 1
    # Keyed by token (rendered per viewer by selectors.identities), never by name.
    named = {annotator_names_for(project=project, user=None, visible=True).render(k) for k in summary["competence"]}
    assert named >= {"alice", "bert", "carl", "judge-gpt"}
    assert all(re.fullmatch(r"\{annotator:\d+\}", key) for key in summary["competence"])
    assert all(0 <= c.noise_score <= 1 for c in found.values() if c.winner)


def test_noise_flags_are_item_flags_with_reasons_and_show_in_the_review_queue(project):
    summary = _refresh(project)
    flags = {(f.item.external_id, f.name): f for f in ItemFlag.objects.filter(item__project=project)}
    assert ("dup", "noise:near_duplicate") in flags
    assert ("split", "noise:annotator_disagreement") in flags
    assert flags[("split", "noise:annotator_disagreement")].reason  # a sentence, not empty
    assert ("agree", "noise:annotator_disagreement") not in flags
    assert summary["noise_flags"]["near_duplicate"] >= 1
    queue = {e.item.external_id: [r.label for r in e.reasons] for e in review_queue(project=project)}
    assert "Noise:near duplicate" in queue["dup"]
    assert c_signal(project, "dup", "near_duplicate") == 1.0


def c_signal(project, external_id: str, name: str) -> float:
    return ItemConsensus.objects.get(item=item(project, external_id)).signals[name]


def test_a_refresh_replaces_the_noise_flags_and_keeps_the_others(project):
    _refresh(project)
    ItemFlag.objects.create(item=item(project, "agree"), name="noise:stale", reason="from an older run")
    ItemFlag.objects.create(item=item(project, "agree"), name="weak_margin", reason="set by a person")
    before = ItemConsensus.objects.filter(item__project=project).count()
    _refresh(project)
    names = set(ItemFlag.objects.filter(item=item(project, "agree")).values_list("name", flat=True))
    assert "noise:stale" not in names and "weak_margin" in names
    assert ItemConsensus.objects.filter(item__project=project).count() == before


def test_a_reviewers_resolution_is_gold_and_wins(project, make_user):
    rita = make_user("rita", project=project, role="reviewer")
    _refresh(project)
    assert _consensus(project)["disputed"].source == "human"
    review_resolve(item=item(project, "disputed"), reviewer_user=rita, data={"winner": "B"}, note="B is right.")
    summary = _refresh(project, method="dawid_skene")
    disputed = _consensus(project)["disputed"]
    assert (disputed.winner, disputed.source, disputed.probability) == ("B", "gold", 1.0)
    assert disputed.noise_score == 0.0 and summary["gold"] == 1
    assert not ItemFlag.objects.filter(item=item(project, "disputed"), name__startswith="noise:").exists()


def test_without_judges_an_item_only_judges_labeled_has_no_consensus(project):
    _refresh(project, include_judges=False)
    found = _consensus(project)
    assert "ai-only" not in found and found["agree"].source == "human" and found["agree"].n_votes == 2


def test_an_unknown_method_is_refused_naming_it(project):
    with pytest.raises(PrefStudioError) as caught:
        _refresh(project, method="vote")
    assert caught.value.field == "method"
    assert not ItemConsensus.objects.exists()


def test_with_all_minilm_embeddings_every_pair_gets_a_similarity(project):
    """The one test that embeds for real: near_duplicate then has a cosine for pairs that differ in words."""
    summary = consensus_refresh(project=project, method="dawid_skene", embeddings=True)
    assert summary["embeddings"] is True
    similarity = c_signal(project, "agree", "near_duplicate")
    assert 0.0 < similarity < 0.95  # two different answers: similar topic, not duplicates
    assert c_signal(project, "dup", "near_duplicate") == pytest.approx(1.0)


def test_consensus_rows_are_converted_a_batch_at_a_time_exactly_as_item_by_item(monkeypatch):
    """_pairwise_rows builds its rows a column at a time per batch; they equal the one-item-at-a-time reading of
    the same report (values rounded to 6 places, NaN left out, flags with their raw value and reason)."""
    import math

    from annotation.curation.aggregation import aggregate_pairwise
    from annotation.curation.noise import noise_report
    from annotation.curation.text import TextFeatures
    from annotation.curation.votes import CLASS_TO_WINNER, PairwiseVotes
    from annotation.services import curation

    monkeypatch.setattr(curation, "BATCH", 7)  # batches that split the items unevenly
    rng = np.random.default_rng(3)
    n = 50
    items = np.repeat(np.arange(n), 3)
    values = np.where(rng.random(3 * n) < 0.7, 0, rng.integers(1, 3, 3 * n)).astype(np.int8)
    values[:3] = 2  # item 0 a unanimous tie
    votes = PairwiseVotes(items=items, annotators=np.tile(np.arange(3), n), values=values,
                          item_ids=np.arange(1000, 1000 + n), annotator_ids=np.arange(3),
                          annotator_is_judge=np.zeros(3, bool), strength=rng.integers(1, 4, 3 * n) / 3.0,
                          gold=np.where(np.arange(n) == 5, 1, -1).astype(np.int8))
    consensus = aggregate_pairwise(votes, method="dawid_skene")
    texts = TextFeatures(has_pair=np.ones(n, bool), identical=np.arange(n) % 9 == 0,
                         tokens=rng.integers(5, 40, (n, 2)).astype(float), containment=rng.random(n))
    report = noise_report(votes, consensus, texts=texts)
    rows = list(curation._pairwise_rows(votes, consensus, report, "dawid_skene"))
    assert len(rows) == n and sum(len(flags) for _, flags in rows) > 10
    for i, (row, flags) in enumerate(rows):
        item_id = int(votes.item_ids[i])
        signals = {name: round(float(s.values[i]), 6) for name, s in report.signals.items()
                   if math.isfinite(s.values[i])}
        severities = {name: round(float(s.severity[i]), 6) for name, s in report.signals.items()
                      if math.isfinite(s.severity[i])}
        expected_flags = [(item_id, f"noise:{name}", None if math.isnan(s.values[i]) else float(s.values[i]),
                           s.reasons[i]) for name, s in report.signals.items() if s.flagged[i]]
        assert row[0] == item_id and row[2] == CLASS_TO_WINNER[int(consensus.winner[i])]
        assert row[4] == (1.0 if i == 5 else pytest.approx(float(consensus.probability[i])))
        assert row[6] == ("gold" if i == 5 else "human") and row[7] == 3
        assert row[8] == pytest.approx(float(report.score[i])) and 0 <= row[8] <= 1
        assert row[9] == signals and row[10] == severities and flags == expected_flags


def test_a_refresh_rewrites_the_flags_in_bulk_and_the_counters_still_equal_a_recount(project):
    """The refresh writes its flags with the per-statement recount off (migration 0015_flags_bulk) and recounts the
    items once: every item's n_flags and queued flag, and the project's counters, equal a recount after a refresh
    that raises flags, one that clears most of them, and one that raises them again; a flag written by anyone else
    is still counted at once."""
    from annotation.curation.noise import NoiseConfig
    from annotation.models import Item
    from tests.annotation.test_page_counters import assert_counters

    _refresh(project)
    raised = ItemFlag.objects.filter(item__project=project).count()
    assert raised and Item.objects.filter(project=project, n_flags__gt=0).exists()
    assert_counters(project)
    _refresh(project, noise_config=NoiseConfig(agreement_min=0.01, margin_min=0.0, duplicate_cosine=1.01,
                                               length_excess=100.0))
    assert ItemFlag.objects.filter(item__project=project).count() < raised
    assert_counters(project)
    _refresh(project)
    assert ItemFlag.objects.filter(item__project=project).count() == raised
    assert_counters(project)
    agree = Item.objects.get(project=project, external_id="agree")
    ItemFlag.objects.create(item=agree, name="manual", value=1.0, reason="a reviewer's")  # outside a refresh
    assert Item.objects.get(pk=agree.pk).n_flags == ItemFlag.objects.filter(item=agree).count()
    assert_counters(project)
