"""Image-translation tasks made from real data (``kind="pair"``): the output domain B is a real
image, the input domain A is computed from it by a fixed operator, documented exactly here so that
inputs can be made from other images the same way. The CIFAR-10 tasks are in :mod:`.tasks_cifar`.

Every task loads its source through the ``mnist`` / ``cifar10`` loader (same ``path``, ``split``,
``download``, ``mirror``: the files are found, downloaded and md5-checked the same way), in [0, 1]
and resized first when ``data.image_size`` is set; A is derived from that B, then both are mapped
to ``data.normalize``. Common options: ``paired`` (default True) and ``direction`` (``AtoB``;
``BtoA`` swaps ``a``/``x`` and ``labels_a``/``labels``; ``mask`` is not swapped).

``paired=False`` (CycleGAN's unpaired setting), **train split only**: the split is cut into two
disjoint halves, balanced by class: each class's images, in index order, go to A and to B in turn
(A first: its 1st, 3rd, … images to A, its 2nd, 4th, … to B); each domain keeps index order, so
``data.limit`` takes a representative prefix of each. No image is in both domains. (The first and
second half of the split would give CIFAR-10's JPEG archive, ordered by class, domains of different
classes.) ``mask`` then follows the A images, and is None with ``BtoA`` (no input then hides
anything). **The test split is always paired**, even with ``paired=False``, so that unpaired
models are scored against ground truth.

``mnist-edges``: A = binary edge map of the digit B.
    On the [0, 1] image (each channel), ``Gx`` and ``Gy`` are the cross-correlations, zero padded
    (output H×W), with ``Kx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]`` and ``Ky = Kx.T``;
    ``A = 1`` where ``sqrt(Gx² + Gy²) >= threshold`` (option, default 1.0), else 0. The 8-bit
    images are computed exactly in integers: ``Gx8² + Gy8² >= (255·threshold)²`` on the pixel
    values 0..255 (the same test, without rounding). Kept as 8-bit (0 / 255) like MNIST.
``mnist-inpaint``: A = B with the pixels under ``mask`` set to mid-grey 0.5 (in [0, 1] units).
    ``mask`` (bool ``(N, 1, H, W)``, True = hidden), in pixels of the loaded image:

    * ``centre``: the square of side ``mask_size`` (default 10: a quarter of the 20×20 box
      MNIST draws its digits in) at rows and columns ``(H - mask_size) // 2`` to
      ``(H - mask_size) // 2 + mask_size - 1`` (9..18 for 10 of 28);
    * ``boxes``: 1 to 3 rectangles a image, from ``u = torch.rand((N, 13), dtype=torch.float64,
      generator=torch.Generator().manual_seed(seed))`` for the N images of the split in index
      order (row i is image i's; independent of N and of ``data.limit``): ``count = 1 +
      floor(3·u[i, 0])``, and box ``j < count`` (j = 0, 1, 2) has height ``h = 6 + floor(9·u[i,
      1 + 4j])``, width ``w = 6 + floor(9·u[i, 2 + 4j])`` (6..14 px), top ``floor((H - h + 1)·u[i,
      3 + 4j])`` and left ``floor((W - w + 1)·u[i, 4 + 4j])``; the mask is their union.

    Kept as float32 (0.5 has no 8-bit value).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

import torch
import torch.nn.functional as F
from pydantic import Field

from gankit.config import DataConfig
from gankit.data.base import DATASETS, Dataset, DataSource, Evaluation
from gankit.data.idx import IdxOptions
from gankit.data.ranges import from_unit_
from gankit.errors import GankitError
from gankit.options import StrictModel

#: mid-grey that fills the hidden pixels of an inpainting input, in [0, 1] units
GREY = 0.5
BOX_SIDES = (6, 14)
#: images the operators work on at a time (bounds the memory of their float copies)
CHUNK = 4096


class PairFields(StrictModel):
    """The options every translation task adds to its loader's."""

    paired: bool = True
    direction: Literal["AtoB", "BtoA"] = "AtoB"


class TaskOptions(Protocol):
    """What the shared helpers read of a task's options (its loader's and :class:`PairFields`)."""

    split: Literal["train", "test"]
    mirror: str | None
    download: bool
    paired: bool
    direction: Literal["AtoB", "BtoA"]


class MnistTaskOptions(IdxOptions, PairFields):
    """Options of the MNIST tasks: ``split``, ``download``, ``mirror``, ``paired``,
    ``direction``."""


class EdgesOptions(MnistTaskOptions):
    """Options of ``mnist-edges``; ``threshold``: the Sobel magnitude where an edge starts."""

    threshold: float = Field(1.0, gt=0.0, le=6.0)


