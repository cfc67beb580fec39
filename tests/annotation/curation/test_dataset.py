"""The Django-free dataset builder: drop rules, weights, ties, expansions, edits, thumbs, split, determinism."""
import random
from dataclasses import asdict

import pytest

from annotation.curation.dataset import (
    CurationConfig,
    CurationItem,
    build_rows,
    expand_ranking,
    item_split,
    row_weight,
)
from common.config import ConfigError, config_from_dict

PROMPT = [{"role": "user", "content": "q"}]


def pair(eid: str, winner: str | None = "A", **fields) -> CurationItem:
    values = {"source": "human", "votes": {"A": 2, "B": 0, "tie": 0}, "agreement": 1.0, "probability": 0.9,
              "noise_score": 0.0, **fields}
    return CurationItem(external_id=eid, kind="pairwise", prompt=PROMPT, responses=["a", "b"], winner=winner,
                        **values)


def build(items, **config):
    return build_rows(items, CurationConfig(test_fraction=0, **config))


def test_a_pairwise_winner_becomes_chosen_and_rejected_with_its_provenance():
    rows, stats = build([pair("p1", "B", margin=0.5, reasons=["r"])])
    (row,) = rows
    assert (row.kind, row.data) == ("pairwise", {"prompt": PROMPT, "chosen": "b", "rejected": "a", "margin": 0.5})
    assert row.provenance == {"item": "p1", "origin": "pairwise", "source": "human",
                              "votes": {"A": 2, "B": 0, "tie": 0}, "agreement": 1.0, "probability": 0.9,
                              "noise_score": 0.0, "reasons": ["r"]}
    assert (row.weight, row.split) == (1.0, "train")
    assert stats["kept_items"] == 1 and stats["dropped"] == {} and stats["sources"] == {"human": 1}


def test_drop_rules_name_their_reason_and_gold_is_never_dropped_by_noise():
    items = [
        pair("clean"),
        pair("noisy", noise_score=0.8),
        pair("split", signals={"annotator_disagreement": 0.5}, flagged=["annotator_disagreement"]),
        pair("low-agree", agreement=0.4),
        pair("gold", noise_score=0.95, source="gold", agreement=0.0),
        pair("none", winner=None, source=""),
    ]
    rows, stats = build(items, drop={"noise_score": 0.7, "annotator_disagreement": True}, min_agreement=0.5)
    assert [r.item for r in rows] == ["clean", "gold"]
    assert stats["dropped"] == {"min_agreement": 1, "no_consensus": 1, "noise_score": 1,
                                "signal:annotator_disagreement": 1}


def test_a_signal_threshold_drops_by_severity_and_false_turns_a_rule_off():
    # Agreement 1.0 (value) is severity 0; agreement 0.67 is severity 0.67: the rule reads severities, so a
    # threshold means "this noisy or worse" for every signal, whichever way its own value runs.
    items = [pair("a", signals={"annotator_disagreement": 1.0}, severities={"annotator_disagreement": 0.0}),
             pair("b", signals={"annotator_disagreement": 0.67}, severities={"annotator_disagreement": 0.67},
                  flagged=["annotator_disagreement"])]
    assert [r.item for r in build(items, drop={"annotator_disagreement": 0.5})[0]] == ["a"]
    assert [r.item for r in build(items, drop={"annotator_disagreement": False})[0]] == ["a", "b"]


def test_sources_filter_keeps_only_the_named_sources():
    items = [pair("h"), pair("ai", source="ai"), pair("hy", source="hybrid")]
    rows, stats = build(items, sources=["human", "hybrid"])
    assert [r.item for r in rows] == ["h", "hy"] and stats["dropped"] == {"source:ai": 1}


def test_weight_formula_and_its_floor():
    assert row_weight(0.5, downweight=1.0, min_weight=0.1) == 0.5
    assert row_weight(0.95, downweight=1.0, min_weight=0.1) == 0.1
    assert row_weight(None, downweight=1.0, min_weight=0.1) == 1.0
    rows, _ = build([pair("a", noise_score=0.4), pair("g", noise_score=0.4, source="gold")], downweight=0.5)
    assert [r.weight for r in rows] == [pytest.approx(0.8), 1.0]


def test_ties_are_dropped_by_default_or_kept_as_tie_rows():
    rows, stats = build([pair("t", "tie")])
    assert rows == [] and stats["dropped"] == {"tie": 1}
    rows, _ = build([pair("t", "tie")], ties="keep_as_tie_rows")
    assert [(r.kind, r.data["responses"]) for r in rows] == [("tie", ["a", "b"])]


def test_ranking_expansions_worked_by_hand():
    ranking = [[2], [0, 1], [3]]
    assert expand_ranking(ranking, "all_pairs") == [(2, 0), (2, 1), (2, 3), (0, 3), (1, 3)]
    assert expand_ranking(ranking, "adjacent") == [(2, 0), (2, 1), (0, 3), (1, 3)]
    assert expand_ranking(ranking, "best_vs_rest") == [(2, 0), (2, 1), (2, 3)]
    assert expand_ranking(ranking, "none") == [] and expand_ranking([[0, 1]], "all_pairs") == []


