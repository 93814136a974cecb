"""TensorBoard logging (``--tensorboard``, ``log.tensorboard: true``): every record, picture and
the hyper-parameters of any recipe, through the one record log of the seam; read back with
TensorBoard's own EventAccumulator."""

import io
import json
import os
import re
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
import torch.distributed as dist
from PIL import Image

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.recipes.gan import GANRecipe
from test_resume import nan_at
from test_seam import NAMES, SRC

needs_tensorboard = pytest.mark.skipif(find_spec("tensorboard") is None,
                                       reason="tensorboard is not installed")

TINY = {"model": {"z_dim": 8, "g": {"hidden": [8]}, "d": {"hidden": [8]}},
        "train": {"steps": 6, "batch_size": 8, "log_every": 2, "sample_every": 3,
                  "checkpoint_every": 3, "final_grid": 16},
        "log": {"tensorboard": True}}
PLAIN = {**TINY, "log": {"tensorboard": False}}
FIT = ["--preset", "curve-fit", "--no-progress", "--set", "model.hidden=[8]",
       "--set", "train.log_every=5", "--set", "train.sample_every=10"]


def events(run: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard"),
                           size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def scalars(acc, tag: str) -> dict[int, float]:
    steps = [e.step for e in acc.Scalars(tag)]
    assert len(steps) == len(set(steps)), (tag, steps)  # no step twice
    return {e.step: e.value for e in acc.Scalars(tag)}


def logged(run: Path, key: str) -> dict[int, float]:
    return {r["step"]: r[key] for r in records(run) if key in r}


def assert_same_scalars(acc, run: Path, tag: str, key: str) -> None:
    got, want = scalars(acc, tag), logged(run, key)
    assert list(got) == list(want), (tag, list(got), list(want))
    assert list(got.values()) == pytest.approx(list(want.values()), rel=1e-6, abs=1e-6)


def picture(run: Path, step: int) -> np.ndarray:
    with Image.open(run / "samples" / f"step_{step:06d}.png") as image:
        rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))


def images(acc, tag: str = "samples") -> dict[int, np.ndarray]:
    return {e.step: np.asarray(Image.open(io.BytesIO(e.encoded_image_string)).convert("RGB"))
            for e in acc.Images(tag)}


def hparams(acc) -> tuple[dict, list[str]]:
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    content = acc.PluginTagToContent("hparams")
    start = HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    values = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
              for k, v in start.session_start_info.hparams.items()}
    experiment = HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    return values, [m.name.tag for m in experiment.metric_infos]


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "gan"
    gankit.train(TINY, out=out, progress=False)
    return out


@needs_tensorboard
def test_a_gan_run_logs_its_scalars_pictures_and_hyper_parameters(gan_run):
    acc = events(gan_run)
    for key in ("d_loss", "g_loss", "d_acc", "img_per_s", "elapsed_s"):
        assert_same_scalars(acc, gan_run, f"train/{key}", key)
    assert list(scalars(acc, "train/d_loss")) == [2, 4, 6]
    pictures = images(acc)
    assert list(pictures) == [0, 3, 6]
    for step, pixels in pictures.items():
        assert pixels.dtype == np.uint8 and np.array_equal(pixels, picture(gan_run, step))
    values, metrics = hparams(acc)
    assert values["train.steps"] == 6 and values["train.batch_size"] == 8
    assert values["model.g.hidden"] == "[8]" and values["recipe"] == "gan"
    assert values["log.tensorboard"] == "true"
    assert {"train/d_loss", "train/g_loss", "train/d_acc"} <= set(metrics)
    assert len(list((gan_run / "tensorboard").iterdir())) == 1  # one event file


@needs_tensorboard
def test_evaluation_while_training_arrives_too(tmp_path):
    out = tmp_path / "ring"
    cfg = {**TINY, "preset": "ring8", "eval": {"every": 3, "samples": 100}}
    gankit.train(cfg, out=out, progress=False)
    acc = events(out)
    for key in ("eval_modes", "eval_hq", "eval_kl"):
        assert_same_scalars(acc, out, f"eval/{key}", key)
    assert list(scalars(acc, "eval/eval_modes")) == [3, 6]
    assert_same_scalars(acc, out, "train/d_loss", "d_loss")


@needs_tensorboard
def test_held_out_checks_of_the_classifier_arrive_too(tmp_path):
    out = tmp_path / "cnn"
    cfg = {"recipe": "classifier", "data": {"name": "digits", "normalize": "unit"},
           "model": {"channels": [4], "hidden": 8}, "holdout": 20,
           "adversarial": {"check_every": 3, "check_steps": 1},
           "train": {"steps": 6, "batch_size": 16, "log_every": 3, "sample_every": 6},
           "log": {"tensorboard": True}}
    gankit.train(cfg, out=out, progress=False)
    acc = events(out)
    for key in ("val_acc", "val_pgd_acc"):
        assert_same_scalars(acc, out, f"eval/{key}", key)
    assert list(scalars(acc, "eval/val_acc")) == [3, 6]
    assert_same_scalars(acc, out, "train/loss", "loss")
    assert list(images(acc)) == [0, 6]


@needs_tensorboard
def test_another_recipe_through_the_same_seam_and_the_cli_flag(tmp_path, capsys):
    out = tmp_path / "fit"
    assert main(["train", *FIT, "--steps", "20", "--tensorboard", "--out", str(out)]) == 0
    assert "tensorboard: true" in (out / "config.yaml").read_text()
    acc = events(out)
    for key in ("loss", "best", "img_per_s"):
        assert_same_scalars(acc, out, f"train/{key}", key)
    assert list(scalars(acc, "train/loss")) == [5, 10, 15, 20]
    pictures = images(acc)
    assert list(pictures) == [0, 10, 20]
    assert all(np.array_equal(pixels, picture(out, step)) for step, pixels in pictures.items())
    values, metrics = hparams(acc)
    assert values["recipe"] == "curve-fit" and values["model.hidden"] == "[8]"
    assert metrics == ["train/loss", "train/best"]


