"""A folder of image files (searched recursively), optionally one sub-folder per class.

Labels: when there are at least two first-level sub-folders and every image lives under one, the
sub-folder name is the class (class names sorted); otherwise the data set has no labels. Hidden
files and folders (name starting with ".") are ignored. Unreadable files are skipped with one
warning. Pixels are read by :func:`gankit.data.pixels.image_pixels` (16-bit grey scaled by
its bit depth, palettes applied, transparency composited over black). Channels:
``data.channels``, else 1 if every image is greyscale, else 3. Size: with ``data.image_size``
each image is centre-cropped to a square and resized with Pillow's (antialiased) bicubic
filter; without it all images must share one square size.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data.base import DATASETS, Dataset, DataSource, NoOptions
from gankit.data.pixels import image_pixels
from gankit.data.ranges import from_unit
from gankit.errors import GankitError

EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"})
PROGRESS_OVER = 2_000
_READ_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def find_images(root: Path) -> list[Path]:
    """Image files under ``root`` (recursive, case-insensitive extensions, hidden skipped)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in EXTENSIONS
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _read_all(root: Path, files: list[Path], cfg: DataConfig) -> tuple[list, list, list[str]]:
    """Decode every file: (uint8 HWC arrays, kept files, names of skipped files)."""
    from tqdm.auto import tqdm

    arrays: list[np.ndarray] = []
    kept: list[Path] = []
    skipped: list[str] = []
    first_size: tuple[int, int] | None = None
    for path in tqdm(files, desc="images", unit="file", disable=len(files) <= PROGRESS_OVER):
        try:
            with Image.open(path) as im:
                if cfg.image_size is None:
                    first_size = first_size or im.size
                    if im.size != first_size or im.size[0] != im.size[1]:
                        raise GankitError(
                            f"Images in {str(root)!r} are not all one square size "
                            f"({first_size[0]}×{first_size[1]}, {im.size[0]}×{im.size[1]}, ...); "
                            "set data.image_size to resize them."
                        )
                im.load()
                arrays.append(image_pixels(im, cfg.channels, cfg.image_size))
                kept.append(path)
        except _READ_ERRORS:
            skipped.append(str(path.relative_to(root)))
    return arrays, kept, skipped


def load_folder(cfg: DataConfig, options: NoOptions) -> Dataset:
    """Load every readable image under ``data.path`` into one ``(N, C, S, S)`` tensor."""
    if not cfg.path:
        raise GankitError(
            "The folder data set needs data.path (--data-dir) set to a folder of images."
        )
    root = Path(cfg.path).expanduser()
    if not root.is_dir():
        raise GankitError(
            f"Image folder {str(root)!r} does not exist or is not a folder; fix data.path."
        )
    files = find_images(root)
    if not files:
        raise GankitError(
            f"Folder {str(root)!r} contains no image files "
            f"({', '.join(sorted(EXTENSIONS))}); point data.path at your images."
        )
    arrays, kept, skipped = _read_all(root, files, cfg)
    if not arrays:
        raise GankitError(
            f"Folder {str(root)!r} has no readable images ({len(skipped)} files "
            "failed to open); check that the files are valid images."
        )
    if skipped:
        names = ", ".join(skipped[:10]) + (
            f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        )
        warnings.warn(
            f"Skipped {len(skipped)} unreadable image file(s) in {root}: {names}.", stacklevel=2
        )
    channels = max(a.shape[-1] for a in arrays)
    x = np.stack([np.repeat(a, channels // a.shape[-1], axis=-1) for a in arrays])
    x = torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(255.0).contiguous()

    rel = [p.relative_to(root).parts for p in files]
    classes = sorted({parts[0] for parts in rel})
    labels = class_names = None
    if all(len(parts) > 1 for parts in rel) and len(classes) > 1:
        index = {name: i for i, name in enumerate(classes)}
        labels = torch.tensor([index[p.relative_to(root).parts[0]] for p in kept])
        class_names = classes
    return Dataset(
        name="folder",
        x=from_unit(x, cfg.normalize),
        kind="image",
        normalize=cfg.normalize,
        labels=labels,
        class_names=class_names,
        info={
            "root": str(root),
            "files": len(kept),
            "skipped": skipped,
            "channels": channels,
            "resize": "centre-crop + bicubic" if cfg.image_size else None,
        },
    )


DATASETS.add(
    "folder",
    DataSource(
        load_folder, NoOptions, "your own images from a folder (data.path); sub-folders = classes"
    ),
)
