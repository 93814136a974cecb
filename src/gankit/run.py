"""A finished (or checkpointed) run, loaded back from its folder for sampling."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gankit.config import RunConfig
from gankit.errors import GankitError
from gankit.fileio import write_npz_stream
from gankit.models import DataSpec
from gankit.pictures import class_rows
from gankit.recipes import RECIPES, Recipe
from gankit.recipes.base import balanced_labels
from gankit.recipes.capabilities import C, SamplesFromNoise, SamplesTables, require
from gankit.share.exported import is_model_export, load_export
from gankit.training import rundir
from gankit.training.checkpoint import load_latest
from gankit.training.state import load_networks
from gankit.training.trainer import resolve_device
from gankit.viz import save_image_grid, save_scatter

if TYPE_CHECKING:
    import pandas as pd

#: the files ``save_table`` writes, by suffix
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")


class Run:
    """A run folder with its trained networks: ``run.sample(n)`` draws new samples."""

    def __init__(self, path: Path, config: RunConfig, spec: DataSpec, facts: dict,
                 recipe: Recipe, step: int) -> None:
        self.path, self.config, self.spec, self.facts = path, config, spec, facts
        self.recipe, self.step = recipe, step

    @property
    def num_classes(self) -> int:
        """Classes the generator is conditioned on (0 for a run that has none)."""
        return getattr(self.recipe, "num_classes", 0)

    def capability(self, kind: type[C], command: str = "This command") -> C:
        """The run's recipe as ``kind`` (:mod:`gankit.recipes.capabilities`), or a clear
        refusal when its recipe cannot do that."""
        return require(self.recipe, kind, command, str(self.path))

    @property
    def generator(self) -> SamplesFromNoise:
        """The recipe as a sampler from noise (refused for recipes that are not)."""
        return self.capability(SamplesFromNoise, "Sampling")

    def labels_for(self, n: int, labels: int | torch.Tensor | None) -> torch.Tensor | None:
        """Check and expand requested classes: one class for all, one per sample, or balanced."""
        if labels is None:
            return balanced_labels(n, self.num_classes) if self.num_classes else None
        if not self.num_classes:
            raise GankitError(f"Run {str(self.path)!r} is not class-conditional; labels need a "
                              "run trained with model.conditional=projection or acgan.")
        labels = torch.as_tensor(labels, dtype=torch.long).cpu()
        labels = labels.expand(n) if labels.ndim == 0 else labels
        if labels.shape != (n,) or labels.min() < 0 or labels.max() >= self.num_classes:
            raise GankitError(f"Labels must be class numbers from 0 to {self.num_classes - 1} "
                              f"({', '.join(self.spec.class_names)}), one or one per sample.")
        return labels

    def translate(self, images: torch.Tensor | list[torch.Tensor],
                  direction: str = "AtoB") -> torch.Tensor | list[torch.Tensor]:
        """Translate images in [0, 1] — a batch ``(N, C, H, W)``, one ``(C, H, W)`` or a list of
        them, of any size and channels — with a translation run (``direction`` BtoA: back, for
        CycleGAN); the outputs are in [0, 1] at the inputs' sizes, in the same form."""
        from gankit.recipes.capabilities import Translates
        from gankit.translation.images import translate_unit

        recipe = self.capability(Translates, "Translating")
        if isinstance(images, torch.Tensor) and images.ndim == 3:
            return translate_unit(recipe, self.spec.normalize, [images], direction)[0]
        if isinstance(images, torch.Tensor) and images.ndim != 4:
            raise GankitError(f"Images to translate must be (N, C, H, W) or (C, H, W), got "
                              f"{tuple(images.shape)}.")
        out = translate_unit(recipe, self.spec.normalize, list(images), direction)
        return torch.stack(out) if isinstance(images, torch.Tensor) else out

    def sample_table(self, n: int, where: dict[str, Any] | None = None,
                     seed: int | None = None) -> pd.DataFrame:
        """``n`` synthetic rows of a table run as a DataFrame with the real table's columns;
        ``where`` ({column: value}) fixes categorical or boolean columns."""
        check_count(n)
        tables = self.capability(SamplesTables, "Sampling rows")
        seed = int.from_bytes(os.urandom(4), "little") if seed is None else seed
        return tables.sample_table(n, where, seed)

    def save_table(self, path: str | Path, n: int, where: dict[str, Any] | None = None,
                   seed: int | None = None) -> Path:
        """Write :meth:`sample_table`'s rows to a .csv, .tsv or .parquet file (atomically)."""
        from gankit.data.table import write_table
        from gankit.fileio import atomic_path

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in TABLE_SUFFIXES:
            raise GankitError(f"Output {str(path)!r} of a table run must end in "
                              f"{', '.join(TABLE_SUFFIXES)}.")
        rows = self.sample_table(n, where, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            write_table(rows, tmp, suffix)
        return path

    def sample(self, n: int, seed: int | None = None, use_ema: bool = True,
               batch_size: int = 500, labels: int | torch.Tensor | None = None) -> torch.Tensor:
        """``n`` samples on the CPU in the data's range (EMA generator weights when present).

        Conditional runs draw class ``labels`` (an int for all samples, or one per sample;
        default every class equally often, in the order 0, 1, …, K−1, 0, …). A request that
        would not fit in the free memory is refused; :meth:`save_samples` to an ``.npz``
        streams any number to disk.
        """
        self.check_memory(n)
        return torch.cat(list(self.sample_chunks(n, seed, use_ema, batch_size, labels)))

    def sample_chunks(self, n: int, seed: int | None = None, use_ema: bool = True,
                      batch_size: int = 500, labels: int | torch.Tensor | None = None,
                      ) -> Iterator[torch.Tensor]:
        """The samples of :meth:`sample`, ``batch_size`` at a time (the same values)."""
        check_count(n)
        sampler = self.generator
        classes = self.labels_for(n, labels)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        for start in range(0, n, batch_size):
            z = sampler.noise(min(batch_size, n - start), gen)
            part = None if classes is None else classes[start : start + len(z)].to(z.device)
            yield sampler.generate(z, use_ema=use_ema, labels=part).float().cpu()

    def check_memory(self, n: int) -> None:
        """Refuse ``n`` samples at once when they would not fit in half the free memory."""
        check_count(n)
        need = n * self.sample_bytes
        free = available_memory()
        if free is not None and need > free // 2:
            raise GankitError(f"{n:,} samples need {_gib(need)} of memory and {_gib(free)} is "
                              "free; ask for fewer, or write them to an .npz file, which is "
                              "streamed to disk in chunks.")

    @property
    def sample_bytes(self) -> int:
        """Bytes of one float32 sample."""
        return 4 * math.prod(self.spec.sample_shape)

    def save_samples(self, path: str | Path, n: int, seed: int | None = None,
                     use_ema: bool = True, labels: int | torch.Tensor | None = None,
                     progress: bool = False) -> Path:
        """Write ``n`` samples as a PNG grid (or scatter for 2D points) or an ``.npz``.

        A conditional run's grid has one row per class (``n // K`` each) unless ``labels``
        picks the classes;
        its ``.npz`` also holds the ``labels``. An ``.npz`` is streamed to disk in chunks
        (any size that fits on the disk); a picture holds at most :data:`MAX_PICTURE` samples.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".png", ".npz"):
            raise GankitError(f"Output {str(path)!r} must end in .png or .npz.")
        check_count(n)
        if suffix == ".npz":
            return self._save_npz(path, n, seed, use_ema, labels, progress)
        if n > MAX_PICTURE:
            raise GankitError(f"A picture shows at most {MAX_PICTURE:,} samples (asked for "
                              f"{n:,}); write them to an .npz file instead.")
        nrow = None
        if labels is None and self.num_classes:
            labels, nrow = class_rows(n, self.num_classes)
            n = len(labels)
        samples = self.sample(n, seed, use_ema, labels=self.labels_for(n, labels))
        if self.spec.kind == "points":
            centres = self.facts.get("mode_centres")
            return save_scatter(samples, None, path, torch.tensor(centres) if centres else None,
                                title=f"{n} samples")
        return save_image_grid(samples, path, normalize=self.spec.normalize, nrow=nrow)

    def _save_npz(self, path: Path, n: int, seed: int | None, use_ema: bool,
                  labels: int | torch.Tensor | None, progress: bool) -> Path:
        classes = self.labels_for(n, labels)
        need = n * self.sample_bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(path.parent).free
        if need > free:
            raise GankitError(f"{n:,} samples take up to {_gib(need)} in {str(path)!r} and only "
                              f"{_gib(free)} is free on that disk; ask for fewer.")
        chunks = self.sample_chunks(n, seed, use_ema, labels=classes)
        bar = tqdm(chunks, total=math.ceil(n / 500), unit="batch", desc="sampling",
                   disable=not progress or n <= 5000, leave=False)
        extra = {"normalize": np.array(self.spec.normalize)}
        if classes is not None:
            extra["labels"] = classes.numpy()
        return write_npz_stream(path, "x", (n, *self.spec.sample_shape),
                                (c.numpy() for c in bar), extra)


#: the most samples one picture (grid or scatter) shows
MAX_PICTURE = 10_000


def check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise GankitError(f"The number of samples must be a whole number of at least 1 "
                          f"(got {n!r}).")


def available_memory() -> int | None:
    """Bytes of memory free for new allocations (None where the system does not say)."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**28 else f"{n / 2**20:,.0f} MiB"


def load(run_dir: str | Path, device: str = "cpu") -> Run:
    """Load a run folder's config and its latest checkpoint, or a model folder written by
    ``gankit export-model`` (a :class:`Run` that can sample and nothing else, see
    :mod:`gankit.share.exported`)."""
    path = Path(run_dir)
    if is_model_export(path):
        return load_export(path, device)
    cfg, spec, facts = rundir.read_run_dir(path)
    recipe = RECIPES.get(cfg.recipe)(cfg, spec, resolve_device(device))
    found = load_latest(path / rundir.CHECKPOINTS)
    if found is None:
        raise GankitError(f"Run folder {str(path)!r} has no checkpoint yet; train it first.")
    step, state, _ = found
    load_networks(recipe, state, path)
    return Run(path, cfg, spec, facts, recipe, step)
