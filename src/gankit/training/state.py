"""What a checkpoint holds: every piece of state a run needs to continue bit-identically.

``step``; the recipe's ``networks``, ``optimizers``, ``schedulers`` and own ``recipe`` state;
the ``sampler``'s position in the data order; every RNG state; with several processes, every
rank's RNG state and a digest of its weights. Checkpoints written before schedulers and recipe
state existed (format 1) are upgraded when read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gankit.data.sampler import Sampler
from gankit.errors import GankitError
from gankit.recipes.base import Recipe
from gankit.training.distributed import World, gather, weights_digest

STATE_FORMAT = 2


def capture_state(recipe: Recipe, sampler: Sampler, step: int,
                  world: World | None = None) -> dict[str, Any]:
    """The state after ``step``. With several processes this is a collective call: every
    rank's RNG state is gathered, and the ranks' weights are checked to be identical."""
    world = world or World()
    rng: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = list(torch.cuda.get_rng_state_all())
    state = {"format": STATE_FORMAT, "step": step,
             "modules": {k: m.state_dict() for k, m in recipe.networks().items()},
             "optimizers": {k: o.state_dict() for k, o in recipe.optimizers().items()},
             "schedulers": {k: s.state_dict() for k, s in recipe.schedulers().items()},
             "recipe": recipe.state_dict(), "sampler": sampler.state_dict(), "rng": rng}
    if world.enabled:
        digests = gather(weights_digest(recipe.networks()), world)
        if len(set(digests)) != 1:
            raise GankitError(f"The {world.size} training processes disagree on the weights "
                              f"at step {step}; this is a bug, please report it.")
        state["world"] = {"size": world.size, "weights_sha256": digests,
                          "rng": gather(rng, world)}
    return state


def load_networks(recipe: Recipe, state: dict[str, Any], where: Path) -> None:
    """Load the networks' weights of a checkpoint, with a clear error when they do not fit."""
    for name, module in recipe.networks().items():
        try:
            module.load_state_dict(state["modules"][name])
        except (KeyError, RuntimeError) as err:
            first = str(err).strip().splitlines()[-1].strip() if str(err).strip() else name
            raise GankitError(f"The checkpoint of step {state['step']} in {str(where)!r} does not "
                              f"fit the networks its config.yaml describes ({name}: {first}); "
                              "undo the edit of config.yaml, or train a new run.") from None


def restore_state(recipe: Recipe, sampler: Sampler, state: dict[str, Any],
                  world: World | None = None, where: Path = Path(".")) -> None:
    """Put ``recipe``, ``sampler`` and the RNGs back where :func:`capture_state` found them."""
    world = world or World()
    state = upgrade(state, recipe)
    load_networks(recipe, state, where)
    for name, opt in recipe.optimizers().items():
        opt.load_state_dict(state["optimizers"][name])
    for name, scheduler in recipe.schedulers().items():
        scheduler.load_state_dict(state["schedulers"][name])
    recipe.load_state_dict(state["recipe"])
    sampler.load_state_dict(state["sampler"])
    rng = state["rng"]
    saved = state.get("world", {})
    if world.enabled and saved.get("size") == world.size:
        rng = saved["rng"][world.rank]
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def upgrade(state: dict[str, Any], recipe: Recipe) -> dict[str, Any]:
    """A format-1 checkpoint (GAN and VAE, before schedulers) in today's format.

    Format 1 kept each optimiser group's undecayed rate as ``base_lr`` and the step count
    outside the recipe; its schedules were ``base_lr · factor(step)``, as the ``LambdaLR``
    schedulers of today compute them.
    """
    if state.get("format", 1) >= STATE_FORMAT:
        return state
    step = int(state["step"])
    schedulers = {}
    for name, scheduler in recipe.schedulers().items():
        opt_name = next(k for k, o in recipe.optimizers().items() if o is scheduler.optimizer)
        groups = state["optimizers"][opt_name]["param_groups"]
        base = [g.get("base_lr", g["lr"]) for g in groups]
        for group, lr in zip(groups, base, strict=True):
            group["initial_lr"] = lr
        schedulers[name] = {**scheduler.state_dict(), "base_lrs": base, "last_epoch": step,
                            "_step_count": step + 1}
        lrs = [lr * fn(step) for lr, fn in zip(base, scheduler.lr_lambdas, strict=True)]
        for group, lr in zip(groups, lrs, strict=True):
            group["lr"] = lr
        schedulers[name]["_last_lr"] = lrs
    return {**state, "format": STATE_FORMAT, "schedulers": schedulers,
            "recipe": {"steps_done": step}}
