"""Dict batches: paired fields share rows and augmentation, unpaired ones have their own order,
and every sampler resumes the exact same sequence."""

import torch

from gankit.data.augment import JitterFlip, crop
from gankit.data.sampler import IndependentSamplers, TensorSampler
from gankit.training.checkpoint import flatten, unflatten


def roundtrip(state):
    tensors = {}
    return unflatten(flatten(state, tensors), tensors)


def test_paired_fields_keep_their_rows_together():
    a = torch.arange(20.0).view(20, 1)
    sampler = TensorSampler({"a": a, "b": -a, "labels": torch.arange(20)}, 6, seed=1)
    for _ in range(7):
        batch = sampler.next()
        assert torch.equal(batch["b"], -batch["a"])
        assert torch.equal(batch["labels"].float(), batch["a"].view(-1))


def test_unpaired_domains_are_drawn_in_independent_orders():
    x = torch.arange(30.0).view(30, 1)
    both = IndependentSamplers({"A": TensorSampler({"a": x}, 5, seed=3),
                                "B": TensorSampler({"b": x}, 5, seed=4)})
    batches = [both.next() for _ in range(6)]
    assert any(not torch.equal(b["a"], b["b"]) for b in batches)
    state = roundtrip(both.state_dict())
    expected = [both.next() for _ in range(8)]
    again = IndependentSamplers({"A": TensorSampler({"a": x}, 5, seed=3),
                                 "B": TensorSampler({"b": x}, 5, seed=4)})
    again.load_state_dict(state)
    for want in expected:
        got = again.next()
        assert torch.equal(got["a"], want["a"]) and torch.equal(got["b"], want["b"])


def test_crop_takes_each_samples_own_window():
    x = torch.arange(2 * 1 * 5 * 5.0).view(2, 1, 5, 5)
    out = crop(x, torch.tensor([0, 2]), torch.tensor([1, 0]), 3, 3)
    assert torch.equal(out[0, 0], x[0, 0, 0:3, 1:4]) and torch.equal(out[1, 0], x[1, 0, 2:5, 0:3])


def test_jitter_and_flip_are_the_same_for_both_halves_and_resume_exactly():
    imgs = torch.rand(16, 3, 8, 8)
    aug = JitterFlip(("a", "b"), jitter=2, flip=0.5)
    sampler = TensorSampler({"a": imgs, "b": imgs.clone()}, 8, seed=0, augment=aug)
    seen_flip = False
    for _ in range(4):
        batch = sampler.next()
        assert batch["a"].shape == (8, 3, 8, 8) and torch.equal(batch["a"], batch["b"])
    plain = TensorSampler({"a": imgs}, 8, seed=0)
    for _ in range(4):  # without augmentation the same rows come out untouched
        rows = plain.next()["a"]
        seen_flip |= any(not any(torch.equal(r, i) for i in imgs) for r in rows)
    assert not seen_flip
    state = roundtrip(sampler.state_dict())
    expected = [sampler.next()["a"] for _ in range(5)]
    again = TensorSampler({"a": imgs, "b": imgs.clone()}, 8, seed=0, augment=aug)
    again.load_state_dict(state)
    assert all(torch.equal(again.next()["a"], want) for want in expected)


def test_flip_1_mirrors_every_image_and_jitter_0_keeps_it():
    imgs = torch.rand(4, 1, 6, 6)
    out = JitterFlip(("x",), jitter=0, flip=1.0)({"x": imgs}, torch.Generator().manual_seed(0))
    assert torch.equal(out["x"], imgs.flip(-1))


def test_pixels_decoded_per_batch_are_the_float_loaders_values() -> None:
    """An 8-bit data set gives the very batches its float32 copy would (bit for bit)."""
    from gankit.data.base import Dataset
    from gankit.training.distributed import World

    pixels = torch.randint(0, 256, (50, 1, 4, 4), dtype=torch.uint8)
    labels = torch.arange(50) % 3
    compact = Dataset("t", pixels, "image", labels=labels, pixels8=True)
    full = Dataset("t", compact.rows(), "image", labels=labels)
    assert full.x.dtype == torch.float32 and full.x.min() >= -1 and full.x.max() <= 1
    a = compact.sampler(8, 3, World(), torch.device("cpu"))
    b = full.sampler(8, 3, World(), torch.device("cpu"))
    for _ in range(10):  # across an epoch boundary
        x, y = a.next(), b.next()
        assert x["x"].dtype == torch.float32 and torch.equal(x["x"], y["x"])
        assert torch.equal(x["labels"], y["labels"])
