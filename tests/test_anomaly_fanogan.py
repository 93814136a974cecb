"""f-AnoGAN: a WGAN-GP then an izi_f encoder in one run, trained through the real CLI; G and D
frozen in phase 2; scores and residual maps in eval mode; exact resume across the phase switch;
the normal validation split; AUROC above chance on the digits."""

import json

import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

import gankit
from gankit.anomaly.holdout import split_normal
from gankit.cli import main
from gankit.config import DataConfig, build_config
from gankit.data import load_dataset
from gankit.data.ranges import to_unit
from gankit.errors import GankitError
from gankit.models import DataSpec
from gankit.models.layers import eval_mode
from gankit.recipes import RECIPES
from gankit.recipes.capabilities import Encodes, SamplesFromNoise, ScoresAnomalies
from gankit.recipes.fanogan import FAnoGANConfig, FAnoGANRecipe
from gankit.training.checkpoint import load_checkpoint
from gankit.training.distributed import World

STEPS, GAN_STEPS = 12, 8
TINY = ["--preset", "digits-fanogan", "--no-progress", "--set", "data.classes=[0]",
        "--set", f"anomaly.gan_steps={GAN_STEPS}", "--set", "anomaly.val_every=2",
        "--set", "train.log_every=1", "--set", "train.sample_every=4",
        "--set", "train.checkpoint_every=2", "--set", "train.keep_checkpoints=10"]
DIGITS = DataSpec("digits", "image", (1, 8, 8), "symmetric", tuple(str(i) for i in range(10)))


@pytest.fixture(autouse=True)
def _one_torch_thread(one_thread):
    """Every test here on one thread (two are many times slower on a busy 2-core machine)."""


def train(out, *extra):
    assert main(["train", *TINY, *extra, "--out", str(out)]) == 0
    return out


def checkpoint(run_dir, step):
    return load_checkpoint(run_dir / "checkpoints" / f"step_{step:07d}.json")[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, one_thread):
    return train(tmp_path_factory.mktemp("fanogan") / "run", "--steps", str(STEPS))


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(name="digits"))


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_the_recipe_is_registered_with_its_capabilities_and_defaults():
    assert RECIPES.get("fanogan") is FAnoGANRecipe
    a = FAnoGANConfig().anomaly
    assert (a.holdout, a.kappa, a.n_critic, a.gp_weight) == (0.1, 1.0, 5, 10.0)
    cfg = build_config("digits-fanogan")
    recipe = FAnoGANRecipe(cfg, DIGITS, torch.device("cpu"))
    for capability in (ScoresAnomalies, SamplesFromNoise, Encodes):
        assert isinstance(recipe, capability)
    assert set(recipe.networks()) == {"G", "D", "E"}
    assert set(recipe.optimizers()) == {"opt_g", "opt_d", "opt_e"}
    assert "feature" in recipe.anomaly_score_name
    # the encoder is the critic's body with a dense layer to the code; the scoring head unused
    assert recipe.E(torch.zeros(3, 1, 8, 8)).shape == (3, cfg.model.z_dim)
    assert not any(p.requires_grad for p in recipe.E.body.head.parameters())


def test_its_config_holds_only_its_own_sections():
    with pytest.raises(GankitError, match="loss"):
        build_config("digits-fanogan", None, {"loss": {"name": "ns"}})
    with pytest.raises(GankitError, match="model.e"):
        build_config("digits-fanogan", None, {"model": {"e": {"widths": [3]}}})
    with pytest.raises(GankitError, match="anomaly.holdout"):
        build_config("digits-fanogan", None, {"anomaly": {"holdout": 0.0}})
    cfg = build_config("digits-fanogan", None, {"model": {"e": {"batchnorm": True}}})
    assert cfg.model.e["batchnorm"] and cfg.model.e["channels"] == cfg.model.d["channels"]
    batch_dependent = build_config("digits-fanogan", None, {"model": {"d": {"minibatch_std": 4}}})
    with pytest.raises(GankitError, match="minibatch"):
        FAnoGANRecipe(batch_dependent, DIGITS, torch.device("cpu"))


