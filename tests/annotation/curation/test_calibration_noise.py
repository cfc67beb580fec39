"""The checked noise score: each signal's AUROC and direction against references, wrong-way signals dropped
or out-weighed, soft labels from a validated posterior, and a flagged share instead of a threshold."""
import numpy as np
import pytest

from annotation.curation.calibration import flag_top_share, noise_calibrate, signal_checks
from annotation.curation.calibration._stats import auroc
from annotation.curation.noise import NoiseConfig, build_signal, combine_signals


def _report(severities: dict[str, np.ndarray]):
    config = NoiseConfig()
    n = len(next(iter(severities.values())))
    signals = [build_signal(name, sev, sev, np.zeros(n, bool), str, config) for name, sev in severities.items()]
    return combine_signals(signals, np.zeros(n, bool), config)


def _labelled(n=400, seed=0):
    """winner all A; wrong on a random 20 %. small_margin tracks wrongness, rm_ensemble points the wrong way,
    weak_strength is noise."""
    rng = np.random.default_rng(seed)
    wrong = rng.random(n) < 0.2
    good = np.clip(0.3 + 0.4 * wrong + rng.normal(0, 0.15, n), 0, 1)
    bad = np.clip(0.6 - 0.4 * wrong + rng.normal(0, 0.15, n), 0, 1)
    report = _report({"small_margin": good, "rm_ensemble": bad, "weak_strength": rng.random(n)})
    winner = np.zeros(n, dtype=np.int64)
    truth = np.where(wrong, 1, 0)
    return report, winner, truth, wrong


def test_signal_checks_directions():
    report, winner, truth, wrong = _labelled()
    checks = signal_checks(report, wrong, np.ones(len(wrong), bool))
    assert checks["small_margin"].direction == "right" and checks["small_margin"].auroc > 0.9
    assert checks["rm_ensemble"].direction == "wrong" and checks["rm_ensemble"].auroc < 0.1
    assert checks["weak_strength"].direction == "unclear"
    assert checks["small_margin"].n == 400 and checks["small_margin"].n_wrong == int(wrong.sum())


def test_default_sum_is_dragged_down_and_calibration_fixes_it():
    """The documented default mean mixes in the wrong-way signal; with 25 % references the calibrated score is
    at least as good as the best single signal on the other items, and the wrong-way one is reported dropped."""
    report, winner, truth, wrong = _labelled()
    refs = np.where(np.random.default_rng(5).random(400) < 0.25, truth, -1)
    test = refs < 0
    cal = noise_calibrate(report, winner=winner, references=refs)
    best_single = auroc(report.signals["small_margin"].severity[test], wrong[test])[0]
    assert auroc(report.score[test], wrong[test])[0] < best_single - 0.1
    assert auroc(cal.score[test], wrong[test])[0] >= best_single - 0.01
    assert "rm_ensemble" in cal.dropped
    assert cal.n == int((refs >= 0).sum()) and cal.auroc > 0.85


def test_without_references_the_prior_signal_applies():
    """No labels: not the equal-weight sum (dragged down by rm_ensemble here) but the first prior signal that
    varies, small_margin; weights set by hand are kept as their weighted mean."""
    report, winner, _, _ = _labelled()
    cal = noise_calibrate(report, winner=winner)
    assert cal.combiner == "signal:small_margin" and cal.dropped == [] and np.isnan(cal.auroc)
    assert cal.weights == {"small_margin": 1.0} and "prior signal small_margin" in cal.reason
    np.testing.assert_allclose(cal.score, report.signals["small_margin"].severity)
    by_hand = noise_calibrate(report, winner=winner, weights={"weak_strength": 0.5})
    assert by_hand.combiner == "default" and "set for this run" in by_hand.reason
    np.testing.assert_allclose(by_hand.score, report.score)


def test_few_labels_skip_a_prior_signal_that_points_the_wrong_way():
    """Too few labels to choose by (16 < min_references) still judge directions: a prior signal judged the
    wrong way is passed over for the next one that applies."""
    rng = np.random.default_rng(4)
    wrong = rng.random(400) < 0.2
    inverted = np.clip(0.6 - 0.4 * wrong + rng.normal(0, 0.1, 400), 0, 1)
    fine = np.clip(0.3 + 0.4 * wrong + rng.normal(0, 0.1, 400), 0, 1)
    report = _report({"small_margin": inverted, "annotator_disagreement": fine, "rm_ensemble": fine})
    refs = np.full(400, -1)
    pick = np.r_[np.flatnonzero(wrong)[:8], np.flatnonzero(~wrong)[:8]]
    refs[pick] = wrong[pick].astype(int)
    cal = noise_calibrate(report, winner=np.zeros(400, np.int64), references=refs, min_references=50)
    assert cal.checks["small_margin"].direction == "wrong" and cal.combiner == "signal:annotator_disagreement"


