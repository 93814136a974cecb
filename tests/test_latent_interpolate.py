"""Interpolation through the API and the ``gankit interpolate`` command, with its bad inputs."""

import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.latent import interpolate, render
from gankit.latent.paths import slerp
from gankit.latent.render import one_hot

TINY = {"model": {"z_dim": 8, "g": {"hidden": [32]}, "d": {"hidden": [32]}},
        "train": {"steps": 20, "log_every": 5, "sample_every": 10, "checkpoint_every": 10,
                  "batch_size": 32, "ema_decay": 0.9, "final_grid": 20, "sample_grid": 10}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return gankit.train(TINY, out=tmp_path_factory.mktemp("runs") / "tiny", progress=False)


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    cfg = {**TINY, "model": {**TINY["model"], "conditional": "projection"}}
    return gankit.train(cfg, out=tmp_path_factory.mktemp("runs") / "cond", progress=False)


def test_random_interpolation_renders_both_paths_between_the_same_codes(run):
    res = interpolate(run, "random", "both", steps=5, rows=3, seed=2)
    assert res.frames.shape == (3, 2, 5, 1, 8, 8) and res.modes == ("linear", "spherical")
    gen = torch.Generator().manual_seed(2)
    z_a, z_b = run.recipe.noise(3, gen), run.recipe.noise(3, gen)
    torch.testing.assert_close(res.frames[:, 0, 0], render(run, z_a))
    torch.testing.assert_close(res.frames[:, 1, -1], render(run, z_b))
    torch.testing.assert_close(res.frames[:, 1, 2], render(run, slerp(z_a, z_b, 0.5)))
    assert not torch.allclose(res.frames[:, 0, 2], res.frames[:, 1, 2])  # lerp ≠ slerp
    strip, frames = res.strip(), res.gif_frames()
    assert strip.shape == (6 * 34 + 2 + 2 * 4, 5 * 34 + 2)  # 3 pairs × 2 modes, 8 → 32 px, gaps
    assert len(frames) == 5 and frames[0].shape == (3 * 34 + 2, 2 * 34 + 2)


def test_api_saves_to_a_plain_string_path(run, tmp_path):
    res = interpolate(run, "random", "linear", steps=3, rows=1)
    paths = res.save(str(tmp_path / "strip"), gif=True)
    assert [p.name for p in paths] == ["strip.png", "strip.gif"]
    assert Image.open(paths[1]).n_frames == 3


def test_class_interpolation_mixes_the_one_hot_code_in_the_inner_generator(cond_run):
    res = interpolate(cond_run, "classes", "linear", steps=5, rows=2, classes=[3, 8])
    z = cond_run.recipe.noise(2, torch.Generator().manual_seed(0))
    assert torch.equal(res.classes, torch.tensor([[3, 8], [3, 8]]))
    torch.testing.assert_close(res.frames[:, 0, 0], render(cond_run, z, one_hot(
        torch.tensor([3, 3]), 10)))
    net = cond_run.recipe.generator(True).eval()
    code = 0.75 * one_hot(torch.tensor([3, 3]), 10) + 0.25 * one_hot(torch.tensor([8, 8]), 10)
    with torch.no_grad():
        by_hand = net.inner(torch.cat([z, code], 1))
    torch.testing.assert_close(res.frames[:, 0, 1], by_hand)
    default = interpolate(cond_run, "classes", "spherical", steps=3, rows=12)
    assert default.classes[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert default.classes[:, 1].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]


def test_classes_on_an_unconditional_run_is_a_clear_error(run):
    with pytest.raises(GankitError, match="class-conditional"):
        interpolate(run, "classes")


def test_cli_writes_png_and_gif_with_one_frame_per_step_and_never_overwrites(run, capsys):
    args = ["interpolate", str(run.path), "--steps", "6", "--rows", "3", "--gif",
            "--no-progress"]
    assert main(args) == 0
    folder = run.path / "latent"
    png, gif = folder / "interpolate-both-random.png", folder / "interpolate-both-random.gif"
    assert png.is_file() and gif.is_file()
    with Image.open(gif) as im:
        assert im.n_frames == 6 and im.info["loop"] == 0
    with Image.open(png) as im:
        assert im.size == (6 * 34 + 2, 6 * 34 + 2 + 2 * 4)  # 4 px more between pairs
    first = png.read_bytes()
    assert main([*args, "--seed", "1"]) == 0
    assert png.read_bytes() == first  # a second run gets a new name
    assert (folder / "interpolate-both-random-2.png").is_file()
    assert "Wrote" in capsys.readouterr().out


def test_cli_between_dataset_images_reports_the_projection_error(run, tmp_path, capsys):
    out = tmp_path / "pair.png"
    code = main(["interpolate", str(run.path), "--images", "0", "5", "--mode", "linear",
                 "--steps", "4", "--projection-steps", "40", "--restarts", "1", "-o", str(out),
                 "--gif", "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "mean squared pixel error" in text and "#0: error" in text
    with Image.open(out) as im:
        assert im.size == ((4 + 2) * 34 + 2 + 2 * 4, 34 + 2)  # real, 4 steps, real (+ gaps)
    with Image.open(tmp_path / "pair.gif") as im:
        assert im.n_frames == 4


def test_cli_between_image_files(run, tmp_path, capsys):
    from sklearn.datasets import load_digits

    for i, name in enumerate(("a.png", "b.png")):
        pixels = (load_digits().images[i] / 16 * 255).astype("uint8")
        Image.fromarray(pixels).resize((28, 28)).save(tmp_path / name)
    code = main(["interpolate", str(run.path), "--image-files", str(tmp_path / "a.png"),
                 str(tmp_path / "b.png"), "--projection-steps", "20", "--restarts", "1",
                 "--no-progress", "-o", str(tmp_path / "files.png")])
    assert code == 0 and (tmp_path / "files.png").is_file()
    assert not (tmp_path / "files.gif").exists()
    assert "a.png: error" in capsys.readouterr().out


def test_cli_class_interpolation_on_a_conditional_run(cond_run, tmp_path):
    out = tmp_path / "cls.gif"
    assert main(["interpolate", str(cond_run.path), "--between", "classes", "--classes", "3",
                 "8", "--rows", "2", "--steps", "5", "-o", str(out), "--no-progress"]) == 0
    with Image.open(out) as im:
        assert im.n_frames == 5
    assert (tmp_path / "cls.png").is_file()


@pytest.mark.parametrize(("extra", "message"), [
    (["--between", "classes"], "class-conditional"),
    (["--images", "0", "100000"], "out of range"),
    (["--images", "0"], "pairs"),
    (["--image-files", "BAD", "BAD"], "cannot be read"),
    (["--image-files", "missing.png", "missing.png"], "does not exist"),
    (["--steps", "1"], "--steps"),
    (["--label", "3"], "conditional"),
    (["-o", "out.jpg"], ".png or .gif"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(run, tmp_path, capsys, extra,
                                                            message):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    extra = [str(bad) if e == "BAD" else str(tmp_path / e) if e in ("missing.png", "out.jpg")
             else e for e in extra]
    before = sorted(run.path.rglob("*"))
    code = main(["interpolate", str(run.path), "--no-progress", "-o", str(tmp_path / "o.png"),
                 *extra] if "-o" not in extra else ["interpolate", str(run.path), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert sorted(run.path.rglob("*")) == before
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.gif").exists()
