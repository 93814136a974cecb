"""One way to turn a decoded PIL image into 8-bit pixels, for every reader of image files.

:func:`image_pixels` gives a uint8 ``(H, W, C)`` array with C = 1 (grey) or 3 (RGB):

* 16-bit greyscale (``I;16``, ``I;16B``, ...) is scaled by its bit depth, 0..65535 → 0..255
  (``round(v / 257)``), never clipped at 255. Mode ``I`` (how older Pillow opens 16-bit PNGs)
  is read as 16-bit too, unless a TIFF says how many bits it has; values outside the range
  are clipped. Mode ``F`` (float) follows Pillow's 8-bit convention: 0..255, clipped.
* Palette images go through their palette.
* Transparency (an alpha band, a palette's transparent entries, a PNG colour key) is
  composited over **black** (:data:`BACKGROUND`): ink is taken to be bright, as in MNIST.
* Colour becomes grey with ITU-R 601 luma (Pillow's ``"L"``); grey becomes RGB by repetition.
* With ``size``, the image is centre-cropped to a square and resized to ``size × size`` with
  Pillow's (antialiased) bicubic filter.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: modes whose pixels carry no colour
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"})
#: what transparent pixels are composited over (RGBA)
BACKGROUND = (0, 0, 0, 255)
_TIFF_BITS_PER_SAMPLE = 258


def is_grey(im: Image.Image) -> bool:
    """Whether ``im`` is greyscale by mode, or a palette image whose colours are all grey."""
    if im.mode in GREY_MODES:
        return True
    if im.mode != "P" or "transparency" in im.info:
        return False
    pal = np.asarray(im.getpalette() or [0, 0, 1], dtype=np.uint8).reshape(-1, 3)
    return bool((pal == pal[:, :1]).all())


def bit_depth(im: Image.Image) -> int:
    """Bits per sample of an integer greyscale image (``I;16*`` or ``I``)."""
    if im.mode.startswith("I;16"):
        return 16
    bits = getattr(im, "tag_v2", {}).get(_TIFF_BITS_PER_SAMPLE)
    bits = bits[0] if isinstance(bits, tuple) else bits
    return int(bits) if isinstance(bits, int) and 1 <= bits <= 32 else 16


def _wide_grey_to_l(im: Image.Image) -> Image.Image:
    """An ``I;16*``, ``I`` or ``F`` image as 8-bit ``L``, scaled as the module docstring says."""
    arr = np.asarray(im, dtype=np.float64)
    top = 255.0 if im.mode == "F" else float(2 ** bit_depth(im) - 1)
    arr = np.nan_to_num(arr, nan=0.0).clip(0.0, top)
    return Image.fromarray(np.round(arr / (top / 255.0)).astype(np.uint8))


def to_pixel_mode(im: Image.Image, channels: int) -> Image.Image:
    """``im`` as an 8-bit ``"L"`` (``channels=1``) or ``"RGB"`` (``channels=3``) image."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels!r}")
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        im = _wide_grey_to_l(im)
    if "A" in im.getbands() or "a" in im.getbands() or "transparency" in im.info:
        im = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", im.size, BACKGROUND), im)
    if im.mode not in ("L", "RGB"):
        im = im.convert("RGB")
    return im.convert("L" if channels == 1 else "RGB")


def center_square(im: Image.Image, size: int) -> Image.Image:
    """The central square of ``im``, resized to ``size × size`` (bicubic) when it differs."""
    w, h = im.size
    s = min(w, h)
    if w != h:
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s))
    return im if s == size else im.resize((size, size), Image.Resampling.BICUBIC)


def image_pixels(im: Image.Image, channels: int | None = None,
                 size: int | None = None) -> np.ndarray:
    """uint8 ``(H, W, C)`` pixels of ``im`` (see the module docstring).

    ``channels`` is 1 or 3; None picks 1 when :func:`is_grey`, else 3. ``size`` (optional)
    centre-crops to a square and resizes to ``size × size``.
    """
    if channels is None:
        channels = 1 if is_grey(im) else 3
    im = to_pixel_mode(im, channels)
    if size is not None:
        im = center_square(im, size)
    return np.array(im, dtype=np.uint8).reshape(im.size[1], im.size[0], channels)
