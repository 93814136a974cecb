"""The first-unused-name helper behind default run and comparison folders."""

from pathlib import Path

from gankit.config import load_preset, validate
from gankit.fileio import unused_path
from gankit.training.rundir import default_run_dir


def test_unused_path_keeps_a_free_name_and_numbers_taken_ones(tmp_path: Path) -> None:
    base = tmp_path / "run"
    assert unused_path(base) == base
    base.mkdir()
    assert unused_path(base) == tmp_path / "run-2"
    (tmp_path / "run-2").write_text("taken by a file")
    assert unused_path(base) == tmp_path / "run-3"


def test_default_run_dir_never_returns_an_existing_folder(tmp_path: Path) -> None:
    cfg = validate(load_preset("ring8"))
    first = default_run_dir(cfg, tmp_path)
    assert first.parent == tmp_path and first.name.startswith("ring8-")
    first.mkdir()
    second = default_run_dir(cfg, tmp_path)
    assert not second.exists() and second != first
