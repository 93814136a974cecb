"""``gankit export``: labelled synthetic data sets, read back by gankit's own data sources."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.ranges import to_unit
from gankit.errors import GankitError
from gankit.metrics import classifier
from gankit.synthetic.export import class_folders, export, synthesize

TINY = {"data": {"name": "digits"}, "model": {"z_dim": 8, "conditional": "projection",
                                              "g": {"hidden": [32]}, "d": {"hidden": [32]}},
        "train": {"steps": 4, "log_every": 2, "sample_every": 4, "checkpoint_every": 4,
                  "batch_size": 30, "final_grid": 20, "sample_grid": 20}}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    return gankit.train(TINY, out=tmp_path_factory.mktemp("runs") / "cond", progress=False)


def requested(run, per_class: int, seed: int) -> torch.Tensor:
    """The samples export must have drawn: class-major labels, one seeded sample() call."""
    labels = torch.arange(10).repeat_interleave(per_class)
    return run.sample(len(labels), seed=seed, labels=labels)


def test_png_export_reads_back_with_the_folder_source(cond_run, tmp_path):
    out = tmp_path / "synth"
    folder, manifest = export(cond_run, out, per_class=4, seed=3, progress=False)
    assert folder == out
    assert sorted(p.name for p in out.iterdir()) == [*"0123456789", "manifest.json"]
    assert sorted(p.name for p in (out / "7").iterdir()) == [f"{i:05d}.png" for i in range(4)]
    assert Image.open(out / "7" / "00002.png").size == (8, 8)
    back = load_dataset(DataConfig(name="folder", path=str(out), normalize="unit"))
    assert back.class_names == list(cond_run.spec.class_names)
    assert back.labels.tolist() == np.repeat(np.arange(10), 4).tolist()
    # each PNG is the sample drawn for its class, quantised to 8 bits
    expected = to_unit(requested(cond_run, 4, 3), cond_run.spec.normalize)
    assert back.x.shape == (40, 1, 8, 8)
    assert torch.equal(back.x, expected.mul(255).round().div(255))
    saved = json.loads((out / "manifest.json").read_text())
    assert saved == manifest
    assert saved["run"] == str(cond_run.path) and saved["step"] == 4 and saved["seed"] == 3
    assert saved["labelling"]["method"] == "conditional"
    assert saved["counts"] == {str(c): 4 for c in range(10)}
    assert saved["class_names"] == [str(c) for c in range(10)]
    assert saved["format"] == "png" and saved["num_samples"] == 40
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_npz_export_holds_samples_labels_and_class_names(cond_run, tmp_path):
    out = tmp_path / "npz"
    export(cond_run, out, per_class=3, fmt="npz", seed=5, use_ema=False, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "synthetic.npz"]
    data = np.load(out / "synthetic.npz")
    assert data["x"].shape == (30, 1, 8, 8) and data["x"].dtype == np.float32
    assert data["labels"].tolist() == np.repeat(np.arange(10), 3).tolist()
    assert data["class_names"].tolist() == [str(c) for c in range(10)]
    assert str(data["normalize"]) == "symmetric"
    labels = torch.arange(10).repeat_interleave(3)
    assert np.array_equal(data["x"], cond_run.sample(30, seed=5, use_ema=False,
                                                     labels=labels).numpy())
    back = load_dataset(DataConfig(name="arrays", path=str(out / "synthetic.npz")))
    assert back.labels.tolist() == data["labels"].tolist()
    assert json.loads((out / "manifest.json").read_text())["use_ema"] is False


def test_existing_folder_is_refused_unless_overwrite(cond_run, tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(GankitError, match="not empty"):
        export(cond_run, out, per_class=1, progress=False)
    assert main(["export", str(cond_run.path), "--per-class", "1", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    # --overwrite replaces an earlier export only, never a folder of other files
    assert main(["export", str(cond_run.path), "--per-class", "1", "-o", str(out),
                 "--overwrite"]) == 2
    assert "not a gankit export" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    earlier = tmp_path / "earlier"
    export(cond_run, earlier, per_class=1, progress=False)
    export(cond_run, earlier, per_class=2, overwrite=True, progress=False)
    assert (earlier / "0" / "00001.png").is_file()
    (tmp_path / "empty").mkdir()  # an empty folder is fine without --overwrite
    export(cond_run, tmp_path / "empty", per_class=1, progress=False)
    assert (tmp_path / "empty" / "0" / "00000.png").is_file()
    with pytest.raises(GankitError, match="run folder"):
        export(cond_run, cond_run.path, per_class=1, overwrite=True, progress=False)


def test_a_failure_leaves_nothing_half_written(cond_run, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_save = Image.Image.save

    def failing_save(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise OSError("disk full")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        export(cond_run, tmp_path / "new", per_class=2, progress=False)
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old"
    monkeypatch.setattr(Image.Image, "save", real_save)
    export(cond_run, old, per_class=1, progress=False)
    before = sorted(p.relative_to(old) for p in old.rglob("*"))
    monkeypatch.setattr(Image.Image, "save", failing_save)
    calls["n"] = 0
    with pytest.raises(OSError, match="disk full"):
        export(cond_run, old, per_class=2, overwrite=True, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
    assert sorted(p.relative_to(old) for p in old.rglob("*")) == before


def test_class_folders_sort_in_class_order():
    assert class_folders([str(i) for i in range(10)]) == [str(i) for i in range(10)]
    fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    folders = class_folders(fashion)
    assert folders[0] == "0-T-shirt_top" and folders[9] == "9-Ankle_boot"
    assert sorted(folders) == folders
    many = class_folders([str(i) for i in range(12)])  # "10" sorts before "2"
    assert many[2] == "02-2" and sorted(many) == many
    assert class_folders([".a", "b"]) == ["a", "b"]  # hidden folders would be skipped


def test_unconditional_run_is_labelled_by_the_classifier(tmp_path, monkeypatch):
    monkeypatch.setattr(classifier, "MIN_SEEN", 2_000)  # a quick (weaker) classifier
    plain = {**TINY, "model": {**TINY["model"], "conditional": "none"}}
    run = gankit.train(plain, out=tmp_path / "plain", progress=False)
    with pytest.warns(UserWarning, match="short of 2"):  # a 4-step GAN makes few classes
        synth = synthesize(run, per_class=2, seed=0, min_confidence=0.3, progress=False)
    assert synth.method == "classifier"
    assert all(c <= 2 for c in synth.counts) and sum(synth.counts) == len(synth.x)
    extractor = classifier.ClassifierExtractor(run.config.data, progress=False)
    probs = extractor.probabilities(to_unit(synth.x, run.spec.normalize))
    assert torch.equal(probs.argmax(1), synth.labels)
    assert bool((probs.max(1).values >= 0.3).all())
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="short of 2"):
        assert main(["export", str(run.path), "--per-class", "2", "-o", str(out), "--format",
                     "npz", "--min-confidence", "0.3", "--no-progress"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["labelling"]["method"] == "classifier"
    assert manifest["labelling"]["min_confidence"] == 0.3
    assert "test_accuracy" in manifest["labelling"]["classifier"]
    assert np.load(out / "synthetic.npz")["labels"].tolist() == synth.labels.tolist()


def test_cli_exports_and_rejects_bad_input(cond_run, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["export", str(cond_run.path), "--per-class", "2", "-o", str(out),
                 "--seed", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "20 samples (2 per class, 10 classes)" in printed and "conditional" in printed
    assert len(load_dataset(DataConfig(name="folder", path=str(out)))) == 20
    for bad in (["--per-class", "0"], ["--per-class", "2", "--min-confidence", "0.5"]):
        assert main(["export", str(cond_run.path), *bad, "-o", str(tmp_path / "bad")]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
    assert main(["export", str(tmp_path / "nope"), "--per-class", "1", "-o",
                 str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()
