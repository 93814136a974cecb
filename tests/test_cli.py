"""End-to-end: the real ``gankit`` commands on tiny runs, and every file of the run folder."""

import argparse
import inspect
import json
import pkgutil
import subprocess
import sys
from importlib import import_module

import numpy as np
import pytest
from PIL import Image

import gankit.commands as command_package
from gankit.cli import COMMAND_MODULES, main
from gankit.commands.common import DEVICE_HELP, FLAGS

FAST = ["--set", "train.log_every=2", "--set", "train.sample_every=3",
        "--set", "train.checkpoint_every=3", "--no-progress"]


def gankit(*args, check=True, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "gankit", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    proc = gankit("train", "--steps", 6, "--out", out, *FAST)
    return out, proc


def test_train_writes_the_whole_run_folder(digits_run):
    out, proc = digits_run
    assert f"Run folder: {out}" in proc.stdout
    assert "step 6/6 | D loss" in proc.stdout + proc.stderr
    for name in ("config.yaml", "dataset.json", "metrics.jsonl", "curves.png",
                 "grid_final.png", "report.html"):
        assert (out / name).is_file(), name
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6]
    assert {"d_loss", "g_loss", "d_acc", "img_per_s"} <= set(records[0])
    samples = sorted(p.name for p in (out / "samples").iterdir())
    assert samples == ["step_000000.png", "step_000003.png", "step_000006.png"]
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts == ["step_0000003.json", "step_0000003.safetensors",
                     "step_0000006.json", "step_0000006.safetensors"]
    # 400 samples in a 20 x 20 grid of (upscaled) 8 x 8 digits
    width, height = Image.open(out / "grid_final.png").size
    assert width == height and width >= 20 * 8
    report = (out / "report.html").read_text()
    assert "curves.png" in report and "samples/step_000003.png" in report
    assert "preset: digits" in (out / "config.yaml").read_text()


def test_existing_run_folder_is_not_overwritten(digits_run):
    out, _ = digits_run
    before = (out / "metrics.jsonl").read_bytes()
    proc = gankit("train", "--steps", 2, "--out", out, "--no-progress", check=False)
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "metrics.jsonl").read_bytes() == before


def test_sample_writes_png_and_npz(digits_run, tmp_path):
    out, _ = digits_run
    gankit("sample", out, "-n", 10, "-o", tmp_path / "s.png")
    assert Image.open(tmp_path / "s.png").size[0] > 0
    gankit("sample", out, "-n", 10, "-o", tmp_path / "s.npz", "--seed", 3)
    x = np.load(tmp_path / "s.npz")["x"]
    assert x.shape == (10, 1, 8, 8) and x.min() >= -1 and x.max() <= 1


