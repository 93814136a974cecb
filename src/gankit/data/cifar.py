"""CIFAR-10: 60,000 colour photos, 32×32 RGB, 10 classes (50,000 train, 10,000 test), read from
either of two archives found locally or downloaded into a cache, always md5-verified.

The archive is looked for, folder by folder, in ``data.path`` (the folder itself or its
``cifar10/`` sub-folder), ``$GANKIT_DATA_DIR/cifar10/``, then the cache
``$GANKIT_CACHE_DIR/cifar10/`` (default ``~/.cache/gankit``); in each folder the official archive
comes first. The md5 of the whole archive file is checked on every load.

* ``cifar-10-python.tar.gz``, the official archive (https://www.cs.toronto.edu/~kriz/cifar.html):
  pickled batches ``data_batch_1`` … ``data_batch_5`` and ``test_batch``. When no archive is
  found and ``download`` is on, it is downloaded from the mirror into the cache. The batches are
  Python pickles, so they are read by an unpickler that builds plain data only (dicts, lists,
  bytes, ints, strings, and numpy arrays through numpy's three reconstruction globals): any
  other global, a class or a function, is refused and the archive named as corrupt.
* ``cifar10-jpg.tar.gz``, the JPEG archive of the project's machines: ``train/<class>/NNNN.jpg``
  (5,000 a class) and ``test/<class>/NNNN.jpg`` (1,000 a class). Its images are
  **JPEG-recompressed, therefore not bit-identical to CIFAR-10** (mean within 1e-4, standard
  deviation about 1 % lower): FID against published CIFAR-10 statistics will not match exactly;
  compare runs with each other. Decoding its JPEGs takes seconds, so the decoded uint8 pixels of
  each split are kept in the cache as ``cifar10/decoded-<archive md5>-<split>.npy`` (written
  atomically; used only when its shape and type are right, else decoded and written again) and
  later loads read that file instead.

Samples come in a fixed order: the official batches' order; for the JPEG archive by class index
(its class folders map by name to the official classes), then by file name. Images are kept as
their 8-bit pixels, uint8 ``(N, 3, 32, 32)`` decoded batch by batch (:attr:`Dataset.pixels8`),
unless ``data.image_size`` asks for another size or ``data.channels=1`` for grey: then float32.
"""

from __future__ import annotations

import codecs
import io
import pickle
import tarfile
import warnings
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.console import say
from gankit.data.base import DATASETS, Dataset, DataSource, Evaluation
from gankit.data.idx import IdxOptions, cache_dir, fetch, search_dirs
from gankit.data.pixels import image_pixels
from gankit.data.ranges import from_unit_
from gankit.data.transforms import resize_images, to_channels
from gankit.errors import GankitError
from gankit.fileio import atomic_file, file_digest

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct

NAME = "cifar10"
MIRROR = "https://www.cs.toronto.edu/~kriz/"
OFFICIAL = "cifar-10-python.tar.gz"
JPEG = "cifar10-jpg.tar.gz"
#: md5 of each archive file (the published one; the JPEG archive's as made): only these are read
MD5 = {OFFICIAL: "c58f30108f718f92721af3b95e74349a", JPEG: "7c81e05f23e9ae3b983a23b65a5643c9"}
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]
SIDE = 32
_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_META = "batches.meta"
_JPEG_PER_CLASS = {"train": 5_000, "test": 1_000}
_TAR_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)
_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
#: the only globals a CIFAR-10 batch refers to: numpy's array reconstruction (``numpy.core`` in
#: the official pickles, ``numpy._core`` in numpy 2's) and ``_codecs.encode``, with which Python 3
#: writes bytes at protocol 2
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class CifarOptions(IdxOptions):
    """Options of ``cifar10``: ``split``; ``download``, the official archive into the cache when
    no archive is found; ``mirror``, the base URL it is downloaded from (None: the Toronto
    site)."""


