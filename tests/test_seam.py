"""The trainer–recipe seam is general: a deliberately non-GAN recipe (``curve-fit``: one network
fitting a function, its own options, one extra piece of state, its own sampler and pictures)
trains, logs, draws, checkpoints, resumes bit-identically after SIGKILL and runs under torchrun
through the same trainer, hooks and report, which know no recipe by name."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file

from gankit.cli import main
from gankit.config import build_config
from gankit.recipes import RECIPES
from gankit.recipes.curve_fit import CurveFitRecipe
from gankit.training.checkpoint import checkpoint_paths

SRC = Path(__file__).resolve().parents[1] / "src" / "gankit"
FIT = ["--preset", "curve-fit", "--no-progress", "--set", "model.hidden=[16]",
       "--set", "train.log_every=10", "--set", "train.sample_every=50"]


def gankit(*args, env=None):
    return subprocess.run([sys.executable, "-m", "gankit", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def fit_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "fit"
    assert main(["train", *FIT, "--steps", "100", "--set", "train.checkpoint_every=50",
                 "--out", str(out)]) == 0
    return out


def test_the_recipe_trains_logs_and_draws_through_the_same_hooks(fit_run):
    records = [json.loads(line) for line in (fit_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(10, 101, 10))
    assert {"loss", "best", "img_per_s"} <= records[-1].keys()
    assert records[-1]["loss"] < records[0]["loss"]  # it fits
    assert all(r["best"] <= r["loss"] + 1e-6 for r in records)
    names = sorted(p.name for p in (fit_run / "samples").iterdir())
    assert names == ["step_000000.png", "step_000050.png", "step_000100.png"]
    assert (fit_run / "fit_final.png").is_file() and (fit_run / "curves.png").is_file()
    report = (fit_run / "report.html").read_text()
    assert "last MSE" in report and "fit_final.png" in report and "recipe curve-fit" in report


def test_its_config_holds_only_its_own_settings(fit_run, tmp_path, capsys):
    doc = (fit_run / "config.yaml").read_text()
    assert "recipe: curve-fit" in doc
    for section in ("loss:", "eval:", "ema_decay", "d_lr", "pack"):
        assert section not in doc, section
    assert main(["train", *FIT, "--set", "loss.name=ns", "--out", str(tmp_path / "x")]) == 2
    assert "Unknown config key 'loss'" in capsys.readouterr().err
    assert main(["train", *FIT, "--set", "model.hidden=[0]", "--out", str(tmp_path / "x")]) == 2
    assert "model.hidden" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_commands_ask_for_capabilities_it_does_not_have(fit_run, tmp_path, capsys):
    for argv in (["sample", str(fit_run), "-o", str(tmp_path / "s.png")],
                 ["eval", str(fit_run)],
                 ["finetune-d", str(fit_run), "--labels-per-class", "5"],
                 ["interpolate", str(fit_run)]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "needs a run that can" in err and "CurveFitRecipe" in err, err
        assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_sigkill_then_resume_is_bit_identical_including_its_own_state(tmp_path):
    args = [*FIT, "--steps", "20000", "--set", "train.checkpoint_every=500",
            "--set", "train.log_every=500", "--set", "train.sample_every=20000"]
    assert main(["train", *args, "--out", str(tmp_path / "full")]) == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "train", *args, "--out",
                             str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not checkpoint_paths(killed / "checkpoints") and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "fit_final.png").exists(), "the run finished before it was killed"
    assert gankit("train", "--resume", killed, "--no-progress").returncode == 0
    name = "checkpoints/step_0020000.safetensors"
    a, b = load_file(tmp_path / "full" / name), load_file(killed / name)
    assert "/recipe/best" in a  # the recipe's own state is in the checkpoint
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_it_runs_under_torchrun_with_two_gloo_processes(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "gankit", "train", *FIT, "--steps", "40", "--set", "train.checkpoint_every=20",
         "--out", str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((out / "checkpoints" / "step_0000040.json").read_text())
    state = dict(meta["state"]["__dict__"])
    world = dict(state["world"]["__dict__"])
    assert world["size"] == 2 and len(set(world["weights_sha256"])) == 1
    assert (out / "fit_final.png").is_file()
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30, 40]


def test_the_recipe_contract_is_declared():
    recipe = RECIPES.get("curve-fit")
    assert recipe is CurveFitRecipe and recipe.Config.__name__ == "CurveFitConfig"
    cfg = build_config("curve-fit", None, {"model": {"hidden": [4]}})
    from gankit.models import DataSpec

    r = CurveFitRecipe(cfg, DataSpec("curve", "points", (2,)), torch.device("cpu"))
    assert set(r.networks()) == {"net"} and set(r.optimizers()) == {"opt"}
    assert set(r.schedulers()) == {"sched"} and set(r.state_dict()) == {"best"}
    assert r.progress_keys == ("loss",)


# The seam's own modules know no recipe, network, loss key or data set by name.
SEAM = ["training/loop.py", "training/trainer.py", "training/hooks.py",
        "training/checkpoint.py", "training/state.py", "training/runfolder.py",
        "training/interrupt.py", "training/guard.py", "report.py"]
NAMES = re.compile(r"\b(GAN|VAE|gan|vae|G_ema|opt_g|opt_d|d_loss|g_loss|d_acc|d_steps|"
                   r"recipe\.(G|D)\b|cfg\.(model|loss|optim|eval)\b|stacked-mnist|mnist)\b")


@pytest.mark.parametrize("module", SEAM)
def test_the_seam_knows_no_recipe_by_name(module):
    code = [line for line in (SRC / module).read_text().splitlines()
            if not line.lstrip().startswith("#")]
    hits = [line.strip() for line in code if NAMES.search(line.split("#")[0])]
    docstring_free = [h for h in hits if not h.startswith(('"', "'")) and "``" not in h]
    assert not docstring_free, docstring_free
