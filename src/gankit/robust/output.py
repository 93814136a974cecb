"""What ``gankit robustness`` writes: ``robustness.json`` (every number with its protocol and the
checks), ``robustness.md`` (tables), ``robustness.png`` (accuracy against ε) and
``examples.png`` (clean images, the perturbation magnified to the full range, adversarial
images). The folder appears complete or not at all; an earlier result is replaced only with
``--overwrite``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from gankit.fileio import check_output_folder, staged_folder
from gankit.viz import new_figure, save_figure, save_image_grid

RESULT = "robustness.json"


def markdown(result: dict[str, Any], class_names: list[str]) -> str:
    p = result["protocol"]
    attack = p["attack"]
    lines = [f"# Robustness of {p.get('model', 'the model')}", "",
             f"{attack['attack']} ({attack.get('norm', 'linf')}), "
             + ", ".join(f"{k} {v}" for k, v in attack.items() if k not in ("attack", "norm"))
             + f"; {p['samples']:,} images of {p.get('data', 'the data')}, pixels in [0, 1], "
             "model in eval mode.", "",
             "| ε | accuracy (%) |", "|---:|---:|"]
    lines += [f"| {r['eps']:g} | {r['accuracy']:.2f} |" for r in result["rows"]]
    lines += ["", "Per class (%):", "",
              "| ε | " + " | ".join(class_names) + " |",
              "|---:|" + "---:|" * len(class_names)]
    for r in result["rows"]:
        lines.append(f"| {r['eps']:g} | " + " | ".join(
            f"{r['per_class'].get(c, float('nan')):.1f}" for c in class_names) + " |")
    if "defense_gan" in result:
        d = result["defense_gan"]
        pa = d["protocol"]
        lines += ["", f"Defense-GAN (generator {pa['generator_run']}, projection "
                  f"{pa['projection']['steps']} steps × {pa['projection']['restarts']} starts; "
                  f"PGD-{pa['attack']['steps']} at ε {pa['attack']['eps']:g}; "
                  f"{pa['samples']:,} images):", "", "| model and attack | accuracy (%) |",
                  "|---|---:|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in d["accuracy"].items()]
    if "checks" in result:
        lines += ["", "Sanity checks (Carlini et al. 2019):", ""]
        lines += [f"- {'passed' if c['passed'] else '**FAILED**'}: {c['check']} — {c['detail']}"
                  for c in result["checks"]]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path) -> Path:
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    eps = [r["eps"] for r in result["rows"]]
    ax.plot(eps, [r["accuracy"] for r in result["rows"]], "o-", color="tab:red")
    ax.set_xlabel("ε (L∞, pixels in [0, 1])" if result["protocol"]["attack"].get("norm",
                                                                              "linf") == "linf"
                  else "ε (L2)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{result['protocol']['attack']['attack']} on {result['protocol']['samples']:,} "
                 "images")
    return save_figure(fig, path)


def examples_grid(clean: torch.Tensor, adversarial: torch.Tensor, path: Path) -> Path:
    """Rows: clean images, the perturbation (magnified), adversarial images."""
    delta = adversarial - clean
    scale = delta.abs().amax().clamp_min(1e-8)
    shown = torch.cat([clean, 0.5 + 0.5 * delta / scale, adversarial])
    return save_image_grid(shown, path, normalize="unit", nrow=len(clean))


def write(result: dict[str, Any], clean: torch.Tensor, out: Path, class_names: list[str],
          overwrite: bool = False) -> Path:
    """Write the result into ``out`` atomically (see the module docstring)."""
    out = Path(out)
    check_output_folder(out, overwrite, "gankit robustness result",
                        lambda p: (p / RESULT).is_file())
    with staged_folder(out) as tmp:
        examples = result.pop("examples", None)
        (tmp / RESULT).write_text(json.dumps(result, indent=1))
        (tmp / "robustness.md").write_text(markdown(result, class_names))
        plot(result, tmp / "robustness.png")
        if examples is not None:
            eps, adv = examples
            examples_grid(clean[: len(adv)], adv, tmp / "examples.png")
    return out
