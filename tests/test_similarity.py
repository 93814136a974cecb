"""Full-reference image metrics against scikit-image (the reference implementation of SSIM and
PSNR) and against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gankit.metrics.similarity import gaussian_window, l1, masked_psnr, psnr, ssim


def reference_ssim(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.array([structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                           use_sample_covariance=False, data_range=1.0,
                                           channel_axis=0) for a, b in zip(x, y, strict=True)])


def reference_psnr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.array([peak_signal_noise_ratio(b, a, data_range=1.0)
                     for a, b in zip(x, y, strict=True)])


def random_pairs(channels: int, side: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform noise and a noisy, clipped copy of it."""
    rng = np.random.default_rng(seed)
    x = rng.random((4, channels, side, side))
    return x, np.clip(x + 0.15 * rng.standard_normal(x.shape), 0.0, 1.0)


def structured_pairs(channels: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth gradients, a checkerboard, a disc and a bar, against shifted, darkened, blurred
    and contrast-changed versions of themselves."""
    yy, xx = np.mgrid[0:side, 0:side] / (side - 1)
    disc = ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1).astype(float)
    bar = ((xx > 0.3) & (xx < 0.5)).astype(float)
    checker = ((np.arange(side)[:, None] // 4 + np.arange(side)[None] // 4) % 2).astype(float)
    x = np.stack([xx * yy, checker, disc, bar])
    blurred = (disc + np.roll(disc, 1, 0) + np.roll(disc, -1, 0) + np.roll(disc, 1, 1)
               + np.roll(disc, -1, 1)) / 5
    y = np.stack([np.roll(xx * yy, 2, axis=1), 0.6 * checker, blurred, 0.25 + 0.5 * bar])
    scale = np.linspace(1.0, 0.7, channels)[None, :, None, None]  # channels differ
    return x[:, None] * scale, y[:, None] * scale


CASES = [(c, s, make) for c in (1, 3) for s in (28, 32) for make in (random_pairs,
                                                                    structured_pairs)]


@pytest.mark.parametrize(("channels", "side", "make"), CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_ssim_and_psnr_match_scikit_image(channels: int, side: int, make, dtype) -> None:
    x, y = make(channels, side)
    tx, ty = torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype)
    ours = ssim(tx, ty)
    assert ours.shape == (4,) and ours.dtype == dtype
    np.testing.assert_allclose(ours.numpy(), reference_ssim(x, y), atol=1e-4, rtol=0)
    np.testing.assert_allclose(psnr(tx, ty).numpy(), reference_psnr(x, y), atol=1e-4, rtol=0)
    if dtype == torch.float64:  # the same computation: agreement far below the tolerance
        np.testing.assert_allclose(ours.numpy(), reference_ssim(x, y), atol=1e-10, rtol=0)


def test_ssim_on_real_digits_and_identity(shared_data) -> None:
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    digits = load_dataset(DataConfig(name="mnist", path=str(shared_data), limit=8,
                                     normalize="unit", options={"download": False}))
    x = digits.rows().double()
    y = torch.roll(x, 1, dims=-1)
    np.testing.assert_allclose(ssim(x, y).numpy(), reference_ssim(x.numpy(), y.numpy()),
                               atol=1e-10)
    assert torch.allclose(ssim(x, x), torch.ones(8, dtype=torch.float64))
    assert torch.equal(psnr(x, x), torch.full((8,), 100.0, dtype=torch.float64))  # MSE floor


def test_window_is_scikit_images() -> None:
    window = gaussian_window()
    assert len(window) == 11 and math.isclose(float(window.sum()), 1.0)
    t = np.arange(-5, 6)
    expected = np.exp(-(t**2) / (2 * 1.5**2))
    np.testing.assert_allclose(window.numpy(), expected / expected.sum(), rtol=1e-12)
    with pytest.raises(ValueError, match="11"):
        ssim(torch.rand(1, 1, 10, 12), torch.rand(1, 1, 10, 12))
    with pytest.raises(ValueError, match="shape"):
        ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 17))


def test_l1_and_psnr_by_hand() -> None:
    x = torch.zeros(2, 1, 4, 4)
    y = torch.zeros(2, 1, 4, 4)
    y[0] = 0.5
    y[1, 0, 0, 0] = 1.0
    assert torch.allclose(l1(x, y), torch.tensor([0.5, 1 / 16]))
    assert torch.allclose(psnr(x, y), torch.tensor([10 * math.log10(4), 10 * math.log10(16)]))
    assert torch.allclose(psnr(x * 255, y * 255, data_range=255.0), psnr(x, y))


def test_masked_psnr_by_hand() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 8, 8, generator=g)
    y = torch.rand(3, 3, 8, 8, generator=g)
    mask = torch.zeros(3, 1, 8, 8, dtype=torch.bool)
    mask[0, :, 2:5, 1:7] = True
    mask[1, :, 0, 0] = True
    got = masked_psnr(x, y, mask)
    for i in range(2):
        where = mask[i, 0]
        diff = (x[i][:, where] - y[i][:, where]).double()  # every channel of those pixels
        mse = float((diff**2).sum()) / diff.numel()
        assert math.isclose(float(got[i]), 10 * math.log10(1 / mse), rel_tol=1e-5)
    assert math.isnan(float(got[2]))  # nothing hidden
    full = torch.ones(3, 3, 8, 8, dtype=torch.bool)
    assert torch.allclose(masked_psnr(x, y, full), psnr(x, y))
    x2 = x.clone()
    x2[~mask.expand_as(x)] = 0.0  # outside the mask nothing counts
    assert torch.allclose(masked_psnr(x2, y, mask)[:2], got[:2])
