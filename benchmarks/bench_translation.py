"""The image-translation benchmarks of issue 19, each suite by one command: train the runs it
compares (resuming half-finished ones, reusing finished ones), evaluate each with ``gankit eval``
on the test split, and print one Markdown table.

    python benchmarks/bench_translation.py ablation --data-dir /work/shared/data --out DIR

Suites (run folders are named ``PRESET-VARIANT`` inside ``--out``, so suites share runs):

- ``ablation``: pix2pix-edges trained with L1 alone, cGAN alone and L1 + cGAN (the paper's
  Table 1 on MNIST edges → digits);
- ``unpaired``: pix2pix-edges (paired) beside cyclegan-edges (unpaired), both directions of
  CycleGAN, on the same test pairs (the CycleGAN paper's Table 3);
- ``inpaint``, ``colour``, ``superres``: pix2pix-inpaint / -colour / -superres beside the same
  network trained with L1 alone, and the do-nothing baseline (the masked digit, the grey input,
  the bicubic up-scaling).

Training time is the run's own ``elapsed_s`` (its metrics.jsonl). Give ``OMP_NUM_THREADS`` as
the table should say; two suites may run side by side into one ``--out`` (one core each) as long
as they do not share a run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from stopping import ROWS_SO_FAR, progress, run

L1 = {"loss": {"variant": "l1"}}
CGAN = {"loss": {"variant": "cgan"}}
SUITES: dict[str, list[tuple[str, str, str, dict[str, Any]]]] = {
    "ablation": [("L1", "pix2pix-edges", "l1", L1), ("cGAN", "pix2pix-edges", "cgan", CGAN),
                 ("L1 + cGAN", "pix2pix-edges", "l1+cgan", {})],
    "unpaired": [("pix2pix (paired)", "pix2pix-edges", "l1+cgan", {}),
                 ("CycleGAN (unpaired)", "cyclegan-edges", "default", {})],
    "inpaint": [("L1", "pix2pix-inpaint", "l1", L1),
                ("L1 + cGAN", "pix2pix-inpaint", "l1+cgan", {})],
    "colour": [("L1", "pix2pix-colour", "l1", L1), ("L1 + cGAN", "pix2pix-colour", "l1+cgan", {})],
    "superres": [("L1", "pix2pix-superres", "l1", L1),
                 ("L1 + cGAN", "pix2pix-superres", "l1+cgan", {})],
}


def finished(run_dir: Path) -> bool:
    from gankit.config import read_yaml

    if not (run_dir / "config.yaml").is_file():
        return False
    steps = read_yaml(run_dir / "config.yaml")["train"]["steps"]
    return (run_dir / "checkpoints" / f"step_{steps:07d}.safetensors").is_file()


def trained(preset: str, run_dir: Path, data_dir: str, overrides: dict[str, Any]) -> Path:
    """The run folder of ``preset`` with ``overrides``: trained, resumed or as it was."""
    import gankit

    if finished(run_dir):
        return run_dir
    if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()):
        progress(f"{run_dir.name}: resuming")
        gankit.resume(run_dir, progress=False)
        return run_dir
    progress(f"{run_dir.name}: training")
    gankit.train(preset, run_dir, overwrite=run_dir.exists(), progress=False,
                 data={"path": data_dir}, **overrides)
    return run_dir


def evaluated(run_dir: Path) -> dict[str, Any]:
    """The run's eval.json at its last step (evaluated now if missing or older)."""
    import gankit
    from gankit.run import load

    path = run_dir / "eval.json"
    if path.is_file():
        result = json.loads(path.read_text())
        if result.get("step") == load(run_dir).step and result.get("kind") == "translation":
            return result
    progress(f"{run_dir.name}: evaluating")
    return gankit.evaluate(run_dir, progress=False)


def elapsed(run_dir: Path) -> float:
    times = [json.loads(line).get("elapsed_s") for line in
             (run_dir / "metrics.jsonl").read_text().splitlines()]
    return max(t for t in times if t is not None)


COLUMNS = [("L1 ↓", "vs_target", "l1", "{:.4f}"), ("PSNR ↑", "vs_target", "psnr", "{:.2f}"),
           ("SSIM ↑", "vs_target", "ssim", "{:.4f}"),
           ("masked PSNR ↑", "vs_target", "masked_psnr", "{:.2f}"),
           ("FID ↓", "classifier", "fid", "{:.2f}"), ("KID ↓", "classifier", "kid_mean", "{:.4f}"),
           ("recogniser ↑", "classifier", "recogniser_score", "{:.1%}"),
           ("label flips ↓", "classifier", "label_flip_rate", "{:.1%}"),
           ("cycle L1 ↓", None, "cycle_l1", "{:.4f}")]


def cells(scores: dict[str, Any], present: list[tuple[str, str | None, str, str]]) -> list[str]:
    out = []
    for _, part, key, fmt in present:
        source = scores if part is None else scores.get(part, {})
        out.append(fmt.format(source[key]) if key in source else "")
    return out


def table(rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    present = [c for c in COLUMNS if any(
        c[2] in (s if c[1] is None else s.get(c[1], {})) for _, _, s in rows)]
    head = "| method | training | " + " | ".join(c[0] for c in present) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(present)]
    lines += [f"| {name} | {time} | " + " | ".join(cells(s, present)) + " |"
              for name, time, s in rows]
    return "\n".join(lines) + "\n"


def rows_of(label: str, run_dir: Path, result: dict[str, Any]) -> list[tuple[str, str, dict]]:
    minutes = f"{elapsed(run_dir) / 60:.1f} min"
    rows = []
    for direction, scores in result["directions"].items():
        name = label if len(result["directions"]) == 1 else f"{label} {direction}"
        rows.append((name, minutes, scores))
    return rows


def baselines(result: dict[str, Any]) -> list[tuple[str, str, dict]]:
    """The do-nothing row (the input itself) and the real targets' recogniser score."""
    scores = result["directions"]["AtoB"]
    rows = []
    clf = scores.get("classifier", {})
    if "input_vs_target" in scores or "recogniser_inputs" in clf:  # grey inputs: no L1, a score
        rows.append(("input (do nothing)", "", {
            "vs_target": scores.get("input_vs_target", {}),
            "classifier": {"recogniser_score": clf["recogniser_inputs"]}
            if "recogniser_inputs" in clf else {}}))
    if "recogniser_real_targets" in clf:
        rows.append(("real targets", "", {"classifier": {
            "recogniser_score": clf["recogniser_real_targets"]}}))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("suite", choices=sorted(SUITES))
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    rows: list[tuple[str, str, dict]] = []
    last: dict[str, Any] = {}
    for label, preset, variant, overrides in SUITES[args.suite]:
        run_dir = trained(preset, args.out / f"{preset}-{variant}", args.data_dir, overrides)
        last = evaluated(run_dir)
        rows += rows_of(label, run_dir, last)
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    rows += baselines(last)
    text = table(rows)
    (args.out / f"{args.suite}.md").write_text(text)
    print(f"\n{args.suite}: {SUITES[args.suite][0][1]} test split\n\n{text}")


if __name__ == "__main__":
    run(main, ROWS_SO_FAR)
