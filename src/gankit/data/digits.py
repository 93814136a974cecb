"""The embedded default data: scikit-learn's 1,797 real handwritten digits (8×8, 10 classes)."""

from __future__ import annotations

import torch
from pydantic import BaseModel

from gankit.config import DataConfig
from gankit.data.base import DATASETS, Dataset, DataSource, NoOptions
from gankit.data.ranges import from_unit
from gankit.data.transforms import resize_images


def load_digits(cfg: DataConfig, options: BaseModel) -> Dataset:
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = torch.from_numpy(bunch.images).float().unsqueeze(1) / 16.0  # pixel values are 0..16
    if cfg.image_size and cfg.image_size != 8:
        x = resize_images(x, cfg.image_size)
    return Dataset(
        name="digits",
        x=from_unit(x, cfg.normalize),
        kind="image",
        normalize=cfg.normalize,
        labels=torch.from_numpy(bunch.target).long(),
        class_names=[str(i) for i in range(10)],
        info={"source": "sklearn.datasets.load_digits", "native_size": 8},
    )


DATASETS.add(
    "digits",
    DataSource(load_digits, NoOptions, "1,797 real 8×8 digits shipped with scikit-learn"),
)
