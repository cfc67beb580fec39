"""The reward-model ensemble finds flipped labels when the preference is a known linear function."""
import numpy as np
import pytest
from scipy.optimize import minimize

from annotation.curation.rm_ensemble import (
    BTHead, EnsembleMargins, ensemble_splits, pair_features, rm_ensemble_for_items, rm_ensemble_margins,
)


def synthetic(n=400, d=8, flip=0.1, seed=1):
    """Pairs whose true reward is w·φ; a `flip` share of them labelled the wrong way round."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d)
    a, b = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    a_better = a @ w > b @ w
    chosen = np.where(a_better[:, None], a, b)
    rejected = np.where(a_better[:, None], b, a)
    flipped = rng.random(n) < flip
    chosen[flipped], rejected[flipped] = rejected[flipped].copy(), chosen[flipped].copy()
    return chosen, rejected, flipped


def test_flipped_labels_get_negative_mean_margin():
    chosen, rejected, flipped = synthetic()
    result = rm_ensemble_margins(chosen, rejected, k=5, seed=0)
    assert result.margins.shape == (5, 400)
    assert (result.mean[flipped] < 0).mean() > 0.9
    assert (result.mean[~flipped] > 0).mean() > 0.95


def test_ensemble_members_train_on_different_splits_and_disagree_a_little():
    chosen, rejected, _ = synthetic()
    result = rm_ensemble_margins(chosen, rejected, k=5, seed=0)
    distinct = {tuple(np.flatnonzero(row)) for row in result.in_train}
    assert len(distinct) == 5
    assert (result.std > 0).all()
    held_out = result.held_out_mean()
    assert np.isfinite(held_out).mean() > 0.9  # bootstrap leaves ~1/e of pairs out of each model


def test_kfold_splits_leave_each_pair_out_exactly_once():
    splits = ensemble_splits(10, k=5, split="kfold", seed=3)
    left_out = np.zeros(10, int)
    for rows in splits:
        assert len(set(rows.tolist())) == 8
        left_out[np.setdiff1d(np.arange(10), rows)] += 1
    assert left_out.tolist() == [1] * 10


def test_same_seed_same_margins_other_seed_other_margins():
    chosen, rejected, _ = synthetic(n=100)
    one = rm_ensemble_margins(chosen, rejected, seed=7).margins
    assert np.array_equal(one, rm_ensemble_margins(chosen, rejected, seed=7).margins)
    assert not np.allclose(one, rm_ensemble_margins(chosen, rejected, seed=8).margins)


def test_bt_head_matches_direct_minimisation_of_the_bt_loss():
    """sklearn's C is set so the penalty is ½·l2·‖w‖² per pair: same optimum as scipy on the BT loss."""
    chosen, rejected, _ = synthetic(n=60, d=4, flip=0.2, seed=5)
    delta = chosen - rejected
    head = BTHead(l2=2.0).fit(delta)

    def loss(w):
        return np.logaddexp(0.0, -delta @ w).sum() + 0.5 * 2.0 * w @ w
    direct = minimize(loss, np.zeros(4), method="BFGS").x
    assert head.coef_ == pytest.approx(direct, abs=1e-3)
    assert head.margin(-delta) == pytest.approx(-head.margin(delta))  # swapping a pair flips its margin


def test_prompt_interaction_doubles_the_features():
    x = np.ones((3, 2))
    assert pair_features(x * 2, x, x * 3).tolist() == [[1.0, 1.0, 3.0, 3.0]] * 3


def test_items_with_a_tie_or_no_winner_get_nan_margins():
    chosen, rejected, _ = synthetic(n=40, d=4, flip=0.0)
    embeddings = np.stack([chosen, rejected], axis=1)  # A = chosen
    winner = np.zeros(40, np.int8)
    winner[:2] = [2, -1]
    winner[2] = 1  # B declared the winner: its margin is rejected − chosen, so negative
    result = rm_ensemble_for_items(embeddings, winner, k=3)
    assert np.isnan(result.margins[:, :2]).all() and not result.in_train[:, :2].any()
    assert result.mean[2] < 0 < np.median(result.mean[3:])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"k": 1}, "k >= 2"), ({"split": "halves"}, "bootstrap' or 'kfold"),
])
def test_bad_options_are_named(kwargs, message):
    chosen, rejected, _ = synthetic(n=20, d=2)
    with pytest.raises(ValueError, match=message):
        rm_ensemble_margins(chosen, rejected, **kwargs)


def test_margins_summary_properties():
    m = EnsembleMargins(margins=np.array([[1.0, -1.0], [3.0, -1.0]]), in_train=np.array([[True, False], [True, True]]))
    assert m.mean.tolist() == [2.0, -1.0] and m.std.tolist() == [1.0, 0.0] and m.k == 2
    held = m.held_out_mean()
    assert np.isnan(held[0]) and held[1] == -1.0
