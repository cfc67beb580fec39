"""Noise signals on hand-built items: each signal flags the case it is for, with the numbers in its reason.

The consensus is a stand-in with only the attributes noise_report reads (winner, probability, is_gold,
competence), so these tests pin the contract rather than one aggregator's output.
"""
from types import SimpleNamespace

import numpy as np
import pytest

from annotation.curation.identities import render_annotators
from annotation.curation.noise import NoiseConfig, noise_report
from annotation.curation.rm_ensemble import EnsembleMargins
from annotation.curation.text import ItemTexts
from annotation.curation.votes import PairwiseVotes

NAMES = ("ann", "bob", "cat", "gpt", "llama")
JUDGES = np.array([False, False, False, True, True])


def named(reason: str) -> str:
    """A stored reason as an owner reads it: tokens rendered with the annotators' names."""
    return render_annotators(reason, lambda annotator_id: NAMES[annotator_id])


def votes(entries, n_items, gold=None):
    """entries: (item, annotator, value[, strength, probability, swap_consistent]) per vote."""
    rows = [tuple(e) + (np.nan,) * (6 - len(e)) for e in entries]
    col = lambda k, dtype=float: np.array([r[k] for r in rows], dtype=dtype)  # noqa: E731
    return PairwiseVotes(
        items=col(0, np.int64), annotators=col(1, np.int64), values=col(2, np.int8), strength=col(3),
        probability=col(4), swap_consistent=col(5), item_ids=np.arange(100, 100 + n_items),
        annotator_ids=np.arange(5), annotator_is_judge=JUDGES, annotator_names=NAMES,
        gold=None if gold is None else np.array(gold, np.int8),
    )


def consensus(winner, probability=None, competence=None, is_gold=None):
    n = len(winner)
    return SimpleNamespace(
        winner=np.array(winner, np.int8), probability=np.array(probability if probability else [1.0] * n),
        is_gold=np.array(is_gold if is_gold else [False] * n),
        competence=np.array(competence if competence else [0.9] * 5),
    )


def test_a_two_one_split_is_flagged_with_its_numbers_and_a_unanimous_item_is_not():
    v = votes([(0, 0, 0), (0, 1, 0), (0, 2, 0), (1, 0, 0), (1, 1, 0), (1, 2, 1)], 2)
    report = noise_report(v, consensus([0, 0], [1.0, 0.67]))
    s = report.signals["annotator_disagreement"]
    assert s.values == pytest.approx([1.0, 2 / 3])
    assert s.flagged.tolist() == [False, True]
    assert s.reasons[1] == "annotators split 2–1 (agreement 0.67 < 0.75)"
    assert report.score[0] == 0.0 and report.score[1] > 0.3
    assert report.reasons(1) == [s.reasons[1]] and report.reasons(0) == []


def test_single_human_vote_has_no_disagreement_value():
    report = noise_report(votes([(0, 0, 0)], 1), consensus([0]))
    assert np.isnan(report.signals["annotator_disagreement"].values[0])


def test_humans_against_the_judges():
    v = votes([(0, 0, 0), (0, 1, 0), (0, 3, 1), (0, 4, 1), (1, 0, 1), (1, 3, 1)], 2)
    s = noise_report(v, consensus([0, 1])).signals["human_vs_judge"]
    assert s.values.tolist() == [1.0, 0.0]
    assert s.reasons[0] == "humans chose A (2 of 2 votes) but judges chose B (2 of 2)"


def test_a_judge_that_changed_its_verdict_on_swap_is_named():
    v = votes([(0, 3, 0, np.nan, 0.9, 1.0), (0, 4, 1, np.nan, 0.4, 0.0), (1, 3, 0, np.nan, 0.9, 1.0)], 2)
    s = noise_report(v, consensus([0, 0])).signals["judge_swap_inconsistent"]
    assert s.values.tolist() == [0.5, 0.0] and s.flagged.tolist() == [True, False]
    assert s.reasons[0] == "1 of 2 judge verdicts changed when the responses were swapped ({annotator:4})"
    assert named(s.reasons[0]) == "1 of 2 judge verdicts changed when the responses were swapped (llama)"


