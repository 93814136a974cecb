"""The built-in image-translation tasks on the real MNIST and CIFAR-10 files of ../shared/data:
A recomputed independently from B as documented, masks, unpaired halves, direction, splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gankit.config import DataConfig
from gankit.data import Dataset, evaluation_of, load_dataset
from gankit.data.cifar import JPEG
from gankit.errors import GankitError
from gankit.training.distributed import World

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def task(path: Path, name: str, limit: int | None = 32, normalize: str = "symmetric",
         **options: object) -> Dataset:
    return load_dataset(DataConfig(name=name, path=str(path), limit=limit, normalize=normalize,
                                   options={"download": False, **options}))


def numpy_edges(pixels: np.ndarray, threshold: float = 1.0) -> np.ndarray:
    """Sobel edges of 8-bit (N, H, W) images by hand: zero padding, both kernels, in integers."""
    n, h, w = pixels.shape
    padded = np.zeros((n, h + 2, w + 2), dtype=np.int64)
    padded[:, 1:-1, 1:-1] = pixels
    gx = np.zeros((n, h, w), dtype=np.int64)
    gy = np.zeros((n, h, w), dtype=np.int64)
    for u in range(3):
        for v in range(3):
            window = padded[:, u : u + h, v : v + w]
            gx += SOBEL_X[u, v] * window
            gy += SOBEL_X.T[u, v] * window
    return gx**2 + gy**2 >= (255 * threshold) ** 2


def alternate_rows(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The documented unpaired rule by hand: each class's rows in index order, to A and B in
    turn."""
    to_a = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        to_a[np.flatnonzero(labels == c)[::2]] = True
    return np.flatnonzero(to_a), np.flatnonzero(~to_a)


@pytest.fixture(scope="module")
def mnist(shared_data: Path) -> Dataset:
    """The whole real MNIST train split (8-bit), loaded once."""
    return load_dataset(DataConfig(name="mnist", path=str(shared_data), options={
        "download": False}))


def test_registered_with_evaluation() -> None:
    for name, classifier in (("mnist-edges", "mnist"), ("mnist-inpaint", "mnist"),
                             ("cifar10-colour", "cifar10"), ("cifar10-superres", "cifar10")):
        evaluation = evaluation_of(name)
        assert evaluation.test_split and evaluation.classifier == classifier
    with pytest.raises(ValueError, match="direction"):
        DataConfig(name="mnist-edges", options={"direction": "AtoC"})
    with pytest.raises(ValueError, match="mask"):
        DataConfig(name="mnist-inpaint", options={"mask": "circle"})
    with pytest.raises(ValueError, match="scale"):
        DataConfig(name="cifar10-superres", options={"scale": 3})


def test_edges_match_a_hand_sobel(shared_data: Path, mnist: Dataset) -> None:
    ds = task(shared_data, "mnist-edges", limit=200)
    assert ds.kind == "pair" and ds.paired and ds.pixels8 and ds.mask is None
    assert ds.x.shape == ds.a.shape == (200, 1, 28, 28) and ds.a.dtype == torch.uint8
    assert torch.equal(ds.x, mnist.x[:200]) and torch.equal(ds.labels, mnist.labels[:200])
    assert torch.equal(ds.labels_a, ds.labels) and ds.class_names == mnist.class_names
    expected = numpy_edges(mnist.x[:200, 0].numpy())
    assert np.array_equal(ds.a[:, 0].numpy() == 255, expected)
    assert set(ds.a.unique().tolist()) == {0, 255}
    assert 0.1 < expected.mean() < 0.4  # outlines, not blobs or nothing
    # decoded, in the data range: exactly -1 and 1
    a, b = ds.inputs(slice(0, 8)), ds.rows(slice(0, 8))
    assert a.dtype == torch.float32 and set(a.unique().tolist()) == {-1.0, 1.0}
    assert b.min() == -1.0 and b.max() == 1.0
    assert ds.info["task"] == "mnist-edges" and ds.info["source_info"]["md5_verified"]


def test_edges_threshold(shared_data: Path, mnist: Dataset) -> None:
    high = task(shared_data, "mnist-edges", limit=50, threshold=2.0)
    assert np.array_equal(high.a[:, 0].numpy() == 255,
                          numpy_edges(mnist.x[:50, 0].numpy(), 2.0))
    assert high.info["operator"].endswith(">= 2.0")


