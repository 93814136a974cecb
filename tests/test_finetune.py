"""``gankit finetune-d``: the trained D's body under a new head, against the same net from
scratch."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.models.dcgan import DCGANDiscriminator
from gankit.models.mlp import MLPDiscriminator
from gankit.reuse.finetune import (
    FinetuneOptions,
    discriminator_body,
    finetune_d,
    finetune_markdown,
    pretrained_classifier,
    scratch_classifier,
)

TRAIN = {"steps": 4, "log_every": 2, "sample_every": 4, "checkpoint_every": 4,
         "batch_size": 30, "final_grid": 20, "sample_grid": 20}
MLP = {"data": {"name": "digits"}, "train": TRAIN,
       "model": {"z_dim": 8, "g": {"hidden": [32]}, "d": {"hidden": [32, 16], "dropout": 0.2}}}
DCGAN = {"data": {"name": "digits"}, "train": TRAIN,
         "model": {"arch": "dcgan", "z_dim": 8, "init": "dcgan", "g": {"channels": [16, 8]},
                   "d": {"channels": [8, 16], "dropout": 0.3}}}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {"mlp": gankit.train(MLP, out=root / "mlp", progress=False),
            "dcgan": gankit.train(DCGAN, out=root / "dcgan", progress=False)}


@pytest.mark.parametrize("family", ["mlp", "dcgan"])
def test_the_trained_body_is_loaded_and_the_head_is_new(runs, family):
    run = runs[family]
    d = run.recipe.networks()["D"]
    trained = pretrained_classifier(run, 10, seed=0)
    scratch = scratch_classifier(run, 10, seed=0)
    for name, value in d.state_dict().items():
        assert torch.equal(trained.body.state_dict()[name], value), name
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    trained.eval()
    d.eval()
    with torch.no_grad():
        assert torch.equal(trained.features(x), d.features(x))  # step 0: D's own features
        assert not torch.allclose(trained.features(x), scratch.eval().features(x))
        assert trained(x).shape == (6, 10)
    d.train()
    width = d.head.in_features
    assert trained.head.weight.shape == (10, width) and trained.head is not d.head
    # the same initial head in both arms, and the same architecture
    assert torch.equal(trained.head.weight, scratch.head.weight)
    assert type(scratch.body) is type(d) is {"mlp": MLPDiscriminator,
                                             "dcgan": DCGANDiscriminator}[family]
    assert {k: v.shape for k, v in scratch.body.state_dict().items()} == \
        {k: v.shape for k, v in d.state_dict().items()}
    assert not torch.equal(next(scratch.body.parameters()), next(d.parameters()))
    assert {id(p) for p in trained.body_parameters()}.isdisjoint(
        id(p) for p in trained.body.head.parameters())


def test_scratch_uses_the_runs_init(runs):
    body = scratch_classifier(runs["dcgan"], 10, seed=3).body
    conv = body.features[0]
    assert conv.weight.std().item() == pytest.approx(0.02, rel=0.3)  # model.init=dcgan
    assert torch.equal(conv.bias, torch.zeros_like(conv.bias))
    again = scratch_classifier(runs["dcgan"], 10, seed=3).body
    assert torch.equal(again.features[0].weight, conv.weight)


def test_the_benchmark_leaves_the_run_untouched(runs):
    run = runs["mlp"]
    result = finetune_d(run, FinetuneOptions(labels_per_class=(2,), seeds=1, steps=3,
                                             batch_size=8), progress=False)
    assert discriminator_body(run).state_dict().keys() == \
        run.recipe.networks()["D"].state_dict().keys()
    # the run's own D is untouched by the benchmark
    d = run.recipe.networks()["D"]
    assert all(torch.equal(v, discriminator_body(run).state_dict()[k])
               for k, v in d.state_dict().items())
    row = result["rows"][0]
    assert set(row) >= {"probe", "finetune", "scratch", "probe_random", "pretrained_helps"}
    assert result["architecture"]["features"] == 16


@pytest.fixture(scope="module")
def result(runs):
    return finetune_d(runs["mlp"], FinetuneOptions(labels_per_class=(2, 4), seeds=2, steps=5,
                                                   batch_size=16), progress=False)


def test_table_numbers_equal_the_json(result):
    table = finetune_markdown(result)
    rows = [line for line in table.splitlines() if re.match(r"\| \d", line)]
    assert len(rows) == 2 and "trained D helps?" in table
    assert not result["d_saw_labels"] and "Caution" not in table
    for line, row in zip(rows, result["rows"], strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == str(row["size"])
        for cell, arm in zip(cells[1:5], ("probe", "finetune", "scratch", "probe_random"),
                             strict=True):
            v = np.array(row[arm]["values"]) * 100
            assert len(v) == 2 and cell == f"{v.mean():.1f} ± {v.std(ddof=1):.1f}"
        d = (np.array(row["finetune"]["values"]) - np.array(row["scratch"]["values"])) * 100
        assert cells[5].startswith(f"{d.mean():+.1f} ± ")
        assert cells[6] == row["pretrained_helps"]["answer"]


def test_packed_runs_are_refused_and_conditional_ones_unwrapped(tmp_path, capsys):
    packed = gankit.train({**MLP, "model": {**MLP["model"], "pack": 2}},
                          out=tmp_path / "packed", progress=False)
    with pytest.raises(GankitError, match="packed discriminator"):
        finetune_d(packed, FinetuneOptions(labels_per_class=(2,), seeds=1, steps=1),
                   progress=False)
    assert main(["finetune-d", str(packed.path), "--labels-per-class", "2"]) == 2
    assert "model.pack=1" in capsys.readouterr().err
    assert not (packed.path / "finetune_d.json").exists()
    cond = gankit.train({**MLP, "model": {**MLP["model"], "conditional": "acgan"}},
                        out=tmp_path / "cond", progress=False)
    body = discriminator_body(cond)
    assert isinstance(body, MLPDiscriminator)
    assert torch.equal(body.net[1].weight, cond.recipe.networks()["D"].inner.net[1].weight)
    res = finetune_d(cond, FinetuneOptions(labels_per_class=(1,), seeds=1, steps=1),
                     progress=False)
    assert res["d_saw_labels"] and "Caution" in finetune_markdown(res)


def test_cli_end_to_end_and_bad_input(runs, tmp_path, capsys):
    run = runs["mlp"]
    out = tmp_path / "ft.json"
    assert main(["finetune-d", str(run.path), "--labels-per-class", "3", "--seeds", "1",
                 "--steps", "3", "--json", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert out.with_suffix(".md").read_text() in printed
    assert saved["options"]["labels_per_class"] == [3] and saved["run"] == str(run.path)
    for bad in (["--labels-per-class", "500"], ["--labels-per-class", "0"],
                ["--labels-per-class", "2", "--steps", "0"]):
        assert main(["finetune-d", str(run.path), *bad, "--json",
                     str(tmp_path / "bad.json")]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "bad.json").exists()