def test_held_out_labels_drop_a_wrong_way_signal_from_weights_set_by_hand():
    """Too few labels to learn from, weights set for the run: the wrong-way signal's weight becomes 0 in their
    mean."""
    report, winner, truth, wrong = _labelled(n=400, seed=1)
    refs = np.full(400, -1)
    pick = np.r_[np.flatnonzero(wrong)[:8], np.flatnonzero(~wrong)[:8]]
    refs[pick] = truth[pick]
    cal = noise_calibrate(report, winner=winner, references=refs, min_references=50, weights={"rm_ensemble": 2.0})
    assert cal.combiner == "default" and cal.dropped == ["rm_ensemble"]
    assert cal.weights["rm_ensemble"] == 0.0 and cal.weights["small_margin"] > 0


def _split(n: int, share: float, seed: int) -> np.ndarray:
    """(n,) bool: the items that carry a reference (the rest are held out)."""
    return np.random.default_rng(seed + 100).random(n) < share


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("share", [0.05, 0.15])
def test_one_strong_signal_among_noise_and_inverted_ones_is_not_lost(seed, share):
    """One strong signal, three of noise and two that point the wrong way: held out (on items whose reference the
    combiner never saw), the combined AUROC equals the strong signal's within 0.015 and is never 0.01 below it,
    with 5 % references (60, ~12 wrong) as with 15 %."""
    n = 1200
    rng = np.random.default_rng(seed)
    wrong = rng.random(n) < 0.2
    strong = np.clip(0.3 + 0.35 * wrong + rng.normal(0, 0.15, n), 0, 1)
    report = _report({
        "small_margin": rng.random(n), "annotator_disagreement": rng.random(n), "weak_strength": rng.random(n),
        "human_vs_judge": strong,
        "rm_ensemble": np.clip(0.6 - 0.15 * wrong + rng.normal(0, 0.2, n), 0, 1),
        "low_competence": np.clip(0.5 - 0.1 * wrong + rng.normal(0, 0.2, n), 0, 1)})
    refs = np.where(_split(n, share, seed), wrong.astype(int), -1)
    cal = noise_calibrate(report, winner=np.zeros(n, np.int64), references=refs)
    test = refs < 0
    best = auroc(strong[test], wrong[test])[0]
    assert best > 0.9
    combined = auroc(cal.score[test], wrong[test])[0]
    assert best - 0.01 <= combined <= best + 0.015, cal.reason
    assert auroc(report.score[test], wrong[test])[0] < best - 0.1  # the equal-weight sum loses it
    if cal.combiner.startswith("signal:"):
        assert cal.combiner == "signal:human_vs_judge" and "best single signal human_vs_judge" in cal.reason
    else:  # a combination only where cross-validation found it clearly better (the inverted ones inform it)
        assert "beats the single signal human_vs_judge" in cal.reason


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_independent_signals_are_combined_when_that_is_clearly_better(seed):
    """Two independent signals of AUROC ~0.8 each: their combination (~0.9) is chosen and, held out, beats both."""
    n = 1200
    rng = np.random.default_rng(seed)
    wrong = rng.random(n) < 0.25
    first = 0.4 * wrong + rng.normal(0, 0.35, n)
    second = 0.4 * wrong + rng.normal(0, 0.35, n)
    report = _report({"small_margin": np.clip(0.4 + first, 0, 1), "human_vs_judge": np.clip(0.4 + second, 0, 1),
                      "weak_strength": rng.random(n)})
    refs = np.where(_split(n, 0.15, seed), wrong.astype(int), -1)
    cal = noise_calibrate(report, winner=np.zeros(n, np.int64), references=refs)
    test = refs < 0
    singles = [auroc(report.signals[s].severity[test], wrong[test])[0] for s in ("small_margin", "human_vs_judge")]
    assert cal.combiner in ("rank_mean", "learned") and "beats the single signal" in cal.reason
    assert auroc(cal.score[test], wrong[test])[0] >= max(singles) + 0.03


def test_soft_labels_from_a_validated_posterior():
    """Two references only, but a posterior whose P(wrong) tracks the truth: the soft labels learn a score at
    least as good as the best signal."""
    report, winner, truth, wrong = _labelled(seed=2)
    rng = np.random.default_rng(3)
    expected_wrong = np.clip(np.where(wrong, 0.7, 0.1) + rng.normal(0, 0.05, len(wrong)), 0, 1)
    refs = np.full(len(wrong), -1)
    refs[:2] = truth[:2]
    cal = noise_calibrate(report, winner=winner, references=refs, expected_wrong=expected_wrong)
    best = auroc(report.signals["small_margin"].severity, wrong)[0]
    assert cal.cv and "labelled items" in cal.reason
    assert auroc(cal.score, wrong)[0] >= best - 0.01


