"""Reading the metrics log and writing the HTML run report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gankit.errors import GankitError
from gankit.report import read_metrics, sample_images, write_report

PNG = b"\x89PNG\r\n\x1a\n"  # the report only links images, so a stub file is enough


def _write_metrics(run: Path, records: list[dict], tail: str = "") -> None:
    text = "".join(json.dumps(r) + "\n" for r in records) + tail
    (run / "metrics.jsonl").write_text(text)


def _fake_run(tmp_path: Path) -> Path:
    run = tmp_path / "digits-<b>&run"
    (run / "samples").mkdir(parents=True)
    config = {
        "preset": "digits",
        "data": {"name": "digits<script>"},
        "model": {"arch": "mlp"},
        "train": {"steps": 300},
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    records = [
        {
            "step": s,
            "d_loss": 1.25,
            "g_loss": 0.75,
            "d_acc": 0.625,
            "img_per_s": 1500.0,
            "elapsed_s": 3725.0,
            "d_real": 0.6,
        }
        for s in (100, 200, 300)
    ]
    records[1]["eval/fid"] = 12.5
    _write_metrics(run, records, tail='{"step": 400, "d_lo')
    for step in (1000, 200, 30):  # created out of order; 1000 sorts after 200 only by number
        (run / "samples" / f"step_{step:06d}.png").write_bytes(PNG)
    (run / "samples" / "notes.txt").write_text("ignored")
    (run / "curves.png").write_bytes(PNG)
    (run / "grid_final.png").write_bytes(PNG)
    return run


# ---------------------------------------------------------------- read_metrics


def test_read_metrics_skips_truncated_and_blank_lines(tmp_path: Path) -> None:
    _write_metrics(tmp_path, [{"step": 1, "d_loss": 0.5}], tail='\n   \n[1, 2]\n{"step": 2, "d_')
    assert read_metrics(tmp_path) == [{"step": 1, "d_loss": 0.5}]
    assert read_metrics(tmp_path / "metrics.jsonl") == [{"step": 1, "d_loss": 0.5}]


def test_read_metrics_missing_file(tmp_path: Path) -> None:
    assert read_metrics(tmp_path) == []
    assert read_metrics(tmp_path / "nope") == []


def test_read_metrics_keeps_nan(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "g_loss": NaN}\n')
    assert read_metrics(tmp_path)[0]["g_loss"] != read_metrics(tmp_path)[0]["g_loss"]


# ---------------------------------------------------------------- write_report


def test_report_full_run(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    out = write_report(run)
    assert out == run / "report.html"
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "digits-&lt;b&gt;&amp;run" in page and "<b>&run" not in page
    assert "preset digits" in page
    # samples linked relatively, sorted by step number, each captioned
    srcs = [f'src="samples/step_{s:06d}.png"' for s in (30, 200, 1000)]
    positions = [page.index(s) for s in srcs]
    assert positions == sorted(positions)
    assert "step 1,000" in page and "notes.txt" not in page
    assert 'src="curves.png"' in page and 'src="grid_final.png"' in page
    # config escaped inside <pre>
    assert "digits&lt;script&gt;" in page and "<script>" not in page
    # summary from the last complete record
    assert "300 / 300" in page and "62.5 %" in page and "1:02:05" in page and "1,500" in page
    # other numeric keys with their last value
    assert "eval/fid" in page and "12.5" in page and "d_real" in page
    # nothing absolute or remote
    assert "http" not in page and str(tmp_path) not in page
    assert [p.name for p in run.iterdir() if p.name.endswith(".tmp")] == []


def test_report_incomplete_run(tmp_path: Path) -> None:
    run = tmp_path / "fresh"
    run.mkdir()
    page = write_report(run).read_text()
    assert "fresh" in page and "No metrics logged yet" in page
    assert "<img" not in page and "<pre>" not in page


def test_report_bad_config_and_metrics_only(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.yaml").write_text("train: [unclosed <x>\n")
    _write_metrics(run, [{"step": 5, "g_loss": 0.5}])
    page = write_report(run).read_text()
    assert "train: [unclosed &lt;x&gt;" in page
    assert "<td" in page and "0.5" in page and "curves.png" not in page


def test_report_points_run_links_scatter_final(tmp_path: Path) -> None:
    run = tmp_path / "ring"
    run.mkdir()
    (run / "scatter_final.png").write_bytes(PNG)
    page = write_report(run).read_text()
    assert 'src="scatter_final.png"' in page and "grid_final" not in page


def test_report_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(GankitError):
        write_report(tmp_path / "absent")


def test_sample_images_order(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    assert [s for s, _ in sample_images(run)] == [30, 200, 1000]
    assert sample_images(tmp_path / "nothing") == []
