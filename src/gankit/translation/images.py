"""Translating image files: ``gankit translate RUN INPUT... -o DIR`` and ``run.translate``.

Each input image is brought to the run's input domain — grey ↔ colour by ITU-R 601 luma or
repetition, resized to the training size (antialiased bilinear, the aspect ratio not kept) —
translated, and resized back to the input's own size. Outputs are 8-bit PNGs named after the
inputs (a folder's images keep their paths inside it); the whole folder ``DIR`` appears at once
or not at all, and an existing non-empty ``DIR`` is never written into.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.data.folder import EXTENSIONS, find_images
from gankit.data.pixels import image_pixels
from gankit.data.ranges import from_unit, to_unit
from gankit.data.transforms import to_channels
from gankit.errors import GankitError
from gankit.fileio import staged_folder

if TYPE_CHECKING:
    from gankit.recipes.capabilities import Translates

_READ_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``(N, C, H, W)`` in [0, 1] resized to ``h × w`` (antialiased bilinear when shrinking)."""
    if tuple(x.shape[-2:]) == (h, w):
        return x
    shrink = h < x.shape[-2] or w < x.shape[-1]
    return F.interpolate(x, size=(h, w), mode="bilinear", antialias=shrink,
                         align_corners=False).clamp(0.0, 1.0)


def translate_unit(recipe: Translates, normalize: str, images: list[torch.Tensor],
                   direction: str = "AtoB") -> list[torch.Tensor]:
    """Translate images ``(C, H, W)`` in [0, 1] of any size and channels; each output is in
    [0, 1] at its input's size, with the output domain's channels."""
    (c_in, side, _), _ = recipe.shapes(direction)
    batch = torch.cat([resize(to_channels(im[None].float(), c_in), side, side)
                       for im in images]) if images else torch.zeros(0, c_in, side, side)
    out = to_unit(recipe.translate(from_unit(batch, normalize), direction), normalize)
    return [resize(o[None], *im.shape[-2:])[0] for o, im in zip(out, images, strict=True)]


def collect_inputs(inputs: list[str]) -> list[tuple[Path, Path]]:
    """(image file, output name) for every file given and every image under a folder given;
    one sentence for a path that does not exist, a folder without images, a file that is not
    an image, or two inputs that would share one output name."""
    found: list[tuple[Path, Path]] = []
    for text in inputs:
        path = Path(text).expanduser()
        if path.is_dir():
            files = find_images(path)
            if not files:
                raise GankitError(f"Folder {text!r} holds no image files "
                                  f"({', '.join(sorted(EXTENSIONS))}).")
            found += [(f, f.relative_to(path).with_suffix(".png")) for f in files]
        elif path.is_file():
            if path.suffix.lower() not in EXTENSIONS:
                raise GankitError(f"{text!r} is not an image file "
                                  f"({', '.join(sorted(EXTENSIONS))}).")
            found.append((path, Path(path.stem + ".png")))
        else:
            raise GankitError(f"Input {text!r} does not exist.")
    names: dict[Path, Path] = {}
    for source, name in found:
        if name in names:
            raise GankitError(f"{str(names[name])!r} and {str(source)!r} would both be written "
                              f"as {str(name)!r}; translate them into separate folders.")
        names[name] = source
    return found


def read_image(path: Path) -> torch.Tensor:
    """``(C, H, W)`` float32 in [0, 1] (1 channel for grey files, else 3)."""
    try:
        with Image.open(path) as im:
            im.load()
            pixels = image_pixels(im)
    except _READ_ERRORS as err:
        raise GankitError(f"Cannot read image {str(path)!r} ({err}).") from None
    return torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0)


def png_bytes(image: torch.Tensor) -> bytes:
    """An image ``(C, H, W)`` in [0, 1] as 8-bit PNG bytes."""
    array = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else np.ascontiguousarray(array)) \
        .save(buffer, format="PNG")
    return buffer.getvalue()


def translate_files(recipe: Translates, normalize: str, inputs: list[str], out: Path,
                    direction: str = "AtoB", batch: int = 64, progress: bool = True) -> int:
    """Translate the image files ``inputs`` into the new folder ``out``; the count written."""
    from tqdm.auto import tqdm

    recipe.shapes(direction)  # refuses a direction the run cannot translate
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GankitError(f"Output {str(out)!r} already exists and is not an empty folder; "
                          "translate never writes into it, choose a new folder with -o.")
    files = collect_inputs(inputs)
    with staged_folder(out) as tmp, tqdm(total=len(files), desc="translating", unit="image",
                                         disable=not progress or len(files) < batch) as bar:
        for i in range(0, len(files), batch):
            part = files[i:i + batch]
            outputs = translate_unit(recipe, normalize, [read_image(f) for f, _ in part],
                                     direction)
            for (_, name), image in zip(part, outputs, strict=True):
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp / name).write_bytes(png_bytes(image))
            bar.update(len(part))
    return len(files)