def test_edges_of_resized_images(shared_data: Path) -> None:
    resized = load_dataset(DataConfig(name="mnist-edges", path=str(shared_data), limit=16,
                                      image_size=32, normalize="unit",
                                      options={"download": False}))
    assert not resized.pixels8 and resized.a.shape == resized.x.shape == (16, 1, 32, 32)
    assert set(resized.a.unique().tolist()) <= {0.0, 1.0}
    # edges of the resized B, by hand in float64 (ties at exactly 1.0 are not expected)
    b = resized.x[:, 0].double().numpy()
    padded = np.pad(b, ((0, 0), (1, 1), (1, 1)))
    gx = sum(SOBEL_X[u, v] * padded[:, u : u + 32, v : v + 32]
             for u in range(3) for v in range(3))
    gy = sum(SOBEL_X.T[u, v] * padded[:, u : u + 32, v : v + 32]
             for u in range(3) for v in range(3))
    magnitude = np.sqrt(gx**2 + gy**2)
    clear = np.abs(magnitude - 1.0) > 1e-5
    assert np.array_equal((resized.a[:, 0].numpy() == 1.0)[clear], (magnitude >= 1.0)[clear])


def test_inpaint_centre(shared_data: Path, mnist: Dataset) -> None:
    ds = task(shared_data, "mnist-inpaint", limit=20, normalize="unit")
    assert ds.mask.shape == (20, 1, 28, 28) and ds.mask.dtype == torch.bool
    expected = torch.zeros(28, 28, dtype=torch.bool)
    expected[9:19, 9:19] = True
    assert bool((ds.mask == expected).all())
    b = mnist.x[:20].float() / 255
    assert torch.equal(ds.x, b) and not ds.pixels8
    assert torch.equal(ds.a, torch.where(expected, torch.tensor(0.5), b))
    small = task(shared_data, "mnist-inpaint", limit=2, mask_size=6)
    assert int(small.mask[0].sum()) == 36 and bool(small.mask[0, 0, 11:17, 11:17].all())
    assert bool((small.a[small.mask.expand_as(small.a)] == 0.0).all())  # 0.5 → 0 in [-1, 1]
    with pytest.raises(GankitError, match="mask_size"):
        task(shared_data, "mnist-inpaint", limit=2, mask_size=29)


def documented_boxes(n: int, seed: int, rows: np.ndarray | None = None,
                     side: int = 28) -> np.ndarray:
    """The boxes masks of ``rows`` (default: all) of a split of ``n`` images, rebuilt by hand
    from the module docstring's recipe."""
    u = torch.rand((n, 13), dtype=torch.float64,
                   generator=torch.Generator().manual_seed(seed)).numpy()
    rows = np.arange(n) if rows is None else rows
    masks = np.zeros((len(rows), side, side), dtype=bool)
    for k, i in enumerate(rows):
        for j in range(1 + int(np.floor(3 * u[i, 0]))):
            h = 6 + int(np.floor(9 * u[i, 1 + 4 * j]))
            w = 6 + int(np.floor(9 * u[i, 2 + 4 * j]))
            top = int(np.floor((side - h + 1) * u[i, 3 + 4 * j]))
            left = int(np.floor((side - w + 1) * u[i, 4 + 4 * j]))
            masks[k, top : top + h, left : left + w] = True
    return masks


def test_inpaint_boxes_are_deterministic(shared_data: Path, mnist: Dataset) -> None:
    ds = task(shared_data, "mnist-inpaint", limit=64, normalize="unit", mask="boxes")
    assert np.array_equal(ds.mask[:, 0].numpy(), documented_boxes(64, 0))
    counts = ds.mask.flatten(1).sum(1)
    assert bool((counts >= 36).all()) and bool((counts <= 3 * 196).all())
    again = task(shared_data, "mnist-inpaint", limit=16, normalize="unit", mask="boxes")
    assert torch.equal(again.mask, ds.mask[:16])  # the same image, the same mask
    other = task(shared_data, "mnist-inpaint", limit=16, mask="boxes", seed=1)
    assert not torch.equal(other.mask, again.mask)
    b = mnist.x[:64].float() / 255
    assert torch.equal(ds.a, torch.where(ds.mask, torch.tensor(0.5), b))


def test_unpaired_train_domains_are_disjoint(shared_data: Path, mnist: Dataset) -> None:
    ds = task(shared_data, "mnist-edges", limit=None, paired=False)
    rows_a, rows_b = alternate_rows(mnist.labels.numpy())
    assert not ds.paired and ds.info["paired"] is False
    assert len(np.intersect1d(rows_a, rows_b)) == 0 and len(rows_a) + len(rows_b) == 60_000
    assert len(ds.a) == len(rows_a) and len(ds.x) == len(rows_b)
    assert torch.equal(ds.labels_a, mnist.labels[rows_a])
    assert torch.equal(ds.labels, mnist.labels[rows_b])
    assert torch.equal(ds.x, mnist.x[rows_b])
    assert np.array_equal(ds.a[:300, 0].numpy() == 255,
                          numpy_edges(mnist.x[rows_a[:300], 0].numpy()))
    balance = torch.bincount(ds.labels_a, minlength=10) - torch.bincount(ds.labels, minlength=10)
    assert bool((balance.abs() <= 1).all())
    batch = ds.sampler(16, 0, World(), torch.device("cpu")).next()
    assert batch["a"].dtype == batch["b"].dtype == torch.float32
    assert batch["a"].shape == batch["b"].shape == (16, 1, 28, 28)