def test_an_ema_generator_is_used_by_phase_two_and_stays_as_phase_one_left_it(digits):
    cfg = build_config("digits-fanogan", None, {"train": {"ema_decay": 0.9},
                                                "anomaly": {"gan_steps": 2}})
    recipe = FAnoGANRecipe(cfg, DIGITS, torch.device("cpu"))
    x = digits.rows()[:32]
    for _ in range(2):
        assert recipe.batches_per_step == 5
        recipe.train_step([{"x": x}] * 5)
    assert recipe.batches_per_step == 1 and recipe.generator() is recipe.generator_ema
    ema = {k: v.clone() for k, v in recipe.generator_ema.state_dict().items()}
    recipe.train_step([{"x": x}])
    assert all(torch.equal(v, recipe.generator_ema.state_dict()[k]) for k, v in ema.items())
    assert set(recipe.networks()) == {"G", "D", "E", "G_ema"}


def test_it_trains_on_the_training_part_and_keeps_the_validation_part(digits):
    normal = digits.only_classes([0])
    cfg = build_config("digits-fanogan")
    recipe = FAnoGANRecipe(cfg, DIGITS, torch.device("cpu"))
    sampler = recipe.sampler(normal, 32, cfg.seed, World(), torch.device("cpu"))
    train_part, val_part = split_normal(normal, 0.1, cfg.seed)
    assert len(train_part) + len(val_part) == len(normal) and len(val_part) == 18
    assert torch.equal(sampler.fields["x"], train_part.x)  # batches never see validation images
    assert torch.equal(recipe.val_x, val_part.rows())


def test_both_phases_run_and_log_their_scalars(run_dir):
    logged = records(run_dir)
    steps = [r for r in logged if "img_per_s" in r]
    assert [r["step"] for r in steps] == list(range(1, STEPS + 1))
    for r in steps:
        if r["step"] <= GAN_STEPS:
            assert {"d_loss", "g_loss", "gp", "w_dist"} <= r.keys() and "e_loss" not in r
        else:
            assert {"e_loss", "e_pixel", "e_feature"} <= r.keys() and "d_loss" not in r
            assert r["e_loss"] == pytest.approx(r["e_pixel"] + r["e_feature"], rel=1e-5)
    val = [r for r in logged if "val_izif" in r]
    assert [r["step"] for r in val] == [10, 12]  # phase 2 only: every 2 steps and the last
    for r in val:
        assert r["val_izif"] == pytest.approx(r["val_pixel"] + r["val_feature"], rel=1e-5)


def test_g_and_d_do_not_change_in_phase_two_and_e_does(run_dir):
    switch, last = checkpoint(run_dir, GAN_STEPS), checkpoint(run_dir, STEPS)
    for net in ("G", "D"):  # weights and BatchNorm statistics
        for key, value in switch["modules"][net].items():
            assert torch.equal(value, last["modules"][net][key]), (net, key)
    assert json.dumps(switch["optimizers"]["opt_g"]["state"], default=str) == \
        json.dumps(last["optimizers"]["opt_g"]["state"], default=str)
    before = checkpoint(run_dir, GAN_STEPS - 2)
    assert not torch.equal(before["modules"]["G"]["project.0.weight"],
                           switch["modules"]["G"]["project.0.weight"])  # phase 1 trains G
    assert not torch.equal(switch["modules"]["E"]["out.weight"],
                           last["modules"]["E"]["out.weight"])  # phase 2 trains E
    assert switch["recipe"]["steps_done"] == GAN_STEPS


def test_pictures_show_samples_then_reconstructions(run_dir):
    names = sorted(p.name for p in (run_dir / "samples").iterdir())
    assert names == [f"step_{s:06d}.png" for s in (0, 4, 8, 12)]
    samples = Image.open(run_dir / "samples" / "step_000008.png").size
    recon = Image.open(run_dir / "samples" / "step_000012.png").size
    assert recon != samples  # 3 rows of 16 (input / G(E(x)) / residual) vs an 8x8 grid
    assert recon[0] > 2 * recon[1]
    assert Image.open(run_dir / "reconstruction_final.png").size == recon
    assert (run_dir / "grid_final.png").is_file() and (run_dir / "report.html").is_file()


