"""``gankit export-model``: a run's generator as a shareable folder (model card, config.json,
safetensors weights, TorchScript), read back by ``gankit.load`` and usable without gankit."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.recipes.capabilities import Encodes, HasDiscriminator
from gankit.share import export as export_module
from gankit.share.export import export_model

pytestmark = pytest.mark.usefixtures("one_thread")

TRAIN = {"steps": 6, "batch_size": 8, "ema_decay": 0.9, "log_every": 2, "sample_every": 3,
         "sample_grid": 16, "final_grid": 16}
TINY = {"model": {"g": {"hidden": [8]}, "d": {"hidden": [8]}}, "train": TRAIN}
TINY_CGAN = {"preset": "digits-cgan", "model": {"z_dim": 8, "g": {"hidden": [8]},
                                                "d": {"hidden": [8]}}, "train": TRAIN}
FILES = {"README.md", "config.json", "model.safetensors", "generator.pt", "samples.png"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def gan_run(runs):
    return gankit.train(TINY, out=runs / "gan", progress=False)


@pytest.fixture(scope="module")
def cond_run(runs):
    return gankit.train(TINY_CGAN, out=runs / "cgan", progress=False)


@pytest.fixture(scope="module")
def gan_model(gan_run, tmp_path_factory):
    return export_model(gan_run, tmp_path_factory.mktemp("models") / "digits-gan")


@pytest.fixture(scope="module")
def cond_model(cond_run, tmp_path_factory):
    return export_model(cond_run, tmp_path_factory.mktemp("models") / "digits-cgan")


def config_of(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


# ---------------------------------------------------------------- the folder


def test_the_folder_has_the_files_and_what_rebuilds_the_model(gan_run, gan_model):
    assert {p.name for p in gan_model.iterdir()} == FILES
    doc = config_of(gan_model)
    assert doc["gankit_export"] == 1 and doc["library_name"] == "gankit"
    assert doc["gankit_version"] == gankit.__version__
    assert doc["config"] == gan_run.config.model_dump(mode="json")
    assert doc["recipe"] == "gan" and doc["step"] == 6 and doc["weights"] == "ema"
    assert doc["z_dim"] == 64 and doc["latent"]["distribution"] == "gaussian"
    assert doc["latent"]["code"] == "z = torch.randn(n, 64)"
    assert doc["conditional"] is False and doc["num_classes"] == 0
    spec = gan_run.spec
    assert doc["data"]["sample_shape"] == list(spec.sample_shape) == [1, 8, 8]
    assert doc["data"]["normalize"] == spec.normalize == "symmetric"
    assert doc["data"]["class_names"] == list(spec.class_names)
    assert doc["output"]["range"] == "[-1, 1]"
    assert doc["files"] == {"model_card": "README.md", "config": "config.json",
                            "weights": "model.safetensors", "torchscript": "generator.pt",
                            "samples": "samples.png"}
    assert Image.open(gan_model / "samples.png").size[0] > 8


def test_the_weights_are_the_ema_generator_and_nothing_else(gan_run, gan_model, cond_run,
                                                            cond_model):
    for run, folder in ((gan_run, gan_model), (cond_run, cond_model)):
        saved = load_file(folder / "model.safetensors")
        ema = run.generator.generator(use_ema=True).state_dict()
        assert set(saved) == set(ema)
        for key, value in ema.items():
            assert torch.equal(saved[key], value.cpu()), key
    raw = gan_run.generator.generator(use_ema=False).state_dict()
    saved = load_file(gan_model / "model.safetensors")
    assert any(not torch.equal(saved[k], v) for k, v in raw.items())  # really the EMA copy


def test_no_ema_exports_the_raw_generator(gan_run, tmp_path):
    with warnings.catch_warnings(record=True) as caught:  # torch.jit's deprecations silenced
        warnings.simplefilter("always")
        folder = export_model(gan_run, tmp_path / "raw", use_ema=False)
    assert not [w for w in caught if "jit" in str(w.message).lower()
                or "torchscript" in str(w.message).lower()]
    assert config_of(folder)["weights"] == "generator"
    raw = gan_run.generator.generator(use_ema=False).state_dict()
    saved = load_file(folder / "model.safetensors")
    assert all(torch.equal(saved[k], v) for k, v in raw.items())
    back = gankit.load(folder)
    assert not back.generator.has_ema
    assert torch.equal(back.sample(8, seed=1), gan_run.sample(8, seed=1, use_ema=False))


# ---------------------------------------------------------------- gankit reads it back


def test_load_samples_exactly_like_the_run(gan_run, gan_model):
    run, model = gankit.load(gan_run.path), gankit.load(gan_model)
    assert model.step == run.step == 6 and model.path == gan_model
    assert model.spec == run.spec and model.config == run.config
    assert torch.equal(model.sample(8, seed=0), run.sample(8, seed=0))
    assert model.generator.has_ema and model.generator.latent_kind == "gaussian"


def test_load_samples_conditional_runs_exactly_like_the_run(cond_run, cond_model):
    run, model = gankit.load(cond_run.path), gankit.load(cond_model)
    assert model.num_classes == run.num_classes == 10
    assert torch.equal(model.sample(8, seed=0), run.sample(8, seed=0))
    assert torch.equal(model.sample(8, seed=0, labels=3), run.sample(8, seed=0, labels=3))
    labels = torch.tensor([9, 8, 7, 6, 0, 1, 2, 3])
    assert torch.equal(model.sample(8, seed=2, labels=labels),
                       run.sample(8, seed=2, labels=labels))


def test_an_exported_model_offers_only_its_generator(gan_model):
    model = gankit.load(gan_model)
    with pytest.raises(GankitError, match="offer a trained discriminator.*ExportedGenerator"):
        model.capability(HasDiscriminator, "finetune-d")
    with pytest.raises(GankitError, match="encode samples"):
        model.capability(Encodes, "Projection")
    with pytest.raises(GankitError, match="only the EMA weights.*--no-ema"):
        model.sample(4, use_ema=False)


def test_gankit_sample_accepts_the_folder(cond_model, tmp_path, capsys):
    png = tmp_path / "grid.png"
    assert main(["sample", str(cond_model), "-n", "64", "-o", str(png)]) == 0
    assert "from step 6" in capsys.readouterr().out
    assert Image.open(png).size[0] > 8
    assert main(["sample", str(cond_model), "-n", "8", "--label", "7",
                 "-o", str(tmp_path / "seven.png")]) == 0


# ---------------------------------------------------------------- without gankit

# Runs in a fresh interpreter that cannot import gankit: argv = torch's site-packages, the
# exported folder, the output file.
PLAIN = r"""
import importlib.util, json, sys
sys.path.append(sys.argv[1])
assert importlib.util.find_spec("gankit") is None, sys.path
import torch
folder, out = sys.argv[2], sys.argv[3]
doc = json.load(open(folder + "/config.json"))
G = torch.jit.load(folder + "/generator.pt").eval()
n, k = 8, doc["num_classes"]
z = torch.randn(n, doc["z_dim"], generator=torch.Generator().manual_seed(0))
result = {"z": z}
with torch.no_grad():
    if doc["conditional"]:
        result["x"] = G(z, torch.arange(n) % k)
        result["x7"] = G(z, torch.full((n,), 7, dtype=torch.long))
    else:
        result["x"] = G(z)
