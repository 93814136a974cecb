"""CTGAN and TVAE on tables (issue 20): the table source, training-by-sampling, training through
the one trainer, exact resume, sampling rows with fixed columns, and bad tables."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gankit.api import resume, train
from gankit.cli import main
from gankit.errors import GankitError
from gankit.tables.conditions import ConditionalRowSampler, ConditionSpace

TINY = {"model": {"z_dim": 8, "g_hidden": [16], "d_hidden": [16], "pack": 5},
        "train": {"steps": 12, "batch_size": 40, "log_every": 4, "sample_every": 6,
                  "checkpoint_every": 6}}


def small_table(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue", "violet"], rows, p=[0.6, 0.3, 0.08, 0.02])
    return pd.DataFrame({
        "height": np.where(rng.random(rows) < 0.5, rng.normal(10, 1, rows),
                           rng.normal(30, 2, rows)).round(2),
        "count": rng.integers(0, 9, rows),
        "colour": colour,
        "member": rng.random(rows) < 0.3,
    })


@pytest.fixture(scope="module")
def table_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "shop.csv"
    small_table().to_csv(path, index=False)
    return path


def config(path: Path, **extra: object) -> dict:
    return {"preset": "ctgan", "data": {"name": "table", "path": str(path)}, **TINY, **extra}


@pytest.fixture(scope="module")
def run_dir(table_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "shop"
    train(config(table_file), out, progress=False)
    return out


def checkpoint_hash(run: Path, step: int) -> str:
    return hashlib.sha256((run / "checkpoints" / f"step_{step:07d}.safetensors").read_bytes()
                          ).hexdigest()


def test_training_by_sampling_draws_log_frequencies_and_matching_rows() -> None:
    x = torch.zeros(1000, 6)
    cats = torch.cat([torch.zeros(900), torch.ones(90), torch.full((10,), 2)]).long()
    x[torch.arange(1000), cats] = 1.0
    x[torch.arange(1000), 3 + torch.arange(1000) % 3] = 1.0  # a second, uniform column
    space = ConditionSpace.of_rows([(0, 3), (3, 3)], x)
    sampler = ConditionalRowSampler(x, space, 1000, seed=0)
    draws = [sampler.next() for _ in range(20)]
    batch = {k: torch.cat([d[k] for d in draws]) for k in draws[0]}
    first = batch["col"] == 0
    share = torch.bincount(batch["opt"][first], minlength=3).double() / first.sum()
    expected = torch.log1p(torch.tensor([900.0, 90.0, 10.0], dtype=torch.double))
    assert torch.allclose(share, expected / expected.sum(), atol=0.02)  # rare ones boosted
    assert 0.45 < first.double().mean() < 0.55  # the column is drawn uniformly
    # the generator's condition vector is one-hot at the category asked for
    start = space.offsets[batch["col"]] + batch["opt"]
    assert torch.equal(batch["cond"].argmax(1), start) and torch.equal(batch["cond"].sum(1),
                                                                        torch.ones(20_000))
    # each real row has the category of its own condition vector
    real_cats = torch.stack([batch["x"][:, 0:3].argmax(1), batch["x"][:, 3:6].argmax(1) + 3], 1)
    asked = batch["cond_real"].argmax(1)
    assert bool((real_cats == asked[:, None]).any(1).all())
    state = sampler.state_dict()
    again = sampler.next()
    sampler.load_state_dict(state)
    assert torch.equal(sampler.next()["x"], again["x"])


def test_ctgan_trains_and_samples_rows_of_the_real_columns(run_dir: Path) -> None:
    import gankit

    run = gankit.load(run_dir)
    rows = run.recipe.sample_table(500, seed=1)
    real = small_table()
    assert list(rows.columns) == list(real.columns) and len(rows) == 500
    assert set(rows["colour"]) <= set(real["colour"])
    assert rows["count"].between(real["count"].min(), real["count"].max()).all()
    assert (rows["count"] == rows["count"].round()).all()
    assert rows["height"].between(real["height"].min(), real["height"].max()).all()
    assert set(rows["member"].astype(bool)) <= {True, False}
    assert rows.equals(run.recipe.sample_table(500, seed=1))  # seeded
    for name in ("columns_final.png", "associations_final.png", "report.html", "curves.png"):
        assert (run_dir / name).is_file(), name


def test_sampling_with_fixed_columns(run_dir: Path) -> None:
    import gankit

    recipe = gankit.load(run_dir).recipe
    rows = recipe.sample_table(50, where={"colour": "blue"}, seed=2)
    assert len(rows) == 50 and set(rows["colour"]) == {"blue"}
    for where, message in [({"size": "L"}, "'size', which is not a column"),
                           ({"colour": "pink"}, "never takes the value 'pink'"),
                           ({"height": "3"}, "categorical and boolean columns only")]:
        with pytest.raises(GankitError, match=message):
            recipe.sample_table(5, where=where)


def test_resume_is_bit_identical(table_file: Path, run_dir: Path, tmp_path: Path) -> None:
    half = tmp_path / "half"
    train(config(table_file, train={**TINY["train"], "steps": 6}), half, progress=False)
    resume(half, steps=12, progress=False)
    assert checkpoint_hash(half, 12) == checkpoint_hash(run_dir, 12)


@pytest.mark.parametrize(("content", "message"), [
    ("", "is empty"),
    ("a,b\n", "has a header but no rows"),
    ("only\n1\n2\n3\n", "at least 2"),
    ("a,b\n1,\n2,\n3,\n", "'b'"),
    ("a,b\n1,x\n2,x\n3,x\n", "'b'"),
])
def test_bad_tables_are_one_sentence_and_write_nothing(tmp_path: Path, capsys, content: str,
                                                       message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    out = tmp_path / "run"
    code = main(["train", "--preset", "ctgan", "--data", "table", "--data-dir", str(path),
                 "--steps", "2", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_a_binary_file_is_not_a_table(tmp_path: Path, capsys) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(bytes(range(256)) * 40)
    assert main(["train", "--preset", "ctgan", "--data", "table", "--data-dir", str(path),
                 "--steps", "2", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    assert "gankit: error:" in capsys.readouterr().err


TINY_TVAE = {"model": {"z_dim": 4, "encoder_hidden": [16], "decoder_hidden": [16]},
             "train": {"steps": 12, "batch_size": 40, "log_every": 4, "sample_every": 6,
                       "checkpoint_every": 6}}


def test_tvae_trains_resumes_exactly_and_samples(table_file: Path, tmp_path: Path) -> None:
    def cfg(steps: int) -> dict:
        return {"preset": "adult-tvae", "data": {"name": "table", "path": str(table_file)},
                **TINY_TVAE, "train": {**TINY_TVAE["train"], "steps": steps}}

    full, half = tmp_path / "full", tmp_path / "half"
    run = train(cfg(12), full, progress=False)
    train(cfg(6), half, progress=False)
    resume(half, steps=12, progress=False)
    assert checkpoint_hash(half, 12) == checkpoint_hash(full, 12)
    rows = run.recipe.sample_table(300, seed=0)
    real = small_table()
    assert list(rows.columns) == list(real.columns)
    assert set(rows["colour"]) <= set(real["colour"])
    assert rows["height"].between(real["height"].min(), real["height"].max()).all()
    kept = run.recipe.sample_table(20, where={"member": "true"}, seed=0)  # by rejection
    assert len(kept) == 20 and kept["member"].astype(bool).all()


def test_train_names_the_column_kinds(table_file: Path, tmp_path: Path, capsys) -> None:
    assert main(["train", "--preset", "ctgan", "--data", "table", "--data-dir", str(table_file),
                 "--steps", "2", "--batch-size", "20", "--set", "model.pack=5",
                 "--set", "model.g_hidden=[8]", "--set", "model.d_hidden=[8]",
                 "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert ("Columns: height (continuous); count (integer); colour (categorical); "
            "member (boolean).") in out


def test_eval_of_a_table_run_writes_the_four_judgements(run_dir: Path, tmp_path: Path,
                                                         capsys) -> None:
    import json
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    assert main(["eval", str(copy), "--no-progress"]) == 0
    result = json.loads((copy / "eval.json").read_text())
    assert result["kind"] == "table" and result["protocol"]["target"] == "member"
    assert result["protocol"]["generated"] == 240 and result["protocol"]["real_test"] == 60
    table = result["table"]
    assert 0 < table["fidelity"]["quality"] <= 1 and 0 <= table["detection"]["score"] <= 1
    assert set(table["efficacy"]["real"]) >= {"decision_tree", "adaboost", "mean"}
    assert 0 <= table["privacy"]["copies"] <= 1
    out = capsys.readouterr().out
    assert "| quality (fidelity) |" in out and "Evaluation (gankit eval)" in \
        (copy / "report.html").read_text()


def test_export_of_a_table_run(run_dir: Path, tmp_path: Path, capsys) -> None:
    import json

    out = tmp_path / "synthetic"
    argv = ["export", str(run_dir), "-o", str(out), "--rows", "120", "--where", "colour=green"]
    assert main(argv) == 0
    rows = pd.read_csv(out / "synthetic.csv")
    assert len(rows) == 120 and set(rows["colour"]) == {"green"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["columns"] == {"height": "continuous", "count": "integer",
                                   "colour": "categorical", "member": "boolean"}
    before = (out / "synthetic.csv").read_bytes()
    assert main([*argv[:-2], "--overwrite", "--where", "colour=pink"]) == 2  # nothing replaced
    assert (out / "synthetic.csv").read_bytes() == before
    assert main(["export", str(run_dir), "-o", str(tmp_path / "x")]) == 2
    assert "--rows N" in capsys.readouterr().err


def test_adult_is_split_as_sdgym_splits_it(shared_data: Path) -> None:
    from gankit.config import DataConfig
    from gankit.data.table import table_rows

    cfg = DataConfig(name="adult", path=str(shared_data), options={"download": False})
    train, test = table_rows(cfg, "train"), table_rows(cfg, "test")
    assert (len(train), len(test)) == (22_561, 10_000)
    raw = pd.read_csv(shared_data / "adult" / "adult.data.gz", header=None,
                      skipinitialspace=True, na_values=["?"])
    order = np.arange(len(raw))
    np.random.seed(0)
    np.random.shuffle(order)  # SDGym's own calls
    expected = raw.iloc[order[-10_000:]].reset_index(drop=True)
    assert (test["age"].to_numpy() == expected[0].to_numpy()).all()
    assert (test["fnlwgt"].to_numpy() == expected[2].to_numpy()).all()
