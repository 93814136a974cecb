"""Image-to-image translation from your own folders: ``pairs`` (pix2pix) and ``unpaired``
(CycleGAN).

``pairs`` (``data.path`` = DIR) finds one of two layouts by itself:

* side by side: image files each holding A on the left half and B on the right (pix2pix's
  own data sets);
* ``A/`` and ``B/``: folders whose files pair up by name without the extension
  (``x.png`` ↔ ``x.jpg``).

Either sits in DIR itself or in ``DIR/train`` and ``DIR/test`` (``DIR/val`` when there is no
``test``). With no test folder a fixed 10 % of the pairs (a seeded draw over the sorted file
names) is held out as the test split. ``unpaired`` reads ``DIR/trainA``, ``DIR/trainB``,
``DIR/testA`` and ``DIR/testB``: two separate sets of images (their counts may differ).

Options: ``split`` (``train``/``test``), ``direction`` (``AtoB``: ``a`` = A, ``x`` = B;
``BtoA`` swaps them) and ``crop`` (the least side every image must have, e.g. for random-crop
jitter). Images are read as :mod:`gankit.data.pair_images` says; unreadable files are left
out with one warning (in ``pairs`` with their partner).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import Field

from gankit.config import DataConfig
from gankit.data.base import DATASETS, Dataset, DataSource, Evaluation
from gankit.data.folder import find_images
from gankit.data.pair_images import (
    Domain,
    finish,
    halves,
    open_image,
    progress,
    to_array,
    warn_skipped,
)
from gankit.errors import GankitError
from gankit.options import StrictModel

#: the share of the pairs held out as the test split when there is no test folder
HELD_OUT = 0.1
HELD_OUT_SEED = 20_170_605
_SHOWN = 3
T = TypeVar("T")
_LAYOUTS = ("image files holding A on the left half and B on the right half, or folders A/ "
            "and B/ whose files pair up by name, each in DIR itself or in DIR/train and DIR/test")


class TranslationOptions(StrictModel):
    """Options of ``pairs`` and ``unpaired``."""

    split: Literal["train", "test"] = "train"
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    #: the least side every image must have (after data.image_size), e.g. for random crops
    crop: int | None = Field(None, ge=1, le=4096)


def data_root(cfg: DataConfig, name: str) -> Path:
    """``data.path`` as an existing folder, or one sentence saying why not."""
    if not cfg.path:
        raise GankitError(f"The {name} data set needs data.path (--data-dir) set to a folder "
                          "of images.")
    root = Path(cfg.path).expanduser()
    if not root.is_dir():
        raise GankitError(f"Folder {str(root)!r} does not exist or is not a folder; fix "
                          "data.path (--data-dir).")
    return root


def split_folder(root: Path, split: str) -> tuple[Path, bool]:
    """The folder holding ``split``, and whether the split is held out of it (no test folder)."""
    train = root / "train"
    test = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    if not train.is_dir():
        if test is not None and split == "train":
            raise GankitError(f"Folder {str(train)!r} is missing, though {str(test)!r} exists; "
                              "add the training pairs there or set data.options.split=test.")
        return (root, True) if test is None else (test, False)
    return (train, True) if test is None else (train if split == "train" else test, False)


def hold_out(items: list[T], split: str, where: Path) -> list[T]:
    """The ``split`` share of ``items`` (sorted by name): a fixed, seeded 10 % is the test."""
    n = len(items)
    count = max(1, round(n * HELD_OUT)) if n > 1 else 0
    test = set(np.random.default_rng(HELD_OUT_SEED).permutation(n)[:count].tolist())
    kept = [item for i, item in enumerate(items) if (i in test) == (split == "test")]
    if not kept:
        raise GankitError(f"Folder {str(where)!r} holds only {n} pair(s), too few to hold out "
                          "a test split; add pairs or a test/ folder.")
    return kept


def layout_of(base: Path) -> tuple[str, list[Any]]:
    """``folders`` (A/ and B/) and the file pairs, or ``side-by-side`` and the files, or one
    sentence saying neither fits."""
    a, b = (base / "A").is_dir(), (base / "B").is_dir()
    if a != b:
        missing = base / ("B" if a else "A")
        raise GankitError(f"Folder {str(missing)!r} is missing; the A/ and B/ layout needs "
                          "both domains, with one file of each name in each.")
    if a:
        return "folders", matched(base)
    if (base / "trainA").is_dir() or (base / "trainB").is_dir():
        raise GankitError(f"Folder {str(base)!r} holds a trainA/ or trainB/ folder, the "
                          "layout of unpaired domains; use --data unpaired, or folders A/ and B/ "
                          "for pairs.")
    files = find_images(base)
    if files:
        return "side-by-side", files
    raise GankitError(f"Folder {str(base)!r} holds no image files and matches neither layout "
                      f"of the pairs data, which expects {_LAYOUTS}.")


def _by_stem(folder: Path) -> dict[str, Path]:
    """The images of ``folder`` by relative path without extension (one file per name)."""
    files = find_images(folder)
    if not files:
        raise GankitError(f"Folder {str(folder)!r} holds no images.")
    named: dict[str, Path] = {}
    for path in files:
        stem = path.relative_to(folder).with_suffix("").as_posix()
        if stem in named:
            raise GankitError(f"Files {str(named[stem])!r} and {str(path)!r} share one name; "
                              "keep only one of them, since files pair up by name.")
        named[stem] = path
    return named


def _unmatched(side: dict[str, Path], other: dict[str, Path], names: tuple[str, str]) -> str:
    """How many files of one side have no partner, and the first few of them."""
    lonely = [stem + path.suffix for stem, path in side.items() if stem not in other]
    if not lonely:
        return ""
    shown = ", ".join(lonely[:_SHOWN]) + (", ..." if len(lonely) > _SHOWN else "")
    many = len(lonely) > 1
    return (f"{len(lonely)} file{'s' if many else ''} of {names[0]} "
            f"{'have' if many else 'has'} no partner in {names[1]} ({shown})")


def matched(base: Path) -> list[tuple[Path, Path]]:
    """The (A, B) file pairs of ``base/A`` and ``base/B``, sorted by name."""
    a, b = _by_stem(base / "A"), _by_stem(base / "B")
    problems = [t for t in (_unmatched(a, b, ("A/", "B/")), _unmatched(b, a, ("B/", "A/"))) if t]
    if problems:
        raise GankitError(f"In {str(base)!r}, {' and '.join(problems)}; give each pair one "
                          "file name in both folders.")
    return [(a[s], b[s]) for s in sorted(a)]


def _read_side_by_side(files: list[Path], cfg: DataConfig, a: Domain, b: Domain) -> list[Path]:
    skipped = []
    for path in progress(files, "pairs"):
        im = open_image(path, cfg.channels)
        if im is None:
            skipped.append(path)
            continue
        left, right = halves(im, path)
        a.add(to_array(left, cfg.image_size), path)
        b.add(to_array(right, cfg.image_size), path)
    return skipped


def _read_folders(pairs: list[tuple[Path, Path]], cfg: DataConfig, a: Domain,
                  b: Domain) -> list[Path]:
    skipped = []
    for path_a, path_b in progress(pairs, "pairs"):
        im_a, im_b = open_image(path_a, cfg.channels), open_image(path_b, cfg.channels)
        if im_a is None or im_b is None:
            skipped += [p for p, im in ((path_a, im_a), (path_b, im_b)) if im is None]
            continue
        if cfg.image_size is None and im_a.size != im_b.size:
            raise GankitError(
                f"The pair {str(path_a)!r} ({im_a.size[0]}×{im_a.size[1]}) and {str(path_b)!r} "
                f"({im_b.size[0]}×{im_b.size[1]}) differ in size; make them one size or set "
                "data.image_size to resize both.")
        a.add(to_array(im_a, cfg.image_size), path_a)
        b.add(to_array(im_b, cfg.image_size), path_b)
    return skipped


def _dataset(name: str, paired: bool, cfg: DataConfig, options: TranslationOptions, a: Domain,
             b: Domain, info: dict[str, Any]) -> Dataset:
    """The data set of the two read domains, ``direction`` applied."""
    source, target = (a, b) if options.direction == "AtoB" else (b, a)
    return Dataset(
        name=name, kind="pair", x=target.tensor(cfg.normalize), a=source.tensor(cfg.normalize),
        paired=paired, normalize=cfg.normalize,
        info={**info, "split": options.split, "direction": options.direction,
              "channels_a": source.channels, "channels_b": target.channels,
              "resize": "centre-crop + bicubic" if cfg.image_size else None,
              "crop": options.crop})


def load_pairs(cfg: DataConfig, options: TranslationOptions) -> Dataset:
    """Load one split of a folder of image pairs (see the module docstring)."""
    root = data_root(cfg, "pairs")
    base, held = split_folder(root, options.split)
    layout, items = layout_of(base)
    if held:
        items = hold_out(items, options.split, base)
    a, b = Domain("A"), Domain("B")
    read = _read_side_by_side if layout == "side-by-side" else _read_folders
    skipped = [str(p.relative_to(root)) for p in read(items, cfg, a, b)]
    warn_skipped(skipped, root)
    finish([a, b], options.crop, cfg.image_size is not None, base)
    return _dataset("pairs", True, cfg, options, a, b, {
        "root": str(root), "folder": str(base), "layout": layout, "held_out": held,
        "files": len(a.files) * (1 if layout == "side-by-side" else 2), "pairs": len(a.files),
        "skipped": skipped})


def unpaired_folders(root: Path, split: str) -> tuple[Path, Path]:
    """``root/<split>A`` and ``root/<split>B``, or one sentence naming what is missing."""
    known = [f"{s}{d}" for s in ("train", "test") for d in "AB"]
    if not any((root / k).is_dir() for k in known):
        raise GankitError(f"Folder {str(root)!r} matches no layout of the unpaired data, which "
                          "expects folders trainA/ and trainB/ (and testA/, testB/) of images.")
    folders = (root / f"{split}A", root / f"{split}B")
    for folder in folders:
        if not folder.is_dir():
            raise GankitError(f"Folder {str(folder)!r} is missing; the unpaired data needs "
                              f"{split}A/ and {split}B/ for data.options.split={split}.")
        if not find_images(folder):
            raise GankitError(f"Folder {str(folder)!r} holds no images.")
    return folders


def load_unpaired(cfg: DataConfig, options: TranslationOptions) -> Dataset:
    """Load one split of two separate image domains (see the module docstring)."""
    root = data_root(cfg, "unpaired")
    domains, skipped = [Domain("A"), Domain("B")], []
    for domain, folder in zip(domains, unpaired_folders(root, options.split), strict=True):
        for path in progress(find_images(folder), f"domain {domain.name}"):
            im = open_image(path, cfg.channels)
            if im is None:
                skipped.append(str(path.relative_to(root)))
            else:
                domain.add(to_array(im, cfg.image_size), path)
    warn_skipped(skipped, root)
    finish(domains, options.crop, cfg.image_size is not None, root)
    a, b = domains
    return _dataset("unpaired", False, cfg, options, a, b, {
        "root": str(root), "layout": "unpaired", "held_out": False,
        "files": len(a.files) + len(b.files), "images_a": len(a.files),
        "images_b": len(b.files), "skipped": skipped})


DATASETS.add("pairs", DataSource(
    load_pairs, TranslationOptions,
    "your own image pairs for translation (pix2pix): A|B side-by-side files or A/ and B/ "
    "folders (data.path)", Evaluation(test_split=True)))
DATASETS.add("unpaired", DataSource(
    load_unpaired, TranslationOptions,
    "your own unpaired image domains (CycleGAN): trainA/, trainB/, testA/, testB/ (data.path)",
    Evaluation(test_split=True)))
