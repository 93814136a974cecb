"""``gankit compare``: two tiny evaluated runs (a GAN and a VAE on digits) side by side."""

import json
import shutil
import warnings

import pytest

import gankit
from gankit.cli import main
from gankit.compare import (
    CLASS_HISTOGRAM,
    COMPARE_HTML,
    COMPARE_JSON,
    COMPARE_MD,
    SIDE_BY_SIDE,
    compare_runs,
)
from gankit.metrics.summary import FEATURE_ROWS

STEPS = {"steps": 30, "log_every": 10, "sample_every": 30, "checkpoint_every": 30}
EVAL = {"num_generated": 200, "num_real": 300, "extractors": ("classifier",), "kid_subsets": 3}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A GAN and a VAE run, evaluated with one small protocol; and the shared cache folder."""
    root = tmp_path_factory.mktemp("runs")
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE_DIR", str(cache))
        gankit.train("digits", out=root / "gan", progress=False, train=STEPS,
                     model={"g": {"hidden": [64]}, "d": {"hidden": [64]}})
        gankit.train("digits-vae", out=root / "vae", progress=False, train=STEPS)
        for name in ("gan", "vae"):
            gankit.evaluate(root / name, progress=False, **EVAL)
    return root / "gan", root / "vae", cache


def table(md):
    """The rows of the first Markdown table, as lists of cells."""
    section = md.split("## Scores", 1)[1].split("##", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    return header, rows


def test_compare_writes_html_and_markdown_with_each_runs_scores(runs, tmp_path, capsys):
    gan, vae, _ = runs
    out = tmp_path / "cmp"
    assert main(["compare", str(gan), str(vae), "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert f"Wrote {out / COMPARE_HTML}" in printed.out and "warning" not in printed.err
    for name in (COMPARE_HTML, COMPARE_MD, COMPARE_JSON, SIDE_BY_SIDE, CLASS_HISTOGRAM,
                 "grids/1-gan.png", "grids/2-vae.png"):
        assert (out / name).is_file(), name
    page = (out / COMPARE_HTML).read_text()
    assert page.count('src="data:image/png;base64,') == 3  # two grids and the histogram
    assert 'src="' not in page.replace('src="data:', "")  # nothing outside the page

    header, rows = table((out / COMPARE_MD).read_text())
    assert [r[0] for r in rows] == ["gan", "vae"] and [r[1] for r in rows] == ["gan", "vae"]
    for row, run in zip(rows, (gan, vae), strict=True):
        result = json.loads((run / "eval.json").read_text())
        scores = result["extractors"]["classifier"]
        assert row[2] == str(result["step"]) and row[3] == "classifier"
        for key, label, pattern in FEATURE_ROWS:
            if key in scores:
                assert row[header.index(label)] == pattern.format(scores[key]), key
    assert {"FID ↓", "precision ↑", "recall ↑", "coverage ↑", "classes covered"} <= set(header)
    doc = json.loads((out / COMPARE_JSON).read_text())
    assert doc["protocol_differences"] == []
    assert doc["runs"][1]["evaluation"] == json.loads((vae / "eval.json").read_text())
    md = (out / COMPARE_MD).read_text()
    hist = json.loads((gan / "eval.json").read_text())["extractors"]["classifier"][
        "class_histogram"]
    section = md.split("## Class histogram", 1)[1]
    shares = next(line for line in section.splitlines() if line.startswith("| gan | "))
    assert [float(c) for c in shares.strip("|").split("|")[1:]] == pytest.approx(
        [100 * hist[c] / 200 for c in hist], abs=0.051)


def test_a_run_without_eval_json_stops_with_exit_2_and_writes_nothing(runs, tmp_path, capsys):
    gan, _, _ = runs
    bare = tmp_path / "bare"
    shutil.copytree(gan, bare)
    (bare / "eval.json").unlink()
    out = tmp_path / "cmp"
    assert main(["compare", str(gan), str(bare), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(bare) in err and "--eval-missing" in err
    assert not out.exists() and not (bare / "eval.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_eval_missing_evaluates_with_the_other_runs_protocol(runs, tmp_path, monkeypatch):
    gan, vae, cache = runs
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(cache))  # the classifier trained for the runs
    bare = tmp_path / "bare"
    shutil.copytree(vae, bare)
    (bare / "eval.json").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same protocol: no warning
        result = compare_runs([gan, bare], tmp_path / "cmp", eval_missing=True, progress=False)
    assert result.evaluated == ["bare"] and result.differences == []
    fresh = json.loads((bare / "eval.json").read_text())
    old = json.loads((vae / "eval.json").read_text())
    assert fresh["protocol"]["generated"] == 200 and fresh["protocol"]["real"] == 300
    assert fresh["extractors"]["classifier"]["fid"] == pytest.approx(
        old["extractors"]["classifier"]["fid"], rel=1e-6)  # the same weights, the same seed


def test_different_protocols_warn_but_still_compare(runs, tmp_path):
    gan, vae, _ = runs
    other = tmp_path / "other"
    shutil.copytree(vae, other)
    result = json.loads((other / "eval.json").read_text())
    result["protocol"]["generated"] = 100
    (other / "eval.json").write_text(json.dumps(result))
    with pytest.warns(UserWarning, match="different protocols.*generated samples"):
        cmp = compare_runs([gan, other], tmp_path / "a", progress=False)
    assert cmp.differences == ["generated samples (gan: 200, other: 100)"]
    assert "**Warning.**" in (tmp_path / "a" / COMPARE_MD).read_text()
    with pytest.warns(UserWarning, match="not comparable: generated samples") as caught:
        assert main(["compare", str(gan), str(other), "-o", str(tmp_path / "b")]) == 0
    line = warnings.formatwarning(caught[0].message, UserWarning, "", 0)  # as the CLI prints it
    assert line.startswith("gankit: warning: The runs were evaluated with different protocols")
    assert line.count("\n") == 1


def test_bad_input_is_refused_with_one_line(runs, tmp_path, capsys):
    gan, vae, _ = runs
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    cases = [
        (["compare", str(gan), str(vae), "-o", str(out)], "already exists"),
        (["compare", str(gan), "-o", str(tmp_path / "x")], "at least two"),
        (["compare", str(gan), str(tmp_path), "-o", str(tmp_path / "x")], "not a gankit run"),
        (["compare", str(gan), str(gan), "-o", str(tmp_path / "x")], "listed twice"),
        (["compare", str(gan), str(vae), "--names", "a", "-o", str(tmp_path / "x")], "--names"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert (out / "keep.txt").read_text() == "mine" and not (tmp_path / "x").exists()
    # --overwrite replaces only an earlier comparison, never a folder of other files
    assert main(["compare", str(gan), str(vae), "-o", str(out), "--overwrite"]) == 2
    assert "not a gankit comparison" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    again = tmp_path / "again"
    assert main(["compare", str(gan), str(vae), "-o", str(again)]) == 0
    assert main(["compare", str(gan), str(vae), "-o", str(again), "--overwrite",
                 "--names", "GAN,VAE"]) == 0
    assert (again / "grids" / "2-VAE.png").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing left aside