def test_scores_are_finite_deterministic_and_leave_the_networks_as_they_were(run_dir, digits):
    recipe = gankit.load(run_dir).recipe
    x = digits.rows()[:300]
    nets = recipe.networks().values()
    for net in nets:
        net.train()
    state = {id(n): {k: v.clone() for k, v in n.state_dict().items()} for n in nets}
    scores = recipe.anomaly_scores(x)
    assert scores.shape == (300,) and scores.dtype == torch.float32
    assert scores.device.type == "cpu" and bool(torch.isfinite(scores).all())
    assert torch.equal(scores, recipe.anomaly_scores(x))
    torch.testing.assert_close(recipe.anomaly_scores(x[:7]), scores[:7])  # no batch effects
    for net in nets:
        assert all(m.training for m in net.modules())  # each module's own flag is back
        for key, value in net.state_dict().items():
            assert torch.equal(value, state[id(net)][key]), key  # BatchNorm learned nothing
    # izi_f by hand: pixel MSE + κ · MSE of the critic's features, in eval mode
    with torch.no_grad(), eval_mode(recipe.E), eval_mode(recipe.G), eval_mode(recipe.D):
        x_hat = recipe.G(recipe.E(x[:5]))
        pixel = (x_hat - x[:5]).pow(2).mean((1, 2, 3))
        feature = (recipe.D.features(x_hat) - recipe.D.features(x[:5])).pow(2).mean(1)
    torch.testing.assert_close(scores[:5], pixel + recipe.cfg.anomaly.kappa * feature)


def test_residual_maps_are_the_absolute_difference_in_unit_range(run_dir, digits):
    recipe = gankit.load(run_dir).recipe
    x = digits.rows()[:10]
    maps = recipe.residual_maps(x)
    assert maps.shape == (10, 1, 8, 8) and maps.device.type == "cpu"
    assert float(maps.min()) >= 0.0 and float(maps.max()) <= 1.0
    expected = (to_unit(x, "symmetric") - to_unit(recipe.reconstruct(x), "symmetric")).abs()
    torch.testing.assert_close(maps, expected.mean(1, keepdim=True))


def test_an_encoder_with_batchnorm_is_scored_with_its_running_statistics(digits):
    cfg = build_config("digits-fanogan", None, {"model": {"e": {"channels": [8, 16],
                                                                  "batchnorm": True}}})
    recipe = FAnoGANRecipe(cfg, DIGITS, torch.device("cpu"))
    bn = [m for m in recipe.E.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bn
    x = digits.rows()[:64]
    recipe.encoder_step(x)  # the encoder learns (batch statistics), then its means are kept
    means = [m.running_mean.clone() for m in bn]
    scores = recipe.anomaly_scores(x)
    assert all(torch.equal(m.running_mean, mean) for m, mean in zip(bn, means, strict=True))
    assert recipe.E.training
    torch.testing.assert_close(recipe.anomaly_scores(x[:3]), scores[:3])


def test_resume_across_the_phase_switch_is_bit_identical(run_dir, tmp_path):
    split = train(tmp_path / "split", "--steps", str(STEPS // 2))  # phase 1 only
    assert main(["train", "--resume", str(split), "--steps", str(STEPS), "--no-progress"]) == 0
    a, b = checkpoint(run_dir, STEPS), checkpoint(split, STEPS)
    for section in ("modules", "optimizers"):
        assert a[section].keys() == b[section].keys()
    for net in a["modules"]:
        for key, value in a["modules"][net].items():
            assert torch.equal(value, b["modules"][net][key]), (net, key)
    for name in a["optimizers"]:
        for pid, slots in a["optimizers"][name]["state"].items():
            for slot, value in slots.items():
                assert torch.equal(torch.as_tensor(value),
                                   torch.as_tensor(b["optimizers"][name]["state"][pid][slot]))
    assert a["recipe"] == b["recipe"] and a["sampler"]["pos"] == b["sampler"]["pos"]


def test_auroc_of_class_zero_against_the_rest_is_well_above_chance(tmp_path, digits):
    run = train(tmp_path / "auroc", "--steps", "60", "--set", "anomaly.gan_steps=40",
                "--set", "train.checkpoint_every=60", "--set", "train.sample_every=60")
    scores = gankit.load(run).recipe.anomaly_scores(digits.rows())
    auroc = roc_auc_score((digits.labels != 0).numpy(), scores.numpy())
    assert auroc > 0.7, auroc
