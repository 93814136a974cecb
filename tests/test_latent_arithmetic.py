"""Latent arithmetic: attribute and class directions, the measured grid, the command."""

import json

import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.data.ranges import to_unit
from gankit.errors import GankitError
from gankit.latent import attribute_direction, latent_arithmetic, measure, render
from gankit.latent.directions import _orthogonal_to_classes, _quantile_difference, _regression
from gankit.latent.render import one_hot

TINY = {"model": {"z_dim": 8, "g": {"hidden": [32]}, "d": {"hidden": [32]}},
        "train": {"steps": 20, "log_every": 5, "sample_every": 10, "checkpoint_every": 10,
                  "batch_size": 32, "ema_decay": 0.9, "final_grid": 20, "sample_grid": 10}}


def by_ink(x: torch.Tensor) -> torch.Tensor:
    """A stand-in classifier for images in [0, 1]: class 1 for inky images, else 0."""
    return (x.mean(dim=(1, 2, 3)) > 0.35).long()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return gankit.train(TINY, out=tmp_path_factory.mktemp("runs") / "tiny", progress=False)


@pytest.fixture(scope="module")
def inky(run):
    """Class 1 for samples with more ink than the median sample of the run, else 0."""
    middle = float(to_unit(run.sample(1000, seed=9), "symmetric").mean(dim=(1, 2, 3)).median())

    def classify(x: torch.Tensor) -> torch.Tensor:
        return (x.mean(dim=(1, 2, 3)) > middle).long()

    return classify


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    cfg = {**TINY, "model": {**TINY["model"], "conditional": "projection"}}
    return gankit.train(cfg, out=tmp_path_factory.mktemp("runs") / "cond", progress=False)


def test_direction_estimators_find_a_planted_direction():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 6, generator=gen, dtype=torch.float64)
    classes = torch.randint(0, 3, (4000,), generator=gen)
    truth = torch.tensor([0.0, 2.0, 0.0, -1.0, 0.0, 0.0], dtype=torch.float64)
    values = z @ truth + 5.0 * classes + 0.1 * torch.randn(4000, generator=gen,
                                                            dtype=torch.float64)
    coef = _regression(z, values, classes)
    torch.testing.assert_close(coef, truth, atol=0.02, rtol=0)
    diff = _quantile_difference(z, values, classes, 0.2)
    cosine = float(diff @ truth / (diff.norm() * truth.norm()))
    assert cosine > 0.98


def test_directions_are_made_orthogonal_to_the_class_means():
    gen = torch.Generator().manual_seed(0)
    classes = torch.randint(0, 3, (3000,), generator=gen)
    z = torch.randn(3000, 5, generator=gen, dtype=torch.float64)
    z[:, 0] += 4.0 * (classes == 1)  # the classes differ along axes 0 and 1 only
    z[:, 1] += 4.0 * (classes == 2)
    u = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0], dtype=torch.float64) / 3**0.5
    rest, removed = _orthogonal_to_classes(u, z, classes)
    assert removed == 2 and rest.norm() == pytest.approx(1.0)
    torch.testing.assert_close(rest, torch.tensor([0.0, 0, 1, 0, 0], dtype=torch.float64),
                               atol=0.03, rtol=0)


@pytest.mark.parametrize("method", ["regression", "quantile"])
def test_thickness_direction_raises_the_measured_thickness(run, method):
    direction = attribute_direction(run, "thickness", n=2000, method=method, seed=1)
    assert direction.vector.norm() == pytest.approx(1.0, abs=1e-5)
    assert direction.info["correlation"] > 0
    # a 20-step G saturates far out, so stay within one standard deviation
    res = latent_arithmetic(run, "thickness", n=2000, columns=5, rows=3, bases=200,
                            method=method, strength=1.0, classifier=None)
    assert res.images.shape == (3, 5, 1, 8, 8) and res.reference == 2
    assert res.values[0] < res.before < res.values[-1]
    assert res.class_agreement is None and not res.direction.within_class
    # the numbers are measured on the rendered codes, independently recomputed here
    z = run.recipe.noise(200, torch.Generator().manual_seed(1))
    shifted = z + float(res.alphas[-1]) * res.direction.scale * res.direction.vector
    again = measure("thickness", to_unit(render(run, shifted), "symmetric")).mean()
    assert float(again) == pytest.approx(res.values[-1], rel=1e-4)


def test_classes_seen_by_a_classifier_are_kept_out_of_the_direction(run, inky):
    res = latent_arithmetic(run, "slant", n=1000, columns=3, rows=2, bases=50,
                            classifier=inky)
    assert res.direction.within_class
    assert res.direction.info["class_directions_removed"] == 1  # two classes: one difference
    assert res.class_agreement[1] == 1.0 and len(res.class_agreement) == 3


def test_unconditional_class_direction_moves_samples_into_the_target(run, inky):
    res = latent_arithmetic(run, "class", target=1, columns=4, rows=2, bases=100, n=2000,
                            classifier=inky)
    assert res.alphas[0] == 0 and res.values[-1] > res.values[0]
    assert res.values[0] == 0.0  # the base codes were chosen outside the target class


def test_conditional_class_grid_moves_the_class_code(cond_run):
    res = latent_arithmetic(cond_run, "class", target=8, source=3, columns=3, rows=2,
                            bases=10, classifier=by_ink)
    z = cond_run.recipe.noise(10, torch.Generator().manual_seed(1))
    three, eight = one_hot(torch.full((10,), 3), 10), one_hot(torch.full((10,), 8), 10)
    torch.testing.assert_close(res.images[:, 0], render(cond_run, z, three)[:2])
    torch.testing.assert_close(res.images[:, -1], render(cond_run, z, eight)[:2])
    torch.testing.assert_close(res.images[:, 1], render(cond_run, z, (three + eight) / 2)[:2])


def test_bad_arithmetic_requests(run):
    with pytest.raises(GankitError, match="--target"):
        latent_arithmetic(run, "class", classifier=by_ink)
    with pytest.raises(GankitError, match="odd"):
        latent_arithmetic(run, "slant", columns=4, classifier=None)
    with pytest.raises(GankitError, match="only go with"):
        latent_arithmetic(run, "slant", target=3, classifier=None)


def test_cli_writes_the_grid_and_the_numbers(run, monkeypatch, capsys):
    from gankit.metrics import classifier

    monkeypatch.setattr(classifier, "MIN_SEEN", 1000)  # a quick evaluation classifier
    code = main(["latent-arithmetic", str(run.path), "--attribute", "slant", "-n", "500",
                 "--bases", "50", "--columns", "5", "--rows", "3", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "Before (alpha +0.00)" in out and "class kept" in out
    png, js = (run.path / "latent" / f"arithmetic-slant.{s}" for s in ("png", "json"))
    with Image.open(png) as im:
        assert im.size[0] > 100
    data = json.loads(js.read_text())
    assert len(data["values"]) == 5 and data["before"] == data["values"][2]
    assert data["class_agreement"][2] == 1.0 and data["direction"]["num_samples"] == 500
    assert main(["latent-arithmetic", str(run.path), "--attribute", "class", "--target", "x",
                 "--no-progress"]) == 2
    assert "not a class" in capsys.readouterr().err