class InpaintOptions(MnistTaskOptions):
    """Options of ``mnist-inpaint``: ``mask`` (``centre`` or ``boxes``), ``mask_size`` (side of
    the centre square, px) and ``seed`` (of the boxes)."""

    mask: Literal["centre", "boxes"] = "centre"
    mask_size: int = Field(10, ge=1, le=2048)
    seed: int = Field(0, ge=0)


def chunked(op: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
            size: int = CHUNK) -> torch.Tensor:
    """``op`` applied to ``x`` ``size`` images at a time (bounds the memory of its copies)."""
    if len(x) <= size:
        return op(x)
    return torch.cat([op(x[i : i + size]) for i in range(0, len(x), size)])


def sobel_edges(x: torch.Tensor, threshold: float = 1.0) -> torch.Tensor:
    """Binary Sobel edges of ``(N, C, H, W)`` images, channel by channel: float [0, 1] images
    give 0. / 1., uint8 ones (pixel values, computed exactly) give 0 / 255."""
    eight_bit = x.dtype == torch.uint8
    limit = (threshold * (255 if eight_bit else 1)) ** 2

    def edges(part: torch.Tensor) -> torch.Tensor:
        p = F.pad(part.float() if eight_bit else part, (1, 1, 1, 1))  # zero padding
        # the separable Sobel kernels: [1, 2, 1] across the derivative's direction, [-1, 0, 1]
        v = p[..., :-2, :] + 2 * p[..., 1:-1, :] + p[..., 2:, :]
        h = p[..., :-2] + 2 * p[..., 1:-1] + p[..., 2:]
        gx, gy = v[..., 2:] - v[..., :-2], h[..., 2:, :] - h[..., :-2, :]
        edge = gx.square_().add_(gy.square_()) >= limit
        return edge.to(torch.uint8).mul_(255) if eight_bit else edge.to(part.dtype)

    return chunked(edges, x)


def centre_mask(n: int, height: int, width: int, size: int) -> torch.Tensor:
    """``(n, 1, height, width)`` bool masks, True on the central ``size × size`` square."""
    if size > min(height, width):
        raise GankitError(f"mask_size {size} does not fit in {height}×{width} images; make "
                          "data.options.mask_size smaller.")
    mask = torch.zeros(n, 1, height, width, dtype=torch.bool)
    top, left = (height - size) // 2, (width - size) // 2
    mask[..., top : top + size, left : left + size] = True
    return mask


