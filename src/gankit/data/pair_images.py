"""Reading the two image domains of a translation source (``pairs``, ``unpaired``).

Each image goes through :mod:`gankit.data.pixels`: 8-bit grey or RGB (``data.channels``, else
grey when :func:`~gankit.data.pixels.is_grey`), centre-cropped to a square and resized with
``data.image_size``. A :class:`Domain` collects one domain's pixels and checks them: one
channel count (no grey and colour mixed unless ``data.channels`` says how to read them), one
size without ``data.image_size``, and no image smaller than ``data.options.crop``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from gankit.data.folder import _READ_ERRORS, PROGRESS_OVER
from gankit.data.pixels import image_pixels, is_grey, to_pixel_mode
from gankit.data.ranges import from_unit
from gankit.errors import GankitError

T = TypeVar("T")


def progress(items: list[T], desc: str) -> Iterator[T]:
    """``items``, with a progress bar when there are many."""
    from tqdm.auto import tqdm

    return iter(tqdm(items, desc=desc, unit="file", disable=len(items) <= PROGRESS_OVER))


def open_image(path: Path, channels: int | None) -> Image.Image | None:
    """The image at ``path`` as 8-bit ``L`` or ``RGB`` (``channels``, else by its colours),
    or None when it cannot be read."""
    try:
        with Image.open(path) as im:
            im.load()
            return to_pixel_mode(im, channels or (1 if is_grey(im) else 3))
    except _READ_ERRORS:
        return None


def halves(im: Image.Image, path: Path) -> tuple[Image.Image, Image.Image]:
    """The left (A) and right (B) halves of a side-by-side pair image."""
    w, h = im.size
    if w % 2:
        raise GankitError(f"Image {str(path)!r} is {w}×{h}, an odd width that cannot be split "
                          "into an A half and a B half of one size; crop it to an even width.")
    return im.crop((0, 0, w // 2, h)), im.crop((w // 2, 0, w, h))


def to_array(im: Image.Image, size: int | None) -> np.ndarray:
    """uint8 ``(H, W, C)`` pixels of an ``L``/``RGB`` image, resized to ``size`` if given."""
    return image_pixels(im, 1 if im.mode == "L" else 3, size)


def size_text(arr: np.ndarray) -> str:
    return f"{arr.shape[1]}×{arr.shape[0]}"


@dataclass
class Domain:
    """The images of one domain (``A`` or ``B``) as they are read, with their files."""

    name: str
    arrays: list[np.ndarray] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def add(self, arr: np.ndarray, path: Path) -> None:
        self.arrays.append(arr)
        self.files.append(path)

    @property
    def channels(self) -> int:
        return max(a.shape[-1] for a in self.arrays)

    def check_channels(self) -> None:
        """One channel count, or one sentence naming a grey and a colour file."""
        counts = [a.shape[-1] for a in self.arrays]
        if len(set(counts)) > 1:
            grey, colour = self.files[counts.index(1)], self.files[counts.index(3)]
            raise GankitError(
                f"The {self.name} images mix greyscale and colour ({str(grey)!r} is grey, "
                f"{str(colour)!r} is colour); read them all alike with --set data.channels=3 "
                "(or --set data.channels=1).")

    def check_crop(self, crop: int | None, resized: bool) -> None:
        """No image smaller than ``crop`` (after resizing), or one sentence naming one."""
        if crop is None:
            return
        for arr, path in zip(self.arrays, self.files, strict=True):
            if min(arr.shape[:2]) < crop:
                after = " after resizing to data.image_size" if resized else ""
                raise GankitError(
                    f"Image {str(path)!r} is {size_text(arr)}{after}, smaller than "
                    f"data.options.crop={crop}; lower the crop or set a larger data.image_size.")

    def tensor(self, normalize: str) -> torch.Tensor:
        """float32 ``(N, C, H, W)`` in the data range ``normalize``."""
        x = torch.from_numpy(np.stack(self.arrays)).permute(0, 3, 1, 2)
        return from_unit(x.float().div_(255.0).contiguous(), normalize)


def check_one_size(domains: Iterable[Domain]) -> None:
    """All images of all ``domains`` share one size, or one sentence naming two that differ."""
    first: tuple[np.ndarray, Path] | None = None
    for domain in domains:
        for arr, path in zip(domain.arrays, domain.files, strict=True):
            first = first or (arr, path)
            if arr.shape[:2] != first[0].shape[:2]:
                raise GankitError(
                    f"The images are not all one size ({str(first[1])!r} is "
                    f"{size_text(first[0])}, {str(path)!r} is {size_text(arr)}); set "
                    "data.image_size to resize them.")


def warn_skipped(skipped: list[str], root: Path) -> None:
    """One warning listing the unreadable files that were left out."""
    if skipped:
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        warnings.warn(f"Skipped {len(skipped)} unreadable image file(s) in {root}: "
                      f"{', '.join(skipped[:10])}{more}.", stacklevel=3)


def finish(domains: list[Domain], crop: int | None, resized: bool, where: Path) -> None:
    """Every check of :class:`Domain` on ``domains`` (an error when one holds no image)."""
    for domain in domains:
        if not domain.arrays:
            raise GankitError(f"The {domain.name} images in {str(where)!r} could not be read "
                              "(none of them opens); check that the files are valid images.")
        domain.check_channels()
    if not resized:
        check_one_size(domains)
    for domain in domains:
        domain.check_crop(crop, resized)
