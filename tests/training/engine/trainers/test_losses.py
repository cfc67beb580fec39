"""PRO and LiPO-lambda (training/engine/trainers/losses.py) against values worked out by hand."""
import math

import torch

from training.engine.trainers.losses import graded_labels, lipo_lambda_loss, pro_loss


def test_pro_loss_of_a_strict_ranking_is_the_sum_of_softmax_terms():
    """Scores s = (2, 1, 0) for responses ranked best first, temperature 1.

    k=1: -log(e^2 / (e^2 + e^1 + e^0)) = log(7.389 + 2.718 + 1.000) - 2 = log(11.107) - 2 = 0.4076
    k=2: -log(e^1 / (e^1 + e^0))      = log(2.718 + 1.000) - 1       = log(3.718) - 1  = 0.3133
    k=3: nothing below it, no term.    total = 0.7209
    """
    expected = (math.log(math.e**2 + math.e + 1) - 2) + (math.log(math.e + 1) - 1)
    loss = pro_loss(torch.tensor([[2.0, 1.0, 0.0]]), torch.tensor([[0, 1, 2]]))
    assert abs(expected - 0.7209) < 1e-4
    assert torch.allclose(loss, torch.tensor([expected]), atol=1e-6)


def test_pro_loss_follows_the_ranking_not_the_position_and_divides_by_the_temperature():
    """The same list stored in another order gives the same loss; temperature 2 halves the scores:
    z = (1, 0.5, 0): log(e + e^0.5 + 1) - 1 + log(e^0.5 + 1) - 0.5 = 0.5514 + 0.4741 = 1.0255."""
    shuffled = pro_loss(torch.tensor([[0.0, 2.0, 1.0]]), torch.tensor([[2, 0, 1]]))
    assert torch.allclose(shuffled, pro_loss(torch.tensor([[2.0, 1.0, 0.0]]), torch.tensor([[0, 1, 2]])))
    expected = (math.log(math.e + math.exp(0.5) + 1) - 1) + (math.log(math.exp(0.5) + 1) - 0.5)
    hot = pro_loss(torch.tensor([[2.0, 1.0, 0.0]]), torch.tensor([[0, 1, 2]]), temperature=2.0)
    assert torch.allclose(hot, torch.tensor([expected]), atol=1e-6)


def test_pro_loss_with_ties_and_padding():
    """Ranks (0, 1, 1, pad): only y_1 has responses below it; the tied pair does not compete; pad is ignored.
    s = (1, 0, 0, 99): -log(e^1 / (e^1 + e^0 + e^0)) = log(e + 2) - 1 = 0.5514. A second list of two:
    s = (0, 1) ranks (0, 1): log(1 + e) - 0 = 1.3133 (the worse one scores higher: a larger loss)."""
    loss = pro_loss(torch.tensor([[1.0, 0.0, 0.0, 99.0], [0.0, 1.0, 0.0, 0.0]]),
                    torch.tensor([[0, 1, 1, -1], [0, 1, -1, -1]]))
    assert torch.allclose(loss, torch.tensor([math.log(math.e + 2) - 1, math.log(1 + math.e)]), atol=1e-6)


def test_graded_labels_count_the_groups_below():
    assert graded_labels(torch.tensor([[0, 1, 1, 2], [0, 1, -1, -1]])).tolist() == [[2, 1, 1, 0], [1, 0, 0, 0]]


def test_lipo_lambda_loss_by_hand():
    """Rewards s = (0.5, 1.0, 0.0), gold ranks (0, 1, 2) -> psi = (2, 1, 0), G = 2^psi - 1 = (3, 1, 0).
    Sorted by s: y_2 (1.0) first, y_1 (0.5) second, y_3 (0.0) third -> tau = (2, 1, 3).
    1/D(tau) = 1/log2(1 + tau) = (1/log2 3, 1/log2 2, 1/log2 4) = (0.6309, 1, 0.5).
    (1,2): Delta = |3-1| * |0.6309 - 1|   = 0.7381; log(1 + e^-(0.5-1.0)) = log(1 + e^0.5)  = 0.9741 -> 0.7190
    (1,3): Delta = |3-0| * |0.6309 - 0.5| = 0.3928; log(1 + e^-(0.5-0.0)) = log(1 + e^-0.5) = 0.4741 -> 0.1862
    (2,3): Delta = |1-0| * |1 - 0.5|      = 0.5;    log(1 + e^-(1.0-0.0)) = log(1 + e^-1)   = 0.3133 -> 0.1566
    total = 1.0618
    """
    inv = [1 / math.log2(3), 1.0, 0.5]
    terms = [
        2 * abs(inv[0] - inv[1]) * math.log(1 + math.exp(0.5)),
        3 * abs(inv[0] - inv[2]) * math.log(1 + math.exp(-0.5)),
        1 * abs(inv[1] - inv[2]) * math.log(1 + math.exp(-1.0)),
    ]
    loss = lipo_lambda_loss(torch.tensor([[0.5, 1.0, 0.0]]), torch.tensor([[0, 1, 2]]))
    assert abs(sum(terms) - 1.0618) < 1e-3
    assert torch.allclose(loss, torch.tensor([sum(terms)]), atol=1e-6)


def test_lipo_lambda_loss_ignores_ties_and_padding_and_prefers_the_right_order():
    """Ranks (0, 1, 1, pad): pairs (1,2) and (1,3) only. A list scored in the gold order has a lower loss than
    the same list scored in reverse, and the gradient pushes the best response's reward up."""
    ranks = torch.tensor([[0, 1, 1, -1]])
    right = lipo_lambda_loss(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), ranks)
    wrong = lipo_lambda_loss(torch.tensor([[0.0, 1.0, 1.0, 0.0]]), ranks)
    assert right.item() < wrong.item()
    rewards = torch.tensor([[0.0, 0.0, 0.5, 7.0]], requires_grad=True)
    lipo_lambda_loss(rewards, ranks).sum().backward()
    assert rewards.grad[0, 0] < 0 and rewards.grad[0, 1] >= 0 and rewards.grad[0, 2] > 0 and rewards.grad[0, 3] == 0


def test_pro_loss_gradient_raises_the_better_response():
    scores = torch.tensor([[0.0, 0.0, 0.0]], requires_grad=True)
    pro_loss(scores, torch.tensor([[0, 1, 2]])).sum().backward()
    assert scores.grad[0, 0] < 0 < scores.grad[0, 2]
