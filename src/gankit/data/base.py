"""What every data source returns, and the registry the sources join."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import BaseModel

from gankit.options import StrictModel
from gankit.registry import Registry

if TYPE_CHECKING:
    from gankit.config import DataConfig
    from gankit.data.sampler import Augment, Sampler
    from gankit.training.distributed import World


class NoOptions(StrictModel):
    """Options model for sources that take none (unknown keys are rejected)."""


@dataclass
class Dataset:
    """A whole data set as one tensor, ready to live on the training device.

    ``x`` holds images as float32 ``(N, C, H, W)`` scaled to [-1, 1] (``normalize="symmetric"``)
    or [0, 1] (``"unit"``), points as float32 ``(N, D)`` in their own units, or the rows of a
    table as encoded by its transformer (``table``: the rows themselves, a pandas DataFrame;
    ``codec``: the columns and the fitted transformer, JSON). An image-translation source
    (``kind="pair"``) holds the output domain B in ``x`` and the input domain A in ``a``
    (``labels_a``: its classes); with ``paired`` ``a[i]`` is the input of ``x[i]``, otherwise
    the two domains are separate sets of images (unpaired, CycleGAN's setting); ``mask``
    (bool ``(N, 1, H, W)``) marks what an inpainting input hides. An 8-bit image
    source may instead keep the pixel values (uint8, 0..255, ``pixels8``: a quarter of the
    memory), which :meth:`decode` turns into those floats batch by batch; read images through
    :meth:`rows` or :meth:`decode`, never ``x`` itself.
    """

    name: str
    x: torch.Tensor
    kind: Literal["image", "points", "table", "pair"]
    normalize: str = "symmetric"
    labels: torch.Tensor | None = None
    class_names: list[str] | None = None
    mode_centres: torch.Tensor | None = None
    mode_std: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    #: ``x`` holds 8-bit pixel values 0..255 (uint8) rather than floats in the data range
    pixels8: bool = False
    table: Any = None
    codec: dict[str, Any] | None = None
    a: torch.Tensor | None = None
    labels_a: torch.Tensor | None = None
    paired: bool = True
    mask: torch.Tensor | None = None

    def decode(self, stored: torch.Tensor) -> torch.Tensor:
        """Rows of ``x`` as float32 in the data range (the rows themselves when stored so);
        the very operations a float loader applies, so the values are bit-identical."""
        if not self.pixels8:
            return stored
        from gankit.data.ranges import from_unit_

        return from_unit_(stored.float().div_(255.0), self.normalize)

    def only_classes(self, classes: list[int]) -> Dataset:
        """The samples of ``classes`` only (``data.classes``), or one sentence saying why not."""
        from dataclasses import replace

        from gankit.errors import GankitError

        if self.labels is None:
            raise GankitError(f"data.classes needs labelled data, and {self.name!r} has no "
                              "labels.")
        known = self.num_classes or int(self.labels.max()) + 1
        missing = [c for c in classes if not 0 <= c < known]
        if missing:
            names = f" ({', '.join(self.class_names)})" if self.class_names else ""
            raise GankitError(f"Class {missing[0]} is not in the {self.name} data, whose classes "
                              f"are 0 to {known - 1}{names}; fix data.classes.")
        wanted = torch.as_tensor(sorted(set(classes)))
        keep = torch.isin(self.labels, wanted)
        if not bool(keep.any()):
            raise GankitError(f"The {self.name} data holds no sample of the classes {classes}.")
        inputs: dict[str, Any] = {}
        if self.a is not None:  # a pair source: its input domain keeps the same classes
            keep_a = keep if self.paired or self.labels_a is None else \
                torch.isin(self.labels_a, wanted)
            inputs = {"a": self.a[keep_a],
                      "labels_a": None if self.labels_a is None else self.labels_a[keep_a],
                      "mask": None if self.mask is None else self.mask[keep_a]}
        return replace(self, x=self.x[keep], labels=self.labels[keep], **inputs,
                       info={**self.info, "classes": sorted(set(classes))})

    def rows(self, idx: torch.Tensor | slice | None = None) -> torch.Tensor:
        """All samples, or the rows ``idx``, as float32 in the data range."""
        return self.decode(self.x if idx is None else self.x[idx])

    def inputs(self, idx: torch.Tensor | slice | None = None) -> torch.Tensor:
        """All input-domain images ``a`` of a pair source, or the rows ``idx``, as float32."""
        if self.a is None:
            raise ValueError(f"{self.name!r} holds no input domain")
        return self.decode(self.a if idx is None else self.a[idx])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def spec_codec(self) -> dict[str, Any] | None:
        """The ``codec`` a run's data spec keeps: the source's own; for a pair source also the
        input domain's shape and whether the domains are paired (with a one-line summary)."""
        if self.a is None:
            return self.codec
        shape_a, shape_b = tuple(self.a.shape[1:]), self.sample_shape
        text = (f"Translation: A {'×'.join(map(str, shape_a))} → B {'×'.join(map(str, shape_b))}"
                f", {len(self.a):,} A and {len(self):,} B images, "
                f"{'paired' if self.paired else 'unpaired'}.")
        return {"summary": text, **(self.codec or {}), "input_shape": list(shape_a),
                "paired": self.paired}

    def fields(self) -> dict[str, torch.Tensor]:
        """The named tensors a batch holds: ``x``, and ``labels`` when the data has them; for a
        pair source ``a`` and ``b`` (= ``x``), with ``labels``/``labels_a`` and ``mask``."""
        if self.kind == "pair":
            named = {"a": self.a, "b": self.x, "labels_a": self.labels_a,
                     "labels": self.labels, "mask": self.mask}
            return {k: v for k, v in named.items() if v is not None}
        return {"x": self.x} if self.labels is None else {"x": self.x, "labels": self.labels}

    def sampler(self, batch_size: int, seed: int, world: World, device: torch.device,
                augment: Augment | None = None) -> Sampler:
        """Mini-batches of :meth:`fields`, moved to ``device`` once; an unpaired pair source
        draws its two domains in their own orders (``a``, ``labels_a`` and ``b``, ``labels``)."""
        from gankit.data.sampler import IndependentSamplers, TensorSampler

        fields = {k: v.to(device) for k, v in self.fields().items()}
        images = ("a", "b") if self.kind == "pair" else ("x",)
        decode = {k: self.decode for k in images} if self.pixels8 else {}

        def draw(names: tuple[str, ...], offset: int) -> TensorSampler:
            return TensorSampler({k: fields[k] for k in names if k in fields}, batch_size,
                                 seed + offset, world.rank, world.size, augment,
                                 {k: f for k, f in decode.items() if k in names})

        if self.kind == "pair" and not self.paired:
            return IndependentSamplers({"a": draw(("a", "labels_a"), 0),
                                        "b": draw(("b", "labels"), 7919)})
        return draw(tuple(fields), 0)

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Evaluation:
    """How samples of a source are judged, declared by the source (read by ``gankit eval`` and
    by evaluation while training).

    - ``test_split``: the source has a held-out split (``data.options.split=test``) to compare
      with and to test its classifier on; otherwise a fixed 20 % of it is held out.
    - ``classifier``: the source whose labelled images train the evaluation classifier (None:
      this source's own labels); with ``per_channel`` that classifier reads each channel.
    - ``modes``: how modes are counted — ``mixture`` (mode centres of a Gaussian mixture, 3 σ),
      ``channel-classes`` (the per-channel classes, e.g. Stacked MNIST's 1,000) or ``none``;
      ``mode_samples`` generated samples do it (the standard protocol's count).
    """

    test_split: bool = False
    classifier: str | None = None
    per_channel: bool = False
    modes: Literal["none", "mixture", "channel-classes"] = "none"
    mode_samples: int = 0


@dataclass(frozen=True)
class DataSource:
    """A registered source: how to load it, which per-source options it accepts and how its
    samples are evaluated."""

    load: Callable[[DataConfig, BaseModel], Dataset]
    options: type[BaseModel] = NoOptions
    description: str = ""
    evaluation: Evaluation = field(default_factory=Evaluation)


DATASETS: Registry[DataSource] = Registry("data set")


def evaluation_of(name: str) -> Evaluation:
    """How the samples of the source ``name`` are evaluated."""
    return DATASETS.get(name).evaluation
