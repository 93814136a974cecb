"""Interpolation in a run's latent space: between random codes, between classes (same z, the
one-hot class code moves) and between two real images (projected onto codes first)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from gankit.data.ranges import to_unit
from gankit.errors import GankitError
from gankit.latent.animate import enlarge, gif_bytes, grid_array, png_bytes
from gankit.latent.images import RealImages
from gankit.latent.output import with_suffix, write_files
from gankit.latent.paths import MODES, interpolation_path
from gankit.latent.projection import Projection, project
from gankit.latent.render import device_of, one_hot, render, require_images
from gankit.run import Run

Between = Literal["random", "classes", "images"]
BETWEEN: tuple[str, ...] = ("random", "classes", "images")
MODE_CHOICES: tuple[str, ...] = (*MODES, "both")
GAP = 4  # extra white pixels between pairs and around the real images
PADDING = 2  # make_grid's lines between cells


@dataclass
class Interpolation:
    """Images along latent paths, in the run's data range.

    ``frames`` is ``(pairs, modes, steps, C, H, W)``; ``ends`` the real images at both ends of
    each pair ``(pairs, 2, C, H, W)`` when interpolating between images; ``classes`` the class
    at each end ``(pairs, 2)`` for conditional runs.
    """

    frames: torch.Tensor
    modes: tuple[str, ...]
    between: str
    t: torch.Tensor
    normalize: str
    ends: torch.Tensor | None = None
    classes: torch.Tensor | None = None
    projection: Projection | None = None

    @property
    def pairs(self) -> int:
        return int(self.frames.shape[0])

    def _cells(self, pair: int, mode_steps: list[tuple[int, int]]) -> list[torch.Tensor]:
        cells = [self.frames[pair, m, s] for m, s in mode_steps]
        if self.ends is not None:
            cells = [self.ends[pair, 0], *cells, self.ends[pair, 1]]
        return cells

    def strip(self) -> np.ndarray:
        """The PNG picture: one row per pair and mode (real images at the row ends)."""
        steps = self.frames.shape[2]
        cells = [c for p in range(self.pairs) for m in range(len(self.modes))
                 for c in self._cells(p, [(m, s) for s in range(steps)])]
        ncol = steps + (2 if self.ends is not None else 0)
        grid = grid_array(to_unit(torch.stack(cells), self.normalize), ncol)
        nrows, modes = self.pairs * len(self.modes), len(self.modes)
        return self._gaps(grid, range(modes, nrows, modes), self._end_columns(ncol))

    def gif_frames(self) -> list[np.ndarray]:
        """One picture per step: every pair's image(s) at that step (and the real ends)."""
        frames = []
        per_pair = len(self.modes) + (2 if self.ends is not None else 0)
        ncol = per_pair if per_pair > 1 else math.ceil(math.sqrt(self.pairs))
        for s in range(self.frames.shape[2]):
            cells = [c for p in range(self.pairs)
                     for c in self._cells(p, [(m, s) for m in range(len(self.modes))])]
            grid = grid_array(to_unit(torch.stack(cells), self.normalize), ncol)
            frames.append(self._gaps(grid, [], self._end_columns(ncol)))
        return frames

    def _end_columns(self, ncol: int) -> list[int]:
        return [1, ncol - 1] if self.ends is not None else []

    def _gaps(self, grid: np.ndarray, rows: Sequence[int], cols: Sequence[int]) -> np.ndarray:
        """Widen the white lines before the grid rows ``rows`` and columns ``cols`` by ``GAP``
        pixels (between pairs, and around the real images)."""
        side = enlarge(self.frames[:1, 0, 0]).shape[-1] + PADDING
        for axis, where in ((0, rows), (1, cols)):
            if len(where):
                grid = np.insert(grid, [i * side for i in where for _ in range(GAP)], 255,
                                 axis=axis)
        return grid

    def files(self, stem: str | Path, gif: bool = True, frame_ms: int = 120
              ) -> dict[Path, bytes]:
        """The contents of ``stem.png`` (and ``stem.gif``) by path, to write together."""
        files = {with_suffix(stem, ".png"): png_bytes(self.strip())}
        if gif:
            files[with_suffix(stem, ".gif")] = gif_bytes(self.gif_frames(), frame_ms)
        return files

    def save(self, stem: str | Path, gif: bool = True, frame_ms: int = 120) -> list[Path]:
        """Write ``stem.png`` (and ``stem.gif``); return the paths written."""
        return write_files(self.files(stem, gif, frame_ms))


