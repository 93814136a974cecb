"""The classifier recipe (natural and adversarial training), gankit.robust.load_classifier, and
``gankit robustness``: numbers with their protocol, per class, pictures, sanity checks that catch
gradient masking, and bad input refused in one sentence."""

import json

import pytest
import torch
from torch import nn

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.robust.evaluate import RobustnessOptions, evaluation_images, robustness
from gankit.robust.models import load_classifier

TINY = {"recipe": "classifier", "data": {"name": "digits", "normalize": "unit"},
        "model": {"channels": [8, 16], "hidden": 32},
        "optim": {"lr": 3e-3},
        "adversarial": {"check_every": 0, "eps": 0.2},
        "holdout": 100,
        "train": {"steps": 300, "batch_size": 64, "log_every": 50, "sample_every": 300,
                  "checkpoint_every": 150}}
FAST = ["--data", "digits", "-n", "200", "--check-samples", "100", "--queries", "30",
        "--steps", "10", "--no-progress"]


def config(**sections):
    return {**TINY, **{k: {**TINY.get(k, {}), **v} for k, v in sections.items()}}


@pytest.fixture(scope="module")
def natural(tmp_path_factory):
    return gankit.train(config(), out=tmp_path_factory.mktemp("runs") / "natural",
                        progress=False)


def test_the_recipe_classifies_well_and_draws_adversarial_examples(natural):
    x, y, names = evaluation_images("digits", None, None)
    model = load_classifier(natural.path)
    assert not model.training and names == [str(i) for i in range(10)]
    with torch.no_grad():
        accuracy = float((model(x).argmax(1) == y).float().mean())
    assert accuracy > 0.9
    assert (natural.path / "adversarial_final.png").is_file()
    assert "recipe: classifier" in (natural.path / "config.yaml").read_text()


def test_torchscript_and_evaluation_classifiers_load_the_same_way(natural, tmp_path):
    model = load_classifier(natural.path)
    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(model), str(path))
    again = load_classifier(path)
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(again(x), model(x))
    with pytest.raises(GankitError, match="not a TorchScript model"):
        (tmp_path / "junk.pt").write_bytes(b"junk")
        load_classifier(tmp_path / "junk.pt")
    with pytest.raises(GankitError, match="neither a run folder"):
        load_classifier(tmp_path / "missing")


def test_the_command_writes_numbers_protocol_classes_pictures_and_checks(natural, tmp_path,
                                                                         capsys):
    out = tmp_path / "r"
    assert main(["robustness", str(natural.path), "--eps", "0", "0.1", "0.2", "-o", str(out),
                 *FAST]) == 0
    result = json.loads((out / "robustness.json").read_text())
    attack = result["protocol"]["attack"]
    assert attack["attack"] == "pgd" and attack["steps"] == 10 and attack["restarts"] == 1
    assert attack["norm"] == "linf" and attack["step_size"] == pytest.approx(0.05)
    assert result["protocol"]["samples"] == 200 and result["protocol"]["model_mode"] == "eval"
    accs = [r["accuracy"] for r in result["rows"]]
    assert accs[0] > 90 and accs[2] < accs[0]
    assert set(result["rows"][0]["per_class"]) == {str(i) for i in range(10)}
    names = {c["check"] for c in result["checks"]}
    assert names == {"monotone in ε", "more steps", "PGD vs FGSM", "unbounded", "gradient-free"}
    for name in ("robustness.md", "robustness.png", "examples.png"):
        assert (out / name).is_file()
    assert "| 0.1 |" in capsys.readouterr().out
    assert main(["robustness", str(natural.path), "-o", str(out), *FAST]) == 2  # not empty
    assert "--overwrite" in capsys.readouterr().err


