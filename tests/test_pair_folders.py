"""Your own image pairs: the ``pairs`` (pix2pix) and ``unpaired`` (CycleGAN) sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.errors import GankitError


def save(path: Path, size=(8, 8), mode="RGB", value=100) -> Path:
    """A flat image; colour images hold (value, 0, 255 - value)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 255 - value)).save(path)
    return path


def side_by_side(path: Path, left: int, right: int, half=(8, 8), mode="RGB") -> Path:
    """A pix2pix pair image: A (flat ``left``) on the left, B (flat ``right``) on the right."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new(mode, (2 * half[0], half[1]))
    colour = (lambda v: v) if mode == "L" else (lambda v: (v, 0, 255 - v))
    im.paste(Image.new(mode, half, colour(left)), (0, 0))
    im.paste(Image.new(mode, half, colour(right)), (half[0], 0))
    im.save(path)
    return path


def load(root: Path, name="pairs", options=None, **kw):
    return load_dataset(DataConfig(name=name, path=str(root), options=options or {}, **kw))


def values(t: torch.Tensor) -> list[int]:
    """The first pixel of each image, back to 0..255 (data range symmetric)."""
    return [round(v) for v in ((t[:, 0, 0, 0] + 1) * 127.5).tolist()]


def test_side_by_side_halves_and_direction(tmp_path: Path) -> None:
    for i in range(3):
        side_by_side(tmp_path / "train" / f"{i}.png", 10 + i, 200 + i)
        side_by_side(tmp_path / "test" / f"{i}.png", 50 + i, 150 + i)
    ds = load(tmp_path)
    assert ds.kind == "pair" and ds.paired and ds.name == "pairs" and ds.labels is None
    assert ds.x.shape == ds.a.shape == (3, 3, 8, 8) and ds.x.dtype == torch.float32
    assert values(ds.a) == [10, 11, 12] and values(ds.x) == [200, 201, 202]
    assert ds.info["layout"] == "side-by-side" and not ds.info["held_out"]
    assert ds.info["channels_a"] == ds.info["channels_b"] == 3 and ds.info["files"] == 3
    test = load(tmp_path, options={"split": "test", "direction": "BtoA"})
    assert values(test.a) == [150, 151, 152] and values(test.x) == [50, 51, 52]
    assert test.info["direction"] == "BtoA" and test.info["split"] == "test"
    assert set(ds.fields()) == {"a", "b"}


def test_val_folder_stands_in_for_test(tmp_path: Path) -> None:
    side_by_side(tmp_path / "train" / "a.png", 1, 2)
    side_by_side(tmp_path / "val" / "b.png", 3, 4)
    assert values(load(tmp_path, options={"split": "test"}).a) == [3]


def _held_out_set(root: Path, order: range) -> tuple[set[int], set[int]]:
    for i in order:
        side_by_side(root / f"img{i:02d}.png", i * 10, 255 - i * 10, mode="L")
    train, test = load(root), load(root, options={"split": "test"})
    assert train.info["held_out"] and train.x.shape[1] == 1
    return set(values(train.a)), set(values(test.a))


def test_held_out_split_is_fixed_and_disjoint(tmp_path: Path) -> None:
    train, test = _held_out_set(tmp_path / "one", range(20))
    assert len(train) == 18 and len(test) == 2 and not train & test
    assert train | test == {i * 10 for i in range(20)}
    again = _held_out_set(tmp_path / "two", range(19, -1, -1))  # written in the other order
    assert again == (train, test)


def test_held_out_needs_two_pairs(tmp_path: Path) -> None:
    side_by_side(tmp_path / "only.png", 1, 2)
    assert len(load(tmp_path)) == 1
    with pytest.raises(GankitError, match="too few to hold out"):
        load(tmp_path, options={"split": "test"})


def test_ab_folders_match_by_stem_with_own_channels(tmp_path: Path) -> None:
    for i, stem in enumerate(["b", "a", "c"]):
        save(tmp_path / "A" / f"{stem}.png", mode="L", value=10 + i)
        save(tmp_path / "B" / f"{stem}.bmp", value=100 + i)  # another extension is fine
    ds, test = load(tmp_path), load(tmp_path, options={"split": "test"})  # 1 of 3 held out
    assert ds.a.shape == (2, 1, 8, 8) and ds.x.shape == (2, 3, 8, 8) and ds.paired
    pairs = sorted(zip(values(ds.a) + values(test.a), values(ds.x) + values(test.x), strict=True))
    assert pairs == [(10, 100), (11, 101), (12, 102)] and ds.info["held_out"]
    assert ds.info["layout"] == "folders" and ds.info["files"] == 4 and ds.info["pairs"] == 2
    assert ds.info["channels_a"] == 1 and ds.info["channels_b"] == 3
    swapped = load(tmp_path, options={"direction": "BtoA"})
    assert swapped.a.shape == (2, 3, 8, 8) and swapped.x.shape == (2, 1, 8, 8)
    assert swapped.info["channels_a"] == 3 and torch.equal(swapped.a, ds.x)
    assert load(tmp_path, channels=3).a.shape == (2, 3, 8, 8)


def test_ab_folders_in_split_folders_and_resized(tmp_path: Path) -> None:
    for split, n in (("train", 2), ("test", 1)):
        for i in range(n):
            save(tmp_path / split / "A" / f"{i}.png", size=(12, 10))
            save(tmp_path / split / "B" / f"{i}.png", size=(12, 10))
    assert len(load(tmp_path)) == 2
    test = load(tmp_path, options={"split": "test"}, image_size=6, normalize="unit")
    assert test.a.shape == test.x.shape == (1, 3, 6, 6) and float(test.x.min()) >= 0
    assert test.info["resize"] == "centre-crop + bicubic"


def test_unpaired_domains_are_separate_sets(tmp_path: Path) -> None:
    for folder, n, mode in (("trainA", 3, "L"), ("trainB", 5, "RGB"), ("testA", 1, "L"),
                            ("testB", 2, "RGB")):
        for i in range(n):
            save(tmp_path / folder / f"{i}.png", mode=mode)
    ds = load(tmp_path, "unpaired")
    assert ds.kind == "pair" and not ds.paired and ds.name == "unpaired"
    assert ds.a.shape == (3, 1, 8, 8) and ds.x.shape == (5, 3, 8, 8)
    assert ds.info["images_a"] == 3 and ds.info["images_b"] == 5 and ds.info["files"] == 8
    test = load(tmp_path, "unpaired", {"split": "test", "direction": "BtoA"})
    assert test.a.shape == (2, 3, 8, 8) and test.x.shape == (1, 1, 8, 8)


def test_crop_option(tmp_path: Path) -> None:
    side_by_side(tmp_path / "p.png", 1, 2)
    assert load(tmp_path, options={"crop": 8}).info["crop"] == 8
    with pytest.raises(GankitError, match=r"p\.png.*8×8.*crop=9"):
        load(tmp_path, options={"crop": 9})
    with pytest.raises(GankitError, match="after resizing"):
        load(tmp_path, options={"crop": 9}, image_size=6)


def test_unreadable_pair_is_skipped_with_a_warning(tmp_path: Path) -> None:
    for path in ("train/A/x.png", "train/B/x.png", "train/A/y.png", "test/A/t.png",
                 "test/B/t.png"):
        save(tmp_path / path)
    (tmp_path / "train" / "B" / "y.png").write_bytes(b"not an image")
    with pytest.warns(UserWarning, match=r"y\.png"):
        ds = load(tmp_path)
    assert len(ds) == 1 and ds.info["skipped"] == [str(Path("train") / "B" / "y.png")]


@pytest.mark.parametrize("make, options, message", [
    (lambda d: save(d / "wide.png", size=(15, 8)), {}, r"wide\.png.*odd width"),
    (lambda d: (save(d / "A" / "x.png"), save(d / "B" / "x.png", size=(10, 8))), {},
     r"x\.png.*10×8.*differ in size"),
    (lambda d: (save(d / "train/a.png", size=(16, 8)), save(d / "train/b.png", size=(20, 8)),
                (d / "test").mkdir()), {},
     r"a\.png.*b\.png.*image_size"),
    (lambda d: (save(d / "A" / "x.png"), save(d / "A" / "x.bmp"), save(d / "B" / "x.png")), {},
     r"x\.bmp.*x\.png.*share one name"),
    (lambda d: save(d / "A" / "x.png"), {}, r"B' is missing"),
    (lambda d: (d / "A").mkdir() or save(d / "B" / "x.png"), {},
     r"A' holds no images"),
    (lambda d: (d / "notes.txt").write_text("hi"), {}, "matches neither layout"),
    (lambda d: side_by_side(d / "test" / "x.png", 1, 2), {}, r"train' is missing"),
    (lambda d: (save(d / "trainA" / "x.png"), save(d / "trainB" / "y.png")), {},
     "use --data unpaired"),
])
def test_bad_pairs_folders(tmp_path: Path, make, options, message) -> None:
    make(tmp_path)
    with pytest.raises(GankitError, match=message):
        load(tmp_path, options=options)


def test_unmatched_names_are_listed(tmp_path: Path) -> None:
    for stem in ("both", "w", "x", "y", "z"):
        save(tmp_path / "A" / f"{stem}.png")
    for stem in ("both", "q"):
        save(tmp_path / "B" / f"{stem}.jpg")
    with pytest.raises(GankitError) as err:
        load(tmp_path)
    text = str(err.value)
    assert "4 files of A/ have no partner in B/ (w.png, x.png, y.png, ...)" in text
    assert "1 file of B/ has no partner in A/ (q.jpg)" in text


def test_mixed_grey_and_colour_in_one_domain(tmp_path: Path) -> None:
    (tmp_path / "test").mkdir()  # no split held out of train/
    save(tmp_path / "train" / "A" / "g.png", mode="L")
    save(tmp_path / "train" / "A" / "h.png", mode="RGB")
    for stem in "gh":
        save(tmp_path / "train" / "B" / f"{stem}.png")
    with pytest.raises(GankitError, match=r"A images mix.*g\.png.*grey.*h\.png.*data.channels=3"):
        load(tmp_path)
    assert load(tmp_path, channels=3).a.shape == (2, 3, 8, 8)
    assert load(tmp_path, channels=1).x.shape == (2, 1, 8, 8)


def test_bad_unpaired_folders(tmp_path: Path) -> None:
    with pytest.raises(GankitError, match="trainA/ and trainB/"):
        load(tmp_path, "unpaired")
    save(tmp_path / "trainA" / "x.png")
    with pytest.raises(GankitError, match=r"trainB' is missing"):
        load(tmp_path, "unpaired")
    (tmp_path / "trainB").mkdir()
    with pytest.raises(GankitError, match=r"trainB' holds no images"):
        load(tmp_path, "unpaired")
    save(tmp_path / "trainB" / "y.png")
    with pytest.raises(GankitError, match=r"testA' is missing"):
        load(tmp_path, "unpaired", {"split": "test"})


def test_missing_folder_and_path(tmp_path: Path) -> None:
    for name in ("pairs", "unpaired"):
        with pytest.raises(GankitError, match=r"nowhere' does not exist"):
            load(tmp_path / "nowhere", name)
        with pytest.raises(GankitError, match="data.path"):
            load_dataset(DataConfig(name=name))


def test_cli_bad_pair_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    save(tmp_path / "data" / "wide.png", size=(15, 8))
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "gankit", "train", "--data", "pairs", "--data-dir",
         str(tmp_path / "data"), "--out", str(out), "--steps", "1", "--no-progress"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "wide.png" in proc.stderr and "odd width" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()
