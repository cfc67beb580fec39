"""Pairwise aggregation: majority, Dawid-Skene and MACE on hand-worked fixtures, and against crowd-kit."""
import numpy as np
import pytest
from crowdkit.aggregation import MACE as CrowdMACE
from crowdkit.aggregation import DawidSkene as CrowdDawidSkene

from annotation.curation.aggregation import METHODS, aggregate_pairwise
from annotation.curation.aggregation.dawid_skene import DawidSkene
from annotation.curation.votes import A, B, NONE, TIE, PairwiseVotes

from .agg_fixtures import by_appearance, crowdkit_frame, pairwise, synthetic

# crowd-kit 1.4 calls pandas APIs that pandas 3 deprecates; its warnings are not about our code
pytestmark = pytest.mark.filterwarnings("ignore:::crowdkit")

# item 0: A A B; item 1: A B (a draw); item 2: no votes; item 3: B B B (unanimous)
SMALL = [(0, 0, A), (0, 1, A), (0, 2, B), (1, 0, A), (1, 1, B), (3, 0, B), (3, 1, B), (3, 2, B)]


def test_majority_hand_worked():
    """2 of 3 say A -> A with 2/3; a 1-1 draw between A and B is a tie nobody voted for; no votes -> none."""
    c = aggregate_pairwise(pairwise(SMALL, n_items=4), method="majority")
    assert c.winner.tolist() == [A, TIE, NONE, B]
    np.testing.assert_allclose(c.probability, [2 / 3, 0.0, np.nan, 1.0])
    np.testing.assert_allclose(c.agreement, [2 / 3, 0.0, np.nan, 1.0])
    np.testing.assert_allclose(c.posterior[2], [1 / 3] * 3)
    assert c.n_votes.tolist() == [3, 2, 0, 3]


def test_majority_competence_is_leave_one_out_agreement():
    """ann2: item 0 others say A, A (ann2 said B: wrong); item 3 others B, B (right) -> 1/2.
    ann0 and ann1 alike: item 0 others A, B draw -> tie (wrong); item 1 the other's opposite vote (wrong);
    item 3 right -> 1/3."""
    c = aggregate_pairwise(pairwise(SMALL, n_items=4), method="majority")
    np.testing.assert_allclose(c.competence, [1 / 3, 1 / 3, 1 / 2])


@pytest.mark.parametrize("method", METHODS)
def test_unanimous_item_has_agreement_one(method):
    votes, _ = synthetic(n_items=200, n_annotators=8, per_item=3, accuracy=np.full(8, 0.8))
    c = aggregate_pairwise(votes, method=method)
    counts = np.zeros((votes.n_items, 3), int)
    np.add.at(counts, (votes.items, votes.values), 1)
    unanimous = counts.max(axis=1) == 3
    assert unanimous.sum() > 50
    assert (c.agreement[unanimous] == 1.0).all()
    assert (c.winner[unanimous] == counts[unanimous].argmax(axis=1)).all()
    assert (c.probability[unanimous] > 0.9).all()


@pytest.mark.parametrize("method", METHODS)
def test_sources_and_counts(method):
    """human-only, judge-only, mixed and empty items; include_judges=False drops the judge's votes."""
    votes = pairwise([(0, 0, A), (0, 1, A), (1, 2, B), (2, 0, A), (2, 2, A)], n_items=4, judges=(2,))
    c = aggregate_pairwise(votes, method=method)
    assert c.source.tolist() == ["human", "ai", "hybrid", ""]
    assert c.n_human.tolist() == [2, 0, 1, 0] and c.n_judge.tolist() == [0, 1, 1, 0]
    humans = aggregate_pairwise(votes, method=method, include_judges=False)
    assert humans.source.tolist() == ["human", "", "human", ""]
    assert humans.n_judge.tolist() == [0, 0, 0, 0]
    assert humans.winner[1] == NONE
    assert humans.competence[2] == pytest.approx(humans.posterior[2, A])  # its one counted vote, judged post hoc


