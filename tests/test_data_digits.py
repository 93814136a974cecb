"""The embedded digits source, load_dataset's limit, and the registry's unknown-name error."""

from __future__ import annotations

import pytest
import torch

from gankit.config import DataConfig
from gankit.data import DATASETS, load_dataset
from gankit.errors import GankitError


@pytest.mark.parametrize(("normalize", "low"), [("symmetric", -1.0), ("unit", 0.0)])
def test_digits_shape_labels_and_range(normalize: str, low: float) -> None:
    ds = load_dataset(DataConfig(name="digits", normalize=normalize))
    assert ds.kind == "image" and ds.x.shape == (1797, 1, 8, 8) and ds.x.dtype == torch.float32
    assert ds.labels.shape == (1797,) and sorted(ds.labels.unique().tolist()) == list(range(10))
    assert ds.class_names == [str(i) for i in range(10)] and ds.num_classes == 10
    assert float(ds.x.min()) == low and float(ds.x.max()) == 1.0
    assert ds.sample_shape == (1, 8, 8)


def test_digits_resize() -> None:
    ds = load_dataset(DataConfig(name="digits", image_size=16, normalize="unit"))
    assert ds.x.shape == (1797, 1, 16, 16)
    assert float(ds.x.min()) >= 0.0 and float(ds.x.max()) <= 1.0


def test_limit_truncates_images_and_labels() -> None:
    full = load_dataset(DataConfig(name="digits"))
    ds = load_dataset(DataConfig(name="digits", limit=100))
    assert len(ds) == 100 and ds.labels.shape == (100,)
    assert torch.equal(ds.x, full.x[:100]) and torch.equal(ds.labels, full.labels[:100])
    assert len(load_dataset(DataConfig(name="digits", limit=10_000))) == 1797


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(GankitError) as err:
        DATASETS.get("nope")
    msg = str(err.value)
    assert "'nope'" in msg
    for name in ("arrays", "digits", "fashion-mnist", "folder", "grid25", "mnist", "ring8"):
        assert name in msg
    with pytest.raises(GankitError):
        DataConfig(name="nope")


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(ValueError, match="bogus"):
        DataConfig(name="digits", options={"bogus": 1})
