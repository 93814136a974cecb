"""Per-batch augmentation on the device, the same for every image field of a sample.

:class:`JitterFlip` is the random jitter of pix2pix and CycleGAN (Isola et al. 2017: images
resized up — 256 to 286 — then randomly cropped back) and their random horizontal flips,
applied alike to both halves of a pair. Its randomness comes from the generator the sampler
passes in (checkpointed with the sampler), so a resumed run sees the same batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.data.sampler import Batch


class JitterFlip:
    """Resize the image ``fields`` up by ``jitter`` pixels, crop a random window of the
    original size, and flip horizontally with probability ``flip`` — one draw per sample,
    shared by all ``fields`` (those of them a batch holds)."""

    def __init__(self, fields: tuple[str, ...], jitter: int = 0, flip: float = 0.5) -> None:
        if jitter < 0 or not 0.0 <= flip <= 1.0:
            raise ValueError("jitter must be ≥ 0 and flip a probability")
        self.fields, self.jitter, self.flip = fields, jitter, flip

    def __call__(self, batch: Batch, generator: torch.Generator) -> Batch:
        present = [name for name in self.fields if name in batch]  # one domain of an unpaired
        if not present:
            return batch
        first = batch[present[0]]
        n, h, w = first.shape[0], first.shape[-2], first.shape[-1]
        dy = torch.randint(self.jitter + 1, (n,), generator=generator)
        dx = torch.randint(self.jitter + 1, (n,), generator=generator)
        flips = torch.rand(n, generator=generator) < self.flip
        out = dict(batch)
        for name in present:
            x = batch[name]
            if self.jitter:
                big = F.interpolate(x.float(), size=(h + self.jitter, w + self.jitter),
                                    mode="bilinear", align_corners=False).to(x.dtype)
                x = crop(big, dy.to(x.device), dx.to(x.device), h, w)
            mask = flips.to(x.device).view(-1, *([1] * (x.ndim - 1)))
            out[name] = torch.where(mask, x.flip(-1), x)
        return out


def crop(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The ``h × w`` window of each image ``x[i]`` whose top-left corner is ``(dy[i], dx[i])``."""
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    n, c = x.shape[:2]
    x = x.gather(2, rows.expand(n, c, h, x.shape[-1]))
    return x.gather(3, cols.expand(n, c, h, w))
