"""Your own data as a NumPy ``.npy`` / ``.npz`` file: images or ``(N, D)`` points.

Images: ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)`` with C in {1, 3}; uint8 (0..255) or
float in [0, 1] (or [-1, 1], detected by a negative minimum). Non-square images need
``data.image_size`` (centre-crop, then resize). An ``.npz`` holds the data under ``x`` (or
``images``, or as its only array) and optional integer labels under ``y`` or ``labels``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from gankit.config import DataConfig
from gankit.data import ranges
from gankit.data.base import DATASETS, Dataset, DataSource, NoOptions
from gankit.data.transforms import center_crop_square, resize_images, to_channels
from gankit.errors import GankitError

SHAPES = "(N, H, W), (N, H, W, C), (N, C, H, W) with C in {1, 3}, or (N, D) points"
_TOL = 1e-3


def read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The data array, the labels array (or None) and where the data came from."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise GankitError(
            f"Could not read {str(path)!r} as a NumPy .npy/.npz file ({err}); "
            "save it with numpy.save or numpy.savez."
        ) from None
    if isinstance(loaded, np.ndarray):
        return loaded, None, "array"
    with loaded:
        keys = list(loaded.files)
        key = next((k for k in ("x", "images") if k in keys), keys[0] if len(keys) == 1 else None)
        if key is None:
            raise GankitError(
                f"File {str(path)!r} has arrays {keys} but none named 'x' or "
                "'images'; store the data under the key 'x'."
            )
        label_key = next((k for k in ("y", "labels") if k in keys), None)
        try:
            return loaded[key], (loaded[label_key] if label_key else None), key
        except ValueError as err:
            raise GankitError(
                f"Could not read {str(path)!r} ({err}); store plain numeric "
                "arrays, not Python objects."
            ) from None


def to_nchw(a: np.ndarray, path: Path) -> tuple[np.ndarray, str]:
    """Reshape an image array to ``(N, C, H, W)``; returns it and its original layout."""
    if a.ndim == 3:
        return a[:, None], "NHW"
    if a.ndim == 4 and a.shape[1] in (1, 3):
        return a, "NCHW"
    if a.ndim == 4 and a.shape[-1] in (1, 3):
        return a.transpose(0, 3, 1, 2), "NHWC"
    raise GankitError(f"Array in {str(path)!r} has shape {a.shape}; accepted shapes are {SHAPES}.")


def to_unit(a: np.ndarray, path: Path) -> torch.Tensor:
    """uint8 → /255; floats in [0, 1] kept, floats in [-1, 1] mapped to [0, 1]."""
    if a.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32) / 255.0)
    if not np.issubdtype(a.dtype, np.floating):
        raise GankitError(
            f"Images in {str(path)!r} have dtype {a.dtype}; save them as uint8 "
            "(0..255) or float in [0, 1]."
        )
    x = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    if not torch.isfinite(x).all():
        raise GankitError(f"Images in {str(path)!r} contain NaN or infinite values; remove them.")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0:
        if lo < -1 - _TOL or hi > 1 + _TOL:
            raise GankitError(
                f"Float images in {str(path)!r} span [{lo:.3g}, {hi:.3g}]; "
                "scale them to [0, 1] or [-1, 1]."
            )
        return ranges.to_unit(x, "symmetric", clamp=False)
    if hi > 1 + _TOL:
        raise GankitError(
            f"Float images in {str(path)!r} span [{lo:.3g}, {hi:.3g}]; scale them "
            "to [0, 1] or [-1, 1] (or save uint8 0..255)."
        )
    return x


def check_labels(labels: np.ndarray, n: int, path: Path) -> torch.Tensor:
    """Integer labels, one per sample, non-negative."""
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (n,):
        raise GankitError(
            f"Labels in {str(path)!r} must be {n} integers (one per sample); "
            f"got dtype {labels.dtype} and shape {labels.shape}."
        )
    if n and labels.min() < 0:
        raise GankitError(f"Labels in {str(path)!r} must be non-negative class indices.")
    return torch.from_numpy(labels.astype(np.int64))


def load_arrays(cfg: DataConfig, options: NoOptions) -> Dataset:
    """Load images or points from ``data.path`` (.npy or .npz)."""
    if not cfg.path:
        raise GankitError(
            "The arrays data set needs data.path (--data-dir) set to a .npy or .npz file."
        )
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise GankitError(f"Array file {str(path)!r} does not exist; fix data.path.")
    a, raw_labels, key = read_arrays(path)
    if a.ndim < 2 or a.shape[0] == 0:
        raise GankitError(
            f"Array in {str(path)!r} has shape {a.shape}; accepted shapes are {SHAPES}, with N ≥ 1."
        )
    labels = None if raw_labels is None else check_labels(raw_labels, a.shape[0], path)
    class_names = None if labels is None else [str(i) for i in range(int(labels.max()) + 1)]
    info = {"path": str(path), "key": key}
    if a.ndim == 2:
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise GankitError(f"Points in {str(path)!r} have dtype {a.dtype}; save numbers.")
        x = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        if not torch.isfinite(x).all():
            raise GankitError(
                f"Points in {str(path)!r} contain NaN or infinite values; remove them."
            )
        return Dataset(
            name="arrays", x=x, kind="points", labels=labels, class_names=class_names, info=info
        )
    a, layout = to_nchw(a, path)
    x = to_channels(to_unit(a, path), cfg.channels)
    h, w = x.shape[-2:]
    if cfg.image_size is None and h != w:
        raise GankitError(
            f"Images in {str(path)!r} are {h}×{w}, not square; set "
            "data.image_size to crop and resize them."
        )
    if cfg.image_size is not None:
        x = resize_images(center_crop_square(x).contiguous(), cfg.image_size)
    return Dataset(
        name="arrays",
        x=ranges.from_unit(x, cfg.normalize),
        kind="image",
        normalize=cfg.normalize,
        labels=labels,
        class_names=class_names,
        info={**info, "layout": layout, "dtype": str(a.dtype)},
    )


DATASETS.add(
    "arrays",
    DataSource(
        load_arrays, NoOptions, "your own images or points from a .npy/.npz file (data.path)"
    ),
)
