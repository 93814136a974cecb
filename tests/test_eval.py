"""``gankit eval`` and evaluation during training, end to end on tiny runs."""

import json

import pytest

from test_cli import FAST, gankit


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ring"
    gankit("train", "--preset", "ring8", "--steps", 6, "--out", out, *FAST,
           "--set", "eval.every=3", "--set", "eval.samples=200")
    return out


def test_training_logs_mode_metrics_and_draws_their_curves(ring_run):
    records = [json.loads(line) for line in (ring_run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval_modes" in r]
    assert [r["step"] for r in evals] == [3, 6]
    for r in evals:
        assert 0 <= r["eval_modes"] <= 8 and 0.0 <= r["eval_hq"] <= 1.0
    assert (ring_run / "eval_curves.png").is_file()
    assert "eval_curves.png" in (ring_run / "report.html").read_text()


def test_eval_writes_scores_with_their_protocol(ring_run):
    proc = gankit("eval", ring_run, "-n", 300, "--real", 300, "--kid-subsets", 5,
                  "--no-progress")
    result = json.loads((ring_run / "eval.json").read_text())
    assert result["step"] == 6
    p = result["protocol"]
    assert p["generated"] == 300 and p["real"] == 300 and p["weights"] == "EMA"
    assert "training data" in p["reference"]  # toy mixtures have no test split
    raw = result["extractors"]["raw"]
    assert raw["protocol"]["extractor"] == "raw"
    assert raw["fid"] >= 0 and 0 <= raw["precision"] <= 1 and 0 <= raw["coverage"] <= 1
    assert raw["subsets"] == 5
    modes = result["modes"]
    assert modes["protocol"]["samples"] == 2500 and modes["modes_total"] == 8
    md = (ring_run / "eval.md").read_text()
    assert "| FID ↓ |" in md and "modes captured" in md and md in proc.stdout + "\n"
    assert "gankit eval" in (ring_run / "report.html").read_text()


def test_eval_refuses_bad_input_without_writing(tmp_path, ring_run):
    proc = gankit("eval", tmp_path, check=False)
    assert proc.returncode == 2 and "not a gankit run folder" in proc.stderr
    before = (ring_run / "eval.json").read_bytes()
    proc = gankit("eval", ring_run, "-n", 1, check=False)
    assert proc.returncode == 2 and "-n must be from 2" in proc.stderr
    proc = gankit("eval", ring_run, "--extractor", "nope", check=False)
    assert proc.returncode == 2 and "choose one of" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (ring_run / "eval.json").read_bytes() == before


def test_labelled_images_are_scored_in_classifier_features(tmp_path):
    """Digits: FID and classes covered during training, then the full protocol with gankit eval."""
    out = tmp_path / "digits"
    gankit("train", "--steps", 4, "--out", out, *FAST, "--set", "eval.every=2",
           "--set", "eval.samples=100")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval_fid" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert all(r["eval_fid"] > 0 and 1 <= r["eval_classes"] <= 10 for r in evals)
    gankit("eval", out, "-n", 200, "--real", 300, "--kid-subsets", 3, "--no-progress")
    result = json.loads((out / "eval.json").read_text())
    scores = result["extractors"]["classifier"]
    assert scores["protocol"]["data"] == "digits" and scores["protocol"]["test_accuracy"] >= 0.97
    assert sum(scores["class_histogram"].values()) == 200 and scores["classes_total"] == 10
    assert len(scores["missing_classes"]) == 10 - scores["classes_covered"]
    assert scores["subset_size"] == 200  # KID subsets cannot be larger than the sets
    assert result["protocol"]["real"] == 300 and "modes" not in result


def test_python_api_evaluates_without_writing(ring_run):
    import gankit

    before = sorted(p.name for p in ring_run.iterdir())
    result = gankit.evaluate(ring_run, write=False, num_generated=100, num_real=100,
                             kid_subsets=2, mode_samples=500, progress=False)
    assert result["modes"]["protocol"]["samples"] == 500
    assert result["extractors"]["raw"]["subset_size"] == 100
    assert sorted(p.name for p in ring_run.iterdir()) == before
