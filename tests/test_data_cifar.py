"""CIFAR-10: the real JPEG archive of ../shared/data (decoded once, then from the cache), and the
official pickled format on a tiny archive built here (restricted unpickling, download path)."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.config import DataConfig, validate
from gankit.data import cifar, evaluation_of, load_dataset
from gankit.data.cifar import CLASS_NAMES, JPEG, MD5, OFFICIAL
from gankit.errors import GankitError

#: the published per-channel means of CIFAR-10's training images (the JPEG copy is within 1e-4)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)


def load(path: Path | str | None = None, **options) -> object:
    return load_dataset(DataConfig(name="cifar10", path=str(path) if path else None,
                                   options=options))


def one_sentence(msg: str) -> bool:
    return "\n" not in msg and msg.endswith(".") and ". " not in msg.removesuffix(".")


@pytest.fixture(scope="module")
def cifar_dir(shared_data: Path) -> Path:
    if not (shared_data / "cifar10" / JPEG).is_file():
        pytest.skip(f"{JPEG} not found in {shared_data / 'cifar10'}")
    return shared_data / "cifar10"


@pytest.fixture(scope="module")
def cifar_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module, so that each real split is decoded once."""
    return tmp_path_factory.mktemp("cifar-cache")


@pytest.fixture(scope="module")
def train(cifar_dir: Path, cifar_cache: Path):
    """The real train split loaded twice: decoded, then from the cache (data, seconds)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE_DIR", str(cifar_cache))
        mp.delenv("GANKIT_DATA_DIR", raising=False)
        times, loads = [], []
        for _ in range(2):
            start = time.perf_counter()
            loads.append(load(cifar_dir, download=False))
            times.append(time.perf_counter() - start)
    return loads, times


def test_train_split(train) -> None:
    (ds, _), _ = train
    assert ds.x.shape == (50_000, 3, 32, 32) and ds.x.dtype == torch.uint8 and ds.pixels8
    assert ds.labels.dtype == torch.int64
    assert torch.bincount(ds.labels, minlength=10).tolist() == [5_000] * 10
    assert bool((ds.labels[1:] >= ds.labels[:-1]).all())  # by class index, then file name
    assert ds.class_names == CLASS_NAMES
    assert ds.info["split"] == "train" and ds.info["format"] == "jpeg"
    assert ds.info["md5_verified"] == MD5[JPEG] and ds.info["file"].endswith(JPEG)
    first = ds.rows(slice(0, 500))
    assert first.dtype == torch.float32 and first.min() >= -1.0 and first.max() <= 1.0
    assert torch.equal(first, ds.x[:500].float() / 255.0 * 2.0 - 1.0)
    mean = ds.x.numpy().sum(axis=(0, 2, 3), dtype=np.int64) / (50_000 * 1_024 * 255.0)
    assert np.allclose(mean, CIFAR_MEAN, atol=2e-3), mean  # R, G, B in that order


def test_classes_map_by_name(train) -> None:
    (ds, _), _ = train
    x = ds.x.numpy().reshape(10, 5_000, 3, -1).sum(axis=(1, 3), dtype=np.int64) / 5_120_000
    blue = x[:, 2] - x[:, 0]
    frog = CLASS_NAMES.index("frog")
    for sky_or_sea in ("ship", "airplane"):
        assert blue[CLASS_NAMES.index(sky_or_sea)] > blue[frog] + 10
    assert x[frog, 1] > x[frog, 2]  # frogs are greener than blue


def test_second_load_from_cache(train, cifar_cache: Path) -> None:
    (first, second), (decode_s, cached_s) = train
    assert torch.equal(first.x, second.x) and torch.equal(first.labels, second.labels)
    assert (cifar_cache / "cifar10" / f"decoded-{MD5[JPEG]}-train.npy").is_file()
    assert cached_s < decode_s / 3, (decode_s, cached_s)


def test_test_split_unit_range(cifar_dir: Path, cifar_cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(cifar_cache))
    ds = load_dataset(DataConfig(name="cifar10", path=str(cifar_dir.parent), normalize="unit",
                                 options={"split": "test", "download": False}))
    assert ds.x.shape == (10_000, 3, 32, 32) and ds.x.dtype == torch.uint8
    assert torch.bincount(ds.labels, minlength=10).tolist() == [1_000] * 10
    rows = ds.rows()
    assert rows.min() == 0.0 and rows.max() == 1.0 and ds.info["split"] == "test"


def test_grey_and_resize_are_float(cifar_dir: Path, cifar_cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(cifar_cache))
    monkeypatch.setenv("GANKIT_DATA_DIR", str(cifar_dir.parent))
    ds = load_dataset(DataConfig(name="cifar10", channels=1, image_size=16, limit=200,
                                 options={"split": "test", "download": False}))
    assert ds.x.shape == (200, 1, 16, 16) and ds.x.dtype == torch.float32 and not ds.pixels8
    assert ds.x.min() >= -1.0 and ds.x.max() <= 1.0 and ds.labels.shape == (200,)


def test_damaged_jpeg_archive(cifar_dir: Path, tmp_path: Path) -> None:
    with open(cifar_dir / JPEG, "rb") as src:
        (tmp_path / JPEG).write_bytes(src.read(1 << 20))  # truncated
    with pytest.raises(GankitError, match="checksum") as err:
        load(tmp_path, download=False)
    assert str(tmp_path / JPEG) in str(err.value) and one_sentence(str(err.value))


# ------------------------------------------------------------------ the official format


def _pickle(obj: object) -> bytes:
    """Pickled as the official batches are: protocol 2, numpy's arrays under ``numpy.core``."""
    return pickle.dumps(obj, protocol=2).replace(b"cnumpy._core.multiarray\n",
                                                 b"cnumpy.core.multiarray\n")


