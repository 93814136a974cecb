"""MNIST / Fashion-MNIST: local lookup, checksums, IDX parsing and the download path."""

from __future__ import annotations

import functools
import gzip
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.idx import FASHION_MNIST, MNIST, parse_idx
from gankit.errors import GankitError

TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def load(name: str, path: Path | str | None = None, **options) -> object:
    return load_dataset(DataConfig(name=name, path=str(path) if path else None, options=options))


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_train_split_from_shared_data(shared_data: Path, name: str) -> None:
    ds = load(name, shared_data / name)
    # kept as the files' 8-bit pixels (a quarter of float32's memory), read as float32
    assert ds.x.shape == (60_000, 1, 28, 28) and ds.x.dtype == torch.uint8 and ds.pixels8
    first = ds.rows(slice(0, 100))
    assert first.dtype == torch.float32
    assert torch.equal(first, ds.x[:100].float() / 255.0 * 2.0 - 1.0)
    assert ds.labels.dtype == torch.int64 and ds.labels.shape == (60_000,)
    counts = torch.bincount(ds.labels, minlength=10)
    assert counts.sum() == 60_000 and len(counts) == 10
    if name == "fashion-mnist":
        assert counts.tolist() == [6000] * 10
        assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    else:
        assert counts.tolist()[:2] == [5923, 6742]
        assert ds.class_names == [str(i) for i in range(10)]
    assert ds.info["split"] == "train"
    assert set(ds.info["md5_verified"]) == {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"}


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("normalize", ["symmetric", "unit"])
def test_test_split_and_range(shared_data: Path, name: str, normalize: str) -> None:
    cfg = DataConfig(
        name=name,
        path=str(shared_data),
        normalize=normalize,
        options={"split": "test", "download": False},
    )
    ds = load_dataset(cfg)  # data.path may also be the parent holding <name>/
    assert ds.x.shape == (10_000, 1, 28, 28)
    assert torch.bincount(ds.labels).sum() == 10_000
    lo = -1.0 if normalize == "symmetric" else 0.0
    assert ds.rows().min() == lo and ds.rows().max() == 1.0
    assert ds.normalize == normalize


def test_data_dir_env_resize_and_limit(shared_data: Path, monkeypatch) -> None:
    monkeypatch.setenv("GANKIT_DATA_DIR", str(shared_data))
    cfg = DataConfig(
        name="mnist",
        image_size=32,
        channels=3,
        limit=100,
        options={"split": "test", "download": False},
    )
    ds = load_dataset(cfg)
    assert ds.x.shape == (100, 3, 32, 32) and ds.labels.shape == (100,)
    assert ds.x.dtype == torch.float32 and not ds.pixels8  # resized: kept as floats
    assert ds.info["files"]["t10k-images-idx3-ubyte"].startswith(str(shared_data))


def test_corrupted_file_is_named(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / f"{TEST_FILES[0]}.gz").symlink_to(shared_data / "mnist" / f"{TEST_FILES[0]}.gz")
    labels = bytearray(
        gzip.decompress((shared_data / "mnist" / f"{TEST_FILES[1]}.gz").read_bytes())
    )
    labels[100] = (labels[100] + 1) % 10
    (tmp_path / TEST_FILES[1]).write_bytes(bytes(labels))  # decompressed, one label changed
    with pytest.raises(GankitError, match=TEST_FILES[1]):
        load("mnist", tmp_path, split="test", download=False)


def test_missing_files_without_download(tmp_path: Path) -> None:
    with pytest.raises(GankitError) as err:
        load("fashion-mnist", tmp_path, split="test", download=False)
    msg = str(err.value)
    assert "fashion-mnist" in msg and "GANKIT_DATA_DIR" in msg and "--data-dir" in msg
    assert all(f"{f}.gz" in msg for f in (*TEST_FILES, "train-images-idx3-ubyte"))


def test_missing_data_path_folder(tmp_path: Path) -> None:
    with pytest.raises(GankitError, match="does not exist"):
        load("mnist", tmp_path / "nope")


def test_parse_idx_validates() -> None:
    good = b"\0\0\x08\x03" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") * 2 + bytes(18)
    assert parse_idx(good, 3, "f").shape == (2, 3, 3)
    assert parse_idx(good, 3, "f").dtype == np.uint8
    with pytest.raises(GankitError, match="IDX"):
        parse_idx(b"\0\0\x0d\x03" + good[4:], 3, "f")  # float32 type code
    with pytest.raises(GankitError, match="header"):
        parse_idx(good[:-1], 3, "f")
    with pytest.raises(GankitError, match="IDX"):
        parse_idx(good, 1, "f")


# ------------------------------------------------------------------ download path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve(tmp_path: Path):
    """Serve a folder over HTTP on 127.0.0.1; yields (folder, base URL)."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_into_cache(shared_data: Path, serve, tmp_path: Path, monkeypatch) -> None:
    root, url = serve
    for f in TEST_FILES:
        (root / f"{f}.gz").write_bytes((shared_data / "mnist" / f"{f}.gz").read_bytes())
    cache = tmp_path / "cache"
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(cache))
    ds = load("mnist", split="test", mirror=url)
    assert ds.x.shape == (10_000, 1, 28, 28)
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == [f"{f}.gz" for f in TEST_FILES]
    for f in TEST_FILES:
        (root / f"{f}.gz").unlink()
    again = load("mnist", split="test", mirror=url)  # now served from the cache
    assert torch.equal(again.labels, ds.labels)


def test_download_bad_file_leaves_nothing(serve, tmp_path: Path, monkeypatch) -> None:
    root, url = serve
    (root / f"{TEST_FILES[0]}.gz").write_bytes(gzip.compress(b"\0\0\x08\x03" + bytes(100)))
    cache = tmp_path / "cache"
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(cache))
    with pytest.raises(GankitError) as err:
        load("fashion-mnist", split="test", mirror=url)
    assert TEST_FILES[0] in str(err.value) and url in str(err.value)
    assert list((cache / "fashion-mnist").iterdir()) == []


def test_download_unreachable_says_where_to_put_files(serve, tmp_path: Path, monkeypatch) -> None:
    _, url = serve  # the mirror folder is empty: every file is a 404
    cache = tmp_path / "cache"
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(cache))
    with pytest.raises(GankitError, match="GANKIT_DATA_DIR") as err:
        load("mnist", split="test", mirror=url)
    assert str(cache / "mnist") in str(err.value)
    assert list((cache / "mnist").iterdir()) == []


def test_default_mirrors_and_option_validation() -> None:
    assert MNIST.mirror.startswith("https://") and FASHION_MNIST.mirror.startswith("http://")
    assert len(set(MNIST.md5.values()) | set(FASHION_MNIST.md5.values())) == 8
    with pytest.raises(ValueError, match="split"):
        DataConfig(name="mnist", options={"split": "validation"})
    with pytest.raises(ValueError, match="mirror"):
        DataConfig(name="mnist", options={"mirror": "ftp://example.org/"})
