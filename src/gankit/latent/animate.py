"""Pictures of latent paths: PNG strip grids and animated GIFs (written atomically)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.fileio import atomic_write_bytes
from gankit.viz import make_grid

MIN_CELL_PX = 28  # small images are enlarged (nearest neighbour) to at least this width


def enlarge(x: torch.Tensor, min_cell_px: int = MIN_CELL_PX) -> torch.Tensor:
    """Repeat pixels by a whole factor so that each image is at least ``min_cell_px`` wide."""
    if x.shape[-1] >= min_cell_px:
        return x
    factor = math.ceil(min_cell_px / x.shape[-1])
    return x.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def grid_array(images: torch.Tensor, nrow: int) -> np.ndarray:
    """``(N, C, H, W)`` images in [0, 1] as one uint8 picture, ``nrow`` per row, enlarged."""
    return make_grid(enlarge(images.float()), nrow=nrow)


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(array: np.ndarray, path: str | Path) -> Path:
    return atomic_write_bytes(path, png_bytes(array))


def gif_bytes(frames: list[np.ndarray], frame_ms: int = 120, hold_ms: int = 600) -> bytes:
    """An endlessly looping GIF of ``frames``; the first and last are held for ``hold_ms``."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    images = [Image.fromarray(f) for f in frames]
    durations = [frame_ms] * len(images)
    durations[0] = durations[-1] = max(hold_ms, frame_ms)
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=durations, loop=0)
    return buffer.getvalue()


def save_gif(frames: list[np.ndarray], path: str | Path, frame_ms: int = 120,
             hold_ms: int = 600) -> Path:
    return atomic_write_bytes(path, gif_bytes(frames, frame_ms, hold_ms))
