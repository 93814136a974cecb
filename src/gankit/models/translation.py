"""Networks of image-to-image translation: pix2pix's U-Net, CycleGAN's ResNet generator and the
PatchGAN discriminator of both (Isola et al. 2017; Zhu et al. 2017; layouts as in the authors'
code, written anew here).

Depth and width follow the image size (:func:`size_defaults`): a U-Net halves the image down to
1×1 (5 levels at 32 px, 7 at 128, 8 at 256), a PatchGAN has 2 strided layers up to 32 px and 3
(its 70×70 receptive field) from 64 px on. Sizes that are not a power of two (28×28 MNIST) are
reflection-padded up to the next multiple the network divides by, and the output cropped back.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Norm = Literal["batch", "instance"]


def size_defaults(size: int) -> dict[str, int]:
    """The networks' sizes for square images of side ``size``: U-Net levels, widths, ResNet
    blocks and PatchGAN layers."""
    return {"unet_depth": min(8, max(1, math.ceil(math.log2(size)))),
            "width": 64 if size >= 128 else 32,
            "resnet_blocks": 9 if size >= 256 else 6 if size >= 64 else 4,
            "patch_layers": 3 if size >= 64 else 2}


def norm_layer(kind: Norm, channels: int) -> nn.Module:
    """BatchNorm (pix2pix's default) or InstanceNorm without learnt scale (CycleGAN's)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


def init_normal(module: nn.Module, std: float = 0.02) -> nn.Module:
    """The papers' initialisation: convolutions N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


class PadToMultiple(nn.Module):
    """Runs ``net`` on the input reflection-padded to a multiple of ``multiple`` in height and
    width, and crops its output back to the input's size."""

    def __init__(self, net: nn.Module, multiple: int) -> None:
        super().__init__()
        self.net, self.multiple = net, multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = -h % self.multiple, -w % self.multiple
        if not ph and not pw:
            return self.net(x)
        top, left = ph // 2, pw // 2
        mode = "reflect" if ph < h and pw < w else "replicate"
        y = self.net(F.pad(x, (left, pw - left, top, ph - top), mode=mode))
        return y[..., top:top + h, left:left + w]


class UNet(nn.Module):
    """pix2pix's U-Net: ``depth`` stride-2 4×4 convolutions down (widths w, 2w, 4w, 8w, 8w, …),
    as many transposed ones up, each level's input concatenated to its output (the skips);
    dropout ``dropout`` in the up-path of the levels 4 … depth − 2 as the authors place it (below
    6 levels: of the level over the innermost), pix2pix's only noise; tanh out."""

    def __init__(self, in_ch: int, out_ch: int, depth: int, width: int = 64,
                 norm: Norm = "batch", dropout: float = 0.5) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError("a U-Net needs at least one level")
        widths = [width * min(2 ** i, 8) for i in range(depth)]
        bias = norm == "instance"  # BatchNorm has its own shift
        self.down = nn.ModuleList()
        for i in range(depth):
            c_in = in_ch if i == 0 else widths[i - 1]
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(c_in, widths[i], 4, 2, 1, bias=bias or i in (0, depth - 1)))
            if 0 < i < depth - 1:
                layers.append(norm_layer(norm, widths[i]))
            self.down.append(nn.Sequential(*layers))
        # the authors' levels 4 … depth−2; below 6 levels (small images) the one over the innermost
        noisy = list(range(4, depth - 1)) or ([depth - 2] if depth >= 3 else [])
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):
            c_in = widths[i] * (1 if i == depth - 1 else 2)
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(c_in, out_ch, 4, 2, 1),
                                             nn.Tanh()))
                continue
            layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, widths[i - 1], 4, 2, 1, bias=bias),
                      norm_layer(norm, widths[i - 1])]
            if dropout > 0 and i in noisy:
                layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()  # the innermost output goes straight up
        for block in self.up:
            x = block(x)
            if skips:
                x = torch.cat([skips.pop(), x], dim=1)
        return x


class ResnetBlock(nn.Module):
    """Two reflection-padded 3×3 convolutions with a norm each, added to the input."""

    def __init__(self, channels: int, norm: Norm) -> None:
        super().__init__()
        bias = norm == "instance"
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias),
            norm_layer(norm, channels), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias),
            norm_layer(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet_generator(in_ch: int, out_ch: int, width: int = 64, blocks: int = 9,
                     norm: Norm = "instance") -> nn.Sequential:
    """CycleGAN's generator: c7s1-w, two stride-2 downs to 4w, ``blocks`` residual blocks, two
    transposed ups, c7s1-out with tanh (inputs divisible by 4)."""
    bias = norm == "instance"
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, width, 7, bias=bias),
                               norm_layer(norm, width), nn.ReLU()]
    for i in range(2):
        c = width * 2 ** i
        layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), norm_layer(norm, 2 * c), nn.ReLU()]
    layers += [ResnetBlock(4 * width, norm) for _ in range(blocks)]
    for i in reversed(range(2)):
        c = width * 2 ** (i + 1)
        layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias),
                   norm_layer(norm, c // 2), nn.ReLU()]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_ch, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patch_discriminator(in_ch: int, width: int = 64, layers: int = 3,
                        norm: Norm = "batch") -> nn.Sequential:
    """PatchGAN: ``layers`` stride-2 4×4 convolutions (widths w, 2w, 4w, ≤ 8w; no norm on the
    first), one stride-1 to ≤ 8w, one to a map of patch logits (70×70 receptive field at 3)."""
    bias = norm == "instance"
    seq: list[nn.Module] = [nn.Conv2d(in_ch, width, 4, 2, 1), nn.LeakyReLU(0.2)]
    c = width
    for i in range(1, layers + 1):
        c_out = width * min(2 ** i, 8)
        stride = 2 if i < layers else 1
        seq += [nn.Conv2d(c, c_out, 4, stride, 1, bias=bias), norm_layer(norm, c_out),
                nn.LeakyReLU(0.2)]
        c = c_out
    seq.append(nn.Conv2d(c, 1, 4, 1, 1))
    return nn.Sequential(*seq)


def unet_generator(in_ch: int, out_ch: int, size: int, width: int, depth: int | None = None,
                   norm: Norm = "batch", dropout: float = 0.5) -> nn.Module:
    """A U-Net for ``size``-pixel images (depth from :func:`size_defaults` unless given), padded
    to a multiple of ``2 ** depth`` when ``size`` is not one."""
    depth = depth or size_defaults(size)["unet_depth"]
    net = init_normal(UNet(in_ch, out_ch, depth, width, norm, dropout))
    return PadToMultiple(net, 2 ** depth)


def resnet_translator(in_ch: int, out_ch: int, width: int, blocks: int,
                      norm: Norm = "instance") -> nn.Module:
    """A ResNet generator padded to a multiple of 4 where needed."""
    return PadToMultiple(init_normal(resnet_generator(in_ch, out_ch, width, blocks, norm)), 4)
