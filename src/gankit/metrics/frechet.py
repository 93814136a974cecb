"""Fréchet distance between Gaussians fitted to two feature sets: FID on Inception features.

``d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2})``, computed as the reference TTUR and
pytorch-fid code does: unbiased covariances (``N − 1``), ``scipy.linalg.sqrtm``, ``ε I`` added to
both covariances when the square root is not finite, a negligible imaginary part dropped.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from scipy import linalg

EPS = 1e-6


def as_features(x: Any, name: str = "features", min_rows: int = 2) -> np.ndarray:
    """``x`` (tensor or array, ``(N, D)`` or ``(N,)`` for ``D = 1``) as float64 ``(N, D)``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {arr.shape}")
    if len(arr) < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} samples, got {len(arr)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_same_dim(a: np.ndarray, b: np.ndarray) -> None:
    """Raise if two ``(N, D)`` feature arrays differ in ``D``."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")


def feature_stats(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of ``(N, D)`` features (``N ≥ 2``)."""
    x = as_features(features)
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Squared Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (≥ 0)."""
    mu1, mu2 = (np.atleast_1d(_array(m)) for m in (mu1, mu2))
    sigma1, sigma2 = (np.atleast_2d(_array(s)) for s in (sigma1, sigma2))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,):
        raise ValueError(f"means must be vectors of one length, got {mu1.shape} and {mu2.shape}")
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"covariances must be ({d}, {d}), got {sigma1.shape} and "
                         f"{sigma2.shape}")
    for arr in (mu1, mu2, sigma1, sigma2):
        if not np.isfinite(arr).all():
            raise ValueError("means and covariances must be finite")

    with warnings.catch_warnings():  # singular products are expected (N < D, collapse)
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(d) * EPS
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("sqrt of the covariance product has a large imaginary part "
                             f"({np.abs(covmean.imag).max():.3g}): covariances are ill-conditioned")
        covmean = covmean.real
    if not np.isfinite(covmean).all():
        raise ValueError("sqrt of the covariance product is not finite, even with eps * I added")

    diff = mu1 - mu2
    scale = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2))
    value = scale - 2 * float(np.trace(covmean))
    if value < -1e-6 * max(abs(scale), 1.0):  # not rounding: the square root went wrong
        raise ValueError(f"Fréchet distance came out negative ({value:.3g}): covariances are "
                         "ill-conditioned")
    return max(value, 0.0)


def fid(features_a: Any, features_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two ``(N, D)`` feature sets."""
    a, b = as_features(features_a, "features_a"), as_features(features_b, "features_b")
    check_same_dim(a, b)
    return frechet_distance(*feature_stats(a), *feature_stats(b))


def _array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)