def test_resume_continues_to_more_steps(digits_run, tmp_path):
    import shutil

    out, _ = digits_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    proc = gankit("train", "--resume", copy, "--steps", 9, "--no-progress")
    assert "from step 6 to 9" in proc.stdout
    records = [json.loads(line) for line in (copy / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6, 8, 9]
    clock = [r["elapsed_s"] for r in records]  # the training time goes on from the checkpoint
    assert clock == sorted(clock) and clock[3] > clock[2]
    assert (copy / "checkpoints" / "step_0000009.json").is_file()


def test_bad_input_exits_2_with_one_sentence_and_writes_nothing(tmp_path):
    for args, message in [
        (["--preset", "nope"], "Unknown preset 'nope'"),
        (["--loss", "cross"], "Unknown loss 'cross'"),
        (["--set", "train.steps=-1"], "train.steps"),
        (["--data", "folder", "--data-dir", tmp_path / "missing"], "missing"),
    ]:
        out = tmp_path / "never"
        proc = gankit("train", *args, "--out", out, check=False)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert not out.exists()


def test_ring8_writes_scatter_plots(tmp_path):
    out = tmp_path / "ring"
    gankit("train", "--preset", "ring8", "--steps", 3, "--out", out, *FAST)
    assert (out / "scatter_final.png").is_file() and not (out / "grid_final.png").exists()
    assert (out / "samples" / "step_000003.png").is_file()
    facts = json.loads((out / "dataset.json").read_text())
    assert len(facts["mode_centres"]) == 8


# ---------------------------------------------------------------- one shape for every command


def command_parsers():
    """{command: (its module, its parser)} and {command: its help} for every module in the
    command registry."""
    found, helps = {}, {}
    for name in COMMAND_MODULES:
        module = import_module(f"gankit.commands.{name}")
        sub = argparse.ArgumentParser().add_subparsers()
        module.register(sub)
        assert len(sub.choices) == 1, f"{name} registers {list(sub.choices)}"
        (command, parser), = sub.choices.items()
        found[command] = (module, parser)
        helps[command] = sub._choices_actions[0].help
    return found, helps


COMMANDS, HELP = command_parsers()


def flag_actions(parser):
    return {flag: action for action in parser._actions for flag in action.option_strings}


def test_bare_gankit_lists_the_commands_and_trains_nothing(tmp_path):
    proc = gankit(cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()
             if line.startswith("    ")}
    assert set(lines) == set(COMMANDS)
    for command, help_ in HELP.items():  # each command's help on its one line
        assert lines[command].split(None, 1)[1] == help_
    assert "usage: gankit" in proc.stdout and "Training" not in proc.stdout
    assert list(tmp_path.iterdir()) == []  # no runs/ folder


def test_bare_gankit_in_process(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0 and main(["--debug"]) == 0
    assert "latent-arithmetic" in capsys.readouterr().out
    assert not (tmp_path / "runs").exists()


def test_every_command_module_is_in_the_registry():
    modules = {m.name for m in pkgutil.iter_modules(command_package.__path__)}
    assert modules - {"common"} == set(COMMAND_MODULES)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_the_same_shape(command, capsys):
    module, parser = COMMANDS[command]
    assert module.__doc__ and f"gankit {command}" in module.__doc__
    assert callable(module.register) and callable(module.run)
    assert parser.get_default("func") is module.run
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert f"usage: gankit {command}" in capsys.readouterr().out


def test_common_flags_are_defined_once():
    spellings = [flag for flag, _ in FLAGS.values()]
    for command, (module, parser) in COMMANDS.items():
        source = inspect.getsource(module)
        for flag in spellings:
            assert f'"{flag}"' not in source, f"{command} defines {flag} itself"
        actions = flag_actions(parser)
        if "--device" in actions:
            assert actions["--device"].help == DEVICE_HELP
        for flag in spellings:
            if flag in actions:
                first = flag_actions(COMMANDS["eval"][1])[flag]
                assert actions[flag].type == first.type, (command, flag)
                if flag != "--seed":  # its help says what its default means
                    assert actions[flag].help == first.help, (command, flag)


# each command's defaults of the common flags, as they were before they were shared
DEFAULTS = {
    "train": {"seed": None, "device": None}, "sample": {"seed": None, "device": "cpu"},
    "eval": {"seed": 0, "device": "cpu"}, "interpolate": {"seed": 0, "device": "cpu"},
    "latent-arithmetic": {"seed": 0, "device": "cpu"}, "export": {"seed": 0, "device": "cpu"},
    "compare": {"device": "cpu"}, "augment-bench": {"device": "cpu"},
    "finetune-d": {"device": "cpu"}, "presets": {}, "report": {},
    "robustness": {"seed": 0, "device": "cpu"}, "export-model": {"seed": 0},
    "anomaly-bench": {"device": "cpu"}, "score": {"device": "cpu"}, "translate": {"device": "cpu"},
}


@pytest.mark.parametrize("command", COMMANDS)
def test_common_flags_keep_each_commands_defaults(command):
    actions = flag_actions(COMMANDS[command][1])
    for dest in ("seed", "device"):
        flag = f"--{dest}"
        assert (flag in actions) == (dest in DEFAULTS[command]), (command, flag)
        if flag in actions:
            assert actions[flag].default == DEFAULTS[command][dest], (command, flag)
    for flag in ("--no-progress", "--no-ema"):
        if flag in actions:
            assert actions[flag].default is False


def test_api_start_refuses_a_config_file_with_a_run_config(tmp_path):
    from gankit.api import start
    from gankit.config import build_config
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="config file"):
        start(build_config(), tmp_path / "run", config_file=tmp_path / "c.yaml")
    assert not (tmp_path / "run").exists()
