"""Stacked MNIST mode counting on real stacked images, with a look-up stand-in classifier."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.metrics.modes import kl_to_uniform
from gankit.metrics.stacked import STANDARD_SAMPLES, stacked_mnist_modes


class LookupClassifier:
    """Knows the exact MNIST images: returns their true digits (no training needed)."""

    def __init__(self, x: torch.Tensor, labels: torch.Tensor) -> None:
        self.table = {img.numpy().tobytes(): int(d) for img, d in zip(x, labels, strict=True)}
        self.calls = 0

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        assert x.ndim == 4 and x.shape[1] == 1
        return torch.tensor([self.table[img.numpy().tobytes()] for img in x])


@pytest.fixture(scope="module")
def mnist_test(shared_data: Path) -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_dataset(DataConfig(name="mnist", path=str(shared_data / "mnist"), normalize="unit",
                                 options={"split": "test", "download": False}))
    return ds.rows(), ds.labels


@pytest.fixture(scope="module")
def lookup(mnist_test: tuple[torch.Tensor, torch.Tensor]) -> LookupClassifier:
    return LookupClassifier(*mnist_test)


def triples(mnist_test: tuple[torch.Tensor, torch.Tensor], labels: list[int]) -> torch.Tensor:
    """Stacked images of the given 3-digit labels, from one MNIST image per digit."""
    x, digits = mnist_test
    one = torch.stack([x[(digits == d).nonzero()[0, 0], 0] for d in range(10)])
    return torch.stack([one[[lab // 100, lab // 10 % 10, lab % 10]] for lab in labels])


def test_all_thousand_triples_give_every_mode(mnist_test, lookup) -> None:
    result = stacked_mnist_modes(triples(mnist_test, list(range(1000))), lookup)
    assert result == {"modes": 1000, "modes_total": 1000, "num_samples": 1000,
                      "kl_uniform": pytest.approx(0.0, abs=1e-12)}


@pytest.mark.parametrize("modes", [1, 10, 37])
def test_collapse_to_a_few_modes(mnist_test, lookup, modes: int) -> None:
    labels = [(k * 271) % 1000 for k in range(modes)] * 6  # an even spread over a few modes
    result = stacked_mnist_modes(triples(mnist_test, labels), lookup)
    assert result["modes"] == modes and result["num_samples"] == 6 * modes
    assert result["kl_uniform"] == pytest.approx(math.log(1000 / modes))


def test_real_stacked_data_set(shared_data: Path, lookup) -> None:
    cfg = DataConfig(name="stacked-mnist", path=str(shared_data / "mnist"), normalize="unit",
                     options={"split": "test", "n_samples": STANDARD_SAMPLES, "seed": 1})
    ds = load_dataset(cfg)
    lookup.calls = 0
    result = stacked_mnist_modes(ds.x, lookup)
    assert lookup.calls == 1  # every channel of every sample in one call
    counts = torch.bincount(ds.labels, minlength=1000)
    assert result["modes"] == int((counts > 0).sum()) == 1000
    assert result["kl_uniform"] == pytest.approx(kl_to_uniform(counts))
    assert 0 < result["kl_uniform"] < 0.05 and result["num_samples"] == STANDARD_SAMPLES


def test_stacked_extractor_is_used_per_channel(mnist_test, lookup) -> None:
    class StackedExtractor:  # what the 'classifier' extractor of a stacked-mnist run looks like
        per_channel = True
        model = lookup

    result = stacked_mnist_modes(triples(mnist_test, [5, 5, 123]), StackedExtractor())
    assert result["modes"] == 2


def test_bad_input_is_refused(mnist_test, lookup) -> None:
    x = triples(mnist_test, [1, 2, 3])
    with pytest.raises(GankitError, match=r"\(N, 3, H, W\)"):
        stacked_mnist_modes(x[:, :1], lookup)
    with pytest.raises(GankitError, match=r"\(N, 3, H, W\)"):
        stacked_mnist_modes(x[:0], lookup)
    with pytest.raises(GankitError, match=r"\[0, 1\]"):
        stacked_mnist_modes(x * 2 - 1, lookup)
