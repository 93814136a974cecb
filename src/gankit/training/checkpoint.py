"""Checkpoints: tensors in a safetensors file, everything else in a JSON file beside it.

``step_NNNNNN.safetensors`` is written first, then ``step_NNNNNN.json`` (which records the
tensors file's SHA-256): a checkpoint exists only once its JSON exists, both files are written
atomically, and nothing is ever unpickled. Loading verifies the checksum.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save_file

from gankit.errors import GankitError
from gankit.fileio import atomic_path, atomic_write_text, sha256_of

FORMAT_VERSION = 1
_NAME = re.compile(r"step_(\d+)\.json")
_TENSOR = "__tensor__"
_TUPLE = "__tuple__"


def flatten(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "") -> Any:
    """Replace every tensor in a nested structure by a reference, collecting the tensors."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous()
        return {_TENSOR: prefix}
    if isinstance(obj, dict):
        if not all(isinstance(k, str | int) for k in obj):
            raise TypeError(f"cannot checkpoint a dict with keys {list(obj)[:3]} at {prefix!r}")
        # int keys (optimiser state) survive JSON as strings; record them as a list of pairs
        return {"__dict__": [[k, flatten(v, tensors, f"{prefix}/{k}")] for k, v in obj.items()]}
    if isinstance(obj, list | tuple):
        items = [flatten(v, tensors, f"{prefix}/{i}") for i, v in enumerate(obj)]
        return {_TUPLE: items} if isinstance(obj, tuple) else items
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot checkpoint a {type(obj).__name__} at {prefix!r}")


def unflatten(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten`."""
    if isinstance(tree, dict):
        if _TENSOR in tree:
            return tensors[tree[_TENSOR]]
        if _TUPLE in tree:
            return tuple(unflatten(v, tensors) for v in tree[_TUPLE])
        return {k: unflatten(v, tensors) for k, v in tree["__dict__"]}
    if isinstance(tree, list):
        return [unflatten(v, tensors) for v in tree]
    return tree


def unshared(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``tensors`` with a copy of every one whose memory another already uses (safetensors
    stores each tensor's memory once); the others are not copied."""
    seen: set[int] = set()
    out = {}
    for key, tensor in tensors.items():
        ptr = tensor.untyped_storage().data_ptr()
        out[key] = tensor.clone() if ptr in seen and tensor.numel() else tensor
        seen.add(ptr)
    return out


def checkpoint_step(path: Path) -> int:
    """The step of a checkpoint's JSON file, from its name."""
    match = _NAME.fullmatch(Path(path).name)
    if match is None:
        raise ValueError(f"{str(path)!r} is not a checkpoint file")
    return int(match.group(1))


def checkpoint_paths(folder: Path) -> list[Path]:
    """The JSON files of the complete checkpoints in ``folder``, oldest step first."""
    found = [p for p in Path(folder).glob("step_*.json") if _NAME.fullmatch(p.name)]
    return sorted(found, key=checkpoint_step)


def save_checkpoint(folder: Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write the checkpoint of ``step`` and prune all but the latest and ``keep`` older ones."""
    folder = Path(folder)
    tensors: dict[str, torch.Tensor] = {}
    tree = flatten(state, tensors)
    name = f"step_{step:07d}"
    with atomic_path(folder / f"{name}.safetensors") as tmp:
        # written from the tensors' own memory, without a copy of the file in memory
        save_file(unshared(tensors), tmp)
        digest = sha256_of(tmp)
    meta = {"format": FORMAT_VERSION, "step": step, "tensors": f"{name}.safetensors",
            "sha256": digest, "state": tree}
    path = atomic_write_text(folder / f"{name}.json", json.dumps(meta))
    for old in checkpoint_paths(folder)[: -(keep + 1)]:
        old.with_suffix(".safetensors").unlink(missing_ok=True)
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path) -> tuple[int, dict[str, Any]]:
    """Read and verify one checkpoint; returns (step, state)."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text())
        blob = (path.parent / meta["tensors"]).read_bytes()
    except (OSError, ValueError, KeyError) as err:
        raise GankitError(f"Checkpoint {str(path)!r} cannot be read ({err}).") from None
    if hashlib.sha256(blob).hexdigest() != meta["sha256"]:
        raise GankitError(f"Checkpoint {meta['tensors']!r} in {str(path.parent)!r} is corrupt "
                          "(checksum mismatch).")
    try:
        return int(meta["step"]), unflatten(meta["state"], load_tensors(blob))
    except Exception as err:  # not a safetensors file, or tensors missing from it
        raise GankitError(f"Checkpoint {meta['tensors']!r} in {str(path.parent)!r} cannot be "
                          f"read ({type(err).__name__}: {err}).") from None


def load_latest(folder: Path) -> tuple[int, dict[str, Any], Path] | None:
    """The newest checkpoint in ``folder`` that verifies, or None if there is none.

    A corrupt or unreadable newer checkpoint is skipped with a warning naming it.
    """
    paths = checkpoint_paths(folder)
    for i, path in enumerate(reversed(paths)):
        try:
            step, state = load_checkpoint(path)
        except GankitError as err:
            older = "an older one" if i + 1 < len(paths) else "none is left"
            warnings.warn(f"{err} Skipping it: {older}.", stacklevel=2)
            continue
        return step, state, path
    if paths:
        raise GankitError(f"No readable checkpoint in {str(folder)!r}: every one is corrupt.")
    return None
