"""Set up a run (new or resumed), train it, and write the run folder's final outputs."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from gankit.config import RunConfig
from gankit.data import Dataset, load_dataset
from gankit.errors import GankitError
from gankit.fileio import atomic_write_text
from gankit.models import DataSpec
from gankit.recipes import RECIPES, Recipe
from gankit.recipes.base import HookContext
from gankit.report import rebuild
from gankit.training import rundir
from gankit.training.checkpoint import load_latest
from gankit.training.distributed import barrier, join, leave, wrap
from gankit.training.guard import Diverged, DivergenceGuard
from gankit.training.hooks import Checkpointer, LineWriter, MetricsLogger, PictureWriter
from gankit.training.interrupt import GracefulStop, Interrupted, StopRequested
from gankit.training.loop import run_loop
from gankit.training.records import RecordLog, check_sinks, open_sinks
from gankit.training.runfolder import RunFolder
from gankit.training.state import capture_state, restore_state


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GankitError("CUDA was asked for (device=cuda) but no GPU is available; use "
                          "--device cpu or auto.")
    return torch.device(name)


def spec_of(dataset: Dataset) -> DataSpec:
    return DataSpec(name=dataset.name, kind=dataset.kind, sample_shape=dataset.sample_shape,
                    normalize=dataset.normalize, class_names=tuple(dataset.class_names or ()),
                    codec=dataset.spec_codec())


def data_facts(dataset: Dataset) -> dict[str, Any]:
    """What later commands need to know about the data besides its shape (JSON-ready)."""
    facts: dict[str, Any] = {"num_samples": len(dataset), "info": dataset.info}
    if dataset.mode_centres is not None:
        facts["mode_centres"] = dataset.mode_centres.tolist()
        facts["mode_std"] = dataset.mode_std
    return facts


class Trainer:
    """One training run over one run folder."""

    def __init__(self, cfg: RunConfig, folder: RunFolder | Path, dataset: Dataset,
                 progress: bool) -> None:
        self.folder = folder if isinstance(folder, RunFolder) else RunFolder(folder, folder, False)
        self.cfg, self.run_dir = cfg, self.folder.path
        self.world, self.device = join(resolve_device(cfg.device))
        self.progress = progress and self.world.is_main
        self.spec = spec_of(dataset)
        torch.manual_seed(cfg.seed)
        self.recipe: Recipe = RECIPES.get(cfg.recipe)(cfg, self.spec, self.device)
        if self.world.enabled:
            self.recipe.distribute(lambda module: wrap(module, self.world, self.device))
            torch.manual_seed(cfg.seed + self.world.rank)  # own noise and dropout per rank
        self.sampler = self.recipe.sampler(dataset, cfg.train.batch_size, cfg.seed, self.world,
                                           self.device)
        self.pictures = self.recipe.pictures(dataset) if self.world.is_main else None
        self.checkpointer = Checkpointer(self.run_dir / rundir.CHECKPOINTS,
                                         cfg.train.checkpoint_every, cfg.train.keep_checkpoints,
                                         lambda step: capture_state(self.recipe, self.sampler,
                                                                    step, self.world),
                                         write=self.world.is_main)
        self.guard = DivergenceGuard(self.device, cfg.train.log_every, self.world)
        self.lines = LineWriter()
        sinks = open_sinks(cfg, self.run_dir, self.recipe.scalars) if self.world.is_main else []
        self.records = RecordLog(self.run_dir / rundir.METRICS, sinks, write=self.world.is_main)
        self.recipe_hooks = self.recipe.hooks(HookContext(
            dataset, self.run_dir, progress, self.lines.write, self.world.is_main, self.records))
        self.step = 0

    def restore_latest(self) -> int:
        """Load the newest checkpoint (none yet: start again from step 0); returns its step."""
        found = load_latest(self.run_dir / rundir.CHECKPOINTS)
        if found is None:
            self.step = 0
        else:
            self.step, state, _ = found
            restore_state(self.recipe, self.sampler, state, self.world, self.run_dir)
        self.records.rewind(self.step)  # metrics.jsonl and every sink (rank 0)
        barrier(self.world)
        return self.step

    def _track(self, step: int, scalars: dict[str, torch.Tensor]) -> None:
        """The first hook: remember the last finished step."""
        self.step = step

    def fit(self) -> Path:
        """Train to ``train.steps`` and write the final outputs; returns the run folder."""
        try:
            self._fit()
            return self.folder.commit()
        finally:
            self.folder.release()
            leave()

    def _fit(self) -> None:
        cfg, total = self.cfg, self.cfg.train.steps
        bar = tqdm(total=total, initial=self.step, unit="step", dynamic_ncols=True,
                   disable=not self.progress, mininterval=0.5, desc=self.run_dir.name)
        logger = MetricsLogger(self.records, cfg.train.log_every,
                               cfg.train.sample_every,
                               lambda: cfg.train.batch_size * self.recipe.batches_per_step,
                               self.recipe.scalars, bar, total, self.world)
        self.checkpointer.before_save = self.guard.check
        self.lines.bar = bar
        main_only = []
        if self.pictures is not None:
            main_only.append(PictureWriter(self.run_dir, self.pictures, cfg.train.sample_every,
                                           self.records))
            if self.step == 0:
                main_only[0](0)
        main_only += self.recipe_hooks
        stop = GracefulStop(self.device, cfg.train.log_every, self.world)
        start = self.step
        try:
            with stop:
                self._train_until_done(bar, [self._track, self.guard, logger, *main_only,
                                             self.checkpointer, stop])
        except StopRequested:
            self.checkpointer.save(self.step)
            raise Interrupted(f"Stopped after step {self.step}: {self._kept()}") from None
        except KeyboardInterrupt:
            raise Interrupted(f"Interrupted during step {self.step + 1}: {self._kept()}") from None
        except GankitError:
            raise
        except Exception as err:
            if self.step > start or not self.folder.fresh:
                raise
            self.records.close()
            self.folder.discard()  # a new run that failed at once leaves nothing behind
            if isinstance(err, OSError):
                raise
            raise GankitError(f"Training failed at its first step ({first_step_problem(err)}); "
                              "nothing was written.") from err
        finally:
            bar.close()
            self.records.close()
        self.checkpointer.save(self.step)
        self.sampler = None  # the training data is not needed for the final outputs: free it
        if self.world.is_main:
            self.finish()
        barrier(self.world)

    def _kept(self) -> str:
        """What an interrupted run left, and how to go on (for the message)."""
        last = self.checkpointer.last_good()
        where = f"--resume {self.run_dir}"
        kept = (f"the newest checkpoint is step {last[0]} ({last[1].name})" if last else
                "no checkpoint was written, so resuming starts again from step 0")
        text = f"{kept}; continue with 'gankit train {where}'."
        if self.folder.staged:
            text += (f" {str(self.folder.target)!r} was left as it was; the new run replaces it "
                     "when it finishes.")
        return text

    def _train_until_done(self, bar: tqdm, hooks: list) -> None:
        """Run the loop; on divergence stop with a clear message, or roll back and go on."""
        rollbacks = 0
        while True:
            try:
                self.step = run_loop(self.recipe, self.sampler, self.step, self.cfg.train.steps,
                                     hooks, bar)
                return
            except Diverged as err:
                last = self.checkpointer.last_good()
                if self.cfg.train.on_divergence != "rollback" or last is None or rollbacks >= 3:
                    where = f"step {last[0]} in {last[1]}" if last else "none"
                    raise Diverged(err.step, err.reason).with_message(
                        f"Training diverged: {err.reason} at step {err.step}; last good "
                        f"checkpoint: {where}. Lower the learning rates, or set "
                        "train.on_divergence=rollback.") from None
                rollbacks += 1
                self.restore_latest()
                self.guard.reset()
                factor = 0.5**rollbacks
                self.recipe.scale_learning_rates(factor)
                bar.reset(total=self.cfg.train.steps)
                bar.update(self.step)
                bar.write(f"Diverged at step {err.step} ({err.reason}); rolled back to step "
                          f"{self.step} with learning rates × {factor:g}.")

    def finish(self) -> None:
        """The recipe's final pictures, learning curves and the HTML report."""
        if self.pictures is not None:
            self.pictures.final(self.run_dir)
        rebuild(self.run_dir)