def test_a_winner_carried_by_low_competence_votes():
    # item 0: ann and bob (competence 0.3) say A, cat (0.9) says B; item 1: the same votes from good annotators
    v = votes([(0, 0, 0), (0, 1, 0), (0, 2, 1), (1, 2, 0), (1, 3, 0), (1, 4, 1)], 2)
    c = consensus([0, 0], [0.67, 0.67], competence=[0.3, 0.3, 0.9, 0.9, 0.9])
    s = noise_report(v, c).signals["low_competence"]
    assert s.values.tolist() == [1.0, 0.0] and s.flagged.tolist() == [True, False]
    # Stored reasons name annotators by token, rendered per viewer (annotation.selectors.identities).
    assert "ann 0.30" not in s.reasons[0] and "{annotator:0} 0.30" in s.reasons[0]
    assert "ann 0.30, bob 0.30" in named(s.reasons[0]) and "not the majority" in s.reasons[0]


def test_weak_strength_and_small_judge_margin():
    v = votes([(0, 0, 0, 1 / 3), (0, 3, 0, np.nan, 0.53), (1, 0, 0, 1.0), (1, 3, 0, np.nan, 0.95)], 2)
    report = noise_report(v, consensus([0, 0]))
    weak, margin = report.signals["weak_strength"], report.signals["small_margin"]
    assert weak.flagged.tolist() == [True, False] and weak.reasons[0] == "mean preference strength 0.33 < 0.40"
    assert margin.values == pytest.approx([0.03, 0.45]) and margin.flagged.tolist() == [True, False]
    assert margin.reasons[0] == "judge P(A) 0.53 within 0.10 of 0.5"
    assert report.score[0] > report.score[1]


def test_rm_ensemble_against_the_label_and_with_high_spread():
    margins = np.array([[2.0, -1.5, 0.2], [2.2, -1.0, 2.5], [1.8, -2.0, -0.8]])  # (K=3, I=3)
    report = noise_report(None, consensus([0, 1, 0]), rm_margins=EnsembleMargins(margins, np.ones((3, 3), bool)))
    s = report.signals["rm_ensemble"]
    assert s.values == pytest.approx([2.0, -1.5, 0.633], abs=1e-3)
    assert s.flagged.tolist() == [False, True, True]
    assert s.severity[1] == pytest.approx(1 / (1 + np.exp(-1.5)))
    assert s.reasons[1] == "the reward-model ensemble prefers the other response (mean margin −1.50 over 3 models)"
    # the spread is the population std of (0.2, 2.5, −0.8)
    assert s.reasons[2] == "reward models disagree (mean margin 0.63); spread 1.38 >= 1.00"
    assert report.score[1] > report.score[2] > report.score[0]


def test_a_flipped_label_raises_the_score():
    """Same votes and RM, but the consensus names the other winner: RM margins change sign, score rises."""
    v = votes([(0, 0, 0), (0, 1, 0), (0, 2, 0)], 1)
    rm = np.array([[1.5], [2.0], [1.0]])
    right = noise_report(v, consensus([0]), rm_margins=rm).score[0]
    v_flipped = votes([(0, 0, 1), (0, 1, 1), (0, 2, 0)], 1)
    wrong = noise_report(v_flipped, consensus([1], [0.67]), rm_margins=-rm).score[0]
    assert right < 0.1 < 0.4 < wrong


def test_near_duplicates_by_text_and_by_embedding():
    texts = ItemTexts(["p"] * 3, [["Sure!", "sure."], ["Yes, it is.", "No."], ["Paris.", "The capital is Paris."]])
    emb = np.zeros((3, 2, 2))
    emb[:, 0] = [1.0, 0.0]
    emb[:, 1] = [[1.0, 0.0], [0.0, 1.0], [0.97, np.sqrt(1 - 0.97**2)]]
    s = noise_report(None, consensus([0, 0, 0]), texts=texts, embeddings=emb).signals["near_duplicate"]
    assert s.values == pytest.approx([1.0, 0.0, 0.97])
    assert s.flagged.tolist() == [True, False, True] and s.severity[0] == 1.0
    assert s.reasons[0].startswith("the responses are identical")
    assert s.reasons[2] == "the responses are near-duplicates (cosine 0.97 >= 0.95)"


