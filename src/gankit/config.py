"""The typed, validated run configuration: presets, YAML files and command-line overrides.

One :class:`RunConfig` is the single source of truth of a run; it is saved as ``config.yaml`` in
the run folder and a run can be reproduced from that file alone.
"""

from __future__ import annotations

import copy
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

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
    #: keep only the samples of these classes (indices; e.g. the normal class of one-class
    #: anomaly detection); None: all of them
    classes: list[Annotated[int, Field(ge=0, le=100_000)]] | None = Field(None, min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_options(self) -> DataConfig:
        from gankit.data import DATASETS

        self.options = _validate_options(DATASETS, self.name, self.options, "options",
                                          "data.options")
        return self


class ModelFamilyConfig(StrictModel):
    """A generator-like and a discriminator-like network from a model family of the registry."""

    arch: str = "mlp"
    z_dim: int = Field(100, ge=1, le=4096)
    init: Literal["default", "dcgan", "xavier"] = "default"
    g: dict[str, Any] = Field(default_factory=dict)
    d: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_options(self) -> ModelFamilyConfig:
        from gankit.models import MODELS

        self.g = _validate_options(MODELS, self.arch, self.g, "g_options", "model.g")
        self.d = _validate_options(MODELS, self.arch, self.d, "d_options", "model.d")
        return self


class ScheduleConfig(StrictModel):
    """A learning-rate decay to 0 at the last step (a ``LambdaLR`` schedule)."""

    lr_decay: Literal["none", "linear", "cosine"] = Field(
        "none", description="learning-rate decay to 0 at train.steps, from lr_decay_start on")
    lr_decay_start: float = Field(0.0, ge=0.0, lt=1.0, description="share of train.steps "
                                  "before the decay starts")


class TrainConfig(StrictModel):
    """Length of training and how often to log, draw pictures and checkpoint."""

    steps: int = Field(2000, ge=1, le=MAX_STEPS)
    batch_size: int = Field(64, ge=1, le=65536)
    log_every: int = Field(50, ge=1, le=MAX_STEPS)
    sample_every: int = Field(500, ge=1, le=MAX_STEPS)
    checkpoint_every: int = Field(1000, ge=1, le=MAX_STEPS)
    keep_checkpoints: int = Field(2, ge=0, le=1000)
    on_divergence: Literal["stop", "rollback"] = "stop"
    amp: Literal["off", "bf16", "auto"] = Field(
        "off", description="bf16 autocast of the networks' forwards; auto = bf16 where the "
        "device runs it natively (CUDA, or a CPU with AVX512-BF16/AMX), else off")

    @field_validator("amp", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        """YAML reads a bare ``off`` (as in ``--set train.amp=off``) as false."""
        return "off" if value is False else value


class GenerativeTrainConfig(TrainConfig):
    """Training settings of recipes that generate samples: an EMA copy and sample grids."""

    ema_decay: float = Field(0.0, ge=0.0, lt=1.0)
    sample_grid: int = Field(64, ge=1, le=1024)
    final_grid: int = Field(400, ge=1, le=4096)


class EvalConfig(StrictModel):
    """Cheap evaluation while training: a few metrics every ``every`` steps, into metrics.jsonl."""

    every: int = Field(0, ge=0, le=MAX_STEPS, description="steps between evaluations (0 = off)")
    samples: int = Field(2500, ge=10, le=100_000, description="generated samples per evaluation")
    extractor: Literal["auto", "raw", "classifier", "inception"] = Field(
        "auto", description="features for FID: auto = raw for 2-D points, classifier for "
        "labelled images")


class LogConfig(StrictModel):
    """Where a run's records go besides metrics.jsonl (logging only: training is the same)."""

    tensorboard: bool = Field(False, description="also write TensorBoard event files into "
                              "RUN/tensorboard/ (pip install \"gankit[tensorboard]\")")


#: the version of the config.yaml layout that this code writes
CONFIG_VERSION = 2


class RunConfig(StrictModel):
    """What every run has; each recipe's own config (``Recipe.Config``) adds its sections."""

    config_version: int = Field(CONFIG_VERSION, ge=1, le=CONFIG_VERSION)
    preset: str | None = None
    description: str = ""
    recipe: str = "gan"
    seed: int = Field(0, ge=0, lt=2**63)
    device: str = "cpu"
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    log: LogConfig = Field(default_factory=LogConfig)

    @field_validator("device")
    @classmethod
    def _known_device(cls, device: str) -> str:
        if device not in ("cpu", "cuda", "auto", "mps") and not device.startswith("cuda:"):
            raise ValueError("device must be cpu, cuda, cuda:N, mps or auto")
        return device

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


def recipe_config(doc: dict[str, Any]) -> type[RunConfig]:
    """The config model of the recipe that ``doc`` names (``gan`` when it names none)."""
    from gankit.recipes import RECIPES

    name = doc.get("recipe", "gan")
    if not isinstance(name, str):
        raise GankitError(f"Invalid setting 'recipe': must be a recipe name (got {name!r}).")
    return RECIPES.get(name).Config


def validate(doc: dict[str, Any]) -> RunConfig:
    """Validate a raw dictionary with its recipe's config model, as one clear sentence."""
    if not isinstance(doc, dict):
        raise GankitError("A config must be a mapping of settings.")
    try:
        return recipe_config(doc).model_validate(doc)
    except ValidationError as err:
        raise GankitError(describe_validation_error(err)) from None


def migrate(doc: dict[str, Any]) -> dict[str, Any]:
    """A run folder's ``config.yaml`` of an earlier layout, in today's layout.

    Layout 1 (before ``config_version``) gave every recipe the GAN's sections: the VAE's
    config also held ``loss``, ``optim.d_lr``/``d_steps`` and ``model.pack``/``conditional``/
    ``noise*``, which never applied to it, and called its learning rate ``optim.g_lr``.
    """
    doc = copy.deepcopy(doc)
    if doc.get("config_version", 1) == 1 and doc.get("recipe") == "vae":
        doc.pop("loss", None)
        optim = doc.get("optim", {})
        if "g_lr" in optim:
            optim["lr"] = optim.pop("g_lr")
        for key in ("d_lr", "d_steps"):
            optim.pop(key, None)
        for key in ("pack", "conditional", "noise", "noise_components", "noise_spread"):
            doc.get("model", {}).pop(key, None)
    doc["config_version"] = CONFIG_VERSION
    return doc


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
    overrides = overrides or {}
    recipe = overrides.get("recipe", file_doc.get("recipe", doc.get("recipe", "gan")))
    if recipe != doc.get("recipe", "gan"):  # the preset's settings for another recipe
        doc = fit_to(recipe_config({"recipe": recipe}), {**doc, "recipe": recipe})
    doc = deep_merge(doc, file_doc)
    doc = _drop_stale_options(doc, overrides, "data", "name", ("options",))
    doc = _drop_stale_options(doc, overrides, "model", "arch", ("g", "d"))
    doc = deep_merge(doc, overrides)
    return validate(doc)


def fit_to(model: type[StrictModel], doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without the keys ``model`` has no field for (recursively into sections)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        field = model.model_fields.get(key)
        if field is None:
            continue
        sub = field.annotation
        if isinstance(value, dict) and isinstance(sub, type) and issubclass(sub, StrictModel):
            value = fit_to(sub, value)
        out[key] = value
    return out


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
