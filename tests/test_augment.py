"""``gankit augment-bench``: the three arms, determinism, the table and its errors."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.metrics.classifier import labelled_splits
from gankit.synthetic.augment import AugmentOptions, SmallCNN, augment_bench, augment_markdown
from gankit.synthetic.fewshot import draw_per_class, summary, verdict
from gankit.training.supervised import fit_classifier

TINY = {"data": {"name": "digits"}, "model": {"z_dim": 8, "conditional": "projection",
                                              "g": {"hidden": [32]}, "d": {"hidden": [32]}},
        "train": {"steps": 4, "log_every": 2, "sample_every": 4, "checkpoint_every": 4,
                  "batch_size": 30, "final_grid": 20, "sample_grid": 20}}
OPTS = AugmentOptions(sizes=(2, 5), seeds=2, synthetic_per_class=3, steps=6, batch_size=16)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return gankit.train(TINY, out=tmp_path_factory.mktemp("runs") / "cond", progress=False)


@pytest.fixture(scope="module")
def result(run):
    return augment_bench(run, OPTS, progress=False)


def test_every_arm_seed_and_size_is_measured(result):
    assert [r["size"] for r in result["rows"]] == [2, 5]
    assert result["seeds"] == [0, 1]
    for row in result["rows"]:
        for arm in ("real", "real_synthetic"):
            values = row[arm]["values"]
            assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)
            assert row[arm]["mean"] == pytest.approx(np.mean(values))
            assert row[arm]["std"] == pytest.approx(np.std(values, ddof=1))
        diff = np.array(row["real_synthetic"]["values"]) - np.array(row["real"]["values"])
        assert row["synthetic_helps"]["mean_difference"] == pytest.approx(diff.mean())
    assert len(result["synthetic_only"]["values"]) == 2
    assert result["synthetic_labelling"]["method"] == "conditional"
    assert result["synthetic_counts"] == [[3] * 10, [3] * 10]
    assert "held-out 20%" in result["protocol"]["test"]


def test_table_numbers_equal_the_json(result):
    table = augment_markdown(result)
    rows = [line for line in table.splitlines() if re.match(r"\| \d", line)]
    assert len(rows) == 2
    for line, row in zip(rows, result["rows"], strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == str(row["size"])
        for cell, stats in zip(cells[1:4], (row["real"], row["real_synthetic"],
                                            result["synthetic_only"]), strict=True):
            v = np.array(stats["values"]) * 100
            assert cell == f"{v.mean():.1f} ± {v.std(ddof=1):.1f}"
        d = (np.array(row["real_synthetic"]["values"]) - np.array(row["real"]["values"])) * 100
        assert cells[4] == f"{d.mean():+.1f} ± {d.std(ddof=1) / math.sqrt(len(d)):.1f} pts"
        assert cells[5] == row["synthetic_helps"]["answer"]


def test_real_only_arm_equals_an_independent_recomputation(run, result):
    splits = labelled_splits(run.config.data)
    (x, y), (x_test, y_test) = splits["train"], splits["test"]
    seed, k = 1, 5
    gen = torch.Generator().manual_seed(seed)
    idx = []
    for c in range(10):
        members = torch.nonzero(y == c).flatten()
        idx.append(members[torch.randperm(len(members), generator=gen)[:k]])
    idx = torch.cat(idx)
    assert torch.equal(idx, draw_per_class(y, k, seed, 10))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = SmallCNN(1, 8, 10)
    fit_classifier(model, [{"params": model.parameters(), "lr": OPTS.lr}], x[idx], y[idx],
                   OPTS.steps, OPTS.batch_size, seed)
    with torch.no_grad():
        predicted = model.eval()(x_test).argmax(1)
    expected = (predicted == y_test).double().mean().item()
    assert result["rows"][1]["real"]["values"][seed] == pytest.approx(expected, abs=1e-12)


def test_fit_is_seeded_and_leaves_the_global_rng_alone():
    x, y = torch.rand(20, 1, 8, 8), torch.arange(20) % 2
    init = SmallCNN(1, 8, 2).state_dict()
    weights = []
    for _ in range(2):
        model = SmallCNN(1, 8, 2)
        model.load_state_dict(init)
        before = torch.get_rng_state()
        info = fit_classifier(model, [{"params": model.parameters(), "lr": 1e-2}], x, y, 7, 8,
                              seed=4)
        assert torch.equal(torch.get_rng_state(), before)
        weights.append(model.net[-1].weight.detach().clone())
    assert info["steps"] == 7 and info["batch_size"] == 8
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0],
                                                                    init["net.5.weight"])
    assert not model.training


def test_verdict_is_computed_from_the_numbers():
    assert verdict([0.5, 0.6, 0.7], [0.6, 0.7, 0.8])["answer"] == "yes"  # +10 pts, SE 0
    assert verdict([0.6, 0.7, 0.8], [0.5, 0.6, 0.7])["answer"] == "no (worse)"
    noisy = verdict([0.5, 0.6, 0.7], [0.7, 0.5, 0.65])
    assert noisy["answer"] == "no clear difference"
    assert noisy["mean_difference"] == pytest.approx(0.05 / 3)
    assert verdict([0.5], [0.9])["answer"] == "no clear difference (1 seed)"
    assert summary([0.5])["std"] == 0.0


def test_sizes_beyond_the_data_are_refused(run, tmp_path, capsys):
    with pytest.raises(GankitError, match="choose sizes up to"):
        augment_bench(run, AugmentOptions(sizes=(10, 1000), seeds=1, steps=1), progress=False)
    out = tmp_path / "a.json"
    assert main(["augment-bench", str(run.path), "--sizes", "1000", "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "1000 labelled examples per class" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not (run.path / "augment_bench.json").exists()
    assert main(["augment-bench", str(run.path), "--seeds", "0", "--json", str(out)]) == 2
    assert not out.exists()


def test_cli_writes_json_and_markdown(run, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["augment-bench", str(run.path), "--sizes", "3", "--seeds", "1",
                 "--synthetic-per-class", "2", "--steps", "3", "--json", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    saved = json.loads(out.read_text())
    table = out.with_suffix(".md").read_text()
    assert table in printed and "synthetic helps?" in table
    assert saved["options"]["sizes"] == [3] and saved["options"]["steps"] == 3
    assert saved["rows"][0]["synthetic_helps"]["answer"] == "no clear difference (1 seed)"
