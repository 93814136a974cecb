"""The run folder: the product of training and the input of every other command."""

from __future__ import annotations

import json
import time
from pathlib import Path

from gankit.config import RunConfig, migrate, read_yaml, validate
from gankit.errors import GankitError
from gankit.fileio import atomic_write_text, unused_path
from gankit.layout import CHECKPOINTS, CONFIG, DATASET, METRICS, SAMPLES  # noqa: F401
from gankit.models import DataSpec


def default_run_dir(cfg: RunConfig, root: str | Path = "runs") -> Path:
    """``runs/<preset>-<YYYYmmdd-HHMMSS>``, with a numeric suffix if that exists already."""
    return unused_path(Path(root) / f"{cfg.preset or cfg.data.name}-"
                                     f"{time.strftime('%Y%m%d-%H%M%S')}")


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG).is_file() and (path / DATASET).is_file()


def read_run_dir(path: str | Path) -> tuple[RunConfig, DataSpec, dict]:
    """The config, data spec and extra data facts of an existing run folder."""
    path = Path(path)
    if not path.is_dir():
        raise GankitError(f"Run folder {str(path)!r} does not exist.")
    if not is_run_dir(path):
        raise GankitError(f"{str(path)!r} is not a gankit run folder (no {CONFIG} and "
                          f"{DATASET}); point at a folder made by 'gankit train'.")
    cfg = validate(migrate(read_yaml(path / CONFIG)))
    facts = json.loads((path / DATASET).read_text())
    spec = DataSpec(name=facts.pop("name"), kind=facts.pop("kind"),
                    sample_shape=tuple(facts.pop("sample_shape")),
                    normalize=facts.pop("normalize"),
                    class_names=tuple(facts.pop("class_names")), codec=facts.pop("codec", None))
    return cfg, spec, facts


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop logged lines after ``last_step`` (logged after the checkpoint a resume starts from)."""
    file = path / METRICS
    if not file.exists():
        return
    keep = []
    for line in file.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= last_step:
                keep.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    atomic_write_text(file, "".join(f"{line}\n" for line in keep))