class _BatchUnpickler(pickle.Unpickler):
    """Builds plain data only; any global outside :data:`_ALLOWED_GLOBALS` is refused."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR-10 "
                                         "batch never holds") from None


def _corrupt(path: Path, why: str) -> GankitError:
    return GankitError(f"Archive {str(path)!r} is not a valid CIFAR-10 archive ({why}); delete "
                       "it and put the original file in its place.")


def _missing_error(why: str) -> GankitError:
    return GankitError(
        f"CIFAR-10 files not found ({why}): put {OFFICIAL} (from {MIRROR}) or {JPEG} in "
        f"{cache_dir() / NAME}, or pass --data-dir / set GANKIT_DATA_DIR to a folder holding "
        f"{NAME}/ with one of them."
    )


def find_archive(dirs: list[Path]) -> Path | None:
    """The first archive in ``dirs``, the official one first within a folder."""
    for folder in dirs:
        for name in (OFFICIAL, JPEG):
            if (folder / name).is_file():
                return folder / name
    return None


def download(mirror: str) -> Path:
    """Download ``<mirror>/cifar-10-python.tar.gz`` into the cache; kept only if its md5 matches."""
    return fetch(
        mirror.rstrip("/") + f"/{OFFICIAL}",
        cache_dir() / NAME / OFFICIAL,
        lambda tmp: file_digest(tmp, "md5") == MD5[OFFICIAL],
        f"Downloaded {OFFICIAL} from {mirror} failed its checksum check; try again later or use "
        "another mirror.",
        _missing_error,
    )


def unpickle_batch(data: bytes, path: Path, member: str) -> dict[str, Any]:
    """One pickled batch as a dict with str keys (the official pickles' keys are bytes)."""
    try:
        # any error a hostile or damaged pickle can raise means the same: not a batch
        batch = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as err:
        raise _corrupt(path, f"{member} cannot be read: {err}") from None
    if not isinstance(batch, dict):
        raise _corrupt(path, f"{member} is not a dict")
    return {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _read_official(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and int64 labels of the pickled batches, in batch order."""
    wanted = [*_BATCHES[split], _META]
    found: dict[str, dict[str, Any]] = {}
    try:
        with tarfile.open(path, "r|gz") as tar:
            for member in tar:
                name = PurePosixPath(member.name).name
                if member.isfile() and name in wanted and name not in found:
                    found[name] = unpickle_batch(tar.extractfile(member).read(), path, name)
    except _TAR_ERRORS as err:
        raise _corrupt(path, f"unreadable or truncated: {err}") from None
    missing = [name for name in wanted if name not in found]
    if missing:
        raise _corrupt(path, f"it holds no {missing[0]}")
    names = [n.decode("latin-1") if isinstance(n, bytes) else n
             for n in found[_META].get("label_names", [])]
    if names != CLASS_NAMES:
        raise _corrupt(path, f"its {_META} does not name the 10 CIFAR-10 classes")
    xs, ys = [], []
    for name in _BATCHES[split]:
        batch = found.pop(name)
        data, labels = batch.get("data"), batch.get("labels")
        if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
                and data.shape[1] == 3 * SIDE * SIDE and isinstance(labels, list)
                and len(labels) == len(data)
                and all(type(v) is int and 0 <= v < len(CLASS_NAMES) for v in labels)):
            raise _corrupt(path, f"{name} is not a batch of {3 * SIDE * SIDE}-byte images with "
                           "as many labels 0 to 9")
        xs.append(data.reshape(-1, 3, SIDE, SIDE))
        ys.append(np.asarray(labels, dtype=np.int64))
        del batch, data
    return np.concatenate(xs), np.concatenate(ys)


def _decode_jpeg(path: Path, split: str) -> np.ndarray:
    """The split's images (N, 3, 32, 32) uint8, by class index then file name."""
    from tqdm.auto import tqdm

    index = {name: i for i, name in enumerate(CLASS_NAMES)}
    files: list[tuple[int, str, bytes]] = []
    try:
        with tarfile.open(path, "r|gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if member.isfile() and len(parts) == 3 and parts[0] == split:
                    if parts[1] not in index:
                        raise _corrupt(path, f"{split}/{parts[1]}/ is not a CIFAR-10 class")
                    files.append((index[parts[1]], parts[2], tar.extractfile(member).read()))
    except _TAR_ERRORS as err:
        raise _corrupt(path, f"unreadable or truncated: {err}") from None
    counts = np.bincount([f[0] for f in files], minlength=len(CLASS_NAMES))
    per_class = _JPEG_PER_CLASS[split]
    if (counts != per_class).any():
        worst = int(np.argmax(counts != per_class))
        raise _corrupt(path, f"{split}/{CLASS_NAMES[worst]}/ holds {counts[worst]} images, "
                       f"not {per_class:,}")
    files.sort(key=lambda f: f[:2])
    x = np.empty((len(files), 3, SIDE, SIDE), dtype=np.uint8)
    say(f"decoding the {len(files):,} JPEGs of the CIFAR-10 {split} split, once: later loads "
        "read them from the cache.")
    bar = tqdm(files, desc=f"cifar10 {split}", unit="image", disable=None, leave=False)
    for i, (label, fname, data) in enumerate(bar):
        where = f"{split}/{CLASS_NAMES[label]}/{fname}"
        try:
            with Image.open(io.BytesIO(data)) as im:
                pixels = image_pixels(im, 3)
        except _IMAGE_ERRORS as err:
            raise _corrupt(path, f"{where} is not a readable image: {err}") from None
        if pixels.shape != (SIDE, SIDE, 3):
            raise _corrupt(path, f"{where} is not {SIDE}×{SIDE}")
        x[i] = pixels.transpose(2, 0, 1)
    return x


def _read_jpeg(path: Path, md5: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The split's images, from the decoded cache when it holds them, and their labels."""
    per_class = _JPEG_PER_CLASS[split]
    shape = (per_class * len(CLASS_NAMES), 3, SIDE, SIDE)
    labels = np.repeat(np.arange(len(CLASS_NAMES), dtype=np.int64), per_class)
    cached = cache_dir() / NAME / f"decoded-{md5}-{split}.npy"
    try:
        x = np.load(cached, allow_pickle=False)
        if x.shape == shape and x.dtype == np.uint8:
            return x, labels
    except (OSError, ValueError, EOFError):
        pass  # absent or damaged: decoded again below
    x = _decode_jpeg(path, split)
    try:
        with atomic_file(cached) as handle:
            np.save(handle, x, allow_pickle=False)
    except OSError as err:
        warnings.warn(f"Could not keep the decoded CIFAR-10 {split} images in {cached} "
                      f"({err.strerror or err}); the next load decodes them again.",
                      stacklevel=3)
    return x, labels


def load_cifar(cfg: DataConfig, options: CifarOptions) -> Dataset:
    """Locate (or download), verify and read one split of CIFAR-10."""
    path = find_archive(search_dirs(NAME, cfg.path))
    if path is None:
        if not options.download:
            raise _missing_error("no archive and download is off")
        path = download(options.mirror or MIRROR)
    md5 = file_digest(path, "md5")
    if md5 != MD5[path.name]:
        fix = "so it is downloaded again" if path.name == OFFICIAL else "and put the original back"
        raise GankitError(f"File {str(path)!r} does not match the checksum of {path.name} "
                          f"(md5 {md5}, expected {MD5[path.name]}): it is damaged or truncated; "
                          f"delete it {fix}.")
    official = path.name == OFFICIAL
    x, labels = (_read_official(path, options.split) if official
                 else _read_jpeg(path, md5, options.split))
    images = torch.from_numpy(x)
    resize = bool(cfg.image_size and cfg.image_size != SIDE)
    # kept as 8-bit pixels (decoded batch by batch) unless resized or made grey: then float32
    pixels8 = not resize and cfg.channels != 1
    if not pixels8:
        images = to_channels(images.float().div_(255.0), cfg.channels)
        images = from_unit_(resize_images(images, cfg.image_size) if resize else images,
                            cfg.normalize)
    return Dataset(
        name=NAME,
        x=images,
        pixels8=pixels8,
        kind="image",
        normalize=cfg.normalize,
        labels=torch.from_numpy(labels),
        class_names=list(CLASS_NAMES),
        info={
            "split": options.split,
            "file": str(path),
            "md5_verified": md5,
            "format": "python" if official else "jpeg",
            "native_size": SIDE,
        },
    )


DATASETS.add(
    NAME,
    DataSource(
        load_cifar,
        CifarOptions,
        "CIFAR-10: 60k colour photos, 32×32 RGB, 10 classes (official archive, local or "
        "downloaded, or the JPEG archive; md5-checked)",
        Evaluation(test_split=True),
    ),
)
