"""The fast dropout layer behaves like torch.nn.Dropout: rate, scaling, independence, modes."""

import pytest
import torch

from gankit.models.layers import Dropout

N = 400_000


def mask_of(layer: Dropout, shape=(N,)) -> torch.Tensor:
    return layer(torch.ones(shape)) != 0


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_drop_rate_and_scale_match_p(p):
    torch.manual_seed(0)
    layer = Dropout(p)
    out = layer(torch.ones(N))
    kept = out != 0
    # binomial standard error sqrt(p(1-p)/N) < 8e-4: five of them
    assert abs(1 - kept.float().mean().item() - p) < 4e-3
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / (1 - p)), rtol=1e-4)


def test_every_16_bit_lane_is_unbiased():
    """Each element takes 16 bits of a 64-bit word: all four positions must drop at rate p."""
    torch.manual_seed(1)
    kept = mask_of(Dropout(0.5)).float().view(-1, 4).mean(0)
    assert torch.all((kept - 0.5).abs() < 0.01), kept


def test_neighbouring_masks_are_uncorrelated():
    torch.manual_seed(2)
    kept = mask_of(Dropout(0.3)).float()
    corr = torch.corrcoef(torch.stack([kept[:-1], kept[1:]]))[0, 1]
    assert abs(corr.item()) < 0.01


def test_eval_mode_and_zero_rate_are_the_identity():
    x = torch.randn(3, 5)
    layer = Dropout(0.4).eval()
    assert torch.equal(layer(x), x)
    assert torch.equal(Dropout(0.0)(x), x)


def test_gradient_is_the_scaled_mask_and_seed_fixes_the_mask():
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    torch.manual_seed(3)
    y = Dropout(0.25)(x)
    y.sum().backward()
    assert torch.allclose(x.grad, (y != 0).float() / 0.75)
    torch.manual_seed(3)
    assert torch.equal(Dropout(0.25)(x), y)


def test_rejects_a_probability_of_one():
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(1.0)
