"""Attributes measured on hand-made images: stroke thickness, slant and ink."""

import numpy as np
import pytest
import torch

from gankit.latent.attributes import ink, measure, slant, thickness


def canvas(h: int = 28, w: int = 28) -> torch.Tensor:
    return torch.zeros(1, 1, h, w)


def bar(width: int, length: int = 20) -> torch.Tensor:
    x = canvas()
    x[0, 0, 4 : 4 + length, 10 : 10 + width] = 1.0
    return x


def test_thicker_bars_measure_thicker_and_match_area_over_half_perimeter():
    values = [float(thickness(bar(w))) for w in (1, 2, 3, 5)]
    assert values == sorted(values) and values[0] < values[-1]
    for w, v in zip((1, 2, 3, 5), values, strict=True):
        area, half_perimeter = w * 20, w + 20  # binary bar: 2·area / perimeter
        assert v == pytest.approx(area / half_perimeter)


def test_thickness_of_a_soft_stroke_and_of_a_blank_image():
    x = bar(3)
    x[0, 0, 4:24, 9] = 0.5  # soft edges add ink and blur the boundary
    x[0, 0, 4:24, 13] = 0.5
    assert float(thickness(x)) > float(thickness(bar(3)))
    assert float(thickness(canvas())) == 0.0


def diagonal(step_x: int, step_y: int, sign: int = 1) -> torch.Tensor:
    """A thin line through pixels with x = x0 + sign·(step_x/step_y)·y, y counted upwards."""
    x = canvas()
    for k in range(8):
        y_up = k * step_y
        row = 27 - 2 - y_up
        col = 14 + sign * k * step_x
        x[0, 0, row, col] = 1.0
    return x


@pytest.mark.parametrize(("step_x", "step_y", "sign", "expected"),
                         [(1, 1, 1, 1.0), (1, 2, 1, 0.5), (1, 1, -1, -1.0), (1, 3, -1, -1 / 3)])
def test_slant_is_the_shear_of_the_ink(step_x, step_y, sign, expected):
    assert float(slant(diagonal(step_x, step_y, sign))) == pytest.approx(expected)


def test_upright_stroke_has_no_slant_and_slant_matches_weighted_moments():
    assert float(slant(bar(2))) == pytest.approx(0.0, abs=1e-12)
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(1, 1, 10, 12, generator=gen)
    w = img[0, 0].double().numpy().ravel()
    rows, cols = np.mgrid[0:10, 0:12]
    y, x = -rows.ravel().astype(float), cols.ravel().astype(float)
    cov = np.cov(np.stack([x, y]), aweights=w, bias=True)
    assert float(slant(img)) == pytest.approx(cov[0, 1] / cov[1, 1])


def test_shearing_a_digit_changes_its_slant_by_the_shear():
    from sklearn.datasets import load_digits

    digit = torch.tensor(load_digits().images[1], dtype=torch.float32) / 16.0  # a "1"
    big = torch.zeros(1, 1, 8, 24)
    big[0, 0, :, 8:16] = digit
    sheared = torch.zeros_like(big)
    for r in range(8):  # shift row r right by (7 - r): shear of +1 pixel per pixel of height
        sheared[0, 0, r, 8 + 7 - r : 16 + 7 - r] = digit[r]
    assert float(slant(sheared) - slant(big)) == pytest.approx(1.0)


def test_ink_is_the_mean_and_measure_dispatches():
    x = torch.cat([bar(1), bar(4)]).repeat(1, 3, 1, 1)  # colour images: channel mean
    np.testing.assert_allclose(ink(x).numpy(), [20 / 784, 80 / 784])
    assert torch.equal(measure("thickness", x), thickness(x))
    with pytest.raises(ValueError):
        measure("colour", x)
