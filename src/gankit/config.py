"""The typed, validated run configuration: presets, YAML files and command-line overrides.

One :class:`RunConfig` is the single source of truth of a run; it is saved as ``config.yaml`` in
the run folder and a run can be reproduced from that file alone.
"""

from __future__ import annotations

import copy
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from gankit.errors import GankitError
from gankit.options import StrictModel

#: the largest count a setting of steps or intervals accepts
MAX_STEPS = 1_000_000_000


def _validate_options(registry: Any, name: str, options: dict[str, Any], attr: str,
                      where: str) -> dict:
    """Validate ``options`` with the options model that ``registry[name]`` declares."""
    entry = registry.get(name)
    try:
        return getattr(entry, attr).model_validate(options).model_dump(mode="json")
    except ValidationError as err:
        raise PydanticCustomError("nested", describe_validation_error(err, where)) from None


class DataConfig(StrictModel):
    """Where the training data comes from and how it is scaled."""

    name: str = "digits"
    path: str | None = None
    image_size: int | None = Field(None, ge=4, le=2048)
    channels: Literal[1, 3] | None = None
    normalize: Literal["symmetric", "unit"] = "symmetric"
    limit: int | None = Field(None, ge=1, le=MAX_STEPS)
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_options(self) -> DataConfig:
        from gankit.data import DATASETS

        self.options = _validate_options(DATASETS, self.name, self.options, "options",
                                          "data.options")
        return self


class ModelConfig(StrictModel):
    """Generator and discriminator architecture (a family from the model registry)."""

    arch: str = "mlp"
    z_dim: int = Field(100, ge=1, le=4096)
    noise: Literal["gaussian", "uniform", "mixture"] = "gaussian"
    noise_components: int = Field(64, ge=1, le=100_000, description="mixture noise: number of "
                                  "components (fixed N(0, I) centres)")
    noise_spread: float = Field(0.1, gt=0.0, le=10.0, description="mixture noise: std of each "
                                "component around its centre")
    init: Literal["default", "dcgan", "xavier"] = "default"
    pack: int = Field(1, ge=1, le=16, description="PacGAN: samples per D input")
    conditional: Literal["none", "projection", "acgan"] = Field(
        "none", description="class-conditional G and D for labelled data: a projection D or an "
        "auxiliary classifier D (AC-GAN)")
    g: dict[str, Any] = Field(default_factory=dict)
    d: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_options(self) -> ModelConfig:
        from gankit.models import MODELS

        self.g = _validate_options(MODELS, self.arch, self.g, "g_options", "model.g")
        self.d = _validate_options(MODELS, self.arch, self.d, "d_options", "model.d")
        return self


class LossConfig(StrictModel):
    """The adversarial loss and its regularisers."""

    name: str = "ns"
    gp_weight: float = Field(0.0, ge=0.0, le=1e6)
    r1_gamma: float = Field(0.0, ge=0.0, le=1e6,
                            description="R1 penalty γ: γ/2 · E‖∇D(real)‖² (0 = off)")
    class_weight: float = Field(1.0, ge=0.0, le=1e6, description="AC-GAN: weight of the class "
                                "cross-entropy in both players' losses")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        from gankit.losses import LOSSES

        LOSSES.get(name)
        return name


class OptimConfig(StrictModel):
    """Adam settings for G and D, and how many D steps come before each G step."""

    g_lr: float = Field(2e-4, gt=0.0, le=1.0)
    d_lr: float = Field(2e-4, gt=0.0, le=1.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)
    d_steps: int = Field(1, ge=1, le=100)
    lr_decay: Literal["none", "linear", "cosine"] = Field(
        "none", description="learning-rate decay to 0 at train.steps, from lr_decay_start on")
    lr_decay_start: float = Field(0.0, ge=0.0, lt=1.0, description="share of train.steps "
                                  "before the decay starts")