assert not [m for m in sys.modules if m.split(".")[0] == "gankit"]
torch.save(result, out)
"""


def run_without_gankit(folder: Path, tmp_path: Path) -> dict:
    """The exported TorchScript generator run by a Python that cannot import gankit.

    gankit is installed in editable mode: a ``.pth`` file in site-packages puts ``src/`` on
    every interpreter's ``sys.path``. ``python -I -S`` skips both the environment
    (``PYTHONPATH``, the working folder) and the ``site`` module, which is what reads ``.pth``
    files; the script then appends only torch's site-packages folder to the bare standard
    library path, so torch and its dependencies import and gankit cannot (the script asserts
    ``find_spec("gankit") is None`` before importing torch, and that no gankit module was
    loaded at the end). It runs in an empty temporary folder with an empty environment. Where
    gankit is a regular (non-editable) install in the same folder as torch this isolation is
    impossible, and the test is skipped.
    """
    site = Path(torch.__file__).resolve().parents[1]
    if Path(gankit.__file__).resolve().parents[1] == site:
        pytest.skip("gankit is installed beside torch; it cannot be hidden from a subprocess")
    work = tmp_path / "plain"
    work.mkdir()
    out = work / "out.pt"
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", PLAIN, str(site),
                           str(folder.resolve()), str(out)],
                          cwd=work, env={}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return torch.load(out, weights_only=True)


def test_the_torchscript_generator_needs_only_pytorch(gan_run, gan_model, tmp_path):
    plain = run_without_gankit(gan_model, tmp_path)
    assert torch.equal(plain["z"], gan_run.generator.noise(8, torch.Generator().manual_seed(0)))
    assert torch.equal(plain["x"], gan_run.sample(8, seed=0))


def test_the_conditional_torchscript_generator_takes_class_numbers(cond_run, cond_model,
                                                                   tmp_path):
    plain = run_without_gankit(cond_model, tmp_path)
    assert torch.equal(plain["x"], cond_run.sample(8, seed=0))  # classes 0, 1, ..., 7
    assert torch.equal(plain["x7"], cond_run.sample(8, seed=0, labels=7))
    doc = config_of(cond_model)
    assert "int64" in doc["inputs"]["labels"] and "not one-hot" in doc["inputs"]["labels"]
    assert "not one-hot" in (cond_model / "README.md").read_text()


def test_the_mixture_latent_is_recorded_and_documented(runs, tmp_path, monkeypatch):
    run = gankit.train({**TINY, "model": {**TINY["model"], "z_dim": 6, "noise": "mixture",
                                          "noise_components": 5}}, out=runs / "mixture",
                       progress=False)
    folder = export_model(run, tmp_path / "mixture")
    centres = load_file(folder / "latent.safetensors")["centres"]
    assert torch.equal(centres, run.recipe.latent_centres)
    doc = config_of(folder)
    assert doc["latent"]["distribution"] == "mixture" and doc["latent"]["components"] == 5
    assert doc["files"]["latent"] == "latent.safetensors"
    assert set(load_file(folder / "model.safetensors")) == set(
        run.generator.generator().state_dict())
    # the card's snippet, run as it is written, draws gankit's codes
    monkeypatch.chdir(folder)
    torch.manual_seed(5)
    space = {"torch": torch, "n": 7}
    exec(doc["latent"]["code"], space)
    torch.manual_seed(5)
    assert torch.equal(space["z"], run.generator.noise(7))
    assert doc["latent"]["code"] in (folder / "README.md").read_text().replace(
        f'"{folder.name}/latent.safetensors"', '"latent.safetensors"')
    assert torch.equal(gankit.load(folder).sample(8, seed=0), run.sample(8, seed=0))


# ---------------------------------------------------------------- the model card


def test_the_model_card_follows_the_hub_conventions(gan_model, cond_model):
    card = (gan_model / "README.md").read_text()
    meta = front_matter(card)
    assert meta["library_name"] == "gankit" and meta["license"] == "other"
    assert {"gan", "image-generation", "digits"} <= set(meta["tags"])
    assert meta["pipeline_tag"] == "unconditional-image-generation"
    for heading in ("## Model", "## Training data", "## Training", "## Evaluation",
                    "## How to use", "## Intended use and limitations", "## License"):
        assert f"\n{heading}\n" in card
    assert "1,112" in card  # the generator's parameters
    assert "`gan` (preset `digits`)" in card and "MLPGenerator" in card
    assert "gankit sample digits-gan -n 64 -o grid.png" in card
    assert 'gankit.load("digits-gan")' in card and "sample(16" in card
    assert 'torch.jit.load("digits-gan/generator.pt")' in card
    assert "not evaluated" in card and "identify" in card
    cond = front_matter((cond_model / "README.md").read_text())
    assert "class-conditional" in cond["tags"] and "pipeline_tag" not in cond


def test_the_model_card_shows_the_runs_evaluation(gan_run, tmp_path):
    run_dir = shutil.copytree(gan_run.path, tmp_path / "evaluated")
    result = gankit.evaluate(run_dir, extractors=("raw",), num_generated=50, num_real=50,
                             kid_subsets=2, kid_subset_size=20, progress=False)
    out = tmp_path / "model"
    assert main(["export-model", str(run_dir), "-o", str(out), "--license", "mit"]) == 0
    card = (out / "README.md").read_text()
    assert front_matter(card)["license"] == "mit"
    section = card.split("## Evaluation\n")[1].split("\n## ")[0]
    assert "| metric | value | extractor |" in section
    assert f"| FID ↓ | {result['extractors']['raw']['fid']:.3f} | raw |" in section
    assert "50 generated samples" in section  # the protocol
    assert json.loads((out / "eval.json").read_text()) == json.loads(
        (run_dir / "eval.json").read_text())
    assert config_of(out)["files"]["evaluation"] == "eval.json"


# ---------------------------------------------------------------- refusals and safety


def test_a_run_that_cannot_sample_is_refused(runs, tmp_path, capsys):
    fit = gankit.train({"preset": "curve-fit", "model": {"hidden": [4]},
                        "train": {"steps": 2, "log_every": 1, "sample_every": 2,
                                  "checkpoint_every": 2}}, out=runs / "fit", progress=False)
    out = tmp_path / "fit-model"
    assert main(["export-model", str(fit.path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "draw samples from noise" in err
    assert "CurveFitRecipe" in err and not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_replaced_only_when_it_is_an_earlier_export(
        gan_run, cond_run, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["export-model", str(gan_run.path), "-o", str(mine)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export-model", str(gan_run.path), "-o", str(mine), "--overwrite"]) == 2
    assert "not a gankit model export" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]

    out = tmp_path / "model"
    assert main(["export-model", str(gan_run.path), "-o", str(out)]) == 0
    assert main(["export-model", str(cond_run.path), "-o", str(out)]) == 2
    assert not config_of(out)["conditional"]
    assert main(["export-model", str(cond_run.path), "-o", str(out), "--overwrite"]) == 0
    assert config_of(out)["conditional"] and {p.name for p in out.iterdir()} == FILES
    assert main(["export-model", str(gan_run.path), "-o", str(gan_run.path),
                 "--overwrite"]) == 2  # never the run folder itself
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "model"]


def test_the_working_folder_is_never_the_output(gan_run, tmp_path, monkeypatch, capsys):
    work = tmp_path / "empty"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["export-model", str(gan_run.path), "-o", "."]) == 2
    assert "working folder" in capsys.readouterr().err
    assert list(work.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_a_failed_export_leaves_nothing_behind(gan_run, cond_run, tmp_path, monkeypatch,
                                               capsys):
    earlier = export_model(gan_run, tmp_path / "earlier")
    before = {p.name: p.read_bytes() for p in earlier.iterdir()}

    def full_disk(data: bytes, path: Path) -> None:
        path.write_bytes(data[:10])
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(export_module, "save_torchscript", full_disk)
    with pytest.raises(OSError):
        export_model(gan_run, tmp_path / "new")
    assert main(["export-model", str(cond_run.path), "-o", str(earlier), "--overwrite"]) == 2
    assert "No space left" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier"]  # no temporary folder
    assert {p.name: p.read_bytes() for p in earlier.iterdir()} == before
