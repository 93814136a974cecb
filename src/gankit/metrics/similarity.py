"""Full-reference image metrics for image translation: a result ``x`` against its ground truth
``y``, both ``(N, C, H, W)`` in [0, 1] (``data_range`` 1), batched, on any device; each returns
one value per image, shape ``(N,)``, computed in float32 (float64 for float64 input).

- :func:`l1`: mean absolute error over all pixels and channels.
- :func:`psnr`: ``10 · log10(data_range² / MSE)``, the MSE over all pixels and channels, floored
  at 1e-10 (identical images give 100 dB, not infinity).
- :func:`masked_psnr`: the same over the pixels where ``mask`` is True only (inpainting: the
  hidden region); NaN for an image whose mask is empty.
- :func:`ssim`: the structural similarity of Wang et al. (2004) exactly as scikit-image's
  ``structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=1.0, channel_axis=0)`` computes it: local means, variances and covariance under
  a normalised Gaussian window of σ 1.5 truncated at 3.5 σ (11×11, as ``scipy.ndimage``:
  radius ``int(3.5 σ + 0.5)``), population covariances, ``K1 = 0.01``, ``K2 = 0.03``; the SSIM
  map is averaged over the pixels at least 5 (the window's radius) from the border (scikit-image
  filters the whole image and crops that strip: the same values, so the borders' padding never
  counts), then over the channels. Images need sides of 11 px at least.
"""

from __future__ import annotations

import math

import torch

SIGMA = 1.5
TRUNCATE = 3.5
K1, K2 = 0.01, 0.03
MSE_FLOOR = 1e-10


def _check(x: torch.Tensor, y: torch.Tensor) -> torch.dtype:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"x and y must be image batches (N, C, H, W) of one shape, not "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    return torch.float64 if torch.float64 in (x.dtype, y.dtype) else torch.float32


def l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of each image, ``(N,)``."""
    dtype = _check(x, y)
    return (x.to(dtype) - y.to(dtype)).abs().flatten(1).mean(1)


def _psnr(mse: torch.Tensor, data_range: float) -> torch.Tensor:
    return 10.0 * torch.log10(data_range**2 / mse.clamp_min(MSE_FLOOR))


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image in dB, ``(N,)``."""
    dtype = _check(x, y)
    return _psnr((x.to(dtype) - y.to(dtype)).square().flatten(1).mean(1), data_range)


def masked_psnr(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor,
                data_range: float = 1.0) -> torch.Tensor:
    """PSNR of each image over the pixels where ``mask`` (bool, ``(N, 1, H, W)`` or
    ``(N, C, H, W)``, broadcast over channels) is True, ``(N,)``; NaN where it is all False."""
    dtype = _check(x, y)
    weights = mask.to(dtype).expand_as(x).flatten(1)
    error = (x.to(dtype) - y.to(dtype)).square().flatten(1)
    count = weights.sum(1)
    value = _psnr((error * weights).sum(1) / count.clamp_min(1.0), data_range)
    return value.masked_fill(count == 0, math.nan)


def gaussian_window(sigma: float = SIGMA, truncate: float = TRUNCATE,
                    dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The normalised 1-D Gaussian of ``scipy.ndimage.gaussian_filter``: taps ``-r..r``,
    ``r = int(truncate · sigma + 0.5)``."""
    radius = int(truncate * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    window = torch.exp(-0.5 / sigma**2 * t**2)
    return (window / window.sum()).to(dtype)


def _valid_filter(maps: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filtering of ``(..., H, W)`` maps by ``window`` along both axes, as two
    matrix products with banded matrices (fast on CPU and GPU alike)."""
    k = len(window)
    h, w = maps.shape[-2:]

    def band(n: int) -> torch.Tensor:
        out = torch.zeros(n - k + 1, n, dtype=window.dtype, device=window.device)
        for i in range(k):
            out.diagonal(i).copy_(window[i].expand(n - k + 1))
        return out

    return band(h) @ maps @ band(w).T


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean structural similarity of each image over its channels, ``(N,)`` (as scikit-image's
    Gaussian-weighted SSIM; module docstring)."""
    dtype = _check(x, y)
    window = gaussian_window(dtype=dtype).to(x.device)
    if min(x.shape[-2:]) < len(window):
        raise ValueError(f"SSIM needs images of {len(window)}×{len(window)} px at least, not "
                         f"{x.shape[-2]}×{x.shape[-1]}")
    x, y = x.to(dtype), y.to(dtype)
    ux, uy, uxx, uyy, uxy = _valid_filter(torch.stack([x, y, x * x, y * y, x * y]), window)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(2).mean(2).mean(1)