@pytest.mark.parametrize("method", METHODS)
def test_gold_overrides(method):
    """A reviewer's class wins with probability 1, even against every vote and on an item without votes."""
    votes = pairwise([(0, 0, A), (0, 1, A), (1, 0, B)], n_items=3, gold=[B, NONE, TIE])
    c = aggregate_pairwise(votes, method=method)
    assert c.winner.tolist() == [B, B, TIE]
    assert c.is_gold.tolist() == [True, False, True]
    assert c.probability[0] == 1.0 and c.probability[2] == 1.0
    assert c.agreement[0] == 0.0 and np.isnan(c.agreement[2])


@pytest.mark.parametrize("method", METHODS)
def test_empty_and_single_vote(method):
    empty = pairwise([], n_items=2, n_annotators=1)
    c = aggregate_pairwise(empty, method=method)
    assert c.winner.tolist() == [NONE, NONE] and np.isnan(c.probability).all() and np.isnan(c.competence).all()
    none = aggregate_pairwise(pairwise([], n_items=0, n_annotators=0), method=method)
    assert len(none.winner) == 0 and len(none.competence) == 0
    one = aggregate_pairwise(pairwise([(0, 0, B)]), method=method)
    assert one.winner.tolist() == [B] and one.agreement.tolist() == [1.0]


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown aggregation method"):
        aggregate_pairwise(pairwise(SMALL), method="vote")


@pytest.mark.parametrize("method", ["dawid_skene", "mace"])
def test_classes_nobody_uses_get_no_mass(method):
    votes, _ = synthetic(n_items=100, n_annotators=5, per_item=3, accuracy=np.full(5, 0.7), priors=(0.5, 0.5, 0))
    votes = votes.subset(votes.values != TIE)
    c = aggregate_pairwise(votes, method=method)
    assert (c.posterior[:, TIE] == 0).all() and (c.winner != TIE).all()


def _expert_and_two_random(seed=1):
    """Annotator 0 is right 95 % of the time, 1 and 2 toss coins, 3 and 4 are right 75 % of the time.

    All five vote on the first 800 items (so EM can tell who is reliable: coin tossers agree with nobody);
    only 0, 1 and 2 vote on the last 400, where the two coins often outvote the expert under majority.
    """
    rng = np.random.default_rng(seed)
    n, shared = 1200, 800
    truth = rng.integers(0, 2, size=n)
    accuracy = np.array([0.95, 0.5, 0.5, 0.75, 0.75])
    votes = np.where(rng.random((5, n)) < accuracy[:, None], truth, 1 - truth)
    rows = [(i, j, votes[j, i]) for j in range(5) for i in range(n) if j < 3 or i < shared]
    return pairwise(rows), truth, votes[0], votes[1:3], shared


@pytest.mark.parametrize("method", ["dawid_skene", "mace"])
def test_reliable_annotator_outvotes_two_random_ones(method):
    votes, truth, expert, randoms, shared = _expert_and_two_random()
    c = aggregate_pairwise(votes, method=method)
    outvoted = (randoms[0] == randoms[1]) & (randoms[0] != expert)
    outvoted[:shared] = False
    assert outvoted.sum() > 50
    assert (c.winner[outvoted] == expert[outvoted]).mean() > 0.95
    assert c.competence[0] > 0.85 and c.competence[1:3].max() < 0.65
    assert (c.winner == truth).mean() > (aggregate_pairwise(votes, method="majority").winner == truth).mean()


def test_dawid_skene_gold_resolutions_teach_competence():
    """Two annotators who always disagree (one always right): without gold nothing says which; with a few
    resolved items Dawid-Skene learns it and follows the right one everywhere."""
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, size=200)
    rows = [(i, 0, t) for i, t in enumerate(truth)] + [(i, 1, 1 - t) for i, t in enumerate(truth)]
    gold = np.full(200, NONE)
    gold[:10] = truth[:10]
    c = aggregate_pairwise(pairwise(rows, gold=gold), method="dawid_skene")
    assert c.competence[0] > 0.9 and c.competence[1] < 0.1
    assert (c.winner == truth).all()