@needs_tensorboard
def test_resume_continues_the_step_axis_from_its_checkpoint(tmp_path):
    out = tmp_path / "r"
    gankit.train(TINY, out=out, progress=False)
    for path in (out / "checkpoints").glob("step_0000006.*"):  # as if killed after step 6's
        path.unlink()                                           # log, before its checkpoint
    gankit.resume(out, steps=10, progress=False)
    acc = events(out)
    assert len(list((out / "tensorboard").iterdir())) == 2  # a second event file, same folder
    # steps 4 and 6 of the first process came after the checkpoint of step 3: replaced
    assert list(scalars(acc, "train/d_loss")) == [2, 4, 6, 8, 10]
    for key in ("d_loss", "g_loss", "d_acc", "img_per_s"):
        assert_same_scalars(acc, out, f"train/{key}", key)
    pictures = images(acc)
    assert list(pictures) == [0, 3, 6, 9]
    assert all(np.array_equal(pixels, picture(out, step)) for step, pixels in pictures.items())


@needs_tensorboard
def test_a_rollback_after_divergence_replaces_the_steps_it_trains_again(tmp_path, monkeypatch):
    monkeypatch.setattr(GANRecipe, "train_step", nan_at(5))
    out = tmp_path / "r"
    cfg = {**TINY, "train": {**TINY["train"], "steps": 8, "log_every": 1,
                             "on_divergence": "rollback"}}
    gankit.train(cfg, out=out, progress=False)
    acc = events(out)
    assert list(scalars(acc, "train/g_loss")) == list(range(1, 9))
    assert_same_scalars(acc, out, "train/g_loss", "g_loss")


def test_without_the_flag_nothing_is_written_and_tensorboard_is_never_imported(tmp_path):
    out = tmp_path / "plain"
    code = ("import sys, gankit\n"
            f"gankit.train({PLAIN!r}, out={str(out)!r}, progress=False)\n"
            "mods = [m for m in sys.modules if m.split('.')[0] == 'tensorboard'\n"
            "        or m.startswith('torch.utils.tensorboard')]\n"
            "assert not mods, mods\n")
    env = {**os.environ, "PYTHONPATH": str(SRC.parent)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "metrics.jsonl").is_file() and not (out / "tensorboard").exists()
    assert "tensorboard: false" in (out / "config.yaml").read_text()


@needs_tensorboard
def test_a_resume_can_switch_it_on(tmp_path):
    out = tmp_path / "plain"
    gankit.train({**PLAIN, "train": {**PLAIN["train"], "steps": 4}}, out=out, progress=False)
    assert not (out / "tensorboard").exists()
    assert main(["train", "--resume", str(out), "--steps", "6", "--tensorboard",
                 "--no-progress"]) == 0
    assert "tensorboard: true" in (out / "config.yaml").read_text()
    assert list(scalars(events(out), "train/d_loss")) == [6]


def test_asked_for_but_not_installed_is_one_sentence_before_any_folder(tmp_path, capsys,
                                                                        monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard fails
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    out = tmp_path / "r"
    assert main(["train", *FIT, "--steps", "5", "--tensorboard", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.count(". ") == 0 and err.endswith(".")
    assert 'pip install "gankit[tensorboard]"' in err
    assert not out.exists()
    with pytest.raises(GankitError, match="needs the tensorboard package"):
        gankit.train(TINY, out=out, progress=False)
    assert not out.exists()
    # a resume that asks for it is refused before it touches the run folder
    plain = tmp_path / "plain"
    gankit.train({**PLAIN, "train": {**PLAIN["train"], "steps": 2}}, out=plain, progress=False)
    before = sorted(p.name for p in plain.iterdir())
    assert main(["train", "--resume", str(plain), "--steps", "4", "--tensorboard",
                 "--no-progress"]) == 2
    assert "needs the tensorboard package" in capsys.readouterr().err
    assert sorted(p.name for p in plain.iterdir()) == before
    assert "tensorboard: false" in (plain / "config.yaml").read_text()


def test_old_configs_without_a_log_section_still_validate():
    cfg = gankit.build_config(None, None, {"train": {"steps": 3}})
    assert cfg.log.tensorboard is False
    doc = cfg.model_dump(mode="json")
    del doc["log"]
    from gankit.config import validate

    assert validate(doc).log.tensorboard is False


@needs_tensorboard
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_only_rank_0_writes_under_torchrun(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SRC.parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "gankit", "train", *FIT, "--steps", "20", "--tensorboard", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((out / "tensorboard").iterdir())) == 1
    acc = events(out)
    assert_same_scalars(acc, out, "train/loss", "loss")
    assert list(images(acc)) == [0, 10, 20]


@pytest.mark.parametrize("module", ["training/records.py", "training/tensorboard.py"])
def test_the_record_log_knows_no_recipe_by_name(module):
    code = [line.split("#")[0] for line in (SRC / module).read_text().splitlines()]
    hits = [line.strip() for line in code if NAMES.search(line)]
    assert not [h for h in hits if not h.startswith(('"', "'")) and "``" not in h], hits
    top_level = re.compile(r"^(import|from) (tensorboard|torch\.utils\.tensorboard)", re.M)
    assert not top_level.search((SRC / module).read_text())  # imported only when switched on