def first_step_problem(err: Exception) -> str:
    """What went wrong at a run's first step, in words a user can act on."""
    text = " ".join(str(err).split()) or type(err).__name__
    if "Expected more than 1 value per channel" in text:
        return ("batch normalisation needs at least 2 samples per batch and process; raise "
                "train.batch_size")
    return f"{type(err).__name__}: {text}"


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def start_run(cfg: RunConfig, out: Path | None, overwrite: bool, progress: bool) -> Trainer:
    """Validate everything that can fail, then create the run folder (never before)."""
    if out is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise GankitError("With several processes, name the run folder with --out so that "
                          "every process uses the same one.")
    check_sinks(cfg)
    target = Path(out) if out else rundir.default_run_dir(cfg)
    folder = RunFolder.for_new_run(target, overwrite, _is_main_process())
    try:
        dataset = load_dataset(cfg.data)
        trainer = Trainer(cfg, folder, dataset, progress)
        facts = json.dumps({**asdict(trainer.spec), **data_facts(dataset)}, indent=1)
        folder.create({rundir.CONFIG: cfg.to_yaml(), rundir.DATASET: facts})
    except BaseException:
        folder.release()
        raise
    barrier(trainer.world)
    return trainer


def resume_run(run_dir: Path, steps: int | None, progress: bool,
               log: dict[str, Any] | None = None) -> Trainer:
    """Continue a run from its newest checkpoint, to ``steps`` if given; ``log`` changes
    settings of the ``log`` section from here on (what is logged where, never the training)."""
    cfg, _, _ = rundir.read_run_dir(run_dir)
    before = cfg.log
    if steps is not None:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"steps": steps})})
    if log:
        cfg = cfg.model_copy(update={"log": cfg.log.model_validate(
            {**cfg.log.model_dump(), **log})})
    changed = steps is not None or cfg.log != before
    check_sinks(cfg)
    folder = RunFolder.for_resume(Path(run_dir), _is_main_process())
    try:
        trainer = Trainer(cfg, folder, load_dataset(cfg.data), progress)
        trainer.restore_latest()
        if changed and trainer.world.is_main:
            atomic_write_text(Path(run_dir) / rundir.CONFIG, cfg.to_yaml())
    except BaseException:
        folder.release()
        raise
    return trainer
