"""Anomaly detection (issue 22): one-class data, the normal validation split, the VAE and
discriminator baselines, ``gankit anomaly-bench`` end to end, and ``gankit score``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.anomaly.bench import auroc
from gankit.anomaly.holdout import split_normal
from gankit.cli import main
from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.models.layers import eval_mode
from gankit.run import load

TINY_VAE = ["--preset", "digits-vae-anomaly", "--no-progress", "--steps", "40",
            "--set", "train.sample_every=40", "--set", "train.checkpoint_every=40"]


def test_data_classes_keeps_only_those_classes() -> None:
    full = load_dataset(DataConfig(name="digits"))
    three = load_dataset(DataConfig(name="digits", classes=[3, 5]))
    assert set(three.labels.tolist()) == {3, 5}
    assert len(three) == int(((full.labels == 3) | (full.labels == 5)).sum())
    assert torch.equal(three.rows(), full.rows()[(full.labels == 3) | (full.labels == 5)])
    assert three.info["classes"] == [3, 5]


def test_a_class_that_is_not_in_the_data_is_one_sentence(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", *TINY_VAE, "--set", "data.classes=[12]", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "Class 12 is not in the digits data" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_the_normal_split_is_disjoint_seeded_and_complete() -> None:
    data = load_dataset(DataConfig(name="digits", classes=[0]))
    train, val = split_normal(data, 0.1, seed=4)
    again, val2 = split_normal(data, 0.1, seed=4)
    assert torch.equal(val.x, val2.x) and torch.equal(train.x, again.x)
    assert len(val) == round(0.1 * len(data)) and len(train) + len(val) == len(data)
    rows = {tuple(r.tolist()) for r in data.x.flatten(1)}
    assert {tuple(r.tolist()) for r in val.x.flatten(1)} <= rows
    assert not torch.equal(split_normal(data, 0.1, seed=5)[1].x, val.x)


def test_auroc_is_the_mann_whitney_statistic() -> None:
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(60, generator=gen)
    truth = (torch.rand(60, generator=gen) < 0.4).long()
    scores[truth == 1] += 0.8
    pos, neg = scores[truth == 1], scores[truth == 0]
    pairs = (pos[:, None] > neg[None, :]).double() + 0.5 * (pos[:, None] == neg[None, :])
    assert auroc(scores, truth) == pytest.approx(float(pairs.mean()), abs=1e-12)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "vae0"
    assert main(["train", *TINY_VAE, "--out", str(out)]) == 0
    return out


def test_the_vae_baseline_scores_deterministically_in_eval_mode(vae_run) -> None:
    recipe = load(vae_run).recipe
    x = load_dataset(DataConfig(name="digits")).rows(slice(0, 50))
    recipe.encoder.train()
    first = recipe.anomaly_scores(x)
    assert recipe.encoder.training  # the mode is restored
    assert first.shape == (50,) and first.dtype == torch.float32
    assert torch.isfinite(first).all() and torch.equal(first, recipe.anomaly_scores(x))
    maps = recipe.residual_maps(x[:4])
    assert maps.shape == (4, 1, 8, 8) and float(maps.min()) >= 0 and float(maps.max()) <= 1


def test_the_discriminator_baseline_is_minus_d_in_eval_mode(tmp_path) -> None:
    out = tmp_path / "gan"
    assert main(["train", "--preset", "digits-gan-anomaly", "--no-progress", "--steps", "20",
                 "--set", "train.sample_every=20", "--out", str(out)]) == 0
    recipe = load(out).recipe
    x = load_dataset(DataConfig(name="digits")).rows(slice(0, 30))
    with torch.no_grad(), eval_mode(recipe.D):
        expected = -recipe.D(x).flatten()
    assert torch.equal(recipe.anomaly_scores(x), expected)
    assert recipe.D.training


def test_anomaly_bench_end_to_end_and_resumable(tmp_path, capsys) -> None:
    out = tmp_path / "bench"
    argv = ["anomaly-bench", "--data", "digits", "--normal", "0", "7", "--seeds", "2",
            "--methods", "vae", "--steps", "30", "--no-progress", "-o", str(out)]
    assert main(argv) == 0
    result = json.loads((out / "anomaly-bench.json").read_text())
    rows = result["methods"]["vae"]["classes"]
    assert set(rows) == {"0", "7"} and all(len(r["auroc"]) == 2 for r in rows.values())
    assert all(0.5 < v <= 1.0 for r in rows.values() for v in r["auroc"])  # better than chance
    assert result["methods"]["vae"]["mean_auroc"] == pytest.approx(
        np.mean([r["mean"] for r in rows.values()]))
    assert "nothing on the test split" in result["protocol"]["selection"]
    for name in ("anomaly-bench.md", "roc.png", "extremes-class-0.png", "extremes-class-7.png"):
        assert (out / name).is_file(), name
    assert "| **mean** |" in capsys.readouterr().out
    ckpt = sorted((out / "runs/vae/class-7/seed-1/checkpoints").glob("*.safetensors"))
    stamp = ckpt[-1].stat().st_mtime_ns
    assert main(argv) == 0  # finished runs are reused, not trained again
    assert ckpt[-1].stat().st_mtime_ns == stamp
    assert json.loads((out / "anomaly-bench.json").read_text()) == result


@pytest.mark.parametrize(("extra", "message"), [
    (["--normal", "12"], "Class 12 is not in the digits data"),
    (["--methods", "vae", "svdd"], "Unknown method 'svdd'"),
    (["--seeds", "0"], "--seeds must be at least 1"),
])
def test_anomaly_bench_bad_input_is_one_sentence(tmp_path, capsys, extra, message) -> None:
    out = tmp_path / "bench"
    argv = ["anomaly-bench", "--data", "digits", "--steps", "5", "--no-progress", "-o",
            str(out), "--methods", "vae", "gan-d", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def _write_digits(folder: Path, rows: torch.Tensor) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(rows):
        path = folder / f"img{i:02d}.png"
        Image.fromarray((img[0].numpy() * 255).round().astype(np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def mnist_vae(tmp_path_factory, shared_data) -> Path:
    out = tmp_path_factory.mktemp("runs") / "mnist-vae1"
    assert main(["train", "--preset", "mnist-vae-anomaly", "--data-dir",
                 str(shared_data / "mnist"), "--set", "data.classes=[1]", "--steps", "60",
                 "--set", "train.sample_every=60", "--no-progress", "--out", str(out)]) == 0
    return out


def test_score_writes_scores_threshold_and_heat_maps(mnist_vae, shared_data, tmp_path,
                                                     capsys) -> None:
    test = load_dataset(DataConfig(name="mnist", path=str(shared_data / "mnist"),
                                   normalize="unit", options={"split": "test"}))
    pick = torch.cat([torch.nonzero(test.labels == 1)[:6, 0],
                      torch.nonzero(test.labels == 0)[:6, 0]])
    files = _write_digits(tmp_path / "in", test.rows(pick))
    out = tmp_path / "scores.csv"
    assert main(["score", str(mnist_vae), str(tmp_path / "in"), "-o", str(out),
                 "--fpr", "0.1"]) == 0
    said = capsys.readouterr().out
    assert "10% of" in said and "normal classes of the mnist test split" in said
    rows = list(csv.DictReader(out.open()))
    assert [Path(r["file"]).name for r in rows] == [f.name for f in files]
    scores = torch.tensor([float(r["score"]) for r in rows])
    assert scores[6:].mean() > scores[:6].mean()  # zeros look less like ones
    # the threshold: the 90th percentile of the test split's ones, which the run never saw
    recipe = load(mnist_vae).recipe
    ones = test.rows(test.labels == 1)
    expected = float(torch.quantile(
        torch.cat([recipe.anomaly_scores(p) for p in ones.split(500)]).double(), 0.9))
    assert float(rows[0]["threshold"]) == pytest.approx(expected, rel=1e-5)
    assert all(r["anomalous"] == str(int(float(r["score"]) > expected)) for r in rows)
    maps = sorted((tmp_path / "scores_maps").iterdir())
    assert len(maps) == len(files) and Image.open(maps[0]).size[0] == 2 * Image.open(
        maps[0]).size[1]


def test_score_bad_input_is_one_sentence_and_writes_nothing(mnist_vae, vae_run, tmp_path,
                                                            capsys) -> None:
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(small)
    colour = tmp_path / "colour.png"
    Image.fromarray((np.zeros((28, 28, 3)) + [255, 0, 0]).astype(np.uint8)).save(colour)
    fit = tmp_path / "fit"
    assert main(["train", "--preset", "curve-fit", "--steps", "10", "--no-progress",
                 "--out", str(fit)]) == 0
    capsys.readouterr()
    out = tmp_path / "s.csv"
    cases = [([str(mnist_vae), str(small)], "is 8×8, and the detector was trained on 28×28"),
             ([str(mnist_vae), str(colour)], "is colour, and the detector was trained on "
                                             "greyscale"),
             ([str(fit), str(small)], "needs a run that can score samples"),
             ([str(vae_run), str(small)], "held out no normal images"),
             ([str(mnist_vae), str(tmp_path / "nope.png")], "does not exist")]
    for args, message in cases:
        assert main(["score", *args, "-o", str(out)]) == 2, args
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not out.exists() and not (tmp_path / "s_maps").exists()


def test_anomaly_bench_finishes_a_half_finished_run_from_its_checkpoint(tmp_path, capsys) -> None:
    from gankit.anomaly.bench import TIMING, BenchOptions, run_bench

    opts = BenchOptions(data="digits", normal=(3,), seeds=1, methods=("vae",), steps=30,
                        progress=False, overrides={"train": {"checkpoint_every": 10}})
    first = run_bench(opts, tmp_path / "a")[1][0]
    weights = (first.run_dir / "checkpoints" / "step_0000030.safetensors").read_bytes()
    for name in ("step_0000020", "step_0000030"):  # as if killed just after step 10's checkpoint
        for path in (first.run_dir / "checkpoints").glob(f"{name}.*"):
            path.unlink()
    (first.run_dir / TIMING).unlink()
    again = run_bench(opts, tmp_path / "a")[1][0]
    assert "from its checkpoint of step 10" in capsys.readouterr().err
    assert (first.run_dir / "checkpoints" / "step_0000030.safetensors").read_bytes() == weights
    assert again.auroc == first.auroc and torch.equal(again.scores, first.scores)
    assert again.train_seconds > 0
    other = BenchOptions(**{**vars(opts), "steps": 20})  # another config: trained afresh
    assert run_bench(other, tmp_path / "a")[1][0].auroc != first.auroc
    assert "training" in capsys.readouterr().err
    assert not (first.run_dir / "checkpoints" / "step_0000030.safetensors").exists()
