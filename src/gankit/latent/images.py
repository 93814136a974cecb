"""Real images for the latent tools: from the run's data set by index, or from image files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from gankit.data.pixels import image_pixels
from gankit.data.ranges import from_unit
from gankit.errors import GankitError
from gankit.run import Run


@dataclass
class RealImages:
    """Images in the run's data range ``(N, C, H, W)``, their labels (if known) and a source."""

    x: torch.Tensor
    labels: torch.Tensor | None
    source: str
    names: list[str]


def dataset_images(run: Run, indices: Sequence[int], split: str = "test") -> RealImages:
    """Images ``indices`` of the run's data set, from its ``split`` split when it has one."""
    from gankit.metrics.evaluate import reference_data

    data, description = reference_data(run.config.data, split)
    n = len(data)
    for i in indices:
        if not 0 <= int(i) < n:
            raise GankitError(f"Image index {i} is out of range: the {description} has {n} "
                              f"images (indices 0 to {n - 1}).")
    idx = torch.as_tensor([int(i) for i in indices], dtype=torch.long)
    labels = data.labels[idx] if data.labels is not None else None
    return RealImages(data.rows(idx), labels, description, [f"#{int(i)}" for i in idx])


def random_dataset_indices(run: Run, count: int, seed: int, split: str = "test") -> list[int]:
    """``count`` distinct random indices into the data set (seeded)."""
    from gankit.metrics.evaluate import reference_data

    data, _ = reference_data(run.config.data, split)
    if count > len(data):
        raise GankitError(f"The data set has only {len(data)} images, fewer than the {count} "
                          "needed; ask for fewer rows.")
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(len(data), generator=gen)[:count].tolist()


def file_images(run: Run, paths: Sequence[str | Path]) -> RealImages:
    """Image files converted to the run's channels, size and range (centre crop, bicubic).

    Pixels are read by :func:`gankit.data.pixels.image_pixels`, as the folder data source reads
    them: ink is taken to be bright, as in MNIST, and transparent pixels become black.
    """
    channels, height, width = run.spec.sample_shape
    if height != width:
        raise GankitError(f"Image files can only be fitted to square images; the run's images "
                          f"are {height}×{width}.")
    tensors = [_read(Path(p), channels, width) for p in paths]
    x = from_unit(torch.stack(tensors), run.spec.normalize)
    return RealImages(x, None, "image files", [Path(p).name for p in paths])


def _read(path: Path, channels: int, side: int) -> torch.Tensor:
    if not path.is_file():
        raise GankitError(f"Image file {str(path)!r} does not exist; give the path of a PNG, "
                          "JPEG or other image file.")
    try:
        with Image.open(path) as im:
            im.load()
            pixels = image_pixels(im, channels, side)
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError,
            Image.DecompressionBombError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise GankitError(f"Image file {str(path)!r} cannot be read as an image ({reason}); "
                          "give a PNG, JPEG or other image file.") from None
    return torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0)
