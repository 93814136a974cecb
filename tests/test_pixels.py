"""Image files to pixels: one converter behind the folder data source and the latent tools."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.pixels import image_pixels
from gankit.latent.images import file_images

SIDE = 4
#: 16-bit values and the 8-bit values they must become (v / 257, rounded; never clipped)
WIDE = [0, 1, 128, 129, 257, 1000, 32767, 32768, 65534, 65535, 60000, 514, 0, 0, 0, 0]
WIDE_8BIT = [0, 0, 0, 1, 1, 4, 127, 128, 255, 255, 233, 2, 0, 0, 0, 0]
PALETTE = [255, 0, 0, 0, 255, 0, 10, 20, 30, 200, 200, 200]  # red, green, dark blue, light grey


def both_readers(path: Path, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``path``'s pixels (in [0, 1], (C, H, W)) through the folder source and the latent loader."""
    folder = path.parent / "only"
    folder.mkdir(exist_ok=True)
    (folder / path.name).write_bytes(path.read_bytes())
    ds = load_dataset(DataConfig(name="folder", path=str(folder), normalize="unit",
                                 channels=channels))
    run = SimpleNamespace(spec=SimpleNamespace(sample_shape=(channels, SIDE, SIDE),
                                               normalize="unit"))
    return ds.x[0], file_images(run, [path]).x[0]


def as_bytes(x: torch.Tensor) -> list:
    return (x * 255).round().to(torch.uint8).tolist()


def sixteen_bit_png(path: Path) -> Path:
    Image.fromarray(np.array(WIDE, dtype=np.uint16).reshape(SIDE, SIDE)).save(path)
    with Image.open(path) as im:
        assert im.mode in ("I;16", "I")  # Pillow's 16-bit greyscale ("I" before Pillow 10.x)
    return path


def palette_png(path: Path, transparency: int | bytes) -> Path:
    im = Image.new("P", (SIDE, SIDE))
    im.putpalette(PALETTE + [0] * (768 - len(PALETTE)))
    im.putdata([0, 1, 2, 3] * SIDE)
    im.save(path, transparency=transparency)
    return path


@pytest.mark.parametrize("channels", [1, 3])
def test_16_bit_png_is_scaled_by_its_bit_depth_in_both_readers(tmp_path: Path,
                                                               channels: int) -> None:
    folder_x, latent_x = both_readers(sixteen_bit_png(tmp_path / "wide.png"), channels)
    assert torch.equal(folder_x, latent_x)
    expected = np.array(WIDE_8BIT).reshape(SIDE, SIDE).tolist()
    assert all(plane == expected for plane in as_bytes(folder_x))
    assert as_bytes(folder_x)[0][0][3] == 1 and as_bytes(folder_x)[0][1][3] == 128


def test_16_bit_folder_defaults_to_one_channel(tmp_path: Path) -> None:
    sixteen_bit_png(tmp_path / "wide.png")
    ds = load_dataset(DataConfig(name="folder", path=str(tmp_path), normalize="unit"))
    assert ds.x.shape == (1, 1, SIDE, SIDE)
    assert as_bytes(ds.x[0, 0])[1][3] == 128 and as_bytes(ds.x[0, 0])[2][1] == 255


def test_palette_png_goes_through_its_palette_with_transparency_over_black(tmp_path: Path) -> None:
    path = palette_png(tmp_path / "palette.png", transparency=3)
    folder_x, latent_x = both_readers(path, 3)
    assert torch.equal(folder_x, latent_x)
    row = [list(p) for p in zip(*(plane[0] for plane in as_bytes(folder_x)), strict=True)]
    assert row == [[255, 0, 0], [0, 255, 0], [10, 20, 30], [0, 0, 0]]  # grey entry: transparent


def test_palette_png_in_grey_is_the_luma_of_its_palette(tmp_path: Path) -> None:
    path = palette_png(tmp_path / "palette.png", transparency=bytes([255, 255, 255, 128]))
    folder_x, latent_x = both_readers(path, 1)
    assert torch.equal(folder_x, latent_x)
    red, green, blue, grey = as_bytes(folder_x)[0][0]
    assert (red, green, blue) == (76, 150, 18)  # ITU-R 601: 0.299 R + 0.587 G + 0.114 B
    assert abs(grey - 100) <= 1  # 200 at alpha 128/255 over black


def test_default_channels_of_a_transparent_palette_are_colour(tmp_path: Path) -> None:
    palette_png(tmp_path / "palette.png", transparency=3)
    ds = load_dataset(DataConfig(name="folder", path=str(tmp_path), normalize="unit"))
    assert ds.x.shape == (1, 3, SIDE, SIDE)


def test_alpha_is_composited_over_black_in_both_readers(tmp_path: Path) -> None:
    rgba = np.zeros((SIDE, SIDE, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    rgba[0, 0, 3] = 0
    Image.frombytes("RGBA", (SIDE, SIDE), rgba.tobytes()).save(tmp_path / "alpha.png")
    folder_x, latent_x = both_readers(tmp_path / "alpha.png", 3)
    assert torch.equal(folder_x, latent_x)
    assert as_bytes(folder_x[:, 0, 0]) == [0, 0, 0] and as_bytes(folder_x[:, 1, 1]) == [200, 0, 0]


def test_wide_integer_modes_agree() -> None:
    wide = np.array(WIDE, dtype=np.uint16).reshape(SIDE, SIDE)
    as_i16 = image_pixels(Image.fromarray(wide), 1)
    as_i32 = image_pixels(Image.fromarray(wide.astype(np.int32)), 1)  # older Pillow's 16-bit PNG
    assert np.array_equal(as_i16, as_i32)
    assert as_i16[..., 0].reshape(-1).tolist() == WIDE_8BIT
    assert as_i16.dtype == np.uint8 and as_i16.shape == (SIDE, SIDE, 1)


def test_size_centre_crops_and_resizes() -> None:
    im = Image.new("RGB", (6, 4), (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, 1, 4))  # a blue first column, cropped away
    out = image_pixels(im, 3, size=2)
    assert out.shape == (2, 2, 3) and (out == [255, 0, 0]).all()
    with pytest.raises(ValueError):
        image_pixels(im, 2)
