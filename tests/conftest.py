"""Shared fixtures: the real data sets under ../shared/data and an isolated gankit cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Keep tests off the user's cache and data folders: a fresh cache, no GANKIT_DATA_DIR."""
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path_factory.mktemp("gankit-cache")))
    monkeypatch.delenv("GANKIT_DATA_DIR", raising=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder holding ``mnist/`` and ``fashion-mnist/`` (skips the test when absent)."""
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module: on a busy shared 2-core machine two are many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
