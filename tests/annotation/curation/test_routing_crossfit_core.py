"""annotation.curation.routing's out-of-sample evaluation and the stored router, without Django."""
import numpy as np
import pytest

from annotation.curation.routing import (
    GainModel,
    budget_report,
    crossfit_gain,
    crossfit_scores,
    gain_model_dumps,
    gain_model_loads,
    training_fingerprint,
)


def test_budget_report_counts_the_errors_caught_against_random_by_hand():
    gain = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.05])
    target = np.array([1, 0, 1, 0, 0, 1])
    report = budget_report(gain, target, budget_share=0.5, folds=3)
    # top 3 by gain: items 0, 1, 2 -> 2 of the 3 errors; random: 3 × 3/6 = 1.5; AUROC: 5 of 9 pairs ordered
    assert report == {"items": 6, "ai_errors": 3, "budget": 3, "caught": 2, "random_caught": 1.5, "gain": 0.5,
                      "recall": pytest.approx(0.6667), "auroc": pytest.approx(5 / 9, abs=1e-4), "folds": 3}


def test_learned_gains_come_from_models_that_never_saw_the_item():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    y = (x[:, 0] + 0.3 * rng.normal(size=80) > 0.5).astype(float)
    gain, target, folds = crossfit_scores(x, ["a", "b", "c"], y, policy="learned", folds=4, seed=1)
    assert folds == 4 and np.array_equal(target, y.astype(int))
    # fold by fold, by hand: the same splitter, a model fitted without the fold
    from sklearn.model_selection import StratifiedKFold

    for train, test in StratifiedKFold(n_splits=4, shuffle=True, random_state=1).split(x, y.astype(int)):
        np.testing.assert_allclose(gain[test], GainModel(seed=1).fit(x[train], y[train]).predict(x[test]))
    assert crossfit_gain(x, ["a", "b", "c"], y, policy="learned", budget_share=0.25, folds=4, seed=1)["auroc"] > 0.8
    y_one = np.zeros(80)
    y_one[0] = 1  # a single known AI error: nothing to measure
    assert crossfit_gain(x, ["a", "b", "c"], y_one, policy="learned", budget_share=0.25) is None


def test_a_stored_router_round_trips_and_its_fingerprint_follows_the_training_rows():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40, 2)), (rng.random(40) < 0.5).astype(float)
    model = GainModel(seed=0).fit(x, y)
    again = gain_model_loads(gain_model_dumps(model))
    np.testing.assert_allclose(again.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="not a fitted GainModel"):
        gain_model_loads(gain_model_dumps(GainModel()))
    names = ["p", "q"]
    base = training_fingerprint(x, y, names, seed=0)
    unlabelled = np.concatenate([y, [np.nan]])  # a new item without both labels: same training rows
    assert training_fingerprint(np.vstack([x, [[9, 9]]]), unlabelled, names, seed=0) == base
    flipped = y.copy()
    flipped[0] = 1 - flipped[0]
    assert len({base, training_fingerprint(x, flipped, names, seed=0), training_fingerprint(x, y, names, seed=1),
                training_fingerprint(x, y, ["p", "r"], seed=0)}) == 4
