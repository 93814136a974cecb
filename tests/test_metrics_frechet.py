"""Fréchet distance against closed forms and an eigenvalue formula computed independently."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.metrics import frechet
from gankit.metrics.frechet import feature_stats, fid, frechet_distance

RNG = np.random.default_rng(0)


def random_spd(d: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_by_eigenvalues(mu1, s1, mu2, s2) -> float:
    """Tr (S1 S2)^½ = Σ √λ of the symmetric S1^½ S2 S1^½ (same eigenvalues as S1 S2)."""
    r = psd_sqrt(s1)
    lam = np.clip(np.linalg.eigvalsh(r @ s2 @ r), 0, None)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(lam).sum())


def test_diagonal_covariances_match_closed_form():
    mu1, mu2 = RNG.standard_normal(5), RNG.standard_normal(5)
    a, b = RNG.uniform(0.1, 3, 5), RNG.uniform(0.1, 3, 5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert type(got) is float
    assert got == pytest.approx(expected, rel=1e-10)


def test_commuting_covariances_match_closed_form():
    q, _ = np.linalg.qr(RNG.standard_normal((6, 6)))
    a, b = RNG.uniform(0.1, 3, 6), RNG.uniform(0.1, 3, 6)
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    mu1, mu2 = RNG.standard_normal(6), RNG.standard_normal(6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_general_covariances_match_eigenvalue_formula_and_are_symmetric():
    s1, s2 = random_spd(7, RNG), random_spd(7, RNG)
    mu1, mu2 = RNG.standard_normal(7), RNG.standard_normal(7)
    expected = frechet_by_eigenvalues(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected, rel=1e-8)


def test_feature_stats_are_mean_and_unbiased_covariance():
    x = RNG.standard_normal((20, 3)).astype(np.float32).astype(np.float64)
    mu, sigma = feature_stats(torch.from_numpy(x).float())
    centred = x - x.sum(axis=0) / len(x)
    assert mu.dtype == sigma.dtype == np.float64 and sigma.shape == (3, 3)
    np.testing.assert_allclose(mu, x.sum(axis=0) / 20, rtol=1e-12)
    np.testing.assert_allclose(sigma, centred.T @ centred / 19, rtol=1e-12)


def test_identical_inputs_give_zero_and_fid_is_symmetric():
    a = RNG.standard_normal((50, 4)) @ RNG.standard_normal((4, 4))
    b = RNG.standard_normal((60, 4)) + 0.3
    assert fid(a, a) == pytest.approx(0.0, abs=1e-8)
    assert fid(a, b) == pytest.approx(fid(b, a), rel=1e-8)
    assert fid(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(fid(a, b), rel=1e-12)


def test_large_samples_of_one_gaussian_are_close_and_match_population_value():
    rng = np.random.default_rng(1)
    mix = rng.standard_normal((4, 4))
    a = rng.standard_normal((20_000, 4)) @ mix
    b = rng.standard_normal((20_000, 4)) @ mix
    assert fid(a, b) < 0.02
    shift = np.array([1.0, 0.0, 0.0, 0.0])
    expected = frechet_by_eigenvalues(shift, mix.T @ mix, np.zeros(4), 4 * np.eye(4))
    c = 2 * rng.standard_normal((20_000, 4))
    assert fid(a + shift, c) == pytest.approx(expected, rel=0.05)


def test_rank_deficient_covariances_give_finite_non_negative_float():
    a, b = RNG.standard_normal((5, 16)), RNG.standard_normal((6, 16)) + 0.5
    got = fid(a, b)
    assert type(got) is float and np.isfinite(got) and got >= 0
    mu1, s1 = feature_stats(a)
    mu2, s2 = feature_stats(b)
    assert got == pytest.approx(frechet_by_eigenvalues(mu1, s1, mu2, s2), rel=1e-5)


def test_one_dimensional_features_and_scalar_means():
    # Two 1-D Gaussians: (m1 - m2)² + (σ1 - σ2)².
    assert frechet_distance(1.0, 4.0, -2.0, 9.0) == pytest.approx(9.0 + 1.0)
    x, y = RNG.standard_normal(40), 3 * RNG.standard_normal(30) + 1
    expected = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert fid(x, y) == pytest.approx(expected, rel=1e-9)
    assert fid(x[:, None], y[:, None]) == pytest.approx(expected, rel=1e-9)


def test_non_finite_square_root_retries_with_eps(monkeypatch: pytest.MonkeyPatch):
    real_sqrtm, calls = frechet.linalg.sqrtm, []

    def flaky_sqrtm(m):
        calls.append(m)
        return np.full_like(m, np.nan) if len(calls) == 1 else real_sqrtm(m)

    monkeypatch.setattr(frechet.linalg, "sqrtm", flaky_sqrtm)
    s = np.diag([1.0, 4.0])
    assert frechet_distance(np.zeros(2), s, np.zeros(2), s) == pytest.approx(0.0, abs=1e-5)
    np.testing.assert_allclose(calls[1], (s + 1e-6 * np.eye(2)) @ (s + 1e-6 * np.eye(2)))


def test_imaginary_part_dropped_only_when_negligible(monkeypatch: pytest.MonkeyPatch):
    s = np.diag([1.0, 4.0])
    monkeypatch.setattr(frechet.linalg, "sqrtm", lambda m: np.sqrt(m) + 1e-5j)
    got = frechet_distance(np.zeros(2), s, np.zeros(2), s)
    assert type(got) is float and got == pytest.approx(0.0, abs=1e-9)
    monkeypatch.setattr(frechet.linalg, "sqrtm", lambda m: np.sqrt(m) + 0.5j)
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(np.zeros(2), s, np.zeros(2), s)


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError, match="dimensions differ"):
        fid(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        fid(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="shape"):
        fid(np.zeros((2, 3, 4)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        fid(np.full((3, 2), np.nan), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="covariances"):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="means"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(2))
