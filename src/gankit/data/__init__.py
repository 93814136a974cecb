"""Data sources behind one :func:`load_dataset`; each source registers itself in DATASETS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gankit.data import (  # noqa: F401
    arrays,
    cifar,
    curve,
    digits,
    folder,
    idx,
    pairs,
    stacked,
    table,
    tasks,
    tasks_cifar,
    toy,
)
from gankit.data.base import DATASETS, Dataset, DataSource, Evaluation, NoOptions, evaluation_of

if TYPE_CHECKING:
    from gankit.config import DataConfig

__all__ = ["DATASETS", "DataSource", "Dataset", "Evaluation", "NoOptions", "evaluation_of",
           "load_dataset"]


def load_dataset(cfg: DataConfig) -> Dataset:
    """Load the data set a :class:`DataConfig` names, as one tensor (see :class:`Dataset`)."""
    source = DATASETS.get(cfg.name)
    dataset = source.load(cfg, source.options.model_validate(cfg.options))
    if cfg.classes is not None:
        dataset = dataset.only_classes(cfg.classes)
    if cfg.limit is not None and cfg.limit < len(dataset):
        dataset.x = dataset.x[: cfg.limit]
        if dataset.labels is not None:
            dataset.labels = dataset.labels[: cfg.limit]
        if dataset.table is not None:
            dataset.table = dataset.table.iloc[: cfg.limit]
    if cfg.limit is not None and dataset.a is not None:  # an input domain is limited alike
        for name in ("a", "labels_a", "mask"):
            if getattr(dataset, name) is not None:
                setattr(dataset, name, getattr(dataset, name)[: cfg.limit])
    return dataset