def test_length_only_flags_a_longer_winner_that_only_adds_words():
    short = "Use baking soda and vinegar to clean the drain."
    padded = short + " This is a great question and I am happy to help you with it today."
    other = "Call a plumber if the drain stays blocked after a day."
    texts = ItemTexts(["p"] * 4, [[padded, short], [short, padded], [padded, other], [padded, short]])
    c = consensus([0, 0, 0, 0])
    rm = np.array([[0.2, 0.2, 0.2, 3.0]] * 3)
    s = noise_report(None, c, texts=texts, rm_margins=rm).signals["length_only"]
    assert s.values[0] == pytest.approx(24 / 9) and s.values[1] == pytest.approx(9 / 24)
    # 0: longer winner, every word of the loser in it; 1: the shorter one won; 2: different content;
    # 3: the reward models back the winner by 3 logits, so more than length separates them
    assert s.flagged.tolist() == [True, False, False, False]
    assert s.severity[1] == 0.0 and s.severity[3] == 0.0
    assert s.reasons[0] == ("the chosen response is 2.7× as long as the other (>= 1.5×) and otherwise similar "
                            "(similarity 1.00 >= 0.80)")


def test_combined_score_is_the_weighted_mean_over_applicable_signals():
    v = votes([(0, 0, 0), (0, 1, 0), (0, 2, 1)], 1)
    rm = np.array([[-1.0], [-1.0]])
    config = NoiseConfig()
    report = noise_report(v, consensus([0], [0.67]), rm_margins=rm, config=config)
    applies = {name: s for name, s in report.signals.items() if not np.isnan(s.severity[0])}
    # 3 humans, no judges/strength/texts: disagreement, low_competence, small_margin and rm apply
    assert set(applies) == {"annotator_disagreement", "low_competence", "small_margin", "rm_ensemble"}
    sev = {"annotator_disagreement": 2 * (1 - 2 / 3), "low_competence": 0.0, "small_margin": 1 - 2 * 0.17,
           "rm_ensemble": 1 / (1 + np.exp(-1.0))}
    w = config.weights
    expected = sum(w[k] * sev[k] for k in sev) / sum(w[k] for k in sev)
    assert report.score[0] == pytest.approx(expected)


def test_gold_items_are_clean_and_no_signal_leaves_score_zero():
    v = votes([(0, 0, 0), (0, 1, 1), (0, 2, 1)], 2, gold=[1, -1])
    report = noise_report(v, consensus([1, -1], [1.0, np.nan], is_gold=[True, False]))
    assert report.score.tolist() == [0.0, 0.0]
    assert not any(s.flagged[0] for s in report.signals.values()) and report.reasons(0) == []
    kept = noise_report(v, consensus([1, -1], [1.0, np.nan], is_gold=[True, False]),
                        config=NoiseConfig(gold_is_clean=False))
    assert kept.signals["annotator_disagreement"].flagged[0] and kept.score[0] > 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"weights": {"vibes": 1.0}}, "unknown noise signal"), ({"weights": {"rm_ensemble": -1.0}}, ">= 0"),
    ({"duplicate_floor": 0.99}, "duplicate_floor"), ({"length_similarity": 0.3}, "length_similarity"),
])
def test_bad_config_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NoiseConfig(**kwargs)


def test_misaligned_inputs_are_refused():
    with pytest.raises(ValueError, match="rm_margins covers 2 items"):
        noise_report(None, consensus([0]), rm_margins=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="embeddings must be"):
        noise_report(None, consensus([0]), embeddings=np.zeros((2, 2, 4)))


def test_works_on_the_real_aggregators_output():
    """End to end with aggregate_pairwise: the split item scores above the unanimous ones, by every method."""
    from annotation.curation.aggregation import aggregate_pairwise

    entries = [(i, j, 0) for i in range(3) for j in range(3)] + [(3, 0, 0), (3, 1, 1), (3, 2, 1)]
    entries += [(i, 3, 0, np.nan, 0.9, 1.0) for i in range(4)]
    v = votes(entries, 4)
    for method in ("majority", "dawid_skene", "mace"):
        c = aggregate_pairwise(v, method=method)
        report = noise_report(v, c)
        assert report.signals["annotator_disagreement"].flagged.tolist() == [False, False, False, True]
        assert report.score[3] > report.score[:3].max()