def interpolate(run: Run, between: Between = "random", mode: str = "both", steps: int = 10,
                rows: int = 8, seed: int = 0, classes: Sequence[int] | None = None,
                images: RealImages | torch.Tensor | None = None,
                labels: int | torch.Tensor | None = None, use_ema: bool = True,
                projection_steps: int = 300, restarts: int = 4,
                progress: bool = False) -> Interpolation:
    """Images along lerp/slerp paths in ``run``'s latent space.

    * ``between="random"``: ``rows`` pairs of random codes (conditional runs: class ``labels``
      for all rows, one per row, or every class in turn).
    * ``"classes"`` (conditional runs): per row one z, the class code moving from ``classes[0]``
      to ``classes[1]`` (default: row i from class i to class i + 1).
    * ``"images"``: consecutive pairs of ``images`` (data range, or :class:`RealImages`) are
      projected onto codes (see :func:`project`; ``labels`` per image fix conditional classes).
    ``mode`` is ``linear``, ``spherical`` or ``both``; ``steps`` counts both ends.
    """
    require_images(run, "Interpolation")
    if between not in BETWEEN:
        raise GankitError(f"--between must be one of {', '.join(BETWEEN)}, not {between!r}.")
    if mode not in MODE_CHOICES:
        raise GankitError(f"--mode must be one of {', '.join(MODE_CHOICES)}, not {mode!r}.")
    if steps < 2:
        raise GankitError(f"--steps must be at least 2 (got {steps}).")
    if rows < 1:
        raise GankitError(f"--rows must be at least 1 (got {rows}).")
    modes = MODES if mode == "both" else (mode,)
    gen = torch.Generator().manual_seed(seed)
    k = run.num_classes
    ends = projection = None
    if between == "random":
        z_a, z_b = run.generator.noise(rows, gen), run.generator.noise(rows, gen)
        chosen = run.labels_for(rows, labels)
        pair_classes = None if chosen is None else torch.stack([chosen, chosen], 1)
    elif between == "classes":
        pair_classes = class_pairs(run, rows, classes)
        z_a = run.generator.noise(rows, gen)
        z_b = z_a
    else:
        ends, z_a, z_b, pair_classes, projection = _projected_ends(
            run, images, labels, seed, use_ema, projection_steps, restarts, progress)
    codes_a = codes_b = None
    if k:
        codes_a, codes_b = one_hot(pair_classes[:, 0], k), one_hot(pair_classes[:, 1], k)
    per_mode = [_render_path(run, z_a, z_b, codes_a, codes_b, steps, m, use_ema) for m in modes]
    return Interpolation(torch.stack(per_mode, 1), tuple(modes), between,
                         torch.linspace(0.0, 1.0, steps), run.spec.normalize, ends,
                         pair_classes, projection)


def class_pairs(run: Run, rows: int, classes: Sequence[int] | None) -> torch.Tensor:
    """``(rows, 2)`` start and end classes; a clear error for unconditional runs."""
    k = run.num_classes
    if not k:
        raise GankitError(f"Interpolating between classes needs a class-conditional run, and "
                          f"{str(run.path)!r} is unconditional; train with "
                          "--set model.conditional=projection (or acgan), or use --between "
                          "random or images.")
    if classes is None:
        start = torch.arange(rows) % k
        return torch.stack([start, (start + 1) % k], 1)
    if len(classes) != 2:
        raise GankitError(f"--classes takes two classes, got {len(classes)}.")
    pair = run.labels_for(2, torch.as_tensor(list(classes)))
    return pair[None].expand(rows, 2).clone()


def _projected_ends(run: Run, images: RealImages | torch.Tensor | None,
                    labels: int | torch.Tensor | None, seed: int, use_ema: bool, steps: int,
                    restarts: int, progress: bool):  # noqa: ANN202
    if images is None:
        raise GankitError("Interpolating between images needs the images: pass --images IDX IDX "
                          "or --image-files A.png B.png.")
    known = None
    if isinstance(images, RealImages):
        known, images = images.labels, images.x
    if len(images) < 2 or len(images) % 2:
        raise GankitError(f"Images come in pairs (start and end of each row); got "
                          f"{len(images)}.")
    if labels is not None:
        chosen = run.labels_for(len(images), labels)
    else:
        chosen = known if run.num_classes else None
    proj = project(run, images, chosen, steps=steps, restarts=restarts, seed=seed,
                   use_ema=use_ema, progress=progress)
    n = len(images) // 2
    ends = images.float().cpu().view(n, 2, *images.shape[1:])
    pair_classes = proj.labels.view(n, 2) if proj.labels is not None else None
    return ends, proj.z[0::2], proj.z[1::2], pair_classes, proj


def _render_path(run: Run, z_a: torch.Tensor, z_b: torch.Tensor, codes_a: torch.Tensor | None,
                 codes_b: torch.Tensor | None, steps: int, mode: str,
                 use_ema: bool) -> torch.Tensor:
    """``(pairs, steps, C, H, W)`` images along one mode's path."""
    z_a, z_b = z_a.float().cpu(), z_b.float().cpu()
    zs = interpolation_path(z_a, z_b, steps, mode)  # (steps, pairs, D)
    codes = None
    if codes_a is not None:
        codes = interpolation_path(codes_a, codes_b, steps, mode).flatten(0, 1)
    x = render(run, zs.flatten(0, 1).to(device_of(run)), codes, use_ema)
    return x.view(steps, len(z_a), *x.shape[1:]).transpose(0, 1)
