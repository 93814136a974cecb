"""lerp and slerp against their textbook formulas, computed independently with numpy."""

import math

import numpy as np
import pytest
import torch

from gankit.latent.paths import interpolation_path, lerp, slerp


def textbook_slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    omega = math.acos(float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))))
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


def unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True)


def test_lerp_matches_the_formula_and_hits_the_ends():
    a, b = torch.randn(4, 6), torch.randn(4, 6)
    for t in (0.0, 0.25, 0.5, 1.0):
        expected = a.numpy() + t * (b.numpy() - a.numpy())
        np.testing.assert_allclose(lerp(a, b, t).numpy(), expected, atol=1e-6)
    assert torch.equal(lerp(a, b, 0.0), a) and torch.equal(lerp(a, b, 1.0), b)


def test_slerp_of_unit_vectors_is_the_textbook_formula_with_constant_norm():
    gen = torch.Generator().manual_seed(0)
    a, b = unit(torch.randn(5, 16, generator=gen)), unit(torch.randn(5, 16, generator=gen))
    for t in np.linspace(0, 1, 11):
        got = slerp(a, b, float(t))
        for i in range(5):
            np.testing.assert_allclose(got[i].numpy(), textbook_slerp(a[i].numpy().astype(
                np.float64), b[i].numpy().astype(np.float64), float(t)), atol=1e-5)
        np.testing.assert_allclose(got.norm(dim=1).numpy(), 1.0, atol=1e-5)
    np.testing.assert_allclose(slerp(a, b, 0.0).numpy(), a.numpy(), atol=1e-6)
    np.testing.assert_allclose(slerp(a, b, 1.0).numpy(), b.numpy(), atol=1e-6)


def test_slerp_keeps_the_norm_where_lerp_dips():
    """Two Gaussian codes of equal norm: slerp stays on the shell, lerp cuts through it."""
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(64, generator=gen)
    b = unit(torch.randn(64, generator=gen)) * a.norm()
    assert slerp(a, b, 0.5).norm() == pytest.approx(float(a.norm()), rel=1e-5)
    assert lerp(a, b, 0.5).norm() < 0.8 * a.norm()


def test_slerp_moves_the_norm_linearly_between_different_norms():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 1.0])
    for t in (0.0, 0.3, 0.5, 1.0):
        got = slerp(a, b, t)
        assert float(got.norm()) == pytest.approx(3.0 + t * (1.0 - 3.0), abs=1e-6)
        angle = math.atan2(float(got[1]), float(got[0]))
        assert angle == pytest.approx(t * math.pi / 2, abs=1e-6)  # uniform angular speed


@pytest.mark.parametrize("scale", [1.0, 2.0, 1.0 + 1e-9])
def test_parallel_vectors_give_no_nan_and_stay_on_the_line(scale):
    a = torch.tensor([[1.0, 2.0, -2.0]])
    b = a * scale
    for t in (0.0, 0.3, 1.0):
        got = slerp(a, b, t)
        assert torch.isfinite(got).all()
        np.testing.assert_allclose(got.numpy(), lerp(a, b, t).numpy(), atol=1e-6)


def test_opposite_vectors_turn_through_a_perpendicular_without_nan():
    a = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    b = -a
    mid = slerp(a, b, 0.5)
    assert torch.isfinite(mid).all()
    np.testing.assert_allclose(mid.norm(dim=1).numpy(), a.norm(dim=1).numpy(), atol=1e-6)
    np.testing.assert_allclose((mid * a).sum(1).numpy(), 0.0, atol=1e-6)  # a quarter turn
    np.testing.assert_allclose(slerp(a, b, 1.0).numpy(), b.numpy(), atol=1e-6)


def test_zero_vector_endpoint_gives_no_nan():
    a, b = torch.zeros(1, 3), torch.tensor([[0.0, 3.0, 4.0]])
    got = slerp(a, b, 0.4)
    assert torch.isfinite(got).all()
    np.testing.assert_allclose(got.numpy(), 0.4 * b.numpy(), atol=1e-6)


def test_interpolation_path_has_exact_ends_and_the_right_shape():
    a, b = torch.randn(3, 8), torch.randn(3, 8)
    for mode in ("linear", "spherical"):
        path = interpolation_path(a, b, 7, mode)
        assert path.shape == (7, 3, 8)
        assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    np.testing.assert_allclose(interpolation_path(a, b, 5, "spherical")[2].numpy(),
                               slerp(a, b, 0.5).numpy(), atol=1e-6)
    with pytest.raises(ValueError):
        interpolation_path(a, b, 1)