def test_flag_top_share():
    score = np.array([0.9, 0.1, 0.5, 0.9, 0.3])
    assert flag_top_share(score, 0.4).tolist() == [True, False, False, True, False]
    assert flag_top_share(score, 0.4, eligible=np.array([False, True, True, True, True])).tolist() == [
        False, False, True, True, False]
    assert not flag_top_share(score, 0.0).any()
    with pytest.raises(ValueError, match="share"):
        flag_top_share(score, 1.5)


def test_flagged_share_not_everything():
    """The default run flags 10 % of the items, not all items above a threshold."""
    report, winner, _, _ = _labelled()
    cal = noise_calibrate(report, winner=winner, flag_share=0.1)
    assert cal.flagged.sum() == 40


def test_gold_items_are_never_flagged_and_bad_input_raises():
    report, winner, _, _ = _labelled(n=50)
    gold = np.zeros(50, bool)
    gold[:10] = True
    cal = noise_calibrate(report, winner=winner, is_gold=gold, flag_share=1.0)
    assert not cal.flagged[:10].any() and cal.flagged[10:].all() and (cal.score[:10] == 0).all()
    with pytest.raises(ValueError, match="cover the 50 items"):
        noise_calibrate(report, winner=winner, references=np.zeros(3))
    with pytest.raises(ValueError, match="unknown noise signal"):
        noise_calibrate(report, winner=winner, weights={"vibes": 1.0})


def test_checks_on_the_held_out_consensus_see_wrong_references():
    """The final consensus takes the reference on reference items, so nothing there is wrong; the held-out view
    of aggregation_choose keeps the cross-validated guess, and the checks count its mistakes."""
    from annotation.curation.calibration import aggregation_choose
    from annotation.curation.noise import noise_report

    from .weak_fixtures import references, weak_judges

    votes, truth, _ = weak_judges(n_items=400, n_weak=3, n_strong=1, seed=5)
    refs = references(truth, 0.25)
    choice = aggregation_choose(votes, references=refs)
    final = noise_calibrate(noise_report(votes, choice.consensus), winner=choice.consensus.winner, references=refs)
    held = noise_calibrate(noise_report(votes, choice.held_out), winner=choice.held_out.winner, references=refs)
    assert final.checks["small_margin"].n_wrong == 0
    wrong = int(((choice.held_out.winner != truth) & (refs >= 0)).sum())
    assert held.checks["small_margin"].n_wrong == wrong > 0


def test_the_combiner_chosen_from_chunks_equals_the_one_from_the_whole_report(monkeypatch):
    """noise_fit on SignalStats gathered a chunk at a time (what a refresh of a million items does) chooses and
    scores exactly as noise_calibrate on the whole report, with references and soft labels taking part."""
    from annotation.curation.calibration import SignalStats, noise_fit, noise_keep
    from annotation.curation.calibration import noise_weights
    from annotation.curation.noise import NoiseReport

    monkeypatch.setattr(noise_weights, "SUM_BLOCK", 32)
    rng = np.random.default_rng(5)
    n = 300
    winner = rng.integers(0, 2, n)
    wrong = rng.random(n) < 0.2
    refs = np.where(rng.random(n) < 0.3, np.where(wrong, 1 - winner, winner), -1)
    report = _report({"small_margin": np.where(wrong, rng.uniform(0.3, 1, n), rng.uniform(0, 0.7, n)),
                      "annotator_disagreement": np.where(rng.random(n) < 0.5, np.nan, rng.random(n)),
                      "weak_strength": rng.random(n)})
    expected = rng.uniform(0, 0.5, n)
    whole = noise_calibrate(report, winner=winner, references=refs, expected_wrong=expected, flag_share=0.1)
    keep = noise_keep(winner=winner, references=refs, expected_wrong=expected)
    stats = SignalStats(list(report.signals), keep)
    for start in range(0, n, 64):
        stop = min(n, start + 64)
        part = NoiseReport({k: _slice(s, start, stop) for k, s in report.signals.items()}, report.score[start:stop])
        stats.add(part, winner[start:stop])
    fit = noise_fit(stats, winner=winner, references=refs, expected_wrong=expected)
    assert (fit.combiner, fit.reason, fit.weights, fit.cv) == (whole.combiner, whole.reason, whole.weights, whole.cv)
    assert fit.auroc == whole.auroc and fit.checks == whole.checks
    np.testing.assert_array_equal(fit.score(report), whole.score)
    ragged = SignalStats(list(report.signals), keep)
    ragged.add(NoiseReport({k: _slice(s, 0, 10) for k, s in report.signals.items()}, report.score[:10]), winner[:10])
    with pytest.raises(ValueError, match="multiples"):  # a chunk that is not a multiple of the sum blocks
        ragged.add(part, winner[:len(part.score)])


def _slice(signal, start, stop):
    from dataclasses import replace
    return replace(signal, values=signal.values[start:stop], severity=signal.severity[start:stop],
                   flagged=signal.flagged[start:stop])
