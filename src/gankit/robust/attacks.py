"""Adversarial attacks on image classifiers: the common contract, FGSM, PGD and the registry.

A *model* is any ``nn.Module`` mapping images ``(N, C, H, W)`` with pixels in ``[0, 1]`` to logits
``(N, K)``; ε is in pixel units of those images.  Every attack

- runs the model in eval mode and restores each submodule's training flag afterwards (BatchNorm
  statistics and parameters are never touched, and no ``.grad`` is left on parameters: gradients
  are taken with respect to the images only);
- draws its randomness from a ``torch.Generator`` seeded by the ``seed`` option (default 0) on the
  images' device, so a call is reproducible and the global RNG is untouched;
- returns images of the input's shape in ``[0, 1]`` within the ε-ball of the input.

APGD-CE lives in :mod:`gankit.robust.apgd`, Square in :mod:`gankit.robust.square`; all four are in
:data:`ATTACKS` by name (``fgsm``, ``pgd``, ``apgd-ce``, ``square``).
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.models.layers import eval_mode
from gankit.registry import Registry

NORMS = ("linf", "l2")
#: slack allowed on the pixel range of the input images
RANGE_SLACK = 1e-6
_TINY = 1e-12


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm, shaped ``(N, 1, 1, 1)`` for broadcasting."""
    return t.flatten(1).norm(dim=1).view(-1, 1, 1, 1)


def direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """The steepest-ascent direction of unit size in ``norm``: sign (L∞) or grad / ‖grad‖₂ (L2)."""
    if norm == "linf":
        return grad.sign()
    return grad / _flat_norm(grad).clamp_min(_TINY)


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Project ``x_adv`` onto the ε-ball around ``x`` in ``norm``, then onto ``[0, 1]``."""
    delta = x_adv - x
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        delta = delta * (eps / _flat_norm(delta).clamp_min(_TINY)).clamp(max=1.0)
    return (x + delta).clamp(0.0, 1.0)


def random_start(x: torch.Tensor, eps: float, norm: str, gen: torch.Generator) -> torch.Tensor:
    """A uniform random point of the ε-ball around ``x``, clipped to ``[0, 1]``.

    L∞: each pixel offset uniform in ``[-ε, ε]``.  L2: a uniform direction (normalised Gaussian)
    times the radius ``ε·U^(1/d)`` (``d`` = pixels per image), i.e. uniform in the ball's volume.
    """
    if norm == "linf":
        u = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        return (x + (2 * u - 1) * eps).clamp(0.0, 1.0)
    g = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
    d = x[0].numel()
    r = torch.rand((len(x), 1, 1, 1), generator=gen, device=x.device, dtype=x.dtype) ** (1 / d)
    return (x + g / _flat_norm(g).clamp_min(_TINY) * (eps * r)).clamp(0.0, 1.0)


def _check_int(name: str, value: Any, attack: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise GankitError(f"The {attack} attack needs {name} to be an integer ≥ {minimum}, "
                          f"not {value!r}.")
    return int(value)


def _check_float(name: str, value: Any, attack: str, low: float, high: float) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not low <= value <= high:
        raise GankitError(f"The {attack} attack needs {name} between {low:g} and {high:g}, "
                          f"not {value!r}.")
    return float(value)


def _check_bool(name: str, value: Any, attack: str) -> bool:
    if not isinstance(value, bool):
        raise GankitError(f"The {attack} attack needs {name} to be true or false, not {value!r}.")
    return value


class Attack(ABC):
    """An attack: ``attack(x, y)`` returns adversarial images ``x_adv`` for labels ``y``."""

    name: ClassVar[str]
    #: the norms this attack supports
    norms: ClassVar[tuple[str, ...]] = NORMS
    #: every option this attack accepts, with its default
    defaults: ClassVar[dict[str, Any]] = {"seed": 0}

    def __init__(self, model: nn.Module, eps: float, norm: str = "linf", **options: Any) -> None:
        if not isinstance(model, nn.Module):
            raise GankitError(f"The {self.name} attack needs a torch.nn.Module as its model, "
                              f"not a {type(model).__name__}.")
        self.model = model
        self._labels_checked = False
        key = norm.lower() if isinstance(norm, str) else norm
        if key not in self.norms:
            supported = (f"only the {self.norms[0]} norm" if len(self.norms) == 1
                         else f"the {' and '.join(self.norms)} norms")
            raise GankitError(f"The {self.name} attack supports {supported}, not {norm!r}.")
        self.norm: str = key
        # L∞: a pixel moves at most the whole range; L2: a whole image's distance (√d at most)
        self.eps = _check_float("eps", eps, self.name, 0.0, 1.0 if key == "linf" else 1000.0)
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise GankitError(f"Unknown option(s) {', '.join(unknown)} for the {self.name} attack; "
                              f"valid options: {', '.join(sorted(self.defaults))}.")
        merged = {**self.defaults, **options}
        self.seed = _check_int("seed", merged.pop("seed"), self.name, minimum=0)
        self._configure(merged)

    def _configure(self, options: dict[str, Any]) -> None:
        """Validate and store the attack-specific options (everything but ``seed``)."""
        del options  # an attack with no options of its own accepts only ``seed``

    @abstractmethod
    def _attack(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """The attack proper, on valid inputs, with the model already in eval mode."""

    def protocol(self) -> dict[str, Any]:
        """What was run, JSON-ready: attack name, norm, ε and the options that apply."""
        return {"attack": self.name, "norm": self.norm, "eps": self.eps}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.protocol().items() if k != "attack")
        return f"{type(self).__name__}({fields})"

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, y = self._check_inputs(x, y)
        if len(x) == 0:
            return x.clone()
        gen = torch.Generator(device=x.device)
        gen.manual_seed(self.seed)
        self._labels_checked = False
        with eval_mode(self.model), torch.enable_grad():
            x_adv = self._attack(x, y, gen)
        return project(x_adv.detach(), x, self.eps, self.norm)

    # -- helpers for the attacks ------------------------------------------------------------

    def _check_inputs(self, x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise GankitError(f"The {self.name} attack needs a 4-D floating-point image batch "
                              f"(N, C, H, W), not {shape}.")
        x = x.detach()
        if x.numel() and not (torch.isfinite(x).all() and x.min() >= -RANGE_SLACK
                              and x.max() <= 1 + RANGE_SLACK):
            raise GankitError(f"The {self.name} attack needs pixels in [0, 1]; these span "
                              f"[{x.min().item():.4g}, {x.max().item():.4g}].")
        y = torch.as_tensor(y, device=x.device)
        if y.dim() != 1 or len(y) != len(x) or y.is_floating_point() or y.is_complex():
            raise GankitError(f"The {self.name} attack needs one integer label per image "
                              f"({len(x)}), not labels of shape {tuple(y.shape)} ({y.dtype}).")
        param = next(self.model.parameters(), None)
        if param is not None and param.device != x.device:
            raise GankitError(f"The model is on {param.device} but the images are on "
                              f"{x.device}; move both to the same device.")
        return x.clamp(0.0, 1.0), y.long()

    def _logits(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The model's logits for ``x``, checked to be ``(N, K)`` with K ≥ 2 (labels < K)."""
        logits = self.model(x)
        if (not isinstance(logits, torch.Tensor) or logits.dim() != 2
                or logits.shape[0] != len(x) or logits.shape[1] < 2):
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits)
            raise GankitError(f"The model must map {len(x)} images to logits of shape "
                              f"({len(x)}, K) with K ≥ 2, but it returned {shape}.")
        if not self._labels_checked:
            if y.min() < 0 or y.max() >= logits.shape[1]:
                raise GankitError(f"The labels must lie in 0..{logits.shape[1] - 1} for a "
                                  f"model with {logits.shape[1]} outputs.")
            self._labels_checked = True
        return logits

    def _loss_grad(self, x_adv: torch.Tensor, y: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-sample cross-entropy at ``x_adv``, its gradient w.r.t. ``x_adv``, and the logits."""
        x_adv = x_adv.detach().requires_grad_(True)
        logits = self._logits(x_adv, y)
        loss = F.cross_entropy(logits.float(), y, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), [x_adv])
        return loss.detach(), grad.detach(), logits.detach()


ATTACKS: Registry[type[Attack]] = Registry("attack")


@ATTACKS.register("fgsm")
class FGSM(Attack):
    """Fast Gradient Sign Method (Goodfellow et al. 2015): one step of size ε up the CE loss.

    L∞: ``x + ε·sign(∇)``; L2: ``x + ε·∇/‖∇‖₂``; then clipped to ``[0, 1]``.
    """

    name = "fgsm"

    def _attack(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        _, grad, _ = self._loss_grad(x, y)
        return (x + self.eps * direction(grad, self.norm)).clamp(0.0, 1.0)

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "steps": 1, "step_size": self.eps, "random_start": False,
                "restarts": 1}


@ATTACKS.register("pgd")
class PGD(Attack):
    """Projected Gradient Descent (Madry et al. 2018) on the cross-entropy loss.

    ``steps`` (default 40) steps of ``step_size`` (default 2.5·ε/steps) along the sign of the
    gradient (L∞) or the normalised gradient (L2), each followed by the projection onto the ε-ball
    and ``[0, 1]``.  ``random_start`` (default True) starts from :func:`random_start`.  With
    ``restarts`` > 1 each restart attacks only the samples no earlier restart fooled; per sample
    the result is the first restart that fools the model, else the restart of highest loss.
    """

    name = "pgd"
    defaults: ClassVar[dict[str, Any]] = {"seed": 0, "steps": 40, "step_size": None,
                                          "random_start": True, "restarts": 1}

    def _configure(self, options: dict[str, Any]) -> None:
        self.steps = _check_int("steps", options["steps"], self.name)
        self.restarts = _check_int("restarts", options["restarts"], self.name)
        step = options["step_size"]
        self.step_size = (2.5 * self.eps / self.steps if step is None
                          else _check_float("step_size", step, self.name, 0.0, math.inf))
        self.random_start = _check_bool("random_start", options["random_start"], self.name)

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "steps": self.steps, "step_size": self.step_size,
                "random_start": self.random_start, "restarts": self.restarts, "seed": self.seed}

    def _run(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        x_adv = random_start(x, self.eps, self.norm, gen) if self.random_start else x.clone()
        for _ in range(self.steps):
            _, grad, _ = self._loss_grad(x_adv, y)
            x_adv = project(x_adv + self.step_size * direction(grad, self.norm), x, self.eps,
                            self.norm)
        return x_adv

    def _attack(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.restarts == 1:
            return self._run(x, y, gen)
        best = x.clone()
        best_loss = torch.full((len(x),), -math.inf, device=x.device)
        fooled = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for _ in range(self.restarts):
            idx = (~fooled).nonzero().squeeze(1)
            if len(idx) == 0:
                break
            x_adv = self._run(x[idx], y[idx], gen)
            with torch.no_grad():
                logits = self._logits(x_adv, y[idx])
                loss = F.cross_entropy(logits.float(), y[idx], reduction="none")
            fools = logits.argmax(1) != y[idx]
            better = fools | (loss > best_loss[idx])
            best[idx[better]] = x_adv[better]
            best_loss[idx[better]] = loss[better]
            fooled[idx[fools]] = True
        return best


def build_attack(name: str, model: nn.Module, eps: float, norm: str = "linf",
                 **options: Any) -> Attack:
    """The attack registered as ``name`` (``fgsm``, ``pgd``, ``apgd-ce``, ``square``)."""
    return ATTACKS.get(name)(model, eps, norm, **options)
