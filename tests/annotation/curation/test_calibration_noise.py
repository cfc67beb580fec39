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


def test_without_references_defaults_apply():
    report, winner, _, _ = _labelled()
    cal = noise_calibrate(report, winner=winner)
    assert cal.combiner == "default" and cal.dropped == [] and np.isnan(cal.auroc)
    np.testing.assert_allclose(cal.score, report.score)


def test_held_out_labels_drop_a_wrong_way_signal_from_the_default():
    """Too few labels to learn from (10 < min_references) still judge a direction: the wrong-way signal's
    weight becomes 0 in the default mean."""
    report, winner, truth, wrong = _labelled(n=400, seed=1)
    refs = np.full(400, -1)
    pick = np.r_[np.flatnonzero(wrong)[:8], np.flatnonzero(~wrong)[:8]]
    refs[pick] = truth[pick]
    cal = noise_calibrate(report, winner=winner, references=refs, min_references=50)
    assert cal.combiner == "default" and cal.dropped == ["rm_ensemble"]
    assert cal.weights["rm_ensemble"] == 0.0 and cal.weights["small_margin"] > 0


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
    assert cal.combiner != "default"
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
