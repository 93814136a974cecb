"""Evaluation is declared by the data source, and ``--metrics`` computes only what is asked."""

from typing import Literal

import pytest
import torch

import gankit
from gankit.config import DataConfig
from gankit.data import DATASETS, Dataset, DataSource, Evaluation, evaluation_of
from gankit.errors import GankitError
from gankit.metrics.evaluate import METRICS, chosen_metrics, reference_data
from gankit.options import StrictModel

TINY = {"data": {"name": "ring8", "options": {"n_samples": 2000}},
        "model": {"z_dim": 4, "g": {"hidden": [16]}, "d": {"hidden": [16]}},
        "train": {"steps": 4, "batch_size": 32, "log_every": 2, "sample_every": 4,
                  "checkpoint_every": 4, "final_grid": 4}, "eval": {"every": 0}}


def test_the_built_in_sources_declare_how_they_are_evaluated():
    assert evaluation_of("mnist").test_split and evaluation_of("fashion-mnist").test_split
    stacked = evaluation_of("stacked-mnist")
    assert stacked.classifier == "mnist" and stacked.per_channel
    assert stacked.modes == "channel-classes" and stacked.mode_samples == 26_000
    assert evaluation_of("ring8").modes == "mixture" == evaluation_of("grid25").modes
    assert evaluation_of("digits") == Evaluation()


def test_metrics_apply_by_data_set_and_are_checked():
    assert chosen_metrics(None, "digits") == set(METRICS) - {"modes"}
    assert chosen_metrics(None, "ring8") == set(METRICS)
    assert chosen_metrics(("fid", "kid"), "digits") == {"fid", "kid"}
    with pytest.raises(GankitError, match="Unknown metric 'fidd'; choose from: fid, kid"):
        chosen_metrics(("fidd",), "digits")
    with pytest.raises(GankitError, match="declares no modes"):
        chosen_metrics(("modes",), "digits")


class SplitOptions(StrictModel):
    split: Literal["train", "test"] = "train"


def test_a_new_source_with_a_test_split_is_compared_with_it(monkeypatch):
    def load(cfg, options):
        value = 1.0 if options.split == "test" else 0.0
        return Dataset(name="halves", x=torch.full((6, 2), value), kind="points")

    monkeypatch.setitem(DATASETS._entries, "halves",
                        DataSource(load, SplitOptions, "test source", Evaluation(test_split=True)))
    real, where = reference_data(DataConfig(name="halves"), "test")
    assert where == "halves test split" and bool((real.x == 1.0).all())
    monkeypatch.setitem(DATASETS._entries, "halves", DataSource(load, SplitOptions, "no split"))
    real, where = reference_data(DataConfig(name="halves"), "test")
    assert "no test split" in where and bool((real.x == 0.0).all())


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    return gankit.train(TINY, out=tmp_path_factory.mktemp("runs") / "ring", progress=False)


def test_only_the_asked_metrics_are_computed(ring_run):
    opts = {"num_generated": 300, "num_real": 300, "mode_samples": 300, "kid_subsets": 5,
            "kid_subset_size": 100, "progress": False}
    some = gankit.evaluate(ring_run.path, write=False, metrics=("fid",), **opts)
    raw = some["extractors"]["raw"]
    assert "fid" in raw and not {"kid_mean", "precision", "coverage"} & raw.keys()
    assert "modes" not in some and some["protocol"]["metrics"] == ["fid"]
    everything = gankit.evaluate(ring_run.path, write=False, **opts)
    assert {"fid", "kid_mean", "precision", "coverage"} <= everything["extractors"]["raw"].keys()
    assert everything["modes"]["protocol"]["samples"] == 300
    assert everything["extractors"]["raw"]["fid"] == pytest.approx(raw["fid"])
