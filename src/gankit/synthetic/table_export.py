"""``gankit export`` of a table run: a synthetic data set folder, ``synthetic.csv`` (or
``.parquet``) with the real table's columns beside ``manifest.json`` (the run, the step, the
seed, the conditions and each column's kind), written all at once or not at all."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from gankit.data.table import write_table
from gankit.errors import GankitError
from gankit.fileio import staged_folder
from gankit.run import Run
from gankit.synthetic.export import MANIFEST, _check_target

#: the formats of a table export, and their file names
TABLE_FILES = {"csv": "synthetic.csv", "parquet": "synthetic.parquet"}


def export_table(run: Run, out: str | Path, rows: int, fmt: str = "csv", seed: int = 0,
                 where: dict[str, Any] | None = None, overwrite: bool = False
                 ) -> tuple[Path, dict[str, Any]]:
    """Generate ``rows`` rows (``where`` fixes columns) and write the folder ``out``."""
    if fmt not in TABLE_FILES:
        raise GankitError(f"A table run exports as {' or '.join(TABLE_FILES)}, not {fmt!r}.")
    out = Path(out)
    _check_target(out, overwrite, run)  # before generating anything
    start = time.perf_counter()
    frame = run.sample_table(rows, where, seed)
    manifest = {"run": str(run.path), "step": run.step, "data": run.config.data.name,
                "kind": "table", "format": fmt, "rows": len(frame), "seed": seed,
                "where": where or {}, "file": TABLE_FILES[fmt],
                "columns": {c["name"]: c["kind"] for c in run.spec.codec["columns"]},
                "seconds": round(time.perf_counter() - start, 2)}
    with staged_folder(out) as tmp:
        write_table(frame, tmp / TABLE_FILES[fmt], f".{fmt}")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return out, manifest
