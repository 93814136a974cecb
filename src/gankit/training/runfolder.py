"""The run folder one training process owns: locked, staged when it replaces a run, never lost.

- A training process holds an exclusive lock on its run folder (``.gankit.lock``, an OS file
  lock that dies with the process, so a SIGKILL leaves no stale lock); a second process is
  refused.
- ``--overwrite`` replaces only a gankit run folder, and never the working folder or a parent
  of it. The new run trains in a sibling folder (``<name>.new``, marked with
  ``.gankit-replaces``) and is swapped in only when it has finished; a failed or interrupted
  new run leaves the old one as it was. Resuming an interrupted ``<name>.new`` swaps it in when
  it finishes.
- A new run that fails at its very first step leaves nothing behind.
- Temporary files of writes killed mid-way are removed when a process takes the folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from filelock import FileLock, Timeout

from gankit.errors import GankitError
from gankit.fileio import (
    atomic_write_text,
    check_replaceable,
    remove_stale_temp_files,
    replace_folder,
)
from gankit.training.rundir import CHECKPOINTS, SAMPLES, is_run_dir

LOCK = ".gankit.lock"
#: in a staging folder: the name of the run folder it replaces when it finishes
REPLACES = ".gankit-replaces"
#: files a run folder may hold and still count as empty (a crashed start leaves its lock)
_EMPTY_OK = {LOCK}


def staging_path(target: Path) -> Path:
    """Where a run that replaces ``target`` trains until it has finished."""
    return target.parent / f"{target.name}.new"


def is_empty(path: Path) -> bool:
    return not path.exists() or all(p.name in _EMPTY_OK for p in path.iterdir())


def lock(path: Path) -> FileLock:
    """Take the run folder's lock, or refuse in one sentence if another process holds it."""
    held = FileLock(str(path / LOCK), timeout=0)
    try:
        held.acquire()
    except Timeout:
        raise GankitError(f"Run folder {str(path)!r} is in use by another gankit process; wait "
                          "for it to finish or stop it first.") from None
    return held


class RunFolder:
    """Where a training process writes (``path``) and where its run ends up (``target``)."""

    def __init__(self, path: Path, target: Path, fresh: bool, is_main: bool = True) -> None:
        self.path, self.target, self.fresh, self.is_main = path, target, fresh, is_main
        self._locks: list[FileLock] = []
        self._existed = path.exists()

    @property
    def staged(self) -> bool:
        """Whether the run trains beside the folder it will replace."""
        return self.path != self.target

    # ------------------------------------------------------------------ taking a folder

    @classmethod
    def for_new_run(cls, target: Path, overwrite: bool, is_main: bool = True) -> RunFolder:
        """Check ``target`` for a new run, before any work; lock the run it replaces."""
        target = Path(target)
        if target.exists() and not target.is_dir():
            raise GankitError(f"Run folder {str(target)!r} is a file; choose another --out.")
        if is_empty(target):
            return cls(target, target, fresh=True, is_main=is_main)
        if not overwrite:
            hint = "--resume it" if is_run_dir(target) else "empty it yourself"
            raise GankitError(f"Run folder {str(target)!r} already exists and is not empty; "
                              f"choose another --out, pass --overwrite to replace it, or {hint}.")
        check_replaceable(target, "gankit run folder", is_run_dir)
        folder = cls(staging_path(target), target, fresh=True, is_main=is_main)
        if is_main:
            folder._locks.append(lock(target))
            try:
                folder._clear_stale_staging()
            except BaseException:
                folder.release()
                raise
        return folder

    def _clear_stale_staging(self) -> None:
        """Remove what an earlier, killed ``--overwrite`` of the same run left beside it."""
        if not self.path.exists():
            return
        if not (self.path / REPLACES).is_file():
            raise GankitError(f"{str(self.path)!r} exists and is not gankit's; an --overwrite run "
                              f"of {str(self.target)!r} trains there, so move it away first.")
        lock(self.path).release()  # refuses if another process trains there
        shutil.rmtree(self.path)

    @classmethod
    def for_resume(cls, path: Path, is_main: bool = True) -> RunFolder:
        """Lock an existing run folder to continue it (and the run it replaces, if staged)."""
        path = Path(path)
        mark = path / REPLACES
        target = path.parent / mark.read_text().strip() if mark.is_file() else path
        folder = cls(path, target, fresh=False, is_main=is_main)
        if is_main:
            try:
                folder._locks.append(lock(path))
                if folder.staged and target.is_dir():
                    folder._locks.append(lock(target))
                remove_stale_temp_files(path)
            except BaseException:
                folder.release()
                raise
        return folder

    # ------------------------------------------------------------------ its life

    def create(self, files: dict[str, str]) -> None:
        """Make the folder (rank 0), lock it, and write ``files`` (name → text) into it."""
        if not self.is_main:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self._locks.append(lock(self.path))
        if not is_empty(self.path):  # another process started a run here since the check
            self.release()
            raise GankitError(f"Run folder {str(self.path)!r} was filled by another process "
                              "meanwhile; choose another --out.")
        (self.path / SAMPLES).mkdir()
        (self.path / CHECKPOINTS).mkdir()
        if self.staged:
            atomic_write_text(self.path / REPLACES, self.target.name)
        for name, text in files.items():
            atomic_write_text(self.path / name, text)

    def commit(self) -> Path:
        """Put a finished staged run in place of the one it replaces; returns the run folder."""
        if self.staged and self.is_main:
            (self.path / REPLACES).unlink(missing_ok=True)
            replace_folder(self.path, self.target)
        return self.target

    def discard(self) -> None:
        """Remove what this process created (a new run that failed before its first step)."""
        if not (self.fresh and self.is_main and self.path.exists()):
            return
        if self._existed and not self.staged:  # an empty folder the user made: empty it again
            for item in self.path.iterdir():
                if item.name not in _EMPTY_OK:
                    shutil.rmtree(item) if item.is_dir() and not item.is_symlink() \
                        else item.unlink()
        else:
            shutil.rmtree(self.path, ignore_errors=True)

    def release(self) -> None:
        """Let other processes take the folder (also done by the OS when the process ends)."""
        while self._locks:
            self._locks.pop().release()
