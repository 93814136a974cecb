"""The Python API: ``gankit.train(config)`` and ``gankit.load(run_dir)``, and what the
``gankit`` commands share with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit.config import RunConfig, build_config, deep_merge, validate
from gankit.errors import GankitError
from gankit.run import Run, load
from gankit.training.trainer import Trainer, resume_run, start_run


def train(config: RunConfig | dict[str, Any] | str | None = None, out: str | Path | None = None,
          overwrite: bool = False, progress: bool = True, **overrides: Any) -> Run:
    """Train a run and return it loaded.

    ``config`` is a :class:`RunConfig`, a raw dictionary, a preset name, or None (the default
    preset); keyword ``overrides`` are config sections, e.g. ``train={"steps": 300}``.
    """
    trainer = start(config, out, overwrite, progress, overrides=overrides)
    return load(trainer.fit(), trainer.cfg.device)


def start(config: RunConfig | dict[str, Any] | str | None = None, out: str | Path | None = None,
          overwrite: bool = False, progress: bool = True, config_file: str | Path | None = None,
          overrides: dict[str, Any] | None = None) -> Trainer:
    """What :func:`train` does before it trains: check the config, create the run folder and
    return the :class:`~gankit.training.trainer.Trainer`, whose ``fit()`` trains the run
    (``gankit train`` says what it will do in between). ``config`` as for :func:`train`;
    ``config_file`` is a YAML file merged over the preset (``gankit train --config``) and
    ``overrides`` (config sections) over both."""
    overrides = overrides or {}
    if isinstance(config, RunConfig):
        if config_file is not None:
            raise GankitError("A config file goes with a preset name or a dictionary, not with "
                              "a RunConfig.")
        cfg = validate({**config.model_dump(mode="json"), **overrides}) if overrides else config
    elif isinstance(config, dict):
        preset = config.get("preset")
        cfg = build_config(preset, config_file, deep_merge(config, overrides))
    else:
        cfg = build_config(config, config_file, overrides)
    return start_run(cfg, Path(out) if out else None, overwrite, progress)


def resume(run_dir: str | Path, steps: int | None = None, progress: bool = True) -> Run:
    """Continue a run from its latest checkpoint (optionally to a new total of ``steps``)."""
    trainer = resume_run(Path(run_dir), steps, progress)
    return load(trainer.fit(), trainer.cfg.device)


def evaluate(run_dir: str | Path, device: str = "cpu", write: bool = True,
             **options: Any) -> dict[str, Any]:
    """Evaluate a run as ``gankit eval`` does; ``options`` are :class:`EvalOptions` fields
    (e.g. ``extractors=("inception",)``, ``num_generated=5000``). Writes eval.json and eval.md
    into the run folder unless ``write`` is False, and returns the result."""
    from gankit.metrics.evaluate import EvalOptions, evaluate_run
    from gankit.metrics.summary import write_eval
    from gankit.training.trainer import resolve_device

    run = load(run_dir, device)
    result = evaluate_run(run, EvalOptions(**options), resolve_device(device))
    if write:
        write_eval(run.path, result)
    return result
