"""Scoring new images with a trained detector (``gankit score``): scores, a threshold chosen
on held-out normal data at a stated false-positive rate, and residual heat maps."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gankit.data import Dataset
from gankit.data.folder import EXTENSIONS, find_images
from gankit.data.pixels import image_pixels, is_grey
from gankit.data.ranges import from_unit
from gankit.errors import GankitError
from gankit.recipes.capabilities import ScoresAnomalies
from gankit.run import Run

#: images scored at a time
BATCH = 500


@dataclass
class Threshold:
    """The score above which an image is called anomalous, and where it came from."""

    value: float
    fpr: float
    num_normal: int
    source: str


def image_files(inputs: Sequence[str | Path]) -> list[Path]:
    """The image files named, folders expanded (sorted, recursive); one sentence if none."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = find_images(item)
            if not found:
                raise GankitError(f"Folder {str(item)!r} holds no image files "
                                  f"({', '.join(sorted(EXTENSIONS))}).")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise GankitError(f"{str(item)!r} does not exist; give image files or folders.")
    return files


def read_exact(paths: Sequence[Path], run: Run) -> torch.Tensor:
    """The images in the run's data range, refused (one sentence) unless each has exactly the
    run's size and channel count: a detector's scores mean nothing for images it was not
    trained at."""
    channels, height, width = run.spec.sample_shape
    kind = "greyscale" if channels == 1 else "colour"
    out = []
    for path in paths:
        try:
            with Image.open(path) as im:
                im.load()
                if im.size != (width, height):
                    raise GankitError(f"Image {str(path)!r} is {im.size[0]}×{im.size[1]}, and "
                                      f"the detector was trained on {width}×{height} images; "
                                      "give images of that size.")
                if is_grey(im) != (channels == 1):
                    raise GankitError(f"Image {str(path)!r} is "
                                      f"{'greyscale' if is_grey(im) else 'colour'}, and the "
                                      f"detector was trained on {kind} images.")
                pixels = image_pixels(im, channels)
        except (OSError, ValueError, SyntaxError, UnidentifiedImageError,
                Image.DecompressionBombError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise GankitError(f"Image file {str(path)!r} cannot be read as an image "
                              f"({reason}).") from None
        out.append(torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0))
    return from_unit(torch.stack(out), run.spec.normalize)


def scores_of(detector: ScoresAnomalies, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([detector.anomaly_scores(part) for part in x.split(BATCH)]).float()


def threshold(run: Run, detector: ScoresAnomalies, fpr: float) -> Threshold:
    """The ``1 − fpr`` quantile of the scores of held-out normal images: the detector's own
    validation split when it keeps one, otherwise the normal classes of the data's test split
    (never images it was trained on)."""
    from gankit.data import evaluation_of, load_dataset
    from gankit.metrics.evaluate import reference_data

    data = run.config.data
    held: Dataset | None = detector.normal_holdout(load_dataset(data))
    source = "the detector's validation split of normal training images"
    if held is None:
        if not evaluation_of(data.name).test_split:
            raise GankitError(f"{str(run.path)!r} held out no normal images and its data "
                              f"({data.name}) has no test split, so no threshold can be chosen "
                              "on images it was not trained on; train a detector that holds "
                              "some out (f-AnoGAN, GANomaly).")
        held, where = reference_data(data, "test")
        source = f"the normal classes of the {where}"
    normal = scores_of(detector, held.rows())
    value = float(torch.quantile(normal.double(), 1.0 - fpr))
    return Threshold(value, fpr, len(normal), source)


def write_csv(path: Path, names: Sequence[str], scores: torch.Tensor, cut: Threshold) -> bytes:
    """The CSV's bytes: one row per image (file, score, threshold, anomalous)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "score", "threshold", "anomalous"])
    for name, score in zip(names, scores.tolist(), strict=True):
        writer.writerow([name, f"{score:.6g}", f"{cut.value:.6g}", int(score > cut.value)])
    return buffer.getvalue().encode()


def heat_map(image: torch.Tensor, residual: torch.Tensor, normalize: str) -> Image.Image:
    """The image (grey) beside its residual map (hot colours: bright = differs most)."""
    from gankit.data.ranges import to_unit

    grey = to_unit(image, normalize).mean(0).numpy()
    res = residual[0].numpy()
    res = res / max(float(res.max()), 1e-8)
    hot = np.stack([np.clip(3 * res, 0, 1), np.clip(3 * res - 1, 0, 1),
                    np.clip(3 * res - 2, 0, 1)], axis=-1)
    both = np.concatenate([np.repeat(grey[..., None], 3, -1), hot], axis=1)
    im = Image.fromarray((255 * both).round().astype(np.uint8))
    scale = max(1, 128 // image.shape[-1])
    return im.resize((im.width * scale, im.height * scale), Image.NEAREST)