class TrainConfig(StrictModel):
    """Length of training and how often to log, sample and checkpoint."""

    steps: int = Field(2000, ge=1, le=MAX_STEPS)
    batch_size: int = Field(64, ge=1, le=65536)
    ema_decay: float = Field(0.0, ge=0.0, lt=1.0)
    log_every: int = Field(50, ge=1, le=MAX_STEPS)
    sample_every: int = Field(500, ge=1, le=MAX_STEPS)
    checkpoint_every: int = Field(1000, ge=1, le=MAX_STEPS)
    keep_checkpoints: int = Field(2, ge=0, le=1000)
    on_divergence: Literal["stop", "rollback"] = "stop"
    amp: Literal["off", "bf16", "auto"] = Field(
        "off", description="bf16 autocast of the networks' forwards; auto = bf16 where the "
        "device runs it natively (CUDA, or a CPU with AVX512-BF16/AMX), else off")
    sample_grid: int = Field(64, ge=1, le=1024)
    final_grid: int = Field(400, ge=1, le=4096)

    @field_validator("amp", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        """YAML reads a bare ``off`` (as in ``--set train.amp=off``) as false."""
        return "off" if value is False else value


class EvalConfig(StrictModel):
    """Cheap evaluation while training: a few metrics every ``every`` steps, into metrics.jsonl."""

    every: int = Field(0, ge=0, le=MAX_STEPS, description="steps between evaluations (0 = off)")
    samples: int = Field(2500, ge=10, le=100_000, description="generated samples per evaluation")
    extractor: Literal["auto", "raw", "classifier", "inception"] = Field(
        "auto", description="features for FID: auto = raw for 2-D points, classifier for "
        "labelled images")


class RunConfig(StrictModel):
    """Everything that defines a run."""

    preset: str | None = None
    description: str = ""
    recipe: str = "gan"
    seed: int = Field(0, ge=0, lt=2**63)
    device: str = "cpu"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @field_validator("recipe")
    @classmethod
    def _known_recipe(cls, name: str) -> str:
        from gankit.recipes import RECIPES

        RECIPES.get(name)
        return name

    @field_validator("device")
    @classmethod
    def _known_device(cls, device: str) -> str:
        if device not in ("cpu", "cuda", "auto", "mps") and not device.startswith("cuda:"):
            raise ValueError("device must be cpu, cuda, cuda:N, mps or auto")
        return device

    @model_validator(mode="after")
    def _batch_fits_packs(self) -> RunConfig:
        if self.train.batch_size % self.model.pack:
            raise ValueError(f"train.batch_size ({self.train.batch_size}) must be a multiple of "
                             f"model.pack ({self.model.pack})")
        if self.model.pack > 1 and self.model.conditional != "none":
            raise ValueError("model.pack cannot be combined with model.conditional; set one of "
                             "them back to its default")
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


# ---------------------------------------------------------------- presets and merging

DEFAULT_PRESET = "digits"
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def preset_names() -> list[str]:
    folder = resources.files("gankit") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_preset(name: str) -> dict[str, Any]:
    """The raw dictionary of a named preset."""
    if name not in preset_names():
        valid = ", ".join(preset_names())
        raise GankitError(f"Unknown preset {name!r}; choose one of: {valid}.")
    text = (resources.files("gankit") / "presets" / f"{name}.yaml").read_text()
    return yaml.load(text, Loader=UniqueKeyLoader) or {}


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from ``path`` with a clear error for missing or malformed files."""
    path = Path(path)
    if path.is_dir():
        raise GankitError(f"Config file {str(path)!r} is a folder; name a YAML file inside it.")
    if not path.is_file():
        raise GankitError(f"Config file {str(path)!r} does not exist; check the path.")
    try:
        doc = yaml.load(path.read_text(), Loader=UniqueKeyLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise GankitError(f"Config file {str(path)!r} is not valid YAML ({_yaml_problem(err)}); "
                          "fix it and try again.") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise GankitError(f"Config file {str(path)!r} must hold a mapping of settings at its top.")
    return doc


def _yaml_problem(err: Exception) -> str:
    """A one-line description of a YAML or decoding error."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return " ".join(f"{where}{problem}".split())


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``update`` merged in, recursively for nested mappings."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_assignment(text: str) -> dict[str, Any]:
    """Turn ``"train.steps=300"`` into ``{"train": {"steps": 300}}`` (values parsed as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise GankitError(f"Override {text!r} must look like section.key=value.")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        value = float(value)  # YAML 1.1 reads "1e-4" as text
    out: dict[str, Any] = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def validate(doc: dict[str, Any]) -> RunConfig:
    """Validate a raw dictionary, turning pydantic's report into one clear sentence."""
    if not isinstance(doc, dict):
        raise GankitError("A config must be a mapping of settings.")
    try:
        return RunConfig.model_validate(doc)
    except ValidationError as err:
        raise GankitError(describe_validation_error(err)) from None


def describe_validation_error(err: ValidationError, prefix: str = "") -> str:
    """One sentence for the first problem of a validation error (``prefix`` names the section)."""
    first = err.errors()[0]
    if first["type"] == "nested":
        return first["msg"]
    where = ".".join([prefix] * bool(prefix) + [str(p) for p in first["loc"]]) or "config"
    if first["type"] == "extra_forbidden":
        return f"Unknown config key {where!r}; remove it or check its spelling."
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "int_parsing_size":
        msg = "the number is far too large"
    if "input" in first and first["type"] != "missing":
        got = first["input"]
        if not isinstance(got, dict | list):
            msg += f" (got {got!r})"
    more = len(err.errors()) - 1
    tail = f"; {more} more problem(s) after fixing this one" if more else ""
    if not first["loc"] and not prefix:  # a rule across several settings
        return f"Invalid config: {msg}{tail}."
    return f"Invalid setting {where!r}: {msg}{tail}."


def build_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> RunConfig:
    """Preset → config file → overrides, merged in that order and validated.

    The preset is ``preset``, else the file's ``preset`` key, else the default preset; a file
    with ``preset: null`` starts from the bare defaults of :class:`RunConfig`.
    """
    doc: dict[str, Any] = {}
    file_doc = read_yaml(config_file) if config_file else {}
    name = preset or file_doc.get("preset", DEFAULT_PRESET)
    if name:
        doc = load_preset(name)
        doc["preset"] = name
    doc = deep_merge(doc, file_doc)
    overrides = overrides or {}
    doc = _drop_stale_options(doc, overrides, "data", "name", ("options",))
    doc = _drop_stale_options(doc, overrides, "model", "arch", ("g", "d"))
    doc = deep_merge(doc, overrides)
    return validate(doc)


def _drop_stale_options(doc: dict[str, Any], overrides: dict[str, Any], section: str, key: str,
                        option_keys: tuple[str, ...]) -> dict[str, Any]:
    """When an override switches a section's registry entry, its old options no longer apply."""
    old = doc.get(section)
    new = overrides.get(section)
    if not isinstance(old, dict) or not isinstance(new, dict) or key not in new:
        return doc
    if new[key] != old.get(key):
        doc = {**doc, section: {k: v for k, v in old.items() if k not in option_keys}}
    return doc
