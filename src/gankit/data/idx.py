"""MNIST and Fashion-MNIST: IDX files found locally or downloaded into a cache, always verified.

Files are looked up, per file, in: ``data.path`` (the folder itself or its ``<name>/`` sub-folder),
``$GANKIT_DATA_DIR/<name>/``, then the cache ``$GANKIT_CACHE_DIR/<name>/`` (default
``~/.cache/gankit``); missing ``.gz`` files are downloaded from the mirror into the cache. Each file
may be gzipped or already decompressed; the md5 of its decompressed bytes is always checked.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import field_validator

from gankit.config import DataConfig
from gankit.console import say
from gankit.data.base import DATASETS, Dataset, DataSource, Evaluation
from gankit.data.ranges import from_unit_
from gankit.data.transforms import resize_images, to_channels
from gankit.errors import GankitError
from gankit.options import StrictModel

TIMEOUT_S = 60.0
_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_ALL_FILES = [f for pair in _SPLITS.values() for f in pair]


@dataclass(frozen=True)
class IdxSpec:
    """One IDX data set: its folder name, default mirror, published md5s and class names."""

    name: str
    title: str
    mirror: str
    md5: dict[str, str]
    class_names: list[str]


MNIST = IdxSpec(
    "mnist",
    "MNIST",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    [str(i) for i in range(10)],
)
FASHION_MNIST = IdxSpec(
    "fashion-mnist",
    "Fashion-MNIST",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
)


class IdxOptions(StrictModel):
    """Options of ``mnist`` and ``fashion-mnist``."""

    split: Literal["train", "test"] = "train"
    mirror: str | None = None  # base URL; None = the data set's usual public mirror
    download: bool = True

    @field_validator("mirror")
    @classmethod
    def _url(cls, mirror: str | None) -> str | None:
        if mirror is not None and not mirror.startswith(("http://", "https://", "file://")):
            raise ValueError("mirror must be an http://, https:// or file:// URL")
        return mirror


def cache_dir() -> Path:
    """Where downloads go: ``$GANKIT_CACHE_DIR`` or ``~/.cache/gankit``."""
    return Path(os.environ.get("GANKIT_CACHE_DIR") or Path.home() / ".cache" / "gankit")


def search_dirs(name: str, path: str | None) -> list[Path]:
    """Where the files of the data set ``name`` are looked for, in order: ``data.path`` and its
    ``<name>/`` sub-folder, ``$GANKIT_DATA_DIR/<name>/``, the cache's ``<name>/``."""
    dirs: list[Path] = []
    if path:
        root = Path(path).expanduser()
        if not root.is_dir():
            raise GankitError(f"Data folder {str(root)!r} does not exist; fix data.path.")
        dirs += [root, root / name]
    if os.environ.get("GANKIT_DATA_DIR"):
        dirs.append(Path(os.environ["GANKIT_DATA_DIR"]).expanduser() / name)
    return [*dirs, cache_dir() / name]


def _find(fname: str, dirs: list[Path]) -> Path | None:
    for folder in dirs:
        for candidate in (folder / fname, folder / f"{fname}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _read(path: Path) -> bytes:
    """The decompressed content of ``path`` (gzip detected by its magic bytes)."""
    data = path.read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        raise GankitError(
            f"File {str(path)!r} is not a valid gzip file; delete it and download it again."
        ) from None


def _missing_error(spec: IdxSpec, why: str) -> GankitError:
    names = ", ".join(f"{f}.gz" for f in _ALL_FILES)
    return GankitError(
        f"{spec.title} files not found ({why}): put {names} (gzipped or not) in "
        f"{cache_dir() / spec.name}, or pass --data-dir / set GANKIT_DATA_DIR to a folder "
        f"holding {spec.name}/ with them."
    )


def fetch(url: str, target: Path, ok: Callable[[Path], bool], bad: str,
          missing: Callable[[str], GankitError]) -> Path:
    """Download ``url`` to ``target`` with a progress bar, through a temporary file beside it
    that becomes ``target`` only if ``ok(file)``; else ``GankitError(bad)``, and a failed
    transfer raises ``missing(reason)``. Nothing is left behind when it fails."""
    from tqdm.auto import tqdm

    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    say(f"downloading {url} into {folder}.")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=target.name,
                disable=None,
                leave=False,
            ) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
        if not ok(tmp):
            raise GankitError(bad)
        os.replace(tmp, target)
        return target
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", None) or err
        raise missing(f"download of {url} failed: {reason}") from None
    finally:
        tmp.unlink(missing_ok=True)


