"""Robustness of image classifiers: attack them, measure them honestly, harden them.

- Attacks (``attacks``, ``apgd``, ``square``): FGSM, PGD (L∞ and L2, random start, restarts),
  APGD-CE and the gradient-free Square attack. ``build_attack("pgd", model, eps=0.1)(x, y)``
  returns adversarial images of ``x`` (pixels in [0, 1], ε in pixel units); ``ATTACKS`` lists
  them by name. The model always runs in eval mode.
- ``load_classifier(path)``: a run folder of the ``classifier`` recipe, a TorchScript file or
  ``eval:<data>``, as an ``nn.Module`` from [0, 1] images to logits.
- ``robustness(model, x, y, class_names, RobustnessOptions(...))``: accuracy against ε, per
  class, with the protocol and the sanity checks of Carlini et al. 2019 (``gankit robustness``).
- ``training``: the perturbations of adversarial training (the ``classifier`` recipe's
  ``adversarial.method``: ``pgd``, ``fgsm-rs``).
- ``defense``: Defense-GAN purification, against the plain and the BPDA attack.
"""

from gankit.robust.apgd import APGD
from gankit.robust.attacks import ATTACKS, FGSM, PGD, Attack, build_attack
from gankit.robust.evaluate import RobustnessOptions, robustness
from gankit.robust.models import load_classifier
from gankit.robust.square import Square

__all__ = ["APGD", "ATTACKS", "FGSM", "PGD", "Attack", "RobustnessOptions", "Square",
           "build_attack", "load_classifier", "robustness"]
