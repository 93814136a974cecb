"""Presets, merging, overrides and validation errors of the run configuration."""

import pytest
import yaml

from gankit.config import (
    build_config,
    deep_merge,
    parse_assignment,
    preset_names,
    validate,
)
from gankit.errors import GankitError


def test_default_preset_is_digits():
    cfg = build_config()
    assert cfg.preset == "digits" and cfg.data.name == "digits"


def test_every_preset_validates():
    names = preset_names()
    assert {"digits", "seed-mlp", "seed-dcgan", "dcgan64", "ring8", "grid25"} <= set(names)
    for name in names:
        cfg = build_config(name)
        assert cfg.preset == name
        assert cfg.description, f"preset {name} needs a description"


def test_seed_presets_follow_the_texts():
    mlp = build_config("seed-mlp")
    assert (mlp.train.batch_size, mlp.train.steps, mlp.model.noise) == (128, 12001, "uniform")
    assert (mlp.optim.g_lr, mlp.optim.beta1, mlp.data.normalize) == (2e-4, 0.5, "unit")
    assert build_config("seed-dcgan").train.batch_size == 64


def test_file_then_overrides_win(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"preset": "seed-dcgan", "train": {"steps": 7}}))
    cfg = build_config(None, path, {"train": {"batch_size": 3}})
    assert (cfg.preset, cfg.train.steps, cfg.train.batch_size) == ("seed-dcgan", 7, 3)
    assert cfg.model.arch == "dcgan"


def test_changing_data_source_drops_the_old_sources_options():
    cfg = build_config("ring8", None, {"data": {"name": "digits"}})
    assert cfg.data.name == "digits" and cfg.data.options == {}


def test_changing_model_family_drops_the_old_familys_options():
    cfg = build_config("digits", None, {"model": {"arch": "dcgan", "d": {"channels": [8]}}})
    assert cfg.model.arch == "dcgan" and cfg.model.d["channels"] == [8]
    assert cfg.model.g["channels"] == [256, 128, 64]  # the family's defaults


def test_parse_assignment_parses_yaml_values():
    assert parse_assignment("optim.g_lr=1e-4") == {"optim": {"g_lr": 1e-4}}
    assert parse_assignment("model.g.hidden=[8, 16]") == {"model": {"g": {"hidden": [8, 16]}}}
    with pytest.raises(GankitError, match="section.key=value"):
        parse_assignment("novalue")


def test_deep_merge_does_not_mutate():
    base = {"a": {"b": 1, "c": 2}}
    merged = deep_merge(base, {"a": {"b": 5}})
    assert merged == {"a": {"b": 5, "c": 2}} and base == {"a": {"b": 1, "c": 2}}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"train": {"steps": 0}}, "train.steps"),
        ({"train": {"stepz": 10}}, "Unknown config key 'train.stepz'"),
        ({"optim": {"g_lr": "fast"}}, "optim.g_lr"),
        ({"model": {"arch": "transformer"}}, "Unknown model 'transformer'"),
        ({"model": {"g": {"hidden": [8], "colour": 1}}}, "model.g"),
        ({"loss": {"name": "cross"}}, "Unknown loss 'cross'"),
        ({"data": {"name": "imagenet"}}, "Unknown data set 'imagenet'"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_values_raise_one_clear_sentence(doc, message):
    with pytest.raises(GankitError, match=message) as info:
        validate(doc)
    assert "\n" not in str(info.value)


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(GankitError, match="digits.*seed-dcgan"):
        build_config("nope")


def test_config_round_trips_through_yaml():
    cfg = build_config("seed-dcgan")
    again = validate(yaml.safe_load(cfg.to_yaml()))
    assert again == cfg and type(again) is type(cfg)


def test_missing_or_malformed_config_file(tmp_path):
    with pytest.raises(GankitError, match="does not exist"):
        build_config(None, tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed")
    with pytest.raises(GankitError, match="not valid YAML"):
        build_config(None, bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(GankitError, match="mapping"):
        build_config(None, listy)
