"""Folder of images: classes, corrupt files, channels, sizes and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.errors import GankitError


def save(path: Path, size=(8, 8), mode="RGB", value=128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode in ("L", "1") else (value, 0, 255 - value)).save(path)
    return path


def load(path: Path, **kw):
    return load_dataset(DataConfig(name="folder", path=str(path), **kw))


def test_classes_and_corrupt_file(tmp_path: Path) -> None:
    save(tmp_path / "cats" / "a.png")
    save(tmp_path / "cats" / "sub" / "b.JPG")
    save(tmp_path / "dogs" / "c.bmp")
    (tmp_path / "dogs" / "broken.png").write_bytes(b"not an image at all")
    (tmp_path / "dogs" / "notes.txt").write_text("ignored")
    with pytest.warns(UserWarning, match=r"broken\.png"):
        ds = load(tmp_path)
    assert ds.x.shape == (3, 3, 8, 8) and ds.kind == "image"
    assert ds.class_names == ["cats", "dogs"]
    assert ds.labels.tolist() == [0, 0, 1]
    assert ds.info["skipped"] == [str(Path("dogs") / "broken.png")]
    assert ds.x.min() >= -1.0 and ds.x.max() <= 1.0


def test_no_labels_when_images_in_root(tmp_path: Path) -> None:
    save(tmp_path / "a.png")
    save(tmp_path / "x" / "b.png")
    save(tmp_path / "y" / "c.png")
    ds = load(tmp_path)
    assert len(ds) == 3 and ds.labels is None and ds.class_names is None


def test_many_corrupt_files_listed_briefly(tmp_path: Path) -> None:
    save(tmp_path / "ok.png")
    for i in range(13):
        (tmp_path / f"bad{i:02d}.png").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="and 3 more"):
        assert len(load(tmp_path)) == 1


def test_only_corrupt_images(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(GankitError, match="no readable images"):
        load(tmp_path)


def test_empty_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(GankitError, match="no image files"):
        load(tmp_path)
    with pytest.raises(GankitError, match="does not exist"):
        load(tmp_path / "missing")
    with pytest.raises(GankitError, match="data.path"):
        load_dataset(DataConfig(name="folder"))


def test_mixed_sizes_need_image_size(tmp_path: Path) -> None:
    save(tmp_path / "a.png", size=(8, 8))
    save(tmp_path / "b.png", size=(12, 10))
    with pytest.raises(GankitError, match="image_size"):
        load(tmp_path)
    ds = load(tmp_path, image_size=6, normalize="unit")
    assert ds.x.shape == (2, 3, 6, 6)
    assert ds.x.min() >= 0.0 and ds.x.max() <= 1.0


def test_non_square_needs_image_size(tmp_path: Path) -> None:
    save(tmp_path / "a.png", size=(10, 8))
    with pytest.raises(GankitError, match="image_size"):
        load(tmp_path)


def test_centre_crop_then_resize(tmp_path: Path) -> None:
    img = np.zeros((8, 16), dtype=np.uint8)
    img[:, 4:12] = 255  # the central 8×8 square is white, the sides black
    Image.fromarray(img).save(tmp_path / "wide.png")
    ds = load(tmp_path, image_size=4, normalize="unit")
    assert ds.x.shape == (1, 1, 4, 4)
    assert torch.allclose(ds.x, torch.ones_like(ds.x))


def test_grey_rgb_inference_and_override(tmp_path: Path) -> None:
    save(tmp_path / "g1.png", mode="L", value=255)
    save(tmp_path / "g2.gif", mode="L", value=0)
    grey = load(tmp_path, normalize="unit")
    assert grey.x.shape == (2, 1, 8, 8)
    assert grey.x[0].eq(1).all() and grey.x[1].eq(0).all()  # files in sorted order
    assert load(tmp_path, channels=3).x.shape == (2, 3, 8, 8)
    save(tmp_path / "c.webp", mode="RGB", value=200)
    mixed = load(tmp_path, normalize="unit")
    assert mixed.x.shape == (3, 3, 8, 8)
    assert load(tmp_path, channels=1).x.shape == (3, 1, 8, 8)


def test_rgba_and_hidden_files(tmp_path: Path) -> None:
    Image.new("RGBA", (4, 4), (255, 255, 255, 0)).save(tmp_path / "clear.png")
    save(tmp_path / ".hidden" / "x.png")
    save(tmp_path / "._resource.png")
    ds = load(tmp_path, normalize="unit")
    assert len(ds) == 1 and ds.x.shape == (1, 3, 4, 4)
    assert ds.x.eq(0).all()  # fully transparent white → composited over black
