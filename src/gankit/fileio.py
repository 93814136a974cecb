"""Atomic file writes: write a temporary file beside the target, fsync, then rename."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gankit.errors import GankitError


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through: readers see the old file or the new one, never
    half (a temporary file beside it, fsync, rename; removed if the block fails)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        yield handle


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that wants a file name: once the block
    has written it, it is fsynced and renamed to ``path`` (removed if the block fails)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def file_digest(path: str | Path, algorithm: str = "sha256", chunk: int = 1 << 22) -> str:
    """The hex digest of a file with a :mod:`hashlib` algorithm (``"sha256"``, ``"md5"``, ...),
    read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: str | Path, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file, read in chunks."""
    return file_digest(path, "sha256", chunk)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path) as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def unused_path(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3``, … : the first that does not exist yet."""
    path, n = base, 2
    while path.exists():
        path, n = Path(f"{base}-{n}"), n + 1
    return path


_STALE_TEMP = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete what atomic writes killed mid-way left in ``folder`` and its sub-folders.

    Call it only while holding the folder's lock, so that no write in progress is touched.
    """
    removed = []
    for path in Path(folder).rglob(".*.tmp"):
        if _STALE_TEMP.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def check_replaceable(path: Path, what: str, is_ours: Callable[[Path], bool]) -> None:
    """Refuse to replace ``path`` unless it is one of gankit's own ``what`` folders.

    The working folder, its parents, the home folder and the file-system root are never
    replaced, whatever they hold.
    """
    here = path.resolve()
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    if here == cwd or here in cwd.parents or here in (home, Path(here.anchor)):
        raise GankitError(f"{str(path)!r} is the working folder, one of its parents or the home "
                          "folder; gankit never replaces it, choose another output folder.")
    if not is_ours(path):
        raise GankitError(f"{str(path)!r} is not a {what} (gankit only replaces its own); "
                          "choose another output folder or empty it yourself.")


def check_output_folder(out: Path, overwrite: bool, what: str,
                        is_ours: Callable[[Path], bool]) -> None:
    """Refuse an output folder that is a file, or not empty without ``overwrite``, or not one of
    gankit's own ``what`` folders (see :func:`check_replaceable`)."""
    if out.exists() and not out.is_dir():
        raise GankitError(f"Output {str(out)!r} is a file; choose a folder with -o.")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise GankitError(f"Output folder {str(out)!r} already exists and is not empty; "
                              "choose another with -o or pass --overwrite.")
        check_replaceable(out, what, is_ours)


def replace_folder(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``; an existing ``target`` is moved aside first and
    deleted only once ``new`` is in place (restored if the move fails)."""
    if not target.exists():
        os.replace(new, target)
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
    os.replace(target, old / "data")
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old / "data", target)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_folder(out: Path, sync_files: bool = True) -> Iterator[Path]:
    """A hidden temporary folder beside ``out`` to write a whole result into: once the block
    has filled it, its files are given the usual modes (and fsynced, unless ``sync_files`` is
    False: for folders of thousands of small files), and it replaces ``out``
    (:func:`replace_folder`); if the block fails or is interrupted it is removed, so ``out``
    is the old folder or the new one, never half of either."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        yield tmp
        for path in sorted(tmp.rglob("*"), reverse=True):  # files before their folders
            os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~_umask())
            if sync_files and path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        os.chmod(tmp, 0o777 & ~_umask())
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def describe_os_error(err: OSError) -> str:
    """One sentence for an operating-system error: the path, the cause and what to do."""
    cause = err.strerror or str(err)
    where = f" {str(err.filename)!r}" if err.filename is not None else ""
    if err.filename2 is not None:
        where += f" → {str(err.filename2)!r}"
    hint = _OS_HINTS.get(err.errno or -1, "check the path and its permissions")
    if not where:
        return f"The operating system refused: {cause}; {hint}."
    return f"Cannot use{where}: {cause}; {hint}."


_OS_HINTS = {
    errno.ENOSPC: "free some disk space (nothing half-written was kept) and try again",
    errno.EDQUOT: "free some space within your quota and try again",
    errno.EACCES: "choose a folder you may write to, or change its permissions",
    errno.EPERM: "choose a folder you may write to, or change its permissions",
    errno.EROFS: "the file system is read-only; choose a folder on a writable one",
    errno.ELOOP: "a symbolic link in the path points back at itself; fix or remove it",
    errno.ENAMETOOLONG: "choose a shorter path",
    errno.ENOENT: "check that the path exists",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "the path is a folder; name a file",
}


def write_npz_stream(path: str | Path, name: str, shape: tuple[int, ...], chunks: Iterable,
                     extra: dict[str, Any] | None = None) -> Path:
    """Write a compressed ``.npz`` whose array ``name`` (float32, ``shape``) arrives in
    ``chunks`` along its first axis, so that it never has to fit in memory at once.

    ``extra`` holds small arrays stored beside it. The file appears complete or not at all.
    """
    with atomic_file(path) as handle, \
            zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{name}.npy", "w", force_zip64=True) as entry:
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                      "fortran_order": False, "shape": tuple(shape)}
            np.lib.format.write_array_header_2_0(entry, header)
            rows = 0
            for chunk in chunks:
                block = np.ascontiguousarray(chunk, dtype=np.float32)
                entry.write(block.tobytes())
                rows += len(block)
        if rows != shape[0]:
            raise ValueError(f"{rows} rows arrived for an array of {shape[0]}")
        for key, value in (extra or {}).items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asarray(value), allow_pickle=False)
    return Path(path)
