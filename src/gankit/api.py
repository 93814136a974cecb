"""The Python API: ``gankit.train(config)`` and ``gankit.load(run_dir)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit.config import RunConfig, build_config, deep_merge, validate
from gankit.run import Run, load
from gankit.training.trainer import resume_run, start_run


def train(config: RunConfig | dict[str, Any] | str | None = None, out: str | Path | None = None,
          overwrite: bool = False, progress: bool = True, **overrides: Any) -> Run:
    """Train a run and return it loaded.

    ``config`` is a :class:`RunConfig`, a raw dictionary, a preset name, or None (the default
    preset); keyword ``overrides`` are config sections, e.g. ``train={"steps": 300}``.
    """
    if isinstance(config, RunConfig):
        cfg = validate({**config.model_dump(mode="json"), **overrides}) if overrides else config
    elif isinstance(config, dict):
        preset = config.get("preset")
        cfg = build_config(preset, None, deep_merge(config, overrides))
    else:
        cfg = build_config(config, None, overrides)
    run_dir = start_run(cfg, Path(out) if out else None, overwrite, progress).fit()
    return load(run_dir, cfg.device)


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
