"""gankit's CTGAN and TVAE side by side with the reference implementation (the ``ctgan``
package from PyPI) on one table: the same training rows, the same machine, the same judges.

Each method trains on the training split of the table source (``adult``: SDGym's split) and
draws as many rows as it trained on; gankit's :func:`gankit.tables.evaluate.judge` scores
every one of them against the same held-out rows (quality, detection, machine-learning efficacy,
distance to the closest record). Training time is the whole fit: reading nothing (the rows are
in memory), fitting the transformer, and the training steps. The reference is given the same
epochs: ``epochs = steps · batch / rows``.

    pip install --no-deps ctgan==0.12.1 rdt==2.0.0 && pip install faker   # the reference
    python benchmarks/bench_tables.py --data-dir /work/shared/data --methods gankit-ctgan \\
        ctgan-package gankit-tvae tvae-package

Prints a Markdown table (stdout) and writes it with the JSON results beside ``--out``. Methods
run by another process into the same ``--out`` (same table and seed) are kept in the table, so two
processes can measure two methods side by side, one core each:

    OMP_NUM_THREADS=1 python benchmarks/bench_tables.py --data-dir ... --methods ctgan-package &
    OMP_NUM_THREADS=1 python benchmarks/bench_tables.py --data-dir ... --methods gankit-ctgan
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from stopping import progress, run

METHODS = ("gankit-ctgan", "ctgan-package", "gankit-tvae", "tvae-package")


def gankit_fit(preset: str, data_dir: str, steps: int | None, out: Path) -> tuple[Any, float]:
    """Train a gankit preset; the loaded run and the seconds its training took."""
    import gankit

    overrides: dict[str, Any] = {"data": {"path": data_dir}}
    if steps:
        overrides["train"] = {"steps": steps}
    start = time.perf_counter()
    loaded = gankit.train(preset, out, progress=False, **overrides)
    return loaded, time.perf_counter() - start


def reference_fit(kind: str, train: Any, discrete: list[str], epochs: int,
                  seed: int) -> tuple[Any, float]:
    """Fit the ``ctgan`` package's CTGAN or TVAE (its defaults, on the CPU)."""
    from ctgan import CTGAN, TVAE

    torch.manual_seed(seed)
    model = (CTGAN(epochs=epochs, enable_gpu=False) if kind == "ctgan"
             else TVAE(epochs=epochs, enable_gpu=False))
    start = time.perf_counter()
    model.fit(train, discrete)
    return model, time.perf_counter() - start


def row(name: str, seconds: float, judged: dict[str, Any]) -> dict[str, Any]:
    f, e, p = judged["fidelity"], judged["efficacy"], judged["privacy"]
    return {"method": name, "threads": torch.get_num_threads(),
            "train_seconds": round(seconds, 1),
            "quality": f["quality"], "column_shapes": f["column_shapes"],
            "column_pair_trends": f["column_pair_trends"],
            "detection": judged["detection"]["score"], "f1": e["synthetic"]["mean"],
            "f1_real": e["real"]["mean"], "dcr_median": p["synthetic"]["median"],
            "dcr_holdout_median": p["holdout"]["median"], "copies": p["copies"]}


def markdown(rows: list[dict[str, Any]], data: str) -> str:
    lines = [f"Tables on {data}: training time, and the judges of `gankit eval` on the "
             "held-out rows.", "",
             "| method | threads | training | quality | column shapes | pair trends | detection | "
             "ML efficacy F1 (real: {:.3f}) | DCR median (held-out: {:.4f}) | copies |".format(
                 rows[0]["f1_real"], rows[0]["dcr_holdout_median"]),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['threads']} | {r['train_seconds']:.0f} s | "
                     f"{r['quality']:.4f} | {r['column_shapes']:.4f} | "
                     f"{r['column_pair_trends']:.4f} | {r['detection']:.4f} | {r['f1']:.4f} | "
                     f"{r['dcr_median']:.4f} | {100 * r['copies']:.2f} % |")
    return "\n".join(lines) + "\n"


def kept_rows(out: Path, data: str, seed: int, methods: list[str]) -> list[dict[str, Any]]:
    """The rows of an earlier run into ``out`` (same table and seed) of the methods not run now:
    methods can be measured by separate processes side by side and tabled together."""
    if not out.exists():
        return []
    earlier = json.loads(out.read_text())
    if earlier.get("data") != data or earlier.get("seed") != seed:
        return []
    return [r for r in earlier["rows"] if r["method"] not in methods]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="adult", choices=["adult", "census"])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--steps", type=int, default=None,
                   help="training steps of every method (default: the presets')")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("bench_tables.json"))
    args = p.parse_args()

    from gankit.config import build_config
    from gankit.data import DATASETS
    from gankit.data.table import table_rows
    from gankit.tables.columns import detect_columns
    from gankit.tables.evaluate import judge

    cfg = build_config(f"{args.data}-ctgan", None, {"data": {"path": args.data_dir}})
    options = DATASETS.get(cfg.data.name).options.model_validate(cfg.data.options)
    train, test = table_rows(cfg.data, "train"), table_rows(cfg.data, "test")
    columns = detect_columns(train, discrete=options.discrete, drop=options.drop,
                             max_categories=options.max_categories)
    target = options.target or columns[-1].name
    rows: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="bench-tables-"))
    for method in args.methods:
        kind = "ctgan" if "ctgan" in method else "tvae"
        preset = f"{args.data}-{kind}"
        steps = args.steps or build_config(preset, None, {}).train.steps
        progress(f"{method}: training ({steps:,} steps of {cfg.train.batch_size})")
        if method.startswith("gankit"):
            loaded, seconds = gankit_fit(preset, args.data_dir, args.steps, work / method)
            sample = lambda n, loaded=loaded: loaded.sample_table(n, seed=args.seed)  # noqa: E731
        else:
            discrete = [c.name for c in columns if not c.numeric]
            epochs = max(1, round(steps * cfg.train.batch_size / len(train)))
            model, seconds = reference_fit(kind, train, discrete, epochs, args.seed)
            sample = model.sample
        progress(f"{method}: sampling and judging")
        judged = judge(train, test, sample(len(train)), columns, target, args.seed)
        rows.append(row(method, seconds, judged))
        print(markdown(rows[-1:], args.data).splitlines()[-1], flush=True)
    rows = sorted(kept_rows(args.out, args.data, args.seed, args.methods) + rows,
                  key=lambda r: METHODS.index(r["method"]))
    table = markdown(rows, args.data)
    result = {"data": args.data, "steps": args.steps, "seed": args.seed, "rows": rows,
              "machine": platform.processor() or platform.machine()}
    args.out.write_text(json.dumps(result, indent=1))
    args.out.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    run(main, "no result file was written; the rows above were measured.")
