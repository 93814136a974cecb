"""CycleGAN's history of generated images (Shrivastava et al. 2017; Zhu et al. 2017, §4).

The discriminators learn from a pool of up to ``size`` earlier outputs rather than only the
newest, which damps oscillation. Each new image is stored while the pool fills; once full, with
probability ½ it takes the place of a stored one, which D sees instead, else D sees the new one.
The pool's draws come from its own seeded generator; the pool and that generator are part of
the checkpoint, so a resumed run sees the same images.
"""

from __future__ import annotations

from typing import Any

import torch


class ImagePool:
    """A history of up to ``size`` generated images (``size`` 0: no pool)."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        """The images D sees for the generated ``batch`` (detached), updating the pool."""
        batch = batch.detach()
        if self.size == 0:
            return batch
        out = []
        for image in batch:
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
                continue
            swap = float(torch.rand((), generator=self.generator)) < 0.5
            if swap:
                i = int(torch.randint(len(self.images), (), generator=self.generator))
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        stored = torch.stack(self.images).cpu() if self.images else torch.zeros(0)
        return {"images": stored, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.images = [image.to(device) for image in state["images"]]
        self.generator.set_state(state["generator"])