def test_a_listwise_item_gives_pairs_and_optionally_its_ranking_row():
    item = CurationItem(external_id="r", kind="listwise", prompt=PROMPT, responses=["x", "y", "z"],
                        ranking=[[1], [0, 2]], source="human", agreement=0.5, votes={"n": 2})
    rows, stats = build([item], listwise_pairs="best_vs_rest", listwise_rows=True)
    assert [(r.kind, r.data.get("chosen"), r.data.get("rejected")) for r in rows] == [
        ("pairwise", "y", "x"), ("pairwise", "y", "z"), ("listwise", None, None)]
    assert rows[2].data["ranking"] == [[1], [0, 2]] and rows[0].provenance["origin"] == "listwise"
    assert stats["rows_by_kind"] == {"listwise": 1, "pairwise": 2}


def test_edits_are_pairs_of_edited_over_original_and_thumbs_are_unpaired():
    edit = CurationItem(external_id="e", kind="edit", prompt=PROMPT, responses=["He go."], source="human",
                        edits=["He goes.", "He goes.", "He went."])
    up = CurationItem(external_id="t1", kind="thumbs", prompt=PROMPT, responses=["yes"], thumbs={"up": 2, "down": 1})
    split = CurationItem(external_id="t2", kind="thumbs", prompt=PROMPT, responses=["no"], thumbs={"up": 1, "down": 1})
    gold = CurationItem(external_id="t3", kind="thumbs", prompt=PROMPT, responses=["no"], thumbs={"up": 1, "down": 1},
                        gold_thumbs=False)
    rows, stats = build([edit, up, split, gold])
    assert [(r.kind, r.data.get("chosen"), r.data.get("label")) for r in rows] == [
        ("pairwise", "He goes.", None), ("pairwise", "He went.", None), ("unpaired", None, True),
        ("unpaired", None, False)]
    assert rows[0].data["rejected"] == "He go." and rows[0].provenance["origin"] == "edit"
    assert rows[3].provenance["source"] == "gold" and stats["dropped"] == {"tie": 1}
    rows, stats = build([edit, up], edit_pairs=False, thumbs=False)
    assert rows == [] and stats["dropped"] == {"edit_pairs_off": 1, "thumbs_off": 1}


def test_the_split_is_by_item_stable_and_near_the_fraction():
    ids = [f"item-{i}" for i in range(2000)]
    test = [i for i in ids if item_split(i, seed=3, test_fraction=0.2) == "test"]
    assert 0.17 < len(test) / len(ids) < 0.23
    assert test != [i for i in ids if item_split(i, seed=4, test_fraction=0.2) == "test"]
    # Adding items never moves an old one: the split is a function of (seed, id) alone.
    rows_small, _ = build_rows([pair(i) for i in ids[:100]], CurationConfig(test_fraction=0.2, seed=3))
    rows_big, stats = build_rows([pair(i) for i in ids], CurationConfig(test_fraction=0.2, seed=3))
    assert {r.item: r.split for r in rows_small}.items() <= {r.item: r.split for r in rows_big}.items()
    assert stats["splits"]["test"] == len(test) == stats["test_items"]


def test_same_config_and_same_items_give_identical_rows_in_any_input_order():
    items = [pair(f"i{i}", random.Random(i).choice("AB"), noise_score=i / 40) for i in range(40)]
    config = CurationConfig(test_fraction=0.3, seed=7, downweight=1.0)
    first = build_rows(items, config)
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)
    assert build_rows(shuffled, config) == first


@pytest.mark.parametrize(("data", "field"), [
    ({"method": "vote"}, "method"),
    ({"test_fraction": 1.0}, "test_fraction"),
    ({"downweight": 2}, "downweight"),
    ({"drop": {"noise_score": 1.5}}, "drop"),
    ({"drop": {"x": "high"}}, "drop"),
    ({"drop": {"near_dup": True}}, "drop"),  # a misspelt signal would silently drop nothing
    ({"drop": {"length_only": 2}}, "drop"),  # severities are in [0, 1]
    ({"sources": ["crowd"]}, "sources"),
    ({"listwise_pairs": "some"}, "listwise_pairs"),
    ({"min_agreement": 3}, "min_agreement"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_config_is_refused_naming_the_field(data, field):
    with pytest.raises(ConfigError) as caught:
        config_from_dict(CurationConfig, data)
    assert caught.value.field == field


def test_the_config_round_trips_through_json():
    config = CurationConfig(drop={"noise_score": 0.7}, listwise_pairs="adjacent", min_agreement=0.5)
    assert config_from_dict(CurationConfig, asdict(config)) == config


def test_the_stats_name_the_kinds_whose_rows_the_sql_line_export_may_render_unchecked():
    thumbs = CurationItem(external_id="t", kind="thumbs", prompt=PROMPT, responses=["yes"], thumbs={"up": 2, "down": 0})
    listwise = CurationItem(external_id="r", kind="listwise", prompt=PROMPT, responses=["x", "y"], ranking=[[1], [0]],
                            source="human", votes={"n": 2})
    _, stats = build([pair("p1"), pair("p2", "B", margin=0.25), thumbs, listwise], listwise_rows=True)
    assert stats["sql_lines"] == ["listwise", "pairwise", "unpaired"]
    # one prompt of a role the plain-text prompt does not name: that kind is checked row by row
    odd = CurationItem(external_id="p3", kind="pairwise", prompt=[{"role": "critic", "content": "q"}],
                       responses=["a", "b"], winner="A", source="human", votes={"A": 1, "B": 0, "tie": 0})
    _, stats = build([pair("p1"), odd, thumbs], listwise_rows=True)
    assert stats["sql_lines"] == ["unpaired"]
    assert build([])[1]["sql_lines"] == []
