"""Image grids, scatter plots and training curves."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.viz import make_grid, save_curves, save_image_grid, save_scatter


def _open_png(path: Path) -> Image.Image:
    img = Image.open(path)
    img.load()
    assert img.format == "PNG"
    return img


# ---------------------------------------------------------------- make_grid


def test_grid_geometry_400_digits() -> None:
    grid = make_grid(torch.rand(400, 1, 8, 8), padding=2)
    assert grid.dtype == np.uint8
    assert grid.shape == (20 * 10 + 2, 20 * 10 + 2)


def test_grid_rgb_and_grey_shapes() -> None:
    assert make_grid(torch.rand(6, 3, 5, 7), nrow=3, padding=1).shape == (2 * 6 + 1, 3 * 8 + 1, 3)
    assert make_grid(torch.rand(6, 1, 5, 7), nrow=3, padding=1).shape == (2 * 6 + 1, 3 * 8 + 1)
    assert make_grid(torch.rand(5, 1, 4, 4), padding=0).shape == (2 * 4, 3 * 4)  # 3 a row, 2 rows


def test_grid_cells_row_major_at_right_offset() -> None:
    n, h, w, pad = 7, 4, 5, 2
    images = torch.arange(n, dtype=torch.float32).div(10).view(n, 1, 1, 1).expand(n, 3, h, w)
    grid = make_grid(images, nrow=3, padding=pad, pad_value=1.0)
    assert grid.shape == (3 * (h + pad) + pad, 3 * (w + pad) + pad, 3)
    for i in range(n):
        top, left = pad + (i // 3) * (h + pad), pad + (i % 3) * (w + pad)
        cell = grid[top : top + h, left : left + w]
        assert (cell == round(i / 10 * 255)).all()
        assert (grid[top - 1, left : left + w] == 255).all()  # padding just above the cell
    # the two cells after the last image stay filled with pad_value
    assert (grid[pad + 2 * (h + pad) :, pad + 1 * (w + pad) :] == 255).all()


def test_grid_clamps_and_pad_value() -> None:
    grid = make_grid(torch.tensor([-1.0, 2.0]).view(2, 1, 1, 1), nrow=2, padding=1, pad_value=0)
    assert grid.tolist() == [[0, 0, 0, 0, 0], [0, 0, 0, 255, 0], [0, 0, 0, 0, 0]]


def test_grid_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        make_grid(torch.rand(2, 2, 4, 4))
    with pytest.raises(ValueError):
        make_grid(torch.rand(4, 4))
    with pytest.raises(ValueError):
        make_grid(torch.rand(0, 1, 4, 4))


# ---------------------------------------------------------------- save_image_grid
# (the data-range conversions it uses are tested in test_ranges.py)


def test_save_image_grid_upscales_digits(tmp_path: Path) -> None:
    path = save_image_grid(torch.rand(400, 1, 8, 8) * 2 - 1, tmp_path / "a" / "b" / "grid.png")
    assert path == tmp_path / "a" / "b" / "grid.png"
    img = _open_png(path)
    assert img.mode == "L"
    assert img.size == (20 * 34 + 2, 20 * 34 + 2)  # 8 px cells ×4 → 32, plus 2 px padding
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]  # no temp file left behind


def test_save_image_grid_nearest_neighbour_and_rgb(tmp_path: Path) -> None:
    images = torch.zeros(2, 3, 2, 2)
    images[0, 0, 0, 0] = 1.0  # one red pixel in the corner of the first image
    path = save_image_grid(images, tmp_path / "g.png", normalize="unit", nrow=2, min_cell_px=6)
    img = np.asarray(_open_png(path))
    assert img.shape == (6 + 4, 2 * (6 + 2) + 2, 3)  # factor 3: 2 px → 6 px cells
    assert (img[2:5, 2:5] == [255, 0, 0]).all()
    assert (img[5:8, 5:8] == 0).all()


def test_save_image_grid_large_images_not_scaled(tmp_path: Path) -> None:
    path = save_image_grid(torch.zeros(4, 3, 32, 32), tmp_path / "g.png", nrow=4)
    assert _open_png(path).size == (4 * 34 + 2, 34 + 2)


def test_save_image_grid_replaces_existing(tmp_path: Path) -> None:
    path = tmp_path / "g.png"
    path.write_bytes(b"old")
    save_image_grid(torch.zeros(1, 1, 28, 28), path)
    assert _open_png(path).size == (32, 32)


# ---------------------------------------------------------------- scatter


def _ring(n: int = 8) -> torch.Tensor:
    angles = torch.arange(n) * (2 * math.pi / n)
    return torch.stack([angles.cos(), angles.sin()], dim=1) * 2


def test_scatter_png(tmp_path: Path) -> None:
    centres = _ring()
    real = centres.repeat(50, 1) + 0.05 * torch.randn(400, 2)
    fake = torch.randn(256, 2)
    fake[:3] = torch.tensor([[100.0, 0.0], [0.0, -50.0], [float("nan"), 0.0]])
    path = save_scatter(fake, real, tmp_path / "s" / "step_000100.png", centres, title="step 100")
    img = _open_png(path)
    assert img.width > 200 and img.height > 200


def test_scatter_without_centres_or_real(tmp_path: Path) -> None:
    save_scatter(torch.randn(10, 2), torch.zeros(0, 2), tmp_path / "a.png")
    save_scatter(torch.full((3, 2), float("inf")), torch.randn(5, 2), tmp_path / "b.png")
    save_scatter(torch.randn(10, 2), None, tmp_path / "c.png", centres=torch.zeros(1, 2))
    sizes = {_open_png(tmp_path / f"{name}.png").size for name in "abc"}
    assert len(sizes) == 1


def test_scatter_rejects_non_2d(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        save_scatter(torch.randn(10, 3), torch.randn(10, 2), tmp_path / "x.png")


# ---------------------------------------------------------------- curves


def test_curves_many_records(tmp_path: Path) -> None:
    records = [
        {"step": s, "d_loss": 1.3 - s / 1e4, "g_loss": 0.7 + s / 1e4, "d_acc": 0.5 + s / 4e4}
        for s in range(0, 5000, 50)
    ]
    records[10]["g_loss"] = float("inf")
    records[11]["d_loss"] = float("nan")
    img = _open_png(save_curves(records, tmp_path / "curves.png"))
    assert img.width > 300


@pytest.mark.parametrize(
    "records",
    [
        [{"step": 0, "d_loss": 1.4, "g_loss": 0.7, "d_acc": 0.5}],
        [{"step": 10, "g_loss": 0.7}, {"step": 20, "d_acc": 0.9}, {"eval/fid": 3.0}],
        [{"d_loss": 1.0}, {"d_loss": None, "g_loss": "x", "d_acc": True}],
        [],
    ],
    ids=["single", "missing-keys", "no-step-and-junk", "empty"],
)
def test_curves_sparse_records(tmp_path: Path, records: list[dict]) -> None:
    path = save_curves(records, tmp_path / "c.png")
    assert _open_png(path).size[0] > 300
