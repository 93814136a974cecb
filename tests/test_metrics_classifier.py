"""The ``classifier`` extractor: training on digits, the on-disk cache, features and errors."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.metrics import classifier
from gankit.metrics.classifier import (
    ClassifierExtractor,
    labelled_splits,
    load_or_train_classifier,
    new_classifier,
)
from gankit.metrics.features import EXTRACTORS, ExtractorContext

CPU = torch.device("cpu")
DIGITS = DataConfig(name="digits")


def fake_train(model, x, labels, device, progress=True, desc="") -> dict[str, Any]:
    """Stands in for training where only the cache logic is under test."""
    fake_train.calls += 1
    model.eval().requires_grad_(False)
    return {"epochs": 0, "steps": 0, "batch_size": 0, "max_shift": 0, "train_time_s": 0.0}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The digits classifier trained once with the real schedule, in a cache for this module."""
    folder = tmp_path_factory.mktemp("classifier-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE_DIR", str(folder))
        _, info = load_or_train_classifier(DIGITS, CPU, progress=False)
    return folder, info


@pytest.fixture
def cache(digits_cache: tuple[Path, dict], tmp_path: Path, monkeypatch) -> Path:
    """A private copy of the trained cache, set as this test's GANKIT_CACHE_DIR."""
    folder = tmp_path / "cache"
    shutil.copytree(digits_cache[0], folder)
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(folder))
    return folder / "classifiers"


def test_digits_accuracy_and_cache_files(digits_cache: tuple[Path, dict]) -> None:
    folder, info = digits_cache
    assert info["test_accuracy"] >= 0.97 and not info["cached"]
    assert info["num_train"] == 1438 and info["num_test"] == 359  # a 20% hold-out
    assert info["class_names"] == [str(i) for i in range(10)] and info["epochs"] >= 2
    files = sorted(p.name for p in (folder / "classifiers").iterdir())
    stem = f"digits-8px-1ch-{info['key'][:16]}"
    assert files == [f"{stem}.json", f"{stem}.safetensors"]
    meta = json.loads((folder / "classifiers" / f"{stem}.json").read_text())
    assert meta["test_accuracy"] == info["test_accuracy"] and meta["key"] == info["key"]
    assert meta["train_time_s"] > 0 and meta["test_split"].startswith("held-out 20%")


def test_second_build_loads_from_cache(cache: Path, digits_cache, monkeypatch) -> None:
    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier was trained again")

    monkeypatch.setattr(classifier, "train_classifier", no_training)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, info = load_or_train_classifier(DIGITS, CPU, progress=False)
    assert info["cached"] and info["key"] == digits_cache[1]["key"]
    x, labels = labelled_splits(DIGITS)["test"]
    assert classifier.accuracy(model, x, labels) == info["test_accuracy"]
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_extractor_features_probabilities_and_protocol(cache: Path) -> None:
    ext = EXTRACTORS.get("classifier")(ExtractorContext(DIGITS, CPU, progress=False))
    assert isinstance(ext, ClassifierExtractor)
    ds = load_dataset(DataConfig(name="digits", normalize="unit"))
    x, labels = ds.x[:700], ds.labels[:700]  # more than one batch of 500
    feats = ext.features(x)
    assert feats.shape == (700, 128) and feats.dtype == torch.float64
    assert torch.isfinite(feats).all() and feats.min() >= 0  # after the ReLU
    assert torch.allclose(ext.features(x[:10]), feats[:10], atol=1e-5)  # batch-independent
    probs = ext.probabilities(x)
    assert probs.shape == (700, 10) and probs.dtype == torch.float64
    assert torch.allclose(probs.sum(1), torch.ones(700, dtype=torch.float64))
    assert torch.equal(ext.classify(x), probs.argmax(1))
    assert (ext.classify(x) == labels).double().mean() >= 0.97
    proto = ext.protocol()
    assert proto["extractor"] == "classifier" and proto["data"] == "digits"
    assert proto["image_size"] == 8 and proto["channels"] == 1
    assert proto["test_accuracy"] >= 0.97 and len(proto["key"]) == 16
    assert proto["features"] == "penultimate layer (128)"
    json.dumps(proto)
    for bad in (torch.rand(4, 1, 28, 28), torch.rand(4, 3, 8, 8), torch.rand(8, 8)):
        with pytest.raises(GankitError, match=r"\(N, 1, 8, 8\)"):
            ext.features(bad)


