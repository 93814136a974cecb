"""Stacked MNIST: three random MNIST digits as the R, G and B channels of one image (1,000 modes).

The mode-collapse benchmark of Unrolled GAN, VEEGAN and PacGAN. Each image takes three MNIST
images drawn uniformly with replacement (:func:`draw_indices`, own seeded generator) from the
chosen split; its label is ``100·d_R + 10·d_G + d_B`` (class names ``"000"`` … ``"999"``). The
MNIST files are found exactly as for ``mnist`` (``data.path`` is the MNIST folder, then
``$GANKIT_DATA_DIR/mnist/``, then the cache; downloaded if missing; md5-checked).
"""

from __future__ import annotations

import torch
from pydantic import Field

from gankit.config import DataConfig
from gankit.data.base import DATASETS, Dataset, DataSource, Evaluation
from gankit.data.idx import MNIST, IdxOptions, load_idx
from gankit.data.ranges import from_unit
from gankit.data.transforms import resize_images
from gankit.errors import GankitError

NUM_MODES = 1000
PLACE_VALUES = (100, 10, 1)


class StackedOptions(IdxOptions):
    """``split``, ``mirror`` and ``download`` as for ``mnist``, plus how many images to draw.

    ``n_samples`` defaults to 60,000 (the size of MNIST's training split; 564 MB as float32).
    """

    n_samples: int = Field(60_000, ge=1, le=10_000_000)
    seed: int = Field(0, ge=0, lt=2**63)


def draw_indices(n_samples: int, n_source: int, seed: int) -> torch.Tensor:
    """``(n_samples, 3)`` indices into the MNIST split: the R, G and B digit of each image."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(n_source, (n_samples, 3), generator=gen)


def stack_labels(digits: torch.Tensor) -> torch.Tensor:
    """``(N, 3)`` digits → ``(N,)`` labels ``100·d_R + 10·d_G + d_B``."""
    return digits.long() @ torch.tensor(PLACE_VALUES)


def load_stacked(cfg: DataConfig, options: StackedOptions) -> Dataset:
    """Draw ``n_samples`` stacked images from one MNIST split."""
    if cfg.channels == 1:
        raise GankitError("Stacked MNIST images have 3 channels (one digit each); leave "
                          "data.channels unset or set it to 3.")
    mnist_cfg = DataConfig(name="mnist", path=cfg.path, normalize="unit")
    idx_options = IdxOptions(split=options.split, mirror=options.mirror, download=options.download)
    mnist = load_idx(MNIST, mnist_cfg, idx_options)
    source = mnist.rows()  # resized and scaled before stacking: the big tensor is made once
    if cfg.image_size and cfg.image_size != 28:
        source = resize_images(source, cfg.image_size)
    source = from_unit(source, cfg.normalize)[:, 0]
    indices = draw_indices(options.n_samples, len(mnist), options.seed)
    return Dataset(
        name="stacked-mnist",
        x=source[indices],  # (N, 3, H, W)
        kind="image",
        normalize=cfg.normalize,
        labels=stack_labels(mnist.labels[indices]),
        class_names=[f"{i:03d}" for i in range(NUM_MODES)],
        info={
            "source": "mnist",
            "split": options.split,
            "seed": options.seed,
            "source_images": len(mnist),
            "draw": "torch.randint(source_images, (n_samples, 3)) with a Generator seeded "
                    "with seed: the MNIST images of the R, G and B channels",
            "files": mnist.info["files"],
            "md5_verified": mnist.info["md5_verified"],
            "native_size": 28,
        },
    )


DATASETS.add(
    "stacked-mnist",
    DataSource(
        load_stacked,
        StackedOptions,
        "Stacked MNIST: 3 random MNIST digits as R, G, B, 28×28, 1,000 classes (mode collapse)",
        Evaluation(test_split=True, classifier="mnist", per_channel=True,
                   modes="channel-classes", mode_samples=26_000),
    ),
)
