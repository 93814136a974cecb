"""Mode metrics of the 2-D mixtures against a brute-force count, and the minibatch-std layer."""

import math

import pytest
import torch

from gankit.data.toy import grid_centres, ring_centres
from gankit.metrics.modes import kl_to_uniform, mixture_modes
from gankit.models.layers import MinibatchStd


def brute_force_modes(samples, centres, std):
    """The VEEGAN/PacGAN protocol written out sample by sample."""
    counts = [0] * len(centres)
    good = 0
    for x, y in samples.tolist():
        dists = [math.hypot(x - cx, y - cy) for cx, cy in centres.tolist()]
        best = min(range(len(dists)), key=dists.__getitem__)
        if dists[best] <= 3 * std:
            good += 1
            counts[best] += 1
    total = sum(counts)
    kl = sum(c / total * math.log(c / total * len(counts)) for c in counts if c) if total else \
        math.inf
    return sum(c > 0 for c in counts), good / len(samples), kl, counts


@pytest.mark.parametrize("centres,std", [(ring_centres(8, 1.0), 0.01),
                                         (grid_centres(5, 2.0), 0.05)])
def test_mixture_modes_match_a_brute_force_count(centres, std):
    gen = torch.Generator().manual_seed(0)
    # half the samples near 3 of the modes (some outside 3 sigma), half scattered widely
    near = centres[torch.randint(3, (150,), generator=gen)] + 2.5 * std * torch.randn(150, 2,
                                                                                   generator=gen)
    far = 3 * torch.rand(150, 2, generator=gen) - 1.5
    samples = torch.cat([near, far])
    got = mixture_modes(samples, centres, std)
    modes, hq, kl, counts = brute_force_modes(samples, centres, std)
    assert got["modes"] == modes and got["counts"] == counts
    assert got["high_quality"] == pytest.approx(hq)
    assert got["kl_uniform"] == pytest.approx(kl)
    assert got["modes_total"] == len(centres)


def test_real_ring_data_scores_all_modes_and_collapse_scores_one():
    centres = ring_centres(8, 1.0)
    gen = torch.Generator().manual_seed(1)
    real = centres[torch.arange(2500) % 8] + 0.01 * torch.randn(2500, 2, generator=gen)
    scores = mixture_modes(real, centres, 0.01)
    # a 2-D Gaussian lies within 3 sigma with probability 1 - exp(-9/2) = 98.89 %
    assert scores["modes"] == 8
    assert scores["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert scores["kl_uniform"] < 0.01
    collapsed = centres[2] + 0.01 * torch.randn(2500, 2, generator=gen)
    scores = mixture_modes(collapsed, centres, 0.01)
    assert scores["modes"] == 1
    assert scores["kl_uniform"] == pytest.approx(math.log(8))


def test_kl_to_uniform_known_values():
    assert kl_to_uniform(torch.tensor([5, 5, 5, 5])) == pytest.approx(0.0)
    assert kl_to_uniform(torch.tensor([10, 0, 0, 0])) == pytest.approx(math.log(4))
    # p = (3/4, 1/4) over 2 modes: 3/4 log(3/2) + 1/4 log(1/2)
    assert kl_to_uniform(torch.tensor([3, 1])) == pytest.approx(0.75 * math.log(1.5) +
                                                                0.25 * math.log(0.5))
    assert kl_to_uniform(torch.tensor([0, 0])) == math.inf


def test_minibatch_std_appends_the_group_spread():
    x = torch.randn(8, 3, 4, 4)
    out = MinibatchStd(4)(x)
    assert out.shape == (8, 4, 4, 4)
    assert torch.equal(out[:, :3], x)
    # member i of group j is sample i * 2 + j (groups of 4 over a batch of 8: 2 groups)
    for j in range(2):
        members = x[[i * 2 + j for i in range(4)]]
        expected = (members.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        for i in range(4):
            assert torch.allclose(out[i * 2 + j, 3], expected.expand(4, 4), atol=1e-6)


def test_minibatch_std_sees_collapse_and_falls_back_to_the_whole_batch():
    same = torch.ones(6, 5)
    assert torch.allclose(MinibatchStd(4)(same)[:, 5], torch.full((6,), 1e-4), atol=1e-6)
    spread = MinibatchStd(4)(torch.randn(6, 5))[:, 5]  # 6 is no multiple of 4: one group
    assert torch.allclose(spread, spread[0].expand(6)) and spread[0] > 0.3