def build_official(path: Path, per_batch: int = 3, replace: dict | None = None) -> dict:
    """A tiny ``cifar-10-python.tar.gz`` in the real layout; its images and labels by split."""
    rng = np.random.default_rng(0)
    members = {"batches.meta": _pickle({b"label_names": [n.encode() for n in CLASS_NAMES],
                                        b"num_cases_per_batch": per_batch})}
    made: dict[str, list] = {"train": [], "test": []}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        members[name] = _pickle({b"batch_label": name.encode(), b"labels": labels,
                                 b"data": data, b"filenames": [b"x.png"] * per_batch})
        made["test" if name == "test_batch" else "train"].append((data, labels))
    members.update(replace or {})
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return {split: (np.concatenate([d for d, _ in parts]), sum((y for _, y in parts), []))
            for split, parts in made.items()}


def accept(monkeypatch, path: Path) -> None:
    """Make ``path`` the archive whose md5 the loader expects."""
    monkeypatch.setitem(MD5, OFFICIAL, hashlib.md5(path.read_bytes()).hexdigest())


def test_official_format(tmp_path: Path, monkeypatch) -> None:
    made = build_official(tmp_path / OFFICIAL)
    accept(monkeypatch, tmp_path / OFFICIAL)
    (tmp_path / JPEG).write_bytes(b"not read")  # both in one folder: the official comes first
    for split, n in (("train", 15), ("test", 3)):
        ds = load(tmp_path, split=split, download=False)
        data, labels = made[split]
        assert ds.x.shape == (n, 3, 32, 32) and ds.x.dtype == torch.uint8 and ds.pixels8
        assert torch.equal(ds.x, torch.from_numpy(data).view(n, 3, 32, 32))  # channel-major
        assert ds.labels.tolist() == labels and ds.labels.dtype == torch.int64
        assert ds.info["format"] == "python" and ds.info["file"] == str(tmp_path / OFFICIAL)
    assert ds.class_names == CLASS_NAMES


class _Opens:
    """A pickled object that would create a file when unpickled, were ``open`` allowed."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_pickle_with_other_globals_is_refused(tmp_path: Path, monkeypatch) -> None:
    marker = tmp_path / "unpickled"
    hostile = _pickle({b"data": _Opens(marker), b"labels": []})
    build_official(tmp_path / OFFICIAL, replace={"data_batch_2": hostile})
    accept(monkeypatch, tmp_path / OFFICIAL)
    with pytest.raises(GankitError, match=r"io\.open") as err:
        load(tmp_path, download=False)
    assert "data_batch_2" in str(err.value) and one_sentence(str(err.value))
    assert not marker.exists()


def test_truncated_official_archive(tmp_path: Path, monkeypatch) -> None:
    build_official(tmp_path / "whole.tar.gz", per_batch=200)
    whole = (tmp_path / "whole.tar.gz").read_bytes()
    (tmp_path / OFFICIAL).write_bytes(whole[: len(whole) // 2])
    with pytest.raises(GankitError, match="checksum") as err:  # the real md5 catches it
        load(tmp_path, download=False)
    assert one_sentence(str(err.value))
    accept(monkeypatch, tmp_path / OFFICIAL)  # and were its md5 the expected one
    with pytest.raises(GankitError, match="not a valid CIFAR-10 archive") as err:
        load(tmp_path, download=False)
    assert one_sentence(str(err.value))


def test_missing_files_without_download(tmp_path: Path) -> None:
    with pytest.raises(GankitError) as err:
        load(tmp_path, download=False)
    msg = str(err.value)
    assert OFFICIAL in msg and JPEG in msg and "GANKIT_DATA_DIR" in msg and "--data-dir" in msg
    assert str(cifar.cache_dir() / "cifar10") in msg and "\n" not in msg


def test_download_into_cache(tmp_path: Path, monkeypatch) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    made = build_official(mirror / OFFICIAL)
    accept(monkeypatch, mirror / OFFICIAL)
    ds = load(split="test", mirror=mirror.as_uri())
    assert ds.labels.tolist() == made["test"][1]
    cached = cifar.cache_dir() / "cifar10" / OFFICIAL
    assert ds.info["file"] == str(cached) and sorted(cached.parent.iterdir()) == [cached]
    (mirror / OFFICIAL).unlink()
    assert torch.equal(load(split="test", download=False).x, ds.x)  # now from the cache


def test_download_bad_checksum_leaves_nothing(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    build_official(mirror / OFFICIAL)  # not the published archive
    with pytest.raises(GankitError, match="checksum") as err:
        load(mirror=mirror.as_uri())
    assert OFFICIAL in str(err.value) and one_sentence(str(err.value))
    assert list((cifar.cache_dir() / "cifar10").iterdir()) == []


def test_options_and_evaluation() -> None:
    with pytest.raises(GankitError, match="data.options.split") as err:
        validate({"data": {"name": "cifar10", "options": {"split": "validation"}}})
    assert one_sentence(str(err.value))
    with pytest.raises(ValueError, match="mirror"):
        DataConfig(name="cifar10", options={"mirror": "ftp://example.org/"})
    assert evaluation_of("cifar10").test_split
    assert DataConfig(name="cifar10").options == {"split": "train", "mirror": None,
                                                  "download": True}
