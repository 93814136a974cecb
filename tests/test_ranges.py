"""Data ranges: the one pair of conversions between ``symmetric`` / ``unit`` data and [0, 1]."""

from __future__ import annotations

import pytest
import torch

from gankit.data.ranges import from_unit, to_unit


def test_to_unit_ranges() -> None:
    x = torch.tensor([-1.5, -1.0, 0.0, 1.0, 2.0])
    assert to_unit(x, "symmetric").tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert to_unit(x, "unit").tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert to_unit(x, "symmetric", clamp=False).tolist() == [-0.25, 0.0, 0.5, 1.0, 1.5]
    with pytest.raises(ValueError):
        to_unit(x, "bogus")


def test_to_unit_detaches_unless_asked_to_keep_the_gradient() -> None:
    x = torch.zeros(2, requires_grad=True)
    assert not to_unit(x, "symmetric").requires_grad
    y = to_unit(x, "symmetric", detach=False)
    y.sum().backward()
    assert x.grad.tolist() == [0.5, 0.5]


def test_to_unit_gives_float32() -> None:
    assert to_unit(torch.zeros(2, dtype=torch.float64), "unit").dtype == torch.float32
    assert to_unit(torch.zeros(2, dtype=torch.bfloat16), "symmetric").dtype == torch.float32


def test_from_unit_clamps_and_inverts_to_unit() -> None:
    u = torch.tensor([-0.5, 0.0, 0.25, 1.0, 1.5])
    assert from_unit(u, "symmetric").tolist() == [-1.0, -1.0, -0.5, 1.0, 1.0]
    assert from_unit(u, "unit").tolist() == [0.0, 0.0, 0.25, 1.0, 1.0]
    assert from_unit(u, "unit", clamp=False).tolist() == u.tolist()
    grid = torch.linspace(0, 1, 11)
    for normalize in ("symmetric", "unit"):
        assert torch.allclose(to_unit(from_unit(grid, normalize), normalize), grid)
    with pytest.raises(ValueError):
        from_unit(u, "bogus")