@pytest.mark.parametrize("damage", ["weights", "truncated", "json", "checksum"])
def test_corrupt_cache_is_retrained_with_a_warning(cache: Path, monkeypatch, damage: str) -> None:
    meta_path = next(cache.glob("*.json"))
    weights = meta_path.with_suffix(".safetensors")
    if damage == "weights":
        weights.write_bytes(b"not a safetensors file")
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "json":
        meta_path.write_text("{")
    else:
        meta = json.loads(meta_path.read_text())
        meta_path.write_text(json.dumps({**meta, "sha256": "0" * 64}))
    fake_train.calls = 0
    monkeypatch.setattr(classifier, "train_classifier", fake_train)
    with pytest.warns(UserWarning, match="cannot be used.*training it again"):
        _, info = load_or_train_classifier(DIGITS, CPU, progress=False)
    assert fake_train.calls == 1 and not info["cached"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, again = load_or_train_classifier(DIGITS, CPU, progress=False)
    assert again["cached"] and fake_train.calls == 1


def test_training_is_seeded_and_leaves_the_global_rng(monkeypatch) -> None:
    monkeypatch.setattr(classifier, "MIN_SEEN", 200)  # 4 epochs of one step
    gen = torch.Generator().manual_seed(1)
    x, labels = torch.rand(64, 3, 12, 12, generator=gen), torch.randint(4, (64,), generator=gen)
    state = torch.get_rng_state()
    models = [new_classifier(3, 12, 4) for _ in range(2)]
    facts = [classifier.train_classifier(m, x, labels, CPU, progress=False) for m in models]
    assert torch.equal(state, torch.get_rng_state())
    assert facts[0]["max_shift"] == 1 and facts[0]["steps"] == facts[0]["epochs"] >= 2
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(("channels", "side"), [(1, 8), (3, 12), (1, 16), (1, 28), (3, 40)])
def test_network_takes_any_side_from_8(channels: int, side: int) -> None:
    net = new_classifier(channels, side, 5).eval()
    x = torch.rand(2, channels, side, side)
    assert net.embed(x).shape == (2, 128) and net(x).shape == (2, 5)
    assert net.classify(x).dtype == torch.int64


def test_shift_moves_each_image_with_zero_fill() -> None:
    x = torch.arange(2 * 16, dtype=torch.float32).view(2, 1, 4, 4) + 1
    gen = torch.Generator().manual_seed(0)
    out = classifier._shift(x, 1, gen)
    dy, dx = torch.randint(0, 3, (2, 2), generator=torch.Generator().manual_seed(0))
    for i in range(2):
        padded = torch.nn.functional.pad(x[i], (1, 1, 1, 1))
        assert torch.equal(out[i], padded[:, dy[i] : dy[i] + 4, dx[i] : dx[i] + 4])


def test_held_out_split_of_labelled_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, x=rng.integers(0, 256, (50, 10, 10), dtype=np.uint8),
             y=np.arange(50) % 3)
    cfg = DataConfig(name="arrays", path=str(path), limit=5)  # limit is ignored
    a, b = labelled_splits(cfg), labelled_splits(cfg)
    (xtr, _), (xte, _) = a["train"], a["test"]
    assert len(xtr) == 40 and len(xte) == 10 and a["class_names"] == ["0", "1", "2"]
    assert torch.equal(xte, b["test"][0]) and xtr.min() >= 0 and xtr.max() <= 1
    rows = {tuple(r.flatten().tolist()) for r in torch.cat([xtr, xte])}
    assert len(rows) == 50  # disjoint and complete


def test_unlabelled_points_and_tiny_images_are_refused(tmp_path: Path) -> None:
    for i in range(12):
        Image.fromarray(np.full((8, 8), i * 20, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    with pytest.raises(GankitError, match="needs labelled data.*--extractor inception or raw"):
        load_or_train_classifier(DataConfig(name="folder", path=str(tmp_path)), CPU)
    with pytest.raises(GankitError, match="needs image data"):
        load_or_train_classifier(DataConfig(name="ring8", options={"n_samples": 100}), CPU)
    path = tmp_path / "small.npz"
    np.savez(path, x=np.zeros((20, 6, 6), dtype=np.uint8), y=np.arange(20) % 2)
    with pytest.raises(GankitError, match="at least 8×8"):
        load_or_train_classifier(DataConfig(name="arrays", path=str(path)), CPU)


def test_stacked_mnist_uses_the_mnist_classifier_per_channel(shared_data: Path,
                                                             monkeypatch) -> None:
    monkeypatch.setattr(classifier, "train_classifier", fake_train)  # shapes only: untrained
    monkeypatch.setattr(classifier, "accuracy", lambda *args: 0.0)
    cfg = DataConfig(name="stacked-mnist", path=str(shared_data / "mnist"),
                     options={"n_samples": 10})
    ext = ClassifierExtractor(cfg, CPU, progress=False)
    assert ext.info["data"] == "mnist" and ext.model.channels == 1
    x = load_dataset(cfg.model_copy(update={"normalize": "unit"})).x
    feats, probs = ext.features(x), ext.probabilities(x)
    assert feats.shape == (10, 384) and probs.shape == (10, 1000)
    assert torch.allclose(feats[:, 128:256], ext.model.embed(x[:, 1:2]).double(), atol=1e-5)
    assert torch.allclose(probs.sum(1), torch.ones(10, dtype=torch.float64))
    digits = ext.model.classify(x.reshape(30, 1, 28, 28)).view(10, 3)
    assert torch.equal(ext.classify(x), digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    assert torch.equal(ext.classify(x), probs.argmax(1))
    assert ext.protocol()["classifier_data"] == "mnist" and ext.protocol()["channels"] == 3
    with pytest.raises(GankitError, match=r"\(N, 3, 28, 28\)"):
        ext.features(x[:, :1])


@pytest.mark.slow
@pytest.mark.parametrize(("name", "target"), [("mnist", 0.99), ("fashion-mnist", 0.90)])
def test_real_classifier_accuracy(shared_data: Path, name: str, target: float) -> None:
    cfg = DataConfig(name=name, path=str(shared_data / name))
    model, info = load_or_train_classifier(cfg, CPU, progress=False)
    assert info["test_accuracy"] >= target and info["num_test"] == 10_000
    assert info["train_time_s"] < 600
    _, again = load_or_train_classifier(cfg, CPU, progress=False)
    assert again["cached"] and again["test_accuracy"] == info["test_accuracy"]