def test_unpaired_masks_follow_a_and_limit(shared_data: Path, mnist: Dataset) -> None:
    ds = task(shared_data, "mnist-inpaint", limit=40, paired=False, mask="boxes")
    rows_a, rows_b = alternate_rows(mnist.labels.numpy())
    assert np.array_equal(ds.mask[:, 0].numpy(), documented_boxes(60_000, 0, rows_a[:40]))
    assert torch.equal(ds.labels_a, mnist.labels[rows_a[:40]])
    assert torch.equal(ds.labels, mnist.labels[rows_b[:40]])
    swapped = task(shared_data, "mnist-inpaint", limit=40, paired=False, direction="BtoA")
    assert swapped.mask is None and torch.equal(swapped.labels, ds.labels_a)


def test_direction_swaps_domains(shared_data: Path) -> None:
    ab = task(shared_data, "mnist-inpaint", limit=24)
    ba = task(shared_data, "mnist-inpaint", limit=24, direction="BtoA")
    assert torch.equal(ba.a, ab.x) and torch.equal(ba.x, ab.a)
    assert torch.equal(ba.labels_a, ab.labels) and torch.equal(ba.mask, ab.mask)
    assert ba.info["direction"] == "BtoA"
    fields = ba.fields()
    assert torch.equal(fields["b"], ab.a) and torch.equal(fields["a"], ab.x)


def test_test_split_stays_paired(shared_data: Path) -> None:
    test = load_dataset(DataConfig(name="mnist", path=str(shared_data),
                                   options={"split": "test", "download": False}))
    ds = task(shared_data, "mnist-edges", limit=30, split="test", paired=False)
    assert ds.paired and ds.info["split"] == "test"
    assert torch.equal(ds.x, test.x[:30]) and torch.equal(ds.labels_a, test.labels[:30])
    assert np.array_equal(ds.a[:, 0].numpy() == 255, numpy_edges(test.x[:30, 0].numpy()))


@pytest.fixture(scope="module")
def cifar(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """The real CIFAR-10 test split (decoded once into a module cache) and the tasks on it."""
    if not (shared_data / "cifar10" / JPEG).is_file():
        pytest.skip(f"{JPEG} not found in {shared_data / 'cifar10'}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cifar-cache")))
        mp.delenv("GANKIT_DATA_DIR", raising=False)
        plain = load_dataset(DataConfig(name="cifar10", path=str(shared_data), limit=64,
                                        options={"split": "test", "download": False}))
        tasks = {key: task(shared_data, name, limit=64, split="test", paired=False, **extra)
                 for key, name, extra in (("colour", "cifar10-colour", {}),
                                          ("x2", "cifar10-superres", {}),
                                          ("x4", "cifar10-superres", {"scale": 4}))}
    return plain, tasks


def test_cifar_colour_luma_exact(cifar) -> None:
    plain, tasks = cifar
    ds = tasks["colour"]
    assert ds.paired and ds.pixels8 and ds.a.dtype == ds.x.dtype == torch.uint8
    assert ds.x.shape == (64, 3, 32, 32) and ds.a.shape == (64, 1, 32, 32)
    assert torch.equal(ds.x, plain.x) and torch.equal(ds.labels, plain.labels)
    rgb = plain.x.numpy().astype(np.int64)
    luma = (299 * rgb[:, 0] + 587 * rgb[:, 1] + 114 * rgb[:, 2] + 500) // 1000
    assert np.array_equal(ds.a[:, 0].numpy(), luma)
    # the float luma, rounded: never more than the rounding apart
    exact = 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
    assert np.abs(luma - exact).max() <= 0.5 + 1e-9
    decoded = ds.inputs(slice(0, 4))
    assert torch.equal(decoded, ds.a[:4].float() / 255 * 2 - 1)


def test_cifar_colour_refuses_grey(shared_data: Path) -> None:
    with pytest.raises(GankitError, match="colour"):
        load_dataset(DataConfig(name="cifar10-colour", path=str(shared_data), channels=1))


def test_cifar_superres_recomputed(cifar) -> None:
    plain, tasks = cifar
    b = plain.x.float() / 255
    errors = {}
    for key, scale in (("x2", 2), ("x4", 4)):
        ds = tasks[key]
        assert ds.pixels8 and ds.a.shape == ds.x.shape == (64, 3, 32, 32)
        assert torch.equal(ds.x, plain.x) and ds.info["scale"] == scale
        lo = F.interpolate(b, size=(32 // scale, 32 // scale), mode="bicubic", antialias=True,
                           align_corners=False).clamp(0, 1)
        up = F.interpolate(lo, size=(32, 32), mode="bicubic", align_corners=False).clamp(0, 1)
        assert torch.equal(ds.a, (up * 255).round().to(torch.uint8))
        errors[scale] = (ds.a.float() - ds.x.float()).abs().mean()
    assert 0 < errors[2] < errors[4]