def download(spec: IdxSpec, fname: str, mirror: str) -> Path:
    """Download ``<mirror>/<fname>.gz`` into the cache; kept only if its content md5 matches."""

    def content_ok(tmp: Path) -> bool:
        try:
            content = gzip.decompress(tmp.read_bytes())
        except (OSError, EOFError, zlib.error):
            content = b""
        return hashlib.md5(content).hexdigest() == spec.md5[fname]

    return fetch(
        mirror.rstrip("/") + f"/{fname}.gz",
        cache_dir() / spec.name / f"{fname}.gz",
        content_ok,
        f"Downloaded {fname}.gz from {mirror} failed its checksum check; try again later or use "
        "another mirror.",
        lambda why: _missing_error(spec, why),
    )


def parse_idx(data: bytes, ndim: int, what: str) -> np.ndarray:
    """Parse an unsigned-byte IDX file with ``ndim`` dimensions into a uint8 array."""
    header = 4 + 4 * ndim
    if len(data) < header or data[:2] != b"\0\0" or data[2] != 0x08 or data[3] != ndim:
        raise GankitError(
            f"File {what!r} is not an unsigned-byte IDX file with {ndim} "
            "dimension(s); replace it with the original file."
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(dims)):
        raise GankitError(
            f"File {what!r} holds {len(data) - header} values but its header "
            f"says {dims}; replace it with the original file."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_idx(spec: IdxSpec, cfg: DataConfig, options: IdxOptions) -> Dataset:
    """Locate (or download), verify and parse one split of an IDX data set."""
    dirs = search_dirs(spec.name, cfg.path)
    mirror = options.mirror or spec.mirror
    paths: dict[str, Path] = {}
    for fname in _SPLITS[options.split]:
        found = _find(fname, dirs)
        if found is None:
            if not options.download:
                raise _missing_error(spec, f"no {fname} and download is off")
            found = download(spec, fname, mirror)
        paths[fname] = found
    tensors = []
    for (fname, path), ndim in zip(paths.items(), (3, 1), strict=True):
        content = _read(path)
        if hashlib.md5(content).hexdigest() != spec.md5[fname]:
            raise GankitError(
                f"File {str(path)!r} does not match the published checksum of "
                f"{spec.title} {fname}; delete it so it is downloaded again."
            )
        # one copy of the file's bytes, which are freed at once (peak memory)
        array = parse_idx(content, ndim, str(path))
        tensors.append(torch.from_numpy(array.copy() if ndim == 3 else array.astype(np.int64)))
        del array, content
    x, labels = tensors
    x = x.unsqueeze_(1)
    resize = bool(cfg.image_size and cfg.image_size != 28)
    # kept as 8-bit pixels (decoded batch by batch) unless resized: then float32
    pixels8 = not resize
    if pixels8:
        x = to_channels(x, cfg.channels)
    else:
        x = to_channels(x.float().div_(255.0), cfg.channels)
        x = from_unit_(resize_images(x, cfg.image_size) if resize else x, cfg.normalize)
    return Dataset(
        name=spec.name,
        x=x,
        pixels8=pixels8,
        kind="image",
        normalize=cfg.normalize,
        labels=labels,
        class_names=list(spec.class_names),
        info={
            "split": options.split,
            "files": {f: str(p) for f, p in paths.items()},
            "md5_verified": {f: spec.md5[f] for f in paths},
            "native_size": 28,
        },
    )


for _spec, _what in ((MNIST, "70k handwritten digits"), (FASHION_MNIST, "70k clothing images")):
    DATASETS.add(
        _spec.name,
        DataSource(
            lambda cfg, options, spec=_spec: load_idx(spec, cfg, options),
            IdxOptions,
            f"{_spec.title}: {_what}, 28×28 grey, 10 classes (local or downloaded, md5-checked)",
            Evaluation(test_split=True),
        ),
    )
