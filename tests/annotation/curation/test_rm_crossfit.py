"""Cross-fitted reward margins (annotation/curation/rm_crossfit.py): no model scores a pair it was trained on."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from annotation.curation.rm_crossfit import (
    FINE_TUNED,
    HEADS,
    NONE,
    FineTuned,
    crossfit_fold_ids,
    crossfit_head_margins,
    crossfit_margins,
)
from annotation.curation.rm_ensemble import BTHead, pair_features


def _pairs(n=300, d=60, flip=0.2, seed=0):
    """Embeddings (n, 2, d) whose true preference is along one direction, and labels with `flip` of them flipped."""
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 2, d))
    emb[:, :, 0] *= 5
    truth = (emb[:, 1, 0] > emb[:, 0, 0]).astype(int)  # B is better when its first coordinate is larger
    flipped = rng.random(n) < flip
    return emb, np.where(flipped, 1 - truth, truth), flipped


def test_every_pair_is_scored_by_heads_that_never_saw_it():
    ids = crossfit_fold_ids(23, folds=5, repeats=3, seed=1)
    assert ids.shape == (3, 23)
    for row in ids:  # every pair in exactly one fold, folds near-equal
        assert sorted(np.bincount(row).tolist()) == [4, 4, 5, 5, 5]
    assert not np.array_equal(ids[0], ids[1])  # the repeats partition differently
    # A pair's out-of-fold margin equals the margin of a head fitted without its fold, by hand.
    emb, winner, _ = _pairs(n=40, d=8)
    chosen, rejected = emb[np.arange(40), winner], emb[np.arange(40), 1 - winner]
    margins = crossfit_head_margins(chosen, rejected, folds=4, repeats=2, seed=3)
    fold = crossfit_fold_ids(40, folds=4, repeats=2, seed=3)[0]
    delta = pair_features(chosen, rejected)
    held = fold == 0
    expected = BTHead().fit(delta[~held]).margin(delta[held])
    np.testing.assert_allclose(margins[0, held], expected)


def test_cross_fitted_margins_find_flipped_labels_that_in_sample_margins_hide():
    """A head fitted on all pairs (d large against n) learns the flips too: its margins rank them far worse."""
    emb, winner, flipped = _pairs(n=200, d=150, flip=0.2, seed=2)
    rows = np.arange(len(winner))
    chosen, rejected = emb[rows, winner], emb[rows, 1 - winner]
    in_sample = BTHead(l2=0.01).fit(pair_features(chosen, rejected)).margin(pair_features(chosen, rejected))
    result = crossfit_margins(winner, embeddings=emb, l2=0.01, seed=0)
    crossfit = result.as_ensemble().mean
    auroc_in = roc_auc_score(flipped, -in_sample)
    auroc_cross = roc_auc_score(flipped, -crossfit)
    assert auroc_cross > 0.72 and auroc_cross > auroc_in + 0.04, (auroc_in, auroc_cross)
    assert (in_sample > 0).all()  # in sample, every label -- flipped or not -- looks right
    assert (crossfit[flipped] < 0).mean() > 0.6 > (crossfit[~flipped] < 0).mean()  # out of sample, flips show
    assert not result.as_ensemble().in_train.any()


def test_a_fine_tuned_model_scores_only_the_pairs_it_did_not_train_on():
    emb, winner, _ = _pairs(n=60, d=10, flip=0.0, seed=4)
    winner = winner.copy()
    winner[:3] = 2  # ties: no pair, no margin
    trained = np.zeros(60, bool)
    trained[:40] = True  # its version's train split
    own = np.linspace(-10, 10, 60)  # its own logits: a wide scale
    result = crossfit_margins(winner, embeddings=emb, fine_tuned=[FineTuned(7, own, trained, 3)])
    assert (result.source[:3] == NONE).all() and np.isnan(result.margins[:, :3]).all()
    assert (result.source[3:40] == HEADS).all()
    assert (result.source[40:] == FINE_TUNED).all()
    # on its pairs: one value per item in every row, rescaled to the heads' spread (sign and order kept)
    fine = result.margins[:, 40:]
    assert np.ptp(fine, axis=0).max() == 0
    heads_spread = np.mean([row[3:40].std() for row in crossfit_margins(winner[:40], embeddings=emb[:40]).margins])
    assert np.all(np.diff(fine[0]) > 0) and np.all(np.sign(fine[0]) == np.sign(own[40:]))
    assert fine[0].std() == pytest.approx(heads_spread, rel=0.35)  # heads refitted on 40 vs 60 items: close
    summary = result.summary()
    assert summary["source"] == "fine_tuned+heads"
    assert (summary["fine_tuned_pairs"], summary["head_pairs"]) == (20, 37)
    assert summary["fine_tuned_models"] == [{"model_id": 7, "trained_on_version": 3, "trained_pairs": 37,
                                             "scored_pairs": 20}]


def test_without_heads_a_fine_tuned_model_keeps_its_scale_and_trained_pairs_get_nothing():
    winner = np.array([0, 1, 0, 1, 2])
    own = np.array([3.0, -1.0, 2.0, 5.0, 9.0])
    trained = np.array([True, False, False, False, False])
    result = crossfit_margins(winner, fine_tuned=[FineTuned(1, own, trained)])
    assert np.isnan(result.margins[:, 0]).all() and np.isnan(result.margins[:, 4]).all()
    np.testing.assert_allclose(result.margins[0, 1:4], [-1.0, 2.0, 5.0])
    assert result.summary()["source"] == "fine_tuned"
    assert crossfit_margins(winner) is None  # no embeddings, no model: no signal
    assert crossfit_margins(winner, fine_tuned=[FineTuned(1, own, np.ones(5, bool))]) is None


def test_too_few_pairs_fit_no_heads():
    emb, winner, _ = _pairs(n=12, d=4)
    assert crossfit_margins(winner, embeddings=emb, min_pairs=20) is None
    with pytest.raises(ValueError, match="folds"):
        crossfit_fold_ids(10, folds=1)
