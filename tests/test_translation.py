"""pix2pix and CycleGAN (issue 19): networks of any size, the recipes through the one trainer,
exact resume with the history pool, ``gankit translate``, ``run.translate`` and ``gankit eval``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.api import resume, train
from gankit.cli import main
from gankit.models import DataSpec
from gankit.models.translation import resnet_translator, size_defaults, unet_generator
from gankit.recipes import RECIPES
from gankit.run import load
from gankit.translation.pool import ImagePool

TRAIN = {"steps": 6, "batch_size": 4, "log_every": 2, "sample_every": 3, "checkpoint_every": 3}
TINY_P2P = {"model": {"g_width": 4, "d_width": 4}, "train": TRAIN}
TINY_CYCLE = {"model": {"g_width": 4, "d_width": 4, "blocks": 1},
              "loss": {"pool_size": 3}, "train": {**TRAIN, "batch_size": 2}}


def write_pairs(root: Path, n: int = 20, side: int = 16) -> Path:
    """Folders A/ (grey) and B/ (colour) of ``n`` matching 16×16 images."""
    rng = np.random.default_rng(0)
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    for i in range(n):
        b = (rng.random((side, side, 3)) * 255).astype(np.uint8)
        Image.fromarray(b).save(root / "B" / f"{i:03d}.png")
        Image.fromarray(b.mean(axis=-1).astype(np.uint8)).save(root / "A" / f"{i:03d}.png")
    return root


def write_unpaired(root: Path, n: int = 10, side: int = 16) -> Path:
    rng = np.random.default_rng(1)
    for folder in ("trainA", "trainB", "testA", "testB"):
        (root / folder).mkdir(parents=True)
        for i in range(n):
            Image.fromarray((rng.random((side, side, 3)) * 255).astype(np.uint8)).save(
                root / folder / f"{folder}-{i}.png")
    return root


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("pairs"))


@pytest.fixture(scope="module")
def unpaired_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_unpaired(tmp_path_factory.mktemp("unpaired"))


def p2p_config(path: Path, **extra: object) -> dict:
    return {"preset": "pix2pix", "data": {"name": "pairs", "path": str(path)}, **TINY_P2P,
            **extra}


def cycle_config(path: Path, steps: int = 6) -> dict:
    return {"preset": "cyclegan", "data": {"name": "unpaired", "path": str(path)},
            **TINY_CYCLE, "train": {**TINY_CYCLE["train"], "steps": steps}}


@pytest.fixture(scope="module")
def p2p_run(pairs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "p2p"
    train(p2p_config(pairs_dir), out, progress=False)
    return out


@pytest.fixture(scope="module")
def cycle_run(unpaired_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "cycle"
    train(cycle_config(unpaired_dir), out, progress=False)
    return out


def checkpoint_hash(run: Path, step: int) -> str:
    return hashlib.sha256((run / "checkpoints" / f"step_{step:07d}.safetensors").read_bytes()
                          ).hexdigest()


def metric_keys(run: Path) -> set[str]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return set().union(*(json.loads(line) for line in lines))


# ---------------------------------------------------------------- networks


@pytest.mark.parametrize("size", [28, 32, 20, 50])
def test_generators_return_the_input_size_for_any_side(size: int) -> None:
    x = torch.randn(2, 1, size, size)
    assert unet_generator(1, 3, size, 4)(x).shape == (2, 3, size, size)
    assert resnet_translator(1, 3, 4, 1)(x).shape == (2, 3, size, size)


def test_network_depth_follows_the_image_size() -> None:
    assert [size_defaults(s)["unet_depth"] for s in (28, 32, 64, 128, 256)] == [5, 5, 6, 7, 8]
    assert [size_defaults(s)["patch_layers"] for s in (32, 64, 256)] == [2, 3, 3]
    dropouts = [sum(isinstance(m, torch.nn.Dropout) for m in unet_generator(3, 3, s, 2).modules())
                for s in (256, 128, 32)]
    assert dropouts == [3, 2, 1]  # the authors' 8w levels; one over the innermost when small


# ---------------------------------------------------------------- the history pool


def test_pool_fills_then_swaps_half_the_time_and_resumes_exactly() -> None:
    pool = ImagePool(4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: D sees the new images
    later = torch.arange(100.0, 300.0).view(200, 1, 1, 1)
    shown = pool.query(later)
    swapped = (shown != later).sum().item()
    assert 60 < swapped < 140  # about half are stored images, swapped for the new ones
    assert set(shown.flatten().tolist()) <= set(range(4)) | set(range(100, 300))
    state = pool.state_dict()
    again = ImagePool(4, seed=99)
    again.load_state_dict(state, torch.device("cpu"))
    batch = torch.full((8, 1, 1, 1), 7.0)
    assert torch.equal(pool.query(batch), again.query(batch))


# ---------------------------------------------------------------- pix2pix


def test_pix2pix_trains_logs_every_loss_and_draws_input_output_target(p2p_run: Path) -> None:
    assert {"g_gan", "g_l1", "d_real", "d_fake"} <= metric_keys(p2p_run)
    picture = Image.open(p2p_run / "translation_final.png")
    cell = 32 + 2  # 16-px images enlarged ×2 (cells ≥ 28 px), white padding 2
    assert picture.size[1] == 3 * cell + 2  # rows: input, output, target
    assert (p2p_run / "samples" / "step_000003.png").exists()


def pix2pix_recipe(variant: str):  # noqa: ANN201
    spec = DataSpec(name="t", kind="pair", sample_shape=(3, 16, 16),
                    codec={"input_shape": [1, 16, 16], "paired": True})
    cls = RECIPES.get("pix2pix")
    cfg = cls.Config.model_validate({"recipe": "pix2pix", "loss": {"variant": variant},
                                     **TINY_P2P})
    return cls(cfg, spec, torch.device("cpu"))


def test_ablation_variants_train_what_they_say() -> None:
    batch = [{"a": torch.rand(4, 1, 16, 16) * 2 - 1, "b": torch.rand(4, 3, 16, 16) * 2 - 1}]
    l1 = pix2pix_recipe("l1")
    before = {k: v.clone() for k, v in l1.D.state_dict().items()}
    out = l1.train_step(batch)
    assert set(out) == {"g_l1"}
    assert all(torch.equal(before[k], v) for k, v in l1.D.state_dict().items())  # no D at all
    cgan = pix2pix_recipe("cgan")
    assert cgan.l1_weight == 0.0 and {"g_gan", "d_real", "d_fake"} <= set(cgan.train_step(batch))
    assert pix2pix_recipe("l1+cgan").l1_weight == 100.0


def test_eval_scores_translations_against_the_held_out_pairs(p2p_run: Path, pairs_dir: Path,
                                                             capsys) -> None:
    assert main(["eval", str(p2p_run), "--no-progress"]) == 0
    result = json.loads((p2p_run / "eval.json").read_text())
    scores = result["directions"]["AtoB"]
    assert scores["images"] == 2  # the held-out 10 % of 20 pairs
    # independently: the run's own translation of the test inputs against their targets
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    test = load_dataset(DataConfig(name="pairs", path=str(pairs_dir), options={"split": "test"}))
    run = load(p2p_run)
    out = run.translate((test.inputs() + 1) / 2)
    assert scores["vs_target"]["l1"] == pytest.approx(float((out - (test.rows() + 1) / 2)
                                                              .abs().mean()), rel=1e-5)
    assert "PSNR" in (p2p_run / "eval.md").read_text()


# ---------------------------------------------------------------- CycleGAN


def test_cyclegan_logs_both_directions_and_resumes_bit_identically(
        cycle_run: Path, unpaired_dir: Path, tmp_path: Path) -> None:
    assert {"g_gan_ab", "g_gan_ba", "cycle_a", "cycle_b", "idt_a", "idt_b", "d_a", "d_b"} <= \
        metric_keys(cycle_run)
    half = tmp_path / "half"  # the same run, its last checkpoint lost: it resumes from step 3
    train(cycle_config(unpaired_dir), half, progress=False)
    for path in (half / "checkpoints").glob("step_0000006.*"):
        path.unlink()
    resume(half, progress=False)
    assert checkpoint_hash(half, 6) == checkpoint_hash(cycle_run, 6)


# ---------------------------------------------------------------- translating files


def test_translate_writes_pngs_at_the_inputs_sizes(cycle_run: Path, tmp_path: Path,
                                                   capsys) -> None:
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    Image.fromarray(np.zeros((40, 30), np.uint8)).save(inputs / "grey.jpg")
    Image.fromarray(np.zeros((9, 12, 3), np.uint8)).save(inputs / "sub" / "small.png")
    out = tmp_path / "out"
    assert main(["translate", str(cycle_run), str(inputs), "-o", str(out), "--direction",
                 "BtoA", "--no-progress"]) == 0
    assert Image.open(out / "grey.png").size == (30, 40)
    assert Image.open(out / "sub" / "small.png").size == (12, 9)
    assert Image.open(out / "grey.png").mode == "RGB"  # the output domain's channels
    before = sorted(p.name for p in out.rglob("*"))
    assert main(["translate", str(cycle_run), str(inputs), "-o", str(out)]) == 2  # never over
    assert sorted(p.name for p in out.rglob("*")) == before
    assert "not an empty folder" in capsys.readouterr().err


def test_python_translate_keeps_the_form_and_size(p2p_run: Path) -> None:
    run = load(p2p_run)
    one = run.translate(torch.rand(1, 20, 24))
    assert one.shape == (3, 20, 24) and float(one.min()) >= 0 and float(one.max()) <= 1
    assert run.translate(torch.rand(5, 3, 16, 16)).shape == (5, 3, 16, 16)


@pytest.mark.parametrize(("args", "message"), [
    (["translate", "{run}", "{run}/translation_final.png", "-o", "{tmp}/x", "--direction",
      "BtoA"], "translates AtoB only"),
    (["translate", "{run}", "{tmp}/missing.png", "-o", "{tmp}/x"], "does not exist"),
    (["sample", "{run}", "-o", "{tmp}/x.png"], "draw samples from noise"),
    (["interpolate", "{run}", "-o", "{tmp}/x.png"], "draw samples from noise"),
])
def test_translation_runs_refuse_what_they_cannot_do(p2p_run: Path, tmp_path: Path, capsys,
                                                     args: list[str], message: str) -> None:
    argv = [a.format(run=p2p_run, tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.png").exists()


def test_recipes_refuse_data_they_cannot_learn_from(pairs_dir: Path, unpaired_dir: Path,
                                                    tmp_path: Path, capsys) -> None:
    assert main(["train", "--data", "pairs", "--data-dir", str(pairs_dir), "--steps", "1",
                 "--out", str(tmp_path / "gan"), "--no-progress"]) == 2
    assert "use the pix2pix or cyclegan" in capsys.readouterr().err
    assert main(["train", "--preset", "pix2pix", "--data", "unpaired", "--data-dir",
                 str(unpaired_dir), "--steps", "1", "--out", str(tmp_path / "p"),
                 "--no-progress"]) == 2
    assert "use the cyclegan recipe" in capsys.readouterr().err
    assert not (tmp_path / "gan").exists() and not (tmp_path / "p").exists()