def test_dawid_skene_matches_crowdkit():
    """Same EM (smoothing 0 = crowd-kit's clipping, same iterations): same labels, same competence."""
    accuracy = np.random.default_rng(0).uniform(0.4, 0.95, size=30)
    votes, _ = synthetic(n_items=1500, n_annotators=30, per_item=5, accuracy=accuracy)
    ours = aggregate_pairwise(votes, method="dawid_skene", smoothing=0.0, max_iter=100, tol=0.0)
    frame = crowdkit_frame(votes)
    ref = CrowdDawidSkene(n_iter=100, tol=-1.0).fit(frame)
    labels = ref.labels_.sort_index().to_numpy()
    assert (ours.winner == labels).mean() >= 0.99
    errors = ref.errors_  # index (worker, observed label), columns = true label
    priors = ref.priors_
    competence = np.array([sum(priors[t] * errors.loc[(w, t), t] for t in range(3)) for w in range(30)])
    np.testing.assert_allclose(ours.competence, by_appearance(frame, competence, 30), atol=0.01)
    np.testing.assert_allclose(ours.posterior, ref.probas_.sort_index()[[0, 1, 2]].to_numpy(), atol=0.02)


def test_mace_matches_crowdkit():
    accuracy = np.random.default_rng(1).uniform(0.4, 0.95, size=30)
    votes, _ = synthetic(n_items=1500, n_annotators=30, per_item=5, accuracy=accuracy, seed=1)
    ours = aggregate_pairwise(votes, method="mace")
    frame = crowdkit_frame(votes)
    ref = CrowdMACE(n_restarts=1, n_iter=50).fit(frame)
    probas = ref.probas_.sort_index()[[0, 1, 2]].to_numpy()
    assert (ours.winner == probas.argmax(axis=1)).mean() >= 0.99
    theta = ref.spamming_[:, 1] / ref.spamming_.sum(axis=1)
    np.testing.assert_allclose(ours.details["theta"], by_appearance(frame, theta, 30), atol=0.02)


def test_mace_spots_a_spammer():
    """An annotator who always answers A gets a low P(knows) and does not sway items."""
    accuracy = np.full(6, 0.85)
    votes, truth = synthetic(n_items=400, n_annotators=6, per_item=4, accuracy=accuracy, seed=2)
    values = np.where(votes.annotators == 0, A, votes.values).astype(np.int8)
    spammed = pairwise(np.c_[votes.items, votes.annotators, values])
    c = aggregate_pairwise(spammed, method="mace")
    assert c.details["theta"][0] < 0.5 < c.details["theta"][1:].min()
    assert c.competence[0] < c.competence[1:].min()
    assert (c.winner == truth).mean() > 0.9


class _WholeSetDawidSkene(DawidSkene):
    """The E-step as it was before it ran in blocks (one pass over every item, new arrays), for comparison."""

    @staticmethod
    def _e_step(log_pi, priors, log_mask, m, voted, n_votes, q, terms):
        log_q = np.asarray(m @ log_pi, dtype=np.float64).reshape(-1, 3)
        log_q += np.log(np.maximum(priors, 1e-10)) + log_mask
        top = log_q.max(axis=1, keepdims=True)
        whole = np.exp(log_q - top)
        total = whole.sum(axis=1, keepdims=True)
        whole /= total
        ll = float((np.log(total[voted, 0]) + top[voted, 0]).sum() / max(n_votes, 1))
        whole[~voted] = 1.0 / 3
        q[:] = whole
        return ll


