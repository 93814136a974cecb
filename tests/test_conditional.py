"""Class-conditional GANs: the wrappers' formulas, training, labelled sampling and evaluation."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.config import build_config
from gankit.errors import GankitError
from gankit.models import ConditionalDiscriminator, ConditionalGenerator, DataSpec, build_models

SPEC = DataSpec("toy", "image", (1, 8, 8), class_names=tuple("abc"))
TINY = {"data": {"name": "digits"}, "model": {"z_dim": 8, "conditional": "projection",
                                              "g": {"hidden": [32]}, "d": {"hidden": [32]}},
        "train": {"steps": 6, "log_every": 2, "sample_every": 3, "checkpoint_every": 3,
                  "batch_size": 30, "final_grid": 40, "sample_grid": 20}}


def test_generator_sees_the_one_hot_class():
    g, _ = build_models("mlp", {"hidden": [16]}, {"hidden": [16]}, 4, SPEC,
                        conditional="projection")
    assert isinstance(g, ConditionalGenerator) and g.inner.net[0].in_features == 4 + 3
    g.eval()
    z = torch.randn(2, 4)
    by_hand = g.inner(torch.cat([z, torch.tensor([[0.0, 0, 1], [1, 0, 0]])], dim=1))
    assert torch.allclose(g(z, torch.tensor([2, 0])), by_hand)


def test_projection_discriminator_adds_the_class_embedding_product():
    _, d = build_models("mlp", {"hidden": [16]}, {"hidden": [16]}, 4, SPEC,
                        conditional="projection")
    assert isinstance(d, ConditionalDiscriminator)
    x, y = torch.randn(5, 1, 8, 8), torch.tensor([0, 1, 2, 1, 0])
    scores, logits = d(x, y)
    h = d.inner.net[:-1](x)  # the inner D's features, computed independently of .features
    expected = d.inner.net(x).squeeze(1) + (d.embed.weight[y] * h).sum(dim=1)
    assert logits is None and torch.allclose(scores, expected, atol=1e-6)
    d.embed.weight.data[1] += 1.0  # the class really changes the score
    assert not torch.allclose(d(x, torch.ones(5, dtype=torch.long))[0],
                              d(x, torch.zeros(5, dtype=torch.long))[0])


def test_acgan_discriminator_predicts_classes():
    _, d = build_models("dcgan", {"channels": [8, 4]}, {"channels": [4, 8]}, 4,
                        DataSpec("toy", "image", (1, 8, 8), class_names=tuple("abcd")),
                        conditional="acgan")
    scores, logits = d(torch.randn(3, 1, 8, 8), torch.tensor([0, 3, 1]))
    assert scores.shape == (3,) and logits.shape == (3, 4)


@pytest.mark.parametrize("mode", ["projection", "acgan"])
def test_conditional_training_logs_and_resumes_exactly(tmp_path, mode):
    cfg = {**TINY, "model": {**TINY["model"], "conditional": mode}}
    full = gankit.train(cfg, out=tmp_path / "full", progress=False)
    half = {**cfg, "train": {**cfg["train"], "steps": 3}}
    gankit.train(half, out=tmp_path / "half", progress=False)
    resumed = gankit.resume(tmp_path / "half", steps=6, progress=False)
    for name, module in full.recipe.networks().items():
        other = resumed.recipe.networks()[name].state_dict()
        for key, value in module.state_dict().items():
            assert torch.equal(value, other[key]), (name, key)
    records = [json.loads(line) for line in (tmp_path / "full/metrics.jsonl").read_text()
               .splitlines()]
    assert ("d_class" in records[-1]) == (mode == "acgan")
    # one row of 4 samples per class: 10 rows of 4 cells of 8x8 digits (enlarged to 32 px)
    grid = Image.open(tmp_path / "full/grid_final.png")
    assert grid.size == (2 + 4 * 34, 2 + 10 * 34)


def test_labelled_sampling_and_its_errors(tmp_path):
    run = gankit.train(TINY, out=tmp_path / "r", progress=False)
    assert run.num_classes == 10
    sevens = run.sample(6, seed=3, labels=7)
    mixed = run.sample(6, seed=3, labels=torch.tensor([7, 7, 7, 1, 1, 1]))
    assert torch.equal(sevens[:3], mixed[:3]) and not torch.equal(sevens[3:], mixed[3:])
    assert torch.equal(run.sample(4, seed=3), run.sample(4, seed=3, labels=torch.arange(4)))
    with pytest.raises(GankitError, match="class numbers from 0 to 9"):
        run.sample(2, labels=10)
    out = tmp_path / "sevens.npz"
    assert main(["sample", str(tmp_path / "r"), "--label", "7", "-n", "5", "-o", str(out)]) == 0
    saved = np.load(out)
    assert saved["x"].shape == (5, 1, 8, 8) and saved["labels"].tolist() == [7] * 5
    assert main(["sample", str(tmp_path / "r"), "--label", "ten", "-o",
                 str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()


def test_unconditional_runs_and_unlabelled_data_refuse_labels(tmp_path, capsys):
    plain = {**TINY, "model": {**TINY["model"], "conditional": "none"}}
    gankit.train(plain, out=tmp_path / "plain", progress=False)
    assert main(["sample", str(tmp_path / "plain"), "--label", "3", "-o",
                 str(tmp_path / "x.png")]) == 2
    assert "not class-conditional" in capsys.readouterr().err
    np.save(tmp_path / "points.npy", np.random.default_rng(0).normal(size=(64, 2)))
    assert main(["train", "--preset", "ring8-plain", "--data", "arrays", "--data-dir",
                 str(tmp_path / "points.npy"), "--steps", "2", "--set",
                 "model.conditional=projection", "--out", str(tmp_path / "unlabelled")]) == 2
    assert "needs labelled data" in capsys.readouterr().err
    assert not (tmp_path / "unlabelled").exists()
    with pytest.raises(GankitError, match="model.pack cannot be combined"):
        build_config("digits", None, {"model": {"pack": 2, "conditional": "acgan"}})


def test_eval_measures_whether_the_requested_class_is_generated(tmp_path):
    from gankit.data.ranges import to_unit
    from gankit.metrics.classifier import ClassifierExtractor

    run = gankit.train(TINY, out=tmp_path / "r", progress=False)
    result = gankit.evaluate(tmp_path / "r", num_generated=50, num_real=100, kid_subsets=2,
                             progress=False)
    scores = result["extractors"]["classifier"]
    requested = torch.arange(50) % 10
    fake = to_unit(run.sample(50, seed=0, labels=requested), run.spec.normalize)
    predicted = ClassifierExtractor(run.config.data).classify(fake)
    assert scores["label_accuracy"] == pytest.approx(float((predicted == requested).float()
                                                           .mean()))
    assert set(scores["label_accuracy_per_class"]) == set(run.spec.class_names)
    assert "requested class recognised" in (tmp_path / "r/eval.md").read_text()
