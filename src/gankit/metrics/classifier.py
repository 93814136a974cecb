"""A small CNN classifier trained on the run's own labelled data, as a feature extractor.

Data: ``mnist`` / ``fashion-mnist`` train on ``options.split=train`` and are tested on ``test``;
other labelled image sources (``digits``, ``folder``, ``arrays``) hold out a fixed 20% (seed 0)
as the test split; ``stacked-mnist`` uses the plain MNIST classifier on each channel. Images are
loaded in [0, 1] at the run's size and channels; ``data.limit`` is ignored.

Network (any side ≥ 8, 1 or 3 channels; inputs larger than 32×32 are first resized to 32×32
with antialiased bilinear filtering)::

    conv3×3 C→32, [max-pool 2 if side ≥ 16], BN, ReLU
    conv3×3 32→32, BN, ReLU, [max-pool 2 if the map is still ≥ 8 wide]
    conv3×3 32→64, BN, ReLU, conv3×3 64→64, BN, ReLU
    adaptive average pool 4×4 → dense 1024→128, ReLU  (the 128-d "features")
    dropout 0.2 → dense 128→K  (logits)

Training (:func:`gankit.training.supervised.fit_classifier`): Adam with a one-cycle learning
rate (peak 3e-3), batch 128, for at least 2 epochs and 40,000 images seen; training sets under
10,000 images are augmented with random shifts of up to ``max(1, side // 14)`` pixels. Seeded
(seed 0; the global RNG is left untouched).

The result is cached under ``<cache>/classifiers/`` (weights as safetensors, facts as JSON
beside them), keyed by the data set, size, channels, :data:`ARCH_VERSION` and a SHA-256 of the
training images and labels; a cached file that cannot be loaded is retrained with a warning.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from tqdm.auto import tqdm

from gankit.console import say
from gankit.data import DATASETS, evaluation_of
from gankit.data.transforms import resize_images
from gankit.errors import GankitError
from gankit.fileio import atomic_write_bytes, atomic_write_text
from gankit.metrics.features import EXTRACTORS, ExtractorContext, FeatureExtractor
from gankit.training.supervised import fit_classifier

if TYPE_CHECKING:
    from gankit.config import DataConfig

ARCH_VERSION = 1
FEATURES = 128
MAX_SIDE = 32
MIN_SIDE = 8
BATCH_SIZE = 128
EVAL_BATCH = 500
LR = 3e-3
MIN_EPOCHS = 2
MIN_SEEN = 40_000
AUGMENT_BELOW = 10_000  # training sets smaller than this get random shifts
POOL = 4
HOLDOUT = 0.2
SEED = 0


class ClassifierNet(nn.Module):
    """The compact CNN of the module docstring; ``embed`` gives the 128-d features."""

    def __init__(self, channels: int, image_size: int, num_classes: int) -> None:
        super().__init__()
        self.channels, self.image_size, self.num_classes = channels, image_size, num_classes
        side = min(image_size, MAX_SIDE)
        layers: list[nn.Module] = [nn.Conv2d(channels, 32, 3, padding=1, bias=False)]
        if side >= 16:
            layers.append(nn.MaxPool2d(2))
            side //= 2
        layers += [nn.BatchNorm2d(32), nn.ReLU(inplace=True), *_conv(32, 32)]
        if side >= 8:
            layers.append(nn.MaxPool2d(2))
        layers += [*_conv(32, 64), *_conv(64, 64), nn.AdaptiveAvgPool2d(POOL), nn.Flatten(),
                   nn.Linear(64 * POOL * POOL, FEATURES), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(FEATURES, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > MAX_SIDE:
            x = resize_images(x, MAX_SIDE)
        return self.body(x.contiguous(memory_format=torch.channels_last))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(x)))

    @torch.no_grad()
    def classify(self, x: torch.Tensor, batch_size: int = EVAL_BATCH) -> torch.Tensor:
        """Predicted class indices (int64, CPU) of images in [0, 1] (eval mode, batched)."""
        device = next(self.parameters()).device
        self.eval()
        out = [self(b.to(device).float()).argmax(1).cpu() for b in x.split(batch_size)]
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def new_classifier(channels: int, image_size: int, num_classes: int) -> ClassifierNet:
    """A freshly initialised :class:`ClassifierNet` (seeded; the global RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return ClassifierNet(channels, image_size, num_classes)


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


def classifier_config(data_cfg: DataConfig, own_labels: bool = False) -> DataConfig:
    """The data whose classifier measures ``data_cfg``'s samples, as its source declares
    (itself, or e.g. MNIST for Stacked MNIST: same folder, size and download options);
    ``own_labels``: always itself."""
    from gankit.config import DataConfig

    source = evaluation_of(data_cfg.name).classifier
    if source is None or own_labels:
        return data_cfg
    known = DATASETS.get(source).options.model_fields
    opts = {k: v for k, v in data_cfg.options.items() if k in known and k != "split"}
    return DataConfig(name=source, path=data_cfg.path, image_size=data_cfg.image_size,
                      normalize="unit", options=opts)


def labelled_splits(data_cfg: DataConfig) -> dict[str, Any]:
    """Train and test images in [0, 1] with labels, class names and how the test split was made."""
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    base = {**data_cfg.model_dump(), "normalize": "unit", "limit": None}
    if evaluation_of(data_cfg.name).test_split:
        train, test = (load_dataset(DataConfig.model_validate({**base, "options": {
            **data_cfg.options, "split": split}})) for split in ("train", "test"))
        return {"train": (train.rows(), train.labels), "test": (test.rows(), test.labels),
                "class_names": train.class_names, "test_split": "options.split=test"}
    ds = load_dataset(DataConfig.model_validate(base))
    if ds.kind not in ("image", "pair"):
        raise GankitError(f"The classifier extractor needs image data, but {ds.name!r} holds "
                          "points; use --extractor raw.")
    if ds.labels is None:
        raise GankitError(f"The classifier extractor needs labelled data, but {ds.name!r} has no "
                          "labels; use --extractor inception or raw.")
    if len(ds) < 10:
        raise GankitError(f"The classifier extractor needs at least 10 labelled images; "
                          f"{ds.name!r} has {len(ds)}.")
    gen = torch.Generator().manual_seed(SEED)
    perm = torch.randperm(len(ds), generator=gen)
    n_test = max(1, round(HOLDOUT * len(ds)))
    test, train = perm[:n_test].sort().values, perm[n_test:].sort().values
    names = ds.class_names or [str(i) for i in range(int(ds.labels.max()) + 1)]
    return {"train": (ds.rows(train), ds.labels[train]), "test": (ds.rows(test), ds.labels[test]),
            "class_names": list(names), "test_split": f"held-out {HOLDOUT:.0%} (seed {SEED})"}


def cache_key(name: str, x: torch.Tensor, labels: torch.Tensor, num_classes: int) -> str:
    """SHA-256 of the architecture version, data set name, shape and training tensors."""
    h = hashlib.sha256(f"gankit-classifier-v{ARCH_VERSION}|{name}|{tuple(x.shape[1:])}|"
                       f"{num_classes}|".encode())
    h.update(x.detach().float().cpu().contiguous().numpy().tobytes())
    h.update(labels.detach().long().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Each image moved by its own random whole-pixel offset in [-max_shift, max_shift]²."""
    n, _, h, w = x.shape
    pad = F.pad(x, (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=gen).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return pad[batch, chans, rows, cols]


def train_classifier(model: ClassifierNet, x: torch.Tensor, labels: torch.Tensor,
                     device: torch.device, progress: bool = True, desc: str = "classifier",
                     ) -> dict[str, Any]:
    """Train ``model`` in place on images ``x`` in [0, 1] (seeded; global RNG untouched)."""
    if x.shape[-1] > MAX_SIDE:
        x = resize_images(x, MAX_SIDE)  # once here rather than in every forward pass
    n = len(x)
    batch = min(BATCH_SIZE, n)
    per_epoch = n // batch
    epochs = max(MIN_EPOCHS, math.ceil(MIN_SEEN / (per_epoch * batch)))
    steps = epochs * per_epoch
    max_shift = max(1, x.shape[-1] // 14) if n < AUGMENT_BELOW else 0
    start = time.perf_counter()
    augment = (lambda xb, gen: _shift(xb, max_shift, gen)) if max_shift else None
    with tqdm(total=steps, desc=desc, unit="step", leave=False, disable=not progress) as bar:
        fit_classifier(model, [{"params": model.parameters(), "lr": LR}], x, labels, steps, batch,
                       SEED, device, bar, schedule="one-cycle", augment=augment, show_loss=True)
    model.eval().requires_grad_(False)
    return {"epochs": epochs, "steps": steps, "batch_size": batch, "max_shift": max_shift,
            "train_time_s": round(time.perf_counter() - start, 2)}


def accuracy(model: ClassifierNet, x: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``x`` that ``model`` classifies as ``labels``."""
    return float((model.classify(x) == labels.cpu()).double().mean()) if len(x) else 0.0


def classifier_dir() -> Path:
    from gankit.data.idx import cache_dir

    return cache_dir() / "classifiers"


def _load_cached(meta_path: Path, model: ClassifierNet, key: str) -> dict[str, Any]:
    """The cached facts after loading the weights into ``model`` (raises ValueError if unusable)."""
    try:
        meta = json.loads(meta_path.read_text())
        blob = (meta_path.parent / meta["weights"]).read_bytes()
        if meta["key"] != key or meta["arch_version"] != ARCH_VERSION:
            raise ValueError("it was made for other data")
        if hashlib.sha256(blob).hexdigest() != meta["sha256"]:
            raise ValueError("checksum mismatch")
        model.load_state_dict(load_tensors(blob))
    except (OSError, KeyError, TypeError, RuntimeError, SafetensorError) as err:
        raise ValueError(str(err).splitlines()[0] if str(err) else type(err).__name__) from None
    return meta


def load_or_train_classifier(data_cfg: DataConfig, device: torch.device | str = "cpu",
                             progress: bool = True, own_labels: bool = False
                             ) -> tuple[ClassifierNet, dict[str, Any]]:
    """The classifier of ``data_cfg``'s data (from the cache, else trained and cached) and its
    facts (test accuracy, key, class names, ...). ``stacked-mnist`` gets the MNIST classifier
    (unless ``own_labels``: see :func:`classifier_config`)."""
    data_cfg = classifier_config(data_cfg, own_labels)
    device = torch.device(device)
    splits = labelled_splits(data_cfg)
    (x, labels), (x_test, labels_test) = splits["train"], splits["test"]
    names = splits["class_names"]
    if x.shape[-1] < MIN_SIDE:
        raise GankitError(f"The classifier extractor needs images of at least {MIN_SIDE}×"
                          f"{MIN_SIDE}; set data.image_size to {MIN_SIDE} or more.")
    if int(labels.max()) >= len(names) or int(labels.min()) < 0:
        raise GankitError(f"Labels of {data_cfg.name!r} must be class indices below "
                          f"{len(names)}.")
    channels, side = int(x.shape[1]), int(x.shape[-1])
    key = cache_key(data_cfg.name, x, labels, len(names))
    stem = f"{data_cfg.name}-{side}px-{channels}ch-{key[:16]}"
    meta_path = classifier_dir() / f"{stem}.json"
    model = new_classifier(channels, side, len(names))
    if meta_path.exists():
        try:
            meta = _load_cached(meta_path, model, key)
            model.to(device).eval().requires_grad_(False)
            return model, {**meta, "path": str(meta_path), "cached": True}
        except ValueError as err:
            warnings.warn(f"Cached classifier {str(meta_path)!r} cannot be used ({err}); "
                          "training it again.", stacklevel=2)
            model = new_classifier(channels, side, len(names))
    say(f"training the evaluation classifier of {data_cfg.name} ({len(x):,} labelled images; "
        f"done once, then cached in {classifier_dir()}).")
    facts = train_classifier(model, x, labels, device, progress,
                             desc=f"training classifier ({data_cfg.name})")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    blob = save_tensors(tensors)
    meta = {"format": 1, "arch_version": ARCH_VERSION, "key": key, "data": data_cfg.name,
            "image_size": side, "channels": channels, "num_classes": len(names),
            "class_names": names, "test_accuracy": accuracy(model, x_test, labels_test),
            "test_split": splits["test_split"], "num_train": len(x), "num_test": len(x_test),
            **facts, "device": str(device), "torch": torch.__version__,
            "weights": f"{stem}.safetensors", "sha256": hashlib.sha256(blob).hexdigest()}
    atomic_write_bytes(meta_path.with_suffix(".safetensors"), blob)
    atomic_write_text(meta_path, json.dumps(meta, indent=1))
    return model, {**meta, "path": str(meta_path), "cached": False}


class ClassifierExtractor(FeatureExtractor):
    """Penultimate-layer features and class probabilities of the data set's own classifier.

    For ``stacked-mnist`` the MNIST classifier runs on each channel: features are the three
    128-d vectors side by side (384), probabilities the product over the 1,000 digit triples.
    """

    name = "classifier"

    def __init__(self, data_cfg: DataConfig, device: torch.device | str = "cpu",
                 progress: bool = True, batch_size: int = EVAL_BATCH,
                 own_labels: bool = False) -> None:
        self.data_name = data_cfg.name
        self.model, self.info = load_or_train_classifier(data_cfg, device, progress,
                                                         own_labels)
        self.device, self.progress, self.batch_size = torch.device(device), progress, batch_size
        self.per_channel = evaluation_of(data_cfg.name).per_channel and not own_labels
        self.channels = 3 if self.per_channel else self.model.channels

    def _check(self, x: torch.Tensor) -> None:
        side = self.model.image_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.channels, side, side):
            raise GankitError(f"The classifier extractor of {self.data_name!r} needs "
                              f"(N, {self.channels}, {side}, {side}) images in [0, 1], got "
                              f"{tuple(x.shape)}.")

    @torch.no_grad()
    def _apply(self, x: torch.Tensor, logits: bool) -> torch.Tensor:
        """Features or logits of ``x``, in batches on the device; results on the CPU."""
        self._check(x)
        if self.per_channel:
            x = x.reshape(-1, 1, *x.shape[2:])  # (N, 3, H, W) → (3N, 1, H, W), R G B per image
        self.model.eval()
        fn = self.model if logits else self.model.embed
        chunks = x.split(self.batch_size)
        out = [fn(c.to(self.device).float()).cpu() for c in
               tqdm(chunks, desc="classifying" if logits else "classifier features",
                    unit="batch", leave=False,
                    disable=not self.progress or len(chunks) < 2)]
        width = self.model.num_classes if logits else FEATURES
        result = torch.cat(out) if out else torch.zeros(0, width)
        return result.reshape(-1, 3 * width) if self.per_channel else result

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self._apply(x, logits=False).double()

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        p = self._apply(x, logits=True).double()
        if not self.per_channel:
            return p.softmax(1)
        r, g, b = p.view(len(p), 3, -1).softmax(2).unbind(1)
        return (r[:, :, None, None] * g[:, None, :, None] * b[:, None, None, :]).flatten(1)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted labels (int64); for ``stacked-mnist`` 100·d_R + 10·d_G + d_B."""
        logits = self._apply(x, logits=True)
        if not self.per_channel:
            return logits.argmax(1)
        digits = logits.view(len(logits), 3, -1).argmax(2)
        return digits @ torch.tensor([100, 10, 1])

    def protocol(self) -> dict[str, Any]:
        features = "penultimate layer (128)"
        if self.per_channel:
            features = "MNIST classifier per channel, penultimate layer (3 × 128)"
        return {"extractor": "classifier", "data": self.data_name,
                "classifier_data": self.info["data"], "image_size": self.model.image_size,
                "channels": self.channels, "test_accuracy": self.info["test_accuracy"],
                "test_split": self.info["test_split"], "key": self.info["key"][:16],
                "arch_version": ARCH_VERSION, "features": features}


def _build(ctx: ExtractorContext) -> ClassifierExtractor:
    return ClassifierExtractor(ctx.data, ctx.device, ctx.progress, own_labels=ctx.own_labels)


EXTRACTORS.add("classifier", _build)
