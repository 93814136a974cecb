"""Robust accuracy against ε, measured honestly: the protocol recorded, per class, and the
sanity checks of Carlini et al. 2019 ("On evaluating adversarial robustness") run beside it.

The checks flag a wrong or masked result:
- ``monotone in ε``: accuracy must not rise with ε;
- ``more steps``: PGD with twice the steps must not do better;
- ``PGD vs FGSM``: PGD must not do worse than FGSM at any ε;
- ``unbounded``: at ε = 1 (any image is reachable) the attack must drive accuracy to ≤ 1 %;
- ``gradient-free``: the Square attack must not beat the gradient attack by more than 5 points
  (a sign of gradient masking).
A failed check is printed and recorded beside the numbers; it never changes them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from gankit.robust.attacks import build_attack

#: tolerance of the checks, in accuracy points (one sample in 1,000 is 0.1)
TOLERANCE = 0.5
GRADIENT_FREE_MARGIN = 5.0


@dataclass
class RobustnessOptions:
    """What to run: the attack, its settings, the ε values, the samples, the checks."""

    eps: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3)
    attack: str = "pgd"
    norm: str = "linf"
    steps: int | None = None
    step_size: float | None = None
    restarts: int = 1
    batch_size: int = 500
    seed: int = 0
    checks: bool = True
    check_samples: int = 1000
    square_queries: int = 1000
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def accuracy_under(model: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: str, eps: float,
                   opts: RobustnessOptions, progress: bool = False, what: str = "",
                   **override: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample correctness ``(N,)`` under ``attack`` at ``eps`` and the adversarial images
    (``what`` goes before the progress bar's name, e.g. "check: ")."""
    settings = {"norm": opts.norm, "seed": opts.seed, **_attack_settings(attack, opts), **override}
    adversary = build_attack(attack, model, eps, **settings) if eps > 0 else None
    hits, advs = [], []
    chunks = list(zip(x.split(opts.batch_size), y.split(opts.batch_size), strict=True))
    for xb, yb in tqdm(chunks, desc=f"{what}{attack} ε={eps:g}", unit="batch", leave=False,
                       disable=not progress or len(chunks) < 2):
        adv = xb if adversary is None else adversary(xb, yb)
        with torch.no_grad():
            hits.append((model(adv).argmax(1) == yb).cpu())
        advs.append(adv.detach().cpu())
    return torch.cat(hits), torch.cat(advs)


def _attack_settings(attack: str, opts: RobustnessOptions) -> dict[str, Any]:
    if attack == "fgsm":
        return {}
    if attack == "square":
        return {"queries": opts.square_queries}
    out: dict[str, Any] = {"restarts": opts.restarts}
    if opts.steps is not None:
        out["steps"] = opts.steps
    if opts.step_size is not None and attack == "pgd":
        out["step_size"] = opts.step_size
    return out


def robustness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, class_names: list[str],
               opts: RobustnessOptions) -> dict[str, Any]:
    """Accuracy at every ε (overall and per class), the protocol, examples and the checks."""
    model.eval()
    started = time.perf_counter()
    rows, examples = [], None
    for eps in opts.eps:
        hits, adv = accuracy_under(model, x, y, opts.attack, eps, opts, opts.progress)
        rows.append({"eps": eps, "accuracy": 100 * float(hits.float().mean()),
                     "per_class": {name: 100 * float(hits[y.cpu() == k].float().mean())
                                   for k, name in enumerate(class_names)
                                   if bool((y.cpu() == k).any())}})
        if eps > 0:
            examples = (eps, adv[:16])
    protocol = {"attack": build_attack(opts.attack, model, max(opts.eps) or 0.1, norm=opts.norm,
                                       seed=opts.seed, **_attack_settings(opts.attack, opts))
                .protocol(), "samples": len(y), "eps": list(opts.eps),
                "batch_size": opts.batch_size, "seed": opts.seed, "model_mode": "eval",
                "pixels": "[0, 1]", **opts.extra}
    protocol["attack"].pop("eps", None)
    result: dict[str, Any] = {"protocol": protocol, "rows": rows}
    if opts.checks:
        result["checks"] = sanity_checks(model, x, y, rows, opts)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["examples"] = examples
    return result