def test_reasons_are_written_when_read_and_a_signal_that_applies_nowhere_holds_no_per_item_memory():
    # Item 0 is a 2–1 split, item 1 unanimous, item 2 a 2–1 split a reviewer resolved (gold: clean).
    v = votes([(0, 0, 0), (0, 1, 0), (0, 2, 1), (1, 0, 0), (1, 1, 0), (1, 2, 0),
               (2, 0, 0), (2, 1, 0), (2, 2, 1)], 3, gold=[-1, -1, 0])
    report = noise_report(v, consensus([0, 0, 0], is_gold=[False, False, True]))
    s = report.signals["annotator_disagreement"]
    assert not isinstance(s.reasons, list) and len(s.reasons) == 3
    assert s.reasons[0] == "annotators split 2–1 (agreement 0.67 < 0.75)"
    assert s.reasons[1] is None and s.reasons[2] is None  # not flagged; flag cleared on a gold item
    assert list(s.reasons) == [s.reasons[0], None, None] and s.reasons[0:2] == [s.reasons[0], None]
    # no judges, no reward models, no texts: these apply to no item and are views of one NaN
    for name in ("human_vs_judge", "judge_swap_inconsistent", "rm_ensemble", "near_duplicate", "length_only"):
        absent = report.signals[name]
        assert absent.values.strides == (0,) and absent.severity.strides == (0,), name
        assert np.isnan(absent.values).all() and not absent.flagged.any()
    assert report.score[2] == 0.0 and report.score[0] > 0


def test_a_chunk_of_the_report_equals_that_range_of_the_whole_report():
    """ChunkedNoise: every signal's values, severities, flags and reasons and the score of items [start, stop)
    equal that range of the whole set's report, with people, judges (probabilities, swaps), gold, texts and
    reward margins all taking part; a chunk reads none of another chunk's votes."""
    from annotation.curation.noise import ChunkedNoise

    rng = np.random.default_rng(3)
    n = 40
    entries = []
    for i in range(n):
        for j in range(3):
            entries.append((i, j, int(rng.integers(3)), float(rng.choice([1 / 3, 2 / 3, 1.0]))))
        if i % 3:
            entries.append((i, 3, int(rng.integers(2)), np.nan, float(rng.random()), float(rng.integers(2))))
    v = votes(entries, n, gold=[0 if i == 7 else -1 for i in range(n)])
    c = consensus(rng.integers(0, 3, n).tolist(), probability=rng.uniform(0.4, 1.0, n).tolist(),
                  competence=[0.9, 0.5, 0.8, 0.7, 0.9], is_gold=[i == 7 for i in range(n)])
    texts = ItemTexts(prompts=[""] * n, responses=[
        [f"answer {i} " * int(rng.integers(1, 4)), f"answer {i} more words " * int(rng.integers(1, 4))]
        for i in range(n)])
    rm = EnsembleMargins(margins=rng.normal(0, 2, (3, n)), in_train=np.zeros((3, n), bool))
    whole = noise_report(v, c, texts=texts, rm_margins=rm)
    chunks = ChunkedNoise(v, c, texts=texts, rm_margins=rm)
    for start, stop in ((0, 13), (13, 14), (14, 40)):
        part = chunks.report(start, stop)
        np.testing.assert_array_equal(part.score, whole.score[start:stop])
        for name, s in whole.signals.items():
            p = part.signals[name]
            np.testing.assert_array_equal(p.values, s.values[start:stop], err_msg=name)
            np.testing.assert_array_equal(p.severity, s.severity[start:stop], err_msg=name)
            np.testing.assert_array_equal(p.flagged, s.flagged[start:stop], err_msg=name)
            assert list(p.reasons) == s.reasons[start:stop], name
    assert sum(whole.signals[s].flagged.sum() for s in whole.signals) > 10  # something to compare