@pytest.mark.parametrize("rows", [1, 7, 64, 10_000])
def test_dawid_skene_in_blocks_equals_the_whole_set_pass(rows, monkeypatch):
    """The E-step in blocks of items (bounded memory) gives bit-for-bit the posteriors, confusion matrices,
    competence, iterations and log-likelihood of one pass over every item: with and without unvoted items, gold."""
    from annotation.curation.aggregation import dawid_skene

    votes, _ = synthetic(n_items=300, n_annotators=6, per_item=3, accuracy=np.linspace(0.5, 0.9, 6), seed=3)
    keep = votes.items % 17 != 0  # some items without votes
    gold = np.full(votes.n_items, -1, dtype=np.int8)
    gold[::29] = 1
    votes = PairwiseVotes(items=votes.items[keep], annotators=votes.annotators[keep], values=votes.values[keep],
                          item_ids=votes.item_ids, annotator_ids=votes.annotator_ids,
                          annotator_is_judge=votes.annotator_is_judge, gold=gold)
    monkeypatch.setattr(dawid_skene, "E_STEP_ROWS", rows)
    for prior in (None, np.full(6, 0.8)):
        kwargs = {} if prior is None else {"prior_accuracy": prior, "prior_strength": 2.0}
        blocks, whole = DawidSkene(**kwargs).fit(votes), _WholeSetDawidSkene(**kwargs).fit(votes)
        assert np.array_equal(blocks.posterior_, whole.posterior_)
        assert np.array_equal(blocks.confusion_, whole.confusion_)
        assert np.array_equal(blocks.competence_, whole.competence_, equal_nan=True)
        assert (blocks.n_iter_, blocks.log_likelihood_) == (whole.n_iter_, whole.log_likelihood_)


def test_the_transposed_vote_matrix_view_sums_as_the_copy_did():
    """M.T is a CSC view of M (no copy): its products equal, bit for bit, those of the CSR copy used before."""
    from annotation.curation.aggregation._common import vote_matrix

    votes, _ = synthetic(n_items=5_000, n_annotators=30, per_item=3, accuracy=np.full(30, 0.7), seed=5)
    m, m_t = vote_matrix(votes)
    q = np.random.default_rng(1).random((votes.n_items, 3))
    assert np.array_equal(m_t @ q, m.T.tocsr() @ q)
    assert np.array_equal(np.asarray(m_t.sum(axis=1)).ravel(), np.asarray(m.T.tocsr().sum(axis=1)).ravel())


def test_the_vote_matrix_of_votes_in_item_order_is_the_canonical_one():
    """vote_matrix builds the CSR arrays directly when the votes come in item order (as the selectors give them):
    the same canonical matrix (sorted columns, repeated votes summed) as from unordered votes."""
    import scipy.sparse as sp

    from annotation.curation.aggregation._common import vote_matrix

    rng = np.random.default_rng(2)
    items = np.sort(rng.integers(0, 50, 400)).astype(np.int32)
    votes = PairwiseVotes(items=items, annotators=rng.integers(0, 6, 400).astype(np.int32),
                          values=rng.integers(0, 3, 400).astype(np.int8), item_ids=np.arange(60),
                          annotator_ids=np.arange(6), annotator_is_judge=np.zeros(6, bool))
    order = rng.permutation(400)  # the same votes, out of item order
    shuffled = PairwiseVotes(items=items[order], annotators=votes.annotators[order], values=votes.values[order],
                             item_ids=votes.item_ids, annotator_ids=votes.annotator_ids,
                             annotator_is_judge=votes.annotator_is_judge)
    direct, coo = vote_matrix(votes)[0], vote_matrix(shuffled)[0]
    assert direct.has_canonical_format and coo.has_canonical_format
    assert direct.nnz == coo.nnz < 400  # repeated (item, annotator, class) votes were summed
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(direct, name), getattr(coo, name))
    expected = sp.coo_matrix((np.ones(400), (items, votes.annotators * 3 + votes.values)), shape=(60, 18)).toarray()
    np.testing.assert_array_equal(direct.toarray(), expected)
