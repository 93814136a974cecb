"""Stacked MNIST: shapes, labels that match the stacked digits, seeding and option errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gankit.config import DataConfig, validate
from gankit.data import load_dataset
from gankit.data.stacked import draw_indices, stack_labels
from gankit.errors import GankitError


def stacked(path: Path, normalize: str = "symmetric", **options) -> object:
    options = {"n_samples": 300, "download": False, **options}
    return load_dataset(DataConfig(name="stacked-mnist", path=str(path), normalize=normalize,
                                   options=options))


def test_shapes_range_and_classes(shared_data: Path) -> None:
    ds = stacked(shared_data / "mnist")
    assert ds.x.shape == (300, 3, 28, 28) and ds.x.dtype == torch.float32
    assert ds.x.min() == -1.0 and ds.x.max() == 1.0 and ds.kind == "image"
    assert ds.labels.dtype == torch.int64 and ds.labels.min() >= 0 and ds.labels.max() < 1000
    assert ds.num_classes == 1000 and ds.class_names[:2] == ["000", "001"]
    assert ds.class_names[-1] == "999"
    assert ds.info["seed"] == 0 and ds.info["split"] == "train"
    assert set(ds.info["md5_verified"]) == {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"}


@pytest.mark.parametrize("split", ["train", "test"])
def test_channels_are_mnist_digits_of_the_label(shared_data: Path, split: str) -> None:
    ds = stacked(shared_data, "unit", split=split, seed=7)  # the parent of mnist/ works too
    mnist = load_dataset(DataConfig(name="mnist", path=str(shared_data), normalize="unit",
                                    options={"split": split}))
    idx = draw_indices(300, len(mnist), 7)
    for c in range(3):
        assert torch.equal(ds.x[:, c], mnist.rows(idx[:, c])[:, 0])
    digits = mnist.labels[idx]
    assert torch.equal(ds.labels, stack_labels(digits))
    assert torch.equal(ds.labels // 100, digits[:, 0])
    assert torch.equal(ds.labels // 10 % 10, digits[:, 1])
    assert torch.equal(ds.labels % 10, digits[:, 2])
    assert ds.info["source_images"] == len(mnist) and ds.info["split"] == split


def test_seeded_and_global_rng_untouched(shared_data: Path) -> None:
    state = torch.get_rng_state()
    a, b = stacked(shared_data / "mnist", seed=3), stacked(shared_data / "mnist", seed=3)
    assert torch.equal(state, torch.get_rng_state())
    assert torch.equal(a.x, b.x) and torch.equal(a.labels, b.labels)
    c = stacked(shared_data / "mnist", seed=4)
    assert not torch.equal(a.labels, c.labels)


def test_size_channels_and_limit(shared_data: Path) -> None:
    cfg = DataConfig(name="stacked-mnist", path=str(shared_data / "mnist"), image_size=32,
                     channels=3, limit=50, options={"n_samples": 100})
    ds = load_dataset(cfg)
    assert ds.x.shape == (50, 3, 32, 32) and ds.labels.shape == (50,)
    with pytest.raises(GankitError, match="3 channels"):
        load_dataset(DataConfig(name="stacked-mnist", path=str(shared_data / "mnist"),
                                channels=1, options={"n_samples": 10}))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_samples": 0}, "data.options.n_samples"),
        ({"seed": -1}, "data.options.seed"),
        ({"split": "val"}, "data.options.split"),
        ({"mirror": "ftp://example.org"}, "data.options.mirror"),
        ({"bogus": 1}, "data.options.bogus"),
    ],
)
def test_bad_options_are_named(options: dict, message: str) -> None:
    with pytest.raises(GankitError, match=message):
        validate({"data": {"name": "stacked-mnist", "options": options}})


def test_missing_files_without_download(tmp_path: Path) -> None:
    with pytest.raises(GankitError, match="MNIST files not found"):
        stacked(tmp_path)
