"""2-D Gaussian mixtures: distinct centres, spread, balance, parameters and seeding."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.config import DataConfig
from gankit.data import load_dataset


def load(name: str, **options):
    return load_dataset(DataConfig(name=name, options={"n_samples": 20_000, **options}))


def min_pairwise(centres: torch.Tensor) -> float:
    d = torch.cdist(centres.double(), centres.double())
    return float(d[~torch.eye(len(centres), dtype=torch.bool)].min())


def test_ring8_defaults() -> None:
    ds = load("ring8")
    assert ds.kind == "points" and ds.x.shape == (20_000, 2) and ds.x.dtype == torch.float32
    c = ds.mode_centres
    assert c.shape == (8, 2) and c.dtype == torch.float32
    assert min_pairwise(c) > 0.7  # 8 distinct points 2·sin(π/8) ≈ 0.765 apart
    assert torch.allclose(c.norm(dim=1), torch.ones(8), atol=1e-6)
    assert torch.allclose(c[2], torch.tensor([0.0, 1.0]), atol=1e-6)  # angle 2π·2/8 = π/2
    assert ds.mode_std == 0.01 and ds.class_names == [str(i) for i in range(8)]


def test_grid25_defaults() -> None:
    ds = load("grid25")
    c = ds.mode_centres
    assert c.shape == (25, 2) and min_pairwise(c) == pytest.approx(2.0)
    assert sorted(set(c[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert {tuple(p) for p in c.tolist()} == {
        (a, b) for a in range(-4, 5, 2) for b in range(-4, 5, 2)
    }
    assert ds.mode_std == 0.05


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_samples_spread_and_balance(name: str) -> None:
    ds = load(name)
    resid = ds.x - ds.mode_centres[ds.labels]
    assert float(resid.std()) == pytest.approx(ds.mode_std, rel=0.05)
    counts = torch.bincount(ds.labels, minlength=len(ds.mode_centres)).float()
    expected = len(ds) / len(ds.mode_centres)
    assert float((counts - expected).abs().max()) < 5 * math.sqrt(expected)
    # every sample is nearest to its own mode
    nearest = torch.cdist(ds.x, ds.mode_centres).argmin(dim=1)
    assert torch.equal(nearest, ds.labels)


def test_parameters_change_result() -> None:
    ring = load("ring8", modes=5, radius=3.0, std=0.1)
    assert ring.mode_centres.shape == (5, 2)
    assert torch.allclose(ring.mode_centres.norm(dim=1), torch.full((5,), 3.0), atol=1e-5)
    assert float((ring.x - ring.mode_centres[ring.labels]).std()) == pytest.approx(0.1, rel=0.05)
    grid = load("grid25", side=3, spacing=1.0)
    assert grid.mode_centres.shape == (9, 2)
    assert sorted(set(grid.mode_centres[:, 1].tolist())) == [-1.0, 0.0, 1.0]
    assert len(load("ring8", n_samples=10)) == 10


def test_seeding_is_reproducible_and_private() -> None:
    torch.manual_seed(123)
    a = load("ring8", seed=7)
    state = torch.get_rng_state()
    b = load("ring8", seed=7)
    assert torch.equal(a.x, b.x) and torch.equal(a.labels, b.labels)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is untouched
    assert not torch.equal(a.x, load("ring8", seed=8).x)


def test_normalize_does_not_apply_and_options_are_checked() -> None:
    a = load_dataset(DataConfig(name="grid25", normalize="unit", options={"n_samples": 100}))
    assert float(a.x.abs().max()) > 3.0
    for bad in ({"std": 0.0}, {"modes": 0}, {"n_samples": 0}, {"bogus": 1}):
        with pytest.raises(ValueError):
            DataConfig(name="ring8", options=bad)