class Rounded(nn.Module):
    """Gradient masking: the model sees rounded pixels, so its gradients are zero."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(torch.round(x * 4) / 4)


def test_the_checks_catch_gradient_masking(natural):
    x, y, names = evaluation_images("digits", None, 150)
    masked = Rounded(load_classifier(natural.path))
    result = robustness(masked, x, y, names, RobustnessOptions(
        eps=(0.0, 0.3), steps=10, check_samples=150, square_queries=100, progress=False))
    checks = {c["check"]: c for c in result["checks"]}
    assert not checks["gradient-free"]["passed"], checks["gradient-free"]["detail"]
    assert not checks["unbounded"]["passed"]  # PGD cannot move: the sign of a zero gradient


@pytest.mark.parametrize("argv, message", [
    (["--eps", "1.5"], "outside the data range"),
    (["--steps", "-1"], "--steps must be at least 1"),
    (["--attack", "nope"], "Unknown attack 'nope'"),
    (["-n", "0"], "-n must be at least 1"),
])
def test_bad_input_is_one_sentence(natural, tmp_path, capsys, argv, message):
    assert main(["robustness", str(natural.path), "--data", "digits", "-o",
                 str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_models_that_do_not_classify_are_refused(natural, tmp_path, capsys):
    gan = gankit.train({"model": {"g": {"hidden": [8]}, "d": {"hidden": [8]}},
                        "train": {"steps": 2, "batch_size": 8}}, out=tmp_path / "gan",
                       progress=False)
    assert main(["robustness", str(gan.path), "--data", "digits"]) == 2
    assert "needs a run that can classify samples" in capsys.readouterr().err
    wrong = tmp_path / "wrong.pt"
    torch.jit.save(torch.jit.script(nn.Sequential(nn.Flatten(), nn.Linear(64, 3))), str(wrong))
    assert main(["robustness", str(wrong), "--data", "digits"]) == 2
    assert "must return logits of shape (N, 10)" in capsys.readouterr().err


def test_adversarial_training_resumes_bit_identically(tmp_path):
    cfg = config(adversarial={"method": "fgsm-rs", "check_every": 10},
                 train={"steps": 20, "checkpoint_every": 10})
    full = gankit.train(cfg, out=tmp_path / "full", progress=False)
    half = gankit.train(config(adversarial={"method": "fgsm-rs", "check_every": 10},
                               train={"steps": 10, "checkpoint_every": 10}),
                        out=tmp_path / "half", progress=False)
    resumed = gankit.resume(half.path, steps=20, progress=False)
    for a, b in zip(full.recipe.net.parameters(), resumed.recipe.net.parameters(), strict=True):
        assert torch.equal(a, b)
    records = [json.loads(line) for line in (full.path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val_pgd_acc" in r] == [10, 20]


def test_catastrophic_overfitting_rolls_back_with_a_lower_learning_rate(tmp_path, monkeypatch,
                                                                         capsys):
    from gankit.recipes.classifier import ClassifierRecipe

    robust = iter([0.8, 0.1] + [0.8] * 100)  # a collapse at the second check
    monkeypatch.setattr(ClassifierRecipe, "check",
                        lambda self, eps=None: {"val_acc": 0.9, "val_pgd_acc": next(robust)})
    cfg = config(adversarial={"method": "fgsm-rs", "check_every": 5},
                 train={"steps": 15, "checkpoint_every": 5, "on_divergence": "rollback"})
    run = gankit.train(cfg, out=tmp_path / "r", progress=False)
    assert run.step == 15
    assert "catastrophic overfitting" in capsys.readouterr().out
    from gankit.training.checkpoint import load_latest

    _, state, _ = load_latest(run.path / "checkpoints")
    assert state["schedulers"]["sched"]["base_lrs"] == [pytest.approx(3e-3 * 0.5)]


def test_generated_images_and_synthetic_training_data_are_attacked_too(natural, tmp_path,
                                                                        capsys):
    from gankit.synthetic.augment import AugmentOptions, augment_bench

    cgan = gankit.train({"preset": "digits-cgan", "train": {"steps": 30, "batch_size": 32},
                         "model": {"g": {"hidden": [16]}, "d": {"hidden": [16]}},
                         "eval": {"every": 0}}, out=tmp_path / "cgan", progress=False)
    out = tmp_path / "gen"
    assert main(["robustness", str(natural.path), "--generated", str(cgan.path), "--eps", "0",
                 "0.1", "-o", str(out), "--no-checks", *FAST]) == 0
    result = json.loads((out / "robustness.json").read_text())
    assert result["protocol"]["data"] == f"samples of {cgan.path}"
    assert result["protocol"]["samples"] == 200
    result = augment_bench(cgan, AugmentOptions(sizes=(5,), seeds=1, synthetic_per_class=5,
                                                steps=20, robust_eps=0.1, robust_samples=50),
                           progress=False)
    assert result["robustness_protocol"]["eps"] == 0.1
    row = result["rows"][0]
    assert 0 <= row["real_robust"]["mean"] <= row["real"]["mean"] + 1e-9
    assert "synthetic_changes_robustness" in row


def test_defense_gan_reports_the_plain_and_the_bpda_attack(natural, tmp_path):
    from gankit.robust.defense import DefenseGAN, defense_gan_robustness

    gan = gankit.train({"data": {"normalize": "unit"}, "train": {"steps": 40, "batch_size": 32},
                        "model": {"z_dim": 8, "g": {"hidden": [32], "output": "sigmoid"},
                                  "d": {"hidden": [32]}}}, out=tmp_path / "gan", progress=False)
    classifier = load_classifier(natural.path)
    x, y, _ = evaluation_images("digits", None, 20)
    # BPDA: the defended model's gradient is the classifier's gradient at the purified image
    through = DefenseGAN(classifier, gan, steps=5, restarts=1, bpda=True)
    purified = through.purify(x).requires_grad_(True)
    classifier(purified).sum().backward()
    xg = x.clone().requires_grad_(True)
    through(xg).sum().backward()
    torch.testing.assert_close(xg.grad, purified.grad)
    result = defense_gan_robustness(classifier, gan, x, y, 0.3, steps=3, projection_steps=5,
                                    restarts=1, batch_size=10)
    acc = result["accuracy"]
    assert set(acc) == {"undefended clean", "undefended PGD", "Defense-GAN clean",
                        "Defense-GAN plain PGD", "Defense-GAN BPDA PGD"}
    assert acc["undefended PGD"] <= acc["undefended clean"]
    assert result["protocol"]["projection"]["steps"] == 5 and result["protocol"]["samples"] == 20


def test_a_finetune_d_classifier_is_saved_for_attacks(tmp_path, capsys):
    gan = gankit.train({"model": {"g": {"hidden": [16]}, "d": {"hidden": [16]}},
                        "train": {"steps": 20, "batch_size": 32}}, out=tmp_path / "gan",
                       progress=False)
    path = tmp_path / "d.pt"
    assert main(["finetune-d", str(gan.path), "--labels-per-class", "5", "--seeds", "1",
                 "--steps", "20", "--save-model", str(path), "--no-progress"]) == 0
    model = load_classifier(path)
    x, y, _ = evaluation_images("digits", None, 50)
    assert model(x).shape == (50, 10)
    assert main(["robustness", str(path), "-o", str(tmp_path / "r"), "--no-checks", *FAST]) == 0
