"""Checkpoint round trips, atomicity, pruning and corruption detection."""

import pytest
import torch

from gankit.data.sampler import TensorSampler
from gankit.errors import GankitError
from gankit.training.checkpoint import (
    checkpoint_paths,
    flatten,
    load_checkpoint,
    load_latest,
    save_checkpoint,
    unflatten,
)


def optimiser_state():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.9))
    net(torch.randn(8, 3)).sum().backward()
    opt.step()
    return net, opt


def test_flatten_round_trip_keeps_types():
    net, opt = optimiser_state()
    state = {"opt": opt.state_dict(), "net": net.state_dict(), "t": (1, 2.5, None, "x", True)}
    tensors = {}
    tree = flatten(state, tensors)
    back = unflatten(tree, tensors)
    assert back["t"] == (1, 2.5, None, "x", True)
    assert set(back["opt"]["state"]) == {0, 1, 2, 3}  # int keys survive
    for key, value in net.state_dict().items():
        assert torch.equal(back["net"][key], value)


def test_save_load_restores_an_optimiser_exactly(tmp_path):
    net, opt = optimiser_state()
    save_checkpoint(tmp_path, 1, {"opt": opt.state_dict(), "net": net.state_dict()})
    step, state = load_checkpoint(checkpoint_paths(tmp_path)[-1])
    net2, opt2 = optimiser_state()
    net2.load_state_dict(state["net"])
    opt2.load_state_dict(state["opt"])
    x = torch.randn(8, 3)
    for n, o in ((net, opt), (net2, opt2)):
        o.zero_grad()
        n(x).pow(2).sum().backward()
        o.step()
    assert step == 1
    for a, b in zip(net.parameters(), net2.parameters(), strict=True):
        assert torch.equal(a, b)


def test_pruning_keeps_latest_and_older(tmp_path):
    for step in (10, 20, 30, 40):
        save_checkpoint(tmp_path, step, {"w": torch.ones(2) * step}, keep=2)
    assert [p.stem for p in checkpoint_paths(tmp_path)] == [
        "step_0000020", "step_0000030", "step_0000040"]
    assert len(list(tmp_path.glob("*.safetensors"))) == 3
    step, state, _ = load_latest(tmp_path)
    assert step == 40 and torch.equal(state["w"], torch.full((2,), 40.0))
    assert not list(tmp_path.glob("*.tmp"))


def test_corrupt_tensor_file_is_detected_by_name(tmp_path):
    save_checkpoint(tmp_path, 5, {"w": torch.arange(100.0)})
    blob = tmp_path / "step_0000005.safetensors"
    data = bytearray(blob.read_bytes())
    data[-3] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(GankitError, match="step_0000005.safetensors.*corrupt"):
        load_checkpoint(tmp_path / "step_0000005.json")


def test_sampler_resumes_the_same_batch_sequence():
    x = torch.arange(10.0).unsqueeze(1)
    a = TensorSampler({"x": x}, 3, seed=4)
    for _ in range(5):
        a.next()
    state = a.state_dict()
    tensors = {}
    state = unflatten(flatten(state, tensors), tensors)
    expected = [a.next()["x"].flatten().tolist() for _ in range(6)]
    b = TensorSampler({"x": x}, 3, seed=4)
    b.load_state_dict(state)
    assert [b.next()["x"].flatten().tolist() for _ in range(6)] == expected


def test_sampler_refuses_batches_larger_than_the_data():
    with pytest.raises(GankitError, match="larger than the data set"):
        TensorSampler({"x": torch.zeros(4, 1)}, 8, seed=0)
