"""Each loss against its textbook formula, computed independently with probabilities."""

import math

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.losses import LOSSES, gradient_penalty, r1_penalty

torch.manual_seed(0)
REAL = torch.randn(64) * 2 + 1
FAKE = torch.randn(64) * 2 - 1


def sigmoid(t: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + torch.exp(-t.double()))


def test_bce_discriminator_loss_matches_log_probabilities():
    expected = -(torch.log(sigmoid(REAL)).mean() + torch.log(1 - sigmoid(FAKE)).mean())
    for name in ("ns", "minimax"):
        got = LOSSES.get(name).d_loss(REAL, FAKE)
        assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_minimax_generator_loss_is_log_one_minus_d():
    expected = torch.log(1 - sigmoid(FAKE)).mean()
    assert LOSSES.get("minimax").g_loss(FAKE).item() == pytest.approx(expected.item(), rel=1e-5)


def test_nonsaturating_generator_loss_is_minus_log_d():
    expected = -torch.log(sigmoid(FAKE)).mean()
    assert LOSSES.get("ns").g_loss(FAKE).item() == pytest.approx(expected.item(), rel=1e-5)


def test_nonsaturating_gradient_does_not_vanish_where_minimax_does():
    fake = torch.tensor([-10.0], requires_grad=True)  # D confidently rejects the sample
    (g_ns,) = torch.autograd.grad(LOSSES.get("ns").g_loss(fake), fake)
    (g_mm,) = torch.autograd.grad(LOSSES.get("minimax").g_loss(fake), fake)
    assert abs(g_ns.item()) > 0.99 and abs(g_mm.item()) < 1e-4


def test_hinge_losses():
    expected_d = torch.clamp(1 - REAL, min=0).mean() + torch.clamp(1 + FAKE, min=0).mean()
    assert LOSSES.get("hinge").d_loss(REAL, FAKE).item() == pytest.approx(expected_d.item())
    assert LOSSES.get("hinge").g_loss(FAKE).item() == pytest.approx(-FAKE.mean().item())


def test_wasserstein_losses():
    assert LOSSES.get("wasserstein").d_loss(REAL, FAKE).item() == pytest.approx(
        (FAKE.mean() - REAL.mean()).item())
    assert LOSSES.get("wasserstein").g_loss(FAKE).item() == pytest.approx(-FAKE.mean().item())


def test_least_squares_losses():
    d = sum((r - 1) ** 2 for r in REAL.tolist()) / 128 + sum(f**2 for f in FAKE.tolist()) / 128
    g = sum((f - 1) ** 2 for f in FAKE.tolist()) / 128
    assert LOSSES.get("lsgan").d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-5)
    assert LOSSES.get("lsgan").g_loss(FAKE).item() == pytest.approx(g, rel=1e-5)


def test_equilibrium_values():
    """At D = 1/2 everywhere the BCE discriminator loss is 2·log 2 and accuracy is undefined-ish."""
    zeros = torch.zeros(10)
    assert LOSSES.get("ns").d_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))


def test_accuracy_counts_correct_decisions():
    real = torch.tensor([1.0, 2.0, -1.0, 3.0])  # 3 of 4 called real
    fake = torch.tensor([-1.0, 0.5, -2.0, -3.0])  # 3 of 4 called fake
    assert LOSSES.get("ns").accuracy(real, fake).item() == pytest.approx(6 / 8)
    # least squares decides at 0.5
    assert LOSSES.get("lsgan").accuracy(torch.tensor([0.6]), torch.tensor([0.4])).item() == 1.0


def test_gradient_penalty_matches_closed_form_for_a_linear_critic():
    """For D(x) = w·x the input gradient is w everywhere, so GP = (‖w‖ − 1)²."""
    critic = nn.Linear(5, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0, 0.0]]))
    real, fake = torch.randn(16, 5), torch.randn(16, 5)
    gp = gradient_penalty(lambda x: critic(x).squeeze(1), real, fake)
    assert gp.item() == pytest.approx((5.0 - 1.0) ** 2)
    gp.backward()  # differentiable w.r.t. the critic's weights (create_graph)
    assert critic.weight.grad is not None


def test_unknown_loss_lists_valid_names():
    with pytest.raises(GankitError, match="hinge.*lsgan.*minimax.*ns.*wasserstein"):
        LOSSES.get("nope")


def test_r1_penalty_is_the_mean_squared_gradient_norm_on_real_data():
    x = torch.randn(6, 3)
    w = torch.tensor([1.0, -2.0, 0.5])
    assert torch.allclose(r1_penalty(lambda v: v @ w, x), (w**2).sum())
    # D(x) = Σ x² has gradient 2x: penalty = mean ‖2x‖²
    assert torch.allclose(r1_penalty(lambda v: (v**2).sum(dim=1), x),
                          (4 * (x**2).sum(dim=1)).mean())
