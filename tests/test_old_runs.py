"""Run folders written by the code before the recipe seam keep working: load, sample, eval and
resume (bit-identically to the old code's own uninterrupted run).

The old run folders are made at test time by the old code itself, taken from this repository's
history (``git archive``), so no run folder or weights are committed.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit.cli import main

REPO = Path(__file__).resolve().parents[1]
#: the last commit with config layout 1 and checkpoint format 1
OLD = "6b61476"
TINY = ["--steps", "{steps}", "--no-progress", "--set", "train.log_every=2",
        "--set", "train.sample_every=4", "--set", "train.checkpoint_every=4",
        "--set", "model.g.hidden=[16]", "--set", "model.d.hidden=[16]",
        "--set", "train.final_grid=10", "--set", "train.batch_size=16"]
RUNS = {"vae": ["--preset", "digits-vae"],
        "cgan": ["--preset", "digits-cgan", "--set", "optim.lr_decay=linear",
                 "--set", "eval.every=0"]}


@pytest.fixture(scope="module")
def old_code(tmp_path_factory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    has = subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{OLD}^{{commit}}"],
                         capture_output=True)
    if has.returncode != 0:
        pytest.skip(f"commit {OLD} is not in this clone's history")
    root = tmp_path_factory.mktemp("old-code")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", OLD, "src"],
                             capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root / "src"


def old_train(old_code: Path, name: str, out: Path, steps: int) -> None:
    args = [a.format(steps=steps) for a in TINY]
    env = {"PYTHONPATH": str(old_code), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "gankit", "train", *RUNS[name], *args,
                           "--out", str(out)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "config_version" not in (out / "config.yaml").read_text()  # really the old layout


@pytest.mark.parametrize("name", list(RUNS))
def test_an_old_run_folder_loads_samples_evaluates_and_resumes(old_code, tmp_path, name):
    full, cut = tmp_path / "full", tmp_path / "cut"
    old_train(old_code, name, full, 8)
    shutil.copytree(full, cut)  # as if stopped after its checkpoint of step 4
    for path in (cut / "checkpoints").glob("step_0000008.*"):
        path.unlink()
    run = gankit.load(cut)
    assert run.step == 4 and run.sample(6, seed=0).shape == (6, 1, 8, 8)
    result = gankit.evaluate(cut, write=False, extractors=("raw",), num_generated=50,
                             num_real=50, kid_subsets=2, kid_subset_size=20, progress=False)
    assert result["extractors"]["raw"]["fid"] > 0
    assert main(["sample", str(cut), "-n", "4", "-o", str(tmp_path / "s.png")]) == 0
    assert main(["train", "--resume", str(cut), "--no-progress"]) == 0
    a = load_file(full / "checkpoints" / "step_0000008.safetensors")
    b = load_file(cut / "checkpoints" / "step_0000008.safetensors")
    for key in (k for k in a if k.startswith("/modules")):
        assert torch.equal(a[key], b[key]), key
