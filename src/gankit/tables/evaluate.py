"""``gankit eval`` of a table run: synthetic rows against the real held-out split.

As many synthetic rows as the training split holds (``-n`` changes it) are drawn with the
evaluation seed and judged four ways (:mod:`gankit.tables.quality`,
:mod:`gankit.tables.utility`):

- *fidelity*: SDMetrics' quality report (column shapes, column-pair trends, their mean)
  against the held-out test rows;
- *detection*: a logistic regression told to tell held-out real rows from synthetic ones,
  scored ``1 − (2·max(AUC, 0.5) − 1)`` (1: indistinguishable);
- *machine-learning efficacy*: SDGym's four binary classifiers trained on the synthetic rows and
  tested on the held-out rows (F1 of the rarer target class), beside the same trained on the
  real training rows;
- *privacy*: distance to the closest training record of synthetic rows against that of
  held-out real rows, and the share of synthetic rows that copy a training row exactly.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from gankit.errors import GankitError

if TYPE_CHECKING:
    import pandas as pd

    from gankit.tables.columns import ColumnInfo


def evaluate_table_run(run: Any, num_generated: int | None, seed: int | None,
                       progress: bool = True) -> dict[str, Any]:
    """Evaluate a loaded table :class:`gankit.run.Run`; the JSON-ready result."""
    from tqdm.auto import tqdm

    from gankit.data.table import table_rows
    from gankit.tables.columns import ColumnInfo

    started = time.perf_counter()
    seed = 0 if seed is None else seed
    columns = [ColumnInfo.from_json(c) for c in run.spec.codec["columns"]]
    target = run.spec.codec["target"]
    steps = tqdm(total=5, desc="table evaluation", unit="part", disable=not progress,
                 leave=False)
    with steps:
        steps.set_postfix_str("reading the real rows")
        train = table_rows(run.config.data, "train")
        test = table_rows(run.config.data, "test")
        n = num_generated or len(train)
        steps.update(1)
        steps.set_postfix_str(f"sampling {n:,} rows")
        synthetic = run.sample_table(n, seed=seed)
        judged = judge(train, test, synthetic, columns, target, seed, steps)
    return {
        "run": str(run.path), "step": run.step, "kind": "table",
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "protocol": {"generated": n, "real_train": len(train), "real_test": len(test),
                     "seed": seed, "target": target,
                     "fidelity": "SDMetrics 0.32 QualityReport definitions, against the test "
                                 "rows",
                     "detection": "logistic regression, 3 seeded folds, test rows vs "
                                  "synthetic",
                     "efficacy": "SDGym binary classifiers: train on synthetic (or real "
                                 "training rows), F1 on the test rows",
                     "privacy": "distance to the closest training row, synthetic vs test "
                                "rows"},
        "table": judged,
        "seconds": round(time.perf_counter() - started, 1),
    }


def judge(train: pd.DataFrame, test: pd.DataFrame, synthetic: pd.DataFrame,
          columns: list[ColumnInfo], target: str, seed: int = 0, steps: Any = None
          ) -> dict[str, Any]:
    """The four judgements of ``synthetic`` rows (see the module docstring), given the real
    training and held-out rows; ``steps`` (a progress bar) advances by one per judgement."""
    from gankit.tables.quality import detection, quality
    from gankit.tables.utility import distance_to_closest_record, efficacy

    def advance(what: str) -> None:
        if steps is not None:
            steps.update(1)
            steps.set_postfix_str(what)

    advance("fidelity and detection")
    fidelity = quality(test, synthetic, columns, seed=seed)
    detect = detection(test, synthetic, columns, seed=seed)
    if fidelity["quality"] != fidelity["quality"]:
        raise GankitError("The quality score is undefined for this table (no column could be "
                          "compared).")
    advance("machine-learning efficacy")
    ml = efficacy(train, synthetic, test, columns, target, seed=seed)
    advance("distances to the closest record")
    privacy = distance_to_closest_record(train, synthetic, test, columns, seed=seed)
    advance("done")
    return {"fidelity": fidelity, "detection": detect, "efficacy": ml, "privacy": privacy}


def table_markdown(result: dict[str, Any]) -> str:
    """The Markdown report of a table evaluation: protocol, then the score table."""
    p, t = result["protocol"], result["table"]
    f, d, e, q = t["fidelity"], t["detection"], t["efficacy"], t["privacy"]
    lines = [f"# Evaluation of `{result['run']}` at step {result['step']:,}", "",
             f"{p['generated']:,} synthetic rows (seed {p['seed']}) against "
             f"{p['real_test']:,} held-out real rows ({p['real_train']:,} training rows); "
             f"machine-learning efficacy predicts `{p['target']}` "
             f"(positive class {e['positive']!r}).", "",
             "| score | synthetic | real | |", "|---|---|---|---|",
             f"| quality (fidelity) | {f['quality']:.4f} | | mean of the two below |",
             f"| column shapes | {f['column_shapes']:.4f} | | KS / TV complement |",
             f"| column-pair trends | {f['column_pair_trends']:.4f} | | correlation / "
             "contingency similarity |",
             f"| detection ↑ | {d['score']:.4f} | | 1 = indistinguishable |",
             f"| ML efficacy (mean F1) | {e['synthetic']['mean']:.4f} | "
             f"{e['real']['mean']:.4f} | trained on synthetic / on real rows |"]
    for name in ("decision_tree", "adaboost", "logistic_regression", "mlp"):
        lines.append(f"| F1, {name.replace('_', ' ')} | {e['synthetic'][name]:.4f} | "
                     f"{e['real'][name]:.4f} | |")
    lines += [f"| DCR median | {q['synthetic']['median']:.4f} | "
              f"{q['holdout']['median']:.4f} | to the closest training row (real: held-out "
              "rows) |",
              f"| DCR 5th percentile | {q['synthetic']['p5']:.4f} | "
              f"{q['holdout']['p5']:.4f} | |",
              f"| exact copies of training rows | {100 * q['copies']:.2f} % | "
              f"{100 * q['holdout_copies']:.2f} % | |", "",
              "Protocol:", ""]
    lines += [f"- **{k}**: {v}" for k, v in p.items() if k in
              ("fidelity", "detection", "efficacy", "privacy")]
    return "\n".join(lines) + "\n"