def box_masks(n: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """``(n, 1, height, width)`` bool masks of 1 to 3 random rectangles each (module docstring);
    image i's mask depends on ``seed`` and ``i`` only."""
    low, high = BOX_SIDES
    if high > min(height, width):
        raise GankitError(f"Boxes of up to {high} px do not fit in {height}×{width} images; use "
                          "mask=centre or a larger data.image_size.")
    u = torch.rand((n, 13), dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    count = 1 + (3 * u[:, 0]).floor().long()
    box = u[:, 1:].view(n, 3, 4)
    h = low + ((high - low + 1) * box[..., 0]).floor().long()
    w = low + ((high - low + 1) * box[..., 1]).floor().long()
    top = ((height - h + 1) * box[..., 2]).floor().long()
    left = ((width - w + 1) * box[..., 3]).floor().long()
    rows = torch.arange(height).view(1, 1, -1, 1)
    cols = torch.arange(width).view(1, 1, 1, -1)
    inside = ((rows >= top[..., None, None]) & (rows < (top + h)[..., None, None])
              & (cols >= left[..., None, None]) & (cols < (left + w)[..., None, None]))
    used = torch.arange(3).view(1, 3, 1, 1) < count.view(n, 1, 1, 1)
    return (inside & used).any(dim=1, keepdim=True)


def inpaint_input(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Float [0, 1] images with the pixels under ``mask`` (bool, broadcast) set to 0.5."""
    return x.masked_fill(mask, GREY)


def load_source(cfg: DataConfig, name: str, options: TaskOptions) -> Dataset:
    """The ``name`` data (``mnist``, ``cifar10``) in [0, 1] with ``options``' split and files;
    ``data.limit`` is applied at once where that gives the same rows (paired, no classes)."""
    from gankit.data import load_dataset

    whole = cfg.classes is not None or (not options.paired and options.split == "train")
    inner = DataConfig(name=name, path=cfg.path, image_size=cfg.image_size, channels=cfg.channels,
                       normalize="unit", limit=None if whole else cfg.limit,
                       options={"split": options.split, "download": options.download,
                                "mirror": options.mirror})
    return load_dataset(inner)


def unit(source: Dataset) -> torch.Tensor:
    """A source's images as float32 in [0, 1] (8-bit ones decoded)."""
    return source.x.float().div_(255.0) if source.pixels8 else source.x


def unpaired_rows(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row indices of the two unpaired domains: each class's rows, in index order, go to A and
    B in turn (A first); both sorted."""
    order = torch.sort(labels, stable=True).indices
    sorted_labels = labels[order]
    starts = torch.searchsorted(sorted_labels, sorted_labels, side="left")
    to_a = torch.zeros(len(labels), dtype=torch.bool)
    to_a[order] = (torch.arange(len(labels)) - starts) % 2 == 0
    return to_a.nonzero().squeeze(1), (~to_a).nonzero().squeeze(1)


def pair_dataset(name: str, cfg: DataConfig, options: TaskOptions, source: Dataset,
                 b: torch.Tensor, make_a: Callable[[torch.Tensor, torch.Tensor | None],
                                                   torch.Tensor],
                 pixels8: bool, mask: torch.Tensor | None = None, **facts: object) -> Dataset:
    """The task's :class:`Dataset` from B and ``make_a(B rows, their masks)``, its A (both in
    [0, 1], or both 8-bit with ``pixels8``): unpaired split, range mapping and direction as the
    module docstring says. Only the A images used are made."""
    labels = source.labels
    labels_a = labels
    paired = options.paired or options.split == "test"
    info: dict[str, object] = {"task": name, "source": source.name, "split": options.split,
                               "paired": paired, "direction": options.direction, **facts,
                               "source_info": source.info}
    if not paired:
        rows_a, rows_b = unpaired_rows(labels)
        mask = None if mask is None else mask[rows_a]
        a, labels_a = make_a(b[rows_a], mask), labels[rows_a]
        b, labels = b[rows_b], labels[rows_b]
        info["unpaired"] = {"rule": "each class's images, in index order, to A and B in turn",
                            "a_rows": len(rows_a), "b_rows": len(rows_b)}
    else:
        a = make_a(b, mask)
    if not pixels8:
        b, a = from_unit_(b, cfg.normalize), from_unit_(a, cfg.normalize)
    if options.direction == "BtoA":
        a, b, labels_a, labels = b, a, labels, labels_a
        if not paired:
            mask = None
    return Dataset(name=name, x=b, kind="pair", normalize=cfg.normalize, labels=labels,
                   class_names=source.class_names, info=info, pixels8=pixels8, a=a,
                   labels_a=labels_a, paired=paired, mask=mask)


def load_edges(cfg: DataConfig, options: EdgesOptions) -> Dataset:
    """``mnist-edges``: A = the Sobel edge map of the digit B (module docstring)."""
    source = load_source(cfg, "mnist", options)
    return pair_dataset("mnist-edges", cfg, options, source, source.x,
                        lambda b, _: sobel_edges(b, options.threshold), source.pixels8,
                        operator=f"sobel 3x3, zero padding, magnitude >= {options.threshold}")


def load_inpaint(cfg: DataConfig, options: InpaintOptions) -> Dataset:
    """``mnist-inpaint``: A = the digit B with a masked region set to grey (module docstring)."""
    source = load_source(cfg, "mnist", options)
    b = unit(source)
    n, _, height, width = b.shape
    if options.mask == "centre":
        mask = centre_mask(n, height, width, options.mask_size)
        what = f"centre square {options.mask_size} px"
    else:
        mask = box_masks(n, height, width, options.seed)  # row i: image i's, whatever n is
        what = f"1-3 boxes, sides {BOX_SIDES[0]}-{BOX_SIDES[1]} px, seed {options.seed}"
    return pair_dataset("mnist-inpaint", cfg, options, source, b, inpaint_input, False, mask=mask,
                        operator=f"{what} set to {GREY}")


_MNIST_EVAL = Evaluation(test_split=True, classifier="mnist")
DATASETS.add("mnist-edges", DataSource(
    load_edges, EdgesOptions,
    "MNIST edges → digits: A = binary Sobel edges (magnitude >= 1.0), B = the digit, 28×28 grey",
    _MNIST_EVAL))
DATASETS.add("mnist-inpaint", DataSource(
    load_inpaint, InpaintOptions,
    "MNIST inpainting: A = the digit with a region (centre square or boxes) set to grey, "
    "B = the digit, 28×28 grey; mask = the hidden pixels", _MNIST_EVAL))
