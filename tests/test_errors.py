"""Bad input through the CLI: one sentence, exit code 2, no traceback, nothing written."""

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from gankit.cli import main
from gankit.config import RunConfig, validate
from gankit.errors import GankitError


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.err


def config_file(tmp_path, doc):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def corrupt_folder(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    for i in range(3):
        (folder / f"img{i}.png").write_bytes(b"not a png at all")
    return folder


def wrong_npz(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.zeros((4, 5, 6, 7, 8), dtype=np.uint8))
    return tmp_path / "x.npz"


CASES = {
    "unknown preset": (lambda t: ["--preset", "nope"], "Unknown preset 'nope'; choose one of:"),
    "unknown loss": (lambda t: ["--loss", "nope"], "Unknown loss 'nope'; choose one of:"),
    "unknown model": (lambda t: ["--model", "nope"], "Unknown model 'nope'; choose one of:"),
    "unknown data": (lambda t: ["--data", "nope"], "Unknown data set 'nope'; choose one of:"),
    "bad type in file": (lambda t: ["--config", config_file(t, {"train": {"steps": "many"}})],
                         "'train.steps'"),
    "out of range in file": (lambda t: ["--config", config_file(t, {"optim": {"beta1": 1.5}})],
                             "'optim.beta1'"),
    "unknown key in file": (lambda t: ["--config", config_file(t, {"trian": {"steps": 1}})],
                            "Unknown config key 'trian'"),
    "out of range flag": (lambda t: ["--steps", "-5"], "'train.steps'"),
    "bad type flag": (lambda t: ["--batch-size", "abc"], "invalid int value: 'abc'"),
    "bad --set": (lambda t: ["--set", "model.z_dim=big"], "'model.z_dim'"),
    "missing folder": (lambda t: ["--data", "folder", "--data-dir", t / "nowhere"], "nowhere"),
    "empty folder": (lambda t: ["--data", "folder", "--data-dir", t], "contains no image files"),
    "corrupt images": (lambda t: ["--data", "folder", "--data-dir", corrupt_folder(t)],
                       "no readable images"),
    "npz of wrong shape": (lambda t: ["--data", "arrays", "--data-dir", wrong_npz(t)],
                           "(4, 5, 6, 7, 8)"),
    "not a run": (lambda t: ["--resume", t], "is not a gankit run folder"),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default run folder would appear under ./runs
    make_args, message = CASES[name]
    args = make_args(tmp_path)
    out = [] if "--resume" in args else ["--out", tmp_path / "run"]
    try:
        code, err = run_cli(capsys, "train", *args, *out, "--no-progress")
    except SystemExit as exit_:  # argparse errors exit from inside main
        code, err = exit_.code, capsys.readouterr().err
    assert code == 2, err
    assert message.lower() in err.lower(), err
    assert err.startswith("gankit: error: ") and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


def test_debug_flag_shows_the_traceback(capsys):
    with pytest.raises(GankitError):
        main(["--debug", "train", "--preset", "nope"])


def test_sample_refuses_a_bad_output_name(tmp_path, capsys):
    code, err = run_cli(capsys, "sample", tmp_path, "-o", tmp_path / "x.png")
    assert code == 2 and "not a gankit run folder" in err


# ---------------------------------------------------------------- property-based config loading

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
keys = st.sampled_from(["data", "model", "loss", "optim", "train", "seed", "device", "preset",
                        "name", "steps", "batch_size", "g", "d", "hidden", "options", "arch",
                        "g_lr", "pack", "z_dim", "radius", "normalize", "recipe", "bogus"])
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, documents, max_size=6))
def test_config_loader_accepts_or_raises_its_own_error(doc):
    try:
        cfg = validate(doc)
    except GankitError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert isinstance(cfg, RunConfig)
        assert all(isinstance(v, BaseModel) for v in (cfg.data, cfg.model, cfg.train))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_config_file_of_random_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(text)
    from gankit.config import build_config

    try:
        cfg = build_config(None, path)
    except GankitError as err:
        assert "\n" not in str(err)
    else:
        assert isinstance(cfg, RunConfig)