def sanity_checks(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  rows: list[dict[str, Any]], opts: RobustnessOptions) -> list[dict[str, Any]]:
    """The checks of the module docstring, on the first ``check_samples`` images."""
    n = min(opts.check_samples, len(y))
    xs, ys = x[:n], y[:n]
    accs = [r["accuracy"] for r in rows]
    rising = any(b > a + TOLERANCE for a, b in zip(accs, accs[1:], strict=False))
    by_eps = ", ".join(f"{r['eps']:g}: {r['accuracy']:.2f} %" for r in rows)
    checks = [_check("monotone in ε", not rising, f"accuracy by ε: {by_eps}")]
    top = max(opts.eps)
    if top <= 0:
        return checks

    def acc(attack: str, eps: float, **override: Any) -> float:
        return 100 * float(accuracy_under(model, xs, ys, attack, eps, opts, opts.progress,
                                          "check: ", **override)[0].float().mean())

    base = acc(opts.attack, top)
    if opts.attack in ("pgd", "apgd-ce"):
        steps = 2 * (opts.steps or (40 if opts.attack == "pgd" else 100))
        more = acc(opts.attack, top, steps=steps)
        checks.append(_check("more steps", more <= base + TOLERANCE,
                             f"ε {top:g}: {base:.2f} % → {more:.2f} % with {steps} steps"))
        fgsm = acc("fgsm", top)
        checks.append(_check("PGD vs FGSM", base <= fgsm + TOLERANCE,
                             f"ε {top:g}: {opts.attack} {base:.2f} %, FGSM {fgsm:.2f} %"))
    unbounded = acc(opts.attack if opts.attack != "fgsm" else "pgd", 1.0)
    checks.append(_check("unbounded", unbounded <= 1.0,
                         f"ε 1 (any image reachable): {unbounded:.2f} %"))
    if opts.norm == "linf" and opts.attack != "square":
        square = acc("square", top)
        checks.append(_check("gradient-free", square >= base - GRADIENT_FREE_MARGIN,
                             f"ε {top:g}: Square {square:.2f} %, {opts.attack} {base:.2f} %"))
    return checks


def _check(name: str, passed: bool, detail: str) -> dict[str, Any]:
    return {"check": name, "passed": bool(passed), "detail": detail}


def options_dict(opts: RobustnessOptions) -> dict[str, Any]:
    return asdict(opts)


def evaluation_images(data: str, data_dir: str | None, n: int | None,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The first ``n`` images (all when None) of ``data``'s test split (held-out 20 % when it
    has none) in [0, 1], their labels and the class names."""
    from gankit.config import DataConfig
    from gankit.metrics.classifier import labelled_splits

    splits = labelled_splits(DataConfig(name=data, path=data_dir, normalize="unit"))
    x, y = splits["test"]
    if n is not None:
        x, y = x[:n], y[:n]
    return x, y, list(splits["class_names"])


def check_model(model: nn.Module, x: torch.Tensor, num_classes: int, source: str) -> None:
    """Refuse, in one sentence, a model whose output is not ``(N, classes)`` logits."""
    from gankit.errors import GankitError

    try:
        with torch.no_grad():
            out = model(x[:2])
    except Exception as err:  # noqa: BLE001  (a user's model can fail in any way)
        raise GankitError(f"Model {source!r} fails on ({', '.join(map(str, x[:2].shape))}) "
                          f"images in [0, 1]: {type(err).__name__}: {err}".rstrip(".") + ".") \
            from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, num_classes):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise GankitError(f"Model {source!r} must return logits of shape (N, {num_classes}) "
                          f"for this data, and it returned {shape}.")
