"""NumPy .npy/.npz files: layouts, dtypes, labels and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.errors import GankitError

RNG = np.random.default_rng(0)


def load(path: Path, **kw):
    return load_dataset(DataConfig(name="arrays", path=str(path), **kw))


def npy(tmp_path: Path, a: np.ndarray) -> Path:
    np.save(tmp_path / "a.npy", a)
    return tmp_path / "a.npy"


def npz(tmp_path: Path, **arrays: np.ndarray) -> Path:
    np.savez(tmp_path / "a.npz", **arrays)
    return tmp_path / "a.npz"


@pytest.mark.parametrize(
    ("shape", "layout"),
    [
        ((5, 8, 8), "NHW"),
        ((5, 8, 8, 1), "NHWC"),
        ((5, 8, 8, 3), "NHWC"),
        ((5, 1, 8, 8), "NCHW"),
        ((5, 3, 8, 8), "NCHW"),
    ],
)
def test_image_layouts(tmp_path: Path, shape: tuple, layout: str) -> None:
    a = RNG.integers(0, 256, size=shape, dtype=np.uint8)
    ds = load(npy(tmp_path, a), normalize="unit")
    c = 3 if 3 in shape[1:] else 1
    assert ds.kind == "image" and ds.x.shape == (5, c, 8, 8) and ds.info["layout"] == layout
    expected = torch.from_numpy(a).float() / 255
    expected = expected.unsqueeze(1) if layout == "NHW" else expected
    expected = expected.permute(0, 3, 1, 2) if layout == "NHWC" else expected
    assert torch.allclose(ds.x, expected)
    assert ds.x.is_contiguous()


def test_nhwc_values_land_in_the_right_channel(tmp_path: Path) -> None:
    a = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    a[..., 1] = 255
    ds = load(npy(tmp_path, a))
    assert ds.x[:, 1].eq(1).all() and ds.x[:, 0].eq(-1).all() and ds.x[:, 2].eq(-1).all()


def test_float_ranges(tmp_path: Path) -> None:
    unit = RNG.random((4, 6, 6)).astype(np.float32)
    assert torch.allclose(
        load(npy(tmp_path, unit), normalize="unit").x[:, 0], torch.from_numpy(unit)
    )
    sym = unit * 2 - 1  # [-1, 1] input is mapped to [0, 1] first
    ds = load(npy(tmp_path, sym.astype(np.float64)), normalize="symmetric")
    assert ds.x.dtype == torch.float32
    assert torch.allclose(ds.x[:, 0], torch.from_numpy(sym), atol=1e-6)
    with pytest.raises(GankitError, match=r"\[0, 1\]"):
        load(npy(tmp_path, unit * 255))
    with pytest.raises(GankitError, match=r"\[-1, 1\]"):
        load(npy(tmp_path, unit * 4 - 2))
    with pytest.raises(GankitError, match="NaN"):
        load(npy(tmp_path, np.full((2, 4, 4), np.nan, dtype=np.float32)))
    with pytest.raises(GankitError, match="int64"):
        load(npy(tmp_path, np.zeros((2, 4, 4), dtype=np.int64)))


def test_points_are_kept_unscaled(tmp_path: Path) -> None:
    pts = RNG.normal(size=(50, 3)) * 10
    ds = load(npy(tmp_path, pts), normalize="unit")
    assert ds.kind == "points" and ds.x.shape == (50, 3) and ds.x.dtype == torch.float32
    assert torch.allclose(ds.x, torch.from_numpy(pts).float())


def test_npz_keys_and_labels(tmp_path: Path) -> None:
    x = RNG.integers(0, 256, size=(6, 8, 8), dtype=np.uint8)
    y = np.array([0, 1, 2, 0, 1, 2])
    ds = load(npz(tmp_path, images=x, labels=y))
    assert ds.labels.tolist() == y.tolist() and ds.labels.dtype == torch.int64
    assert ds.class_names == ["0", "1", "2"]
    assert load(npz(tmp_path, data=x)).labels is None  # the only array
    ds = load(npz(tmp_path, x=x, y=y[:, None].astype(np.uint8)), limit=4)
    assert ds.labels.tolist() == [0, 1, 2, 0] and len(ds) == 4
    with pytest.raises(GankitError, match="'x'"):
        load(npz(tmp_path, a=x, b=y))


def test_bad_labels(tmp_path: Path) -> None:
    x = np.zeros((4, 8, 8), dtype=np.uint8)
    with pytest.raises(GankitError, match="4 integers"):
        load(npz(tmp_path, x=x, y=np.array([0, 1, 2])))
    with pytest.raises(GankitError, match="4 integers"):
        load(npz(tmp_path, x=x, y=np.array([0.0, 1.0, 0.0, 1.0])))
    with pytest.raises(GankitError, match="non-negative"):
        load(npz(tmp_path, x=x, y=np.array([0, -1, 0, 1])))


@pytest.mark.parametrize("shape", [(5,), (2, 3, 8, 8, 1), (5, 8, 8, 4), (5, 2, 8, 8), (0, 4, 4)])
def test_wrong_shape(tmp_path: Path, shape: tuple) -> None:
    with pytest.raises(GankitError, match=r"shape \(") as err:
        load(npy(tmp_path, np.zeros(shape, dtype=np.uint8)))
    assert "accepted shapes" in str(err.value)


def test_resize_crop_and_channels(tmp_path: Path) -> None:
    a = np.zeros((3, 8, 12), dtype=np.uint8)
    with pytest.raises(GankitError, match="image_size"):
        load(npy(tmp_path, a))
    ds = load(npy(tmp_path, a), image_size=16, channels=3)
    assert ds.x.shape == (3, 3, 16, 16)
    rgb = RNG.integers(0, 256, size=(2, 3, 8, 8), dtype=np.uint8)
    assert load(npy(tmp_path, rgb), channels=1).x.shape == (2, 1, 8, 8)


def test_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(GankitError, match="does not exist"):
        load(tmp_path / "nope.npz")
    with pytest.raises(GankitError, match="data.path"):
        load_dataset(DataConfig(name="arrays"))
    (tmp_path / "junk.npy").write_bytes(b"definitely not numpy")
    with pytest.raises(GankitError, match="junk.npy"):
        load(tmp_path / "junk.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(GankitError, match="obj.npy"):
        load(tmp_path / "obj.npy")
