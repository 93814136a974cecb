"""Scores of synthetic tables (gankit.tables.quality, gankit.tables.utility): SDMetrics'
quality report recomputed, detection, SDGym's efficacy and the distance to the closest record."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gankit.errors import GankitError
from gankit.tables import ColumnInfo, detect_columns, prepare
from gankit.tables.quality import (
    detection,
    ks_complement,
    prepared_tables,
    quality,
    tv_complement,
)
from gankit.tables.utility import CLASSIFIERS, distance_to_closest_record, efficacy

SDTYPES = {"continuous": "numerical", "integer": "numerical", "categorical": "categorical",
           "boolean": "boolean", "datetime": "datetime"}


def _real(rows: int = 1_000, seed: int = 0) -> pd.DataFrame:
    """Two correlated numbers (one with missing values), an integer, two categoricals (one with
    missing values), a boolean, a datetime, and a binary target that depends on them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    frame = pd.DataFrame({
        "x": x,
        "y": 2.0 * x + rng.normal(size=rows),
        "k": rng.integers(0, 20, rows) + 5 * (x > 0),
        "c": np.where(x > 0.3, "a", np.where(rng.random(rows) < 0.5, "b", "c")),
        "d": rng.choice(["u", "v", "w", "z"], rows, p=[0.4, 0.3, 0.2, 0.1]).astype(object),
        "b": x + rng.normal(size=rows) > 0,
        "t": pd.Timestamp("2020-01-01") + pd.to_timedelta(
            rng.integers(0, 1_000, rows) + (100 * x).astype(int), unit="D"),
        "label": np.where(x + 0.5 * rng.normal(size=rows) > 0.8, "high", "low"),
    })
    frame.loc[rng.random(rows) < 0.05, "x"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "d"] = None
    return frame


def _perturbed(real: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """A shuffled copy with noise on the numbers and some categories and booleans changed."""
    rng = np.random.default_rng(seed)
    synthetic = real.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    synthetic["x"] = synthetic["x"] + rng.normal(scale=0.3, size=len(synthetic))
    synthetic["k"] = np.clip(synthetic["k"] + rng.integers(-2, 3, len(synthetic)), 0, 24)
    synthetic["t"] = synthetic["t"] + pd.to_timedelta(rng.integers(0, 30, len(synthetic)), "D")
    synthetic.loc[:300, "c"] = "b"
    synthetic.loc[:100, "b"] = False
    synthetic.loc[:50, "d"] = None
    return synthetic


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame, list[ColumnInfo]]:
    real = _real()
    columns = detect_columns(real)
    return prepare(real, columns), prepare(_perturbed(prepare(real, columns)), columns), columns


def _report(real: pd.DataFrame, synthetic: pd.DataFrame, columns: list[ColumnInfo],
            thresholds: tuple[float, float]) -> Any:
    single_table = pytest.importorskip("sdmetrics.reports.single_table")
    metadata = {"columns": {c.name: {"sdtype": SDTYPES[c.kind]} for c in columns}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = single_table.QualityReport()
        report.real_correlation_threshold, report.real_association_threshold = thresholds
        report.generate(real, synthetic, metadata, verbose=False)
    return report


def test_detected_kinds(tables):
    _, _, columns = tables
    assert [c.kind for c in columns] == ["continuous", "continuous", "integer", "categorical",
                                         "categorical", "boolean", "datetime", "categorical"]


@pytest.mark.parametrize("thresholds", [(0.5, 0.3), (0.0, 0.0)])
def test_quality_equals_sdmetrics_report(tables, thresholds):
    real, synthetic, columns = tables
    report = _report(real, synthetic, columns, thresholds)
    ours = quality(real, synthetic, columns, correlation_threshold=thresholds[0],
                   association_threshold=thresholds[1])
    properties = report.get_properties().set_index("Property")["Score"]
    assert ours["quality"] == pytest.approx(report.get_score(), abs=1e-9)
    assert ours["column_shapes"] == pytest.approx(properties["Column Shapes"], abs=1e-9)
    assert ours["column_pair_trends"] == pytest.approx(properties["Column Pair Trends"],
                                                       abs=1e-9)
    shapes = report.get_details("Column Shapes")
    assert list(shapes["Column"]) == list(ours["columns"])
    for name, score in zip(shapes["Column"], shapes["Score"], strict=True):
        assert ours["columns"][name] == pytest.approx(score, abs=1e-9)
    pairs = report.get_details("Column Pair Trends")
    assert len(pairs) == len(ours["pairs"]) == 28
    counted = 0
    for (_, row), pair in zip(pairs.iterrows(), ours["pairs"], strict=True):
        assert pair["columns"] == [row["Column 1"], row["Column 2"]]
        assert pair["metric"] == row["Metric"]
        real_trend = row["Real Correlation"] if pair["metric"] == "CorrelationSimilarity" \
            else row["Real Association"]
        if not np.isnan(real_trend):
            assert pair["real"] == pytest.approx(real_trend, abs=1e-9)
        counts = bool(row["Meets Threshold?"]) and not np.isnan(row["Score"])
        assert pair["counted"] == counts
        if counts:
            counted += 1
            assert pair["score"] == pytest.approx(row["Score"], abs=1e-9)
    assert counted == sum(p["counted"] for p in ours["pairs"])
    assert counted == 28 if thresholds == (0.0, 0.0) else 0 < counted < 28


def test_single_column_scores_equal_sdmetrics(tables):
    single_column = pytest.importorskip("sdmetrics.single_column")
    real, synthetic, columns = tables
    for info in columns:
        if info.numeric:
            expected = single_column.KSComplement.compute(real[info.name], synthetic[info.name])
            assert ks_complement(real[info.name], synthetic[info.name]) == pytest.approx(
                expected, abs=1e-12)
        else:
            expected = single_column.TVComplement.compute(real[info.name], synthetic[info.name])
            assert tv_complement(real[info.name], synthetic[info.name]) == pytest.approx(
                expected, abs=1e-12)
    # a category only the synthetic side has counts 1e-6 on the real side
    extra = pd.Series(["a", "a", "b", "q"])
    expected = single_column.TVComplement.compute(pd.Series(["a", "b", "b"]), extra)
    assert tv_complement(pd.Series(["a", "b", "b"]), extra) == pytest.approx(expected,
                                                                             abs=1e-12)


def test_quality_of_a_copy_and_row_cap(tables):
    real, synthetic, columns = tables
    same = quality(real, real, columns, correlation_threshold=0, association_threshold=0)
    assert same["quality"] == pytest.approx(1.0)
    assert all(p["score"] == pytest.approx(1.0) for p in same["pairs"])
    capped = [quality(real, synthetic, columns, max_rows=400, seed=3) for _ in range(2)]
    assert capped[0] == capped[1]
    full = quality(real, synthetic, columns)
    assert capped[0]["columns"] == full["columns"]  # the cap is for contingency pairs only
    assert abs(capped[0]["quality"] - full["quality"]) < 0.05
    with pytest.raises(GankitError, match="between 0 and 1"):
        quality(real, synthetic, columns, correlation_threshold=2)


def test_detection(tables):
    real, synthetic, columns = tables
    itself = detection(real, real, columns)
    assert itself["score"] > 0.9 and len(itself["auc"]) == 3
    other = real.copy()
    other["x"] = other["x"] + 10.0
    other["c"] = "c"
    assert detection(real, other, columns)["score"] < 0.05
    assert detection(real, synthetic, columns) == detection(real, synthetic, columns)


def test_efficacy_is_seeded_and_sensible(tables):
    real, synthetic, columns = tables
    train, test = real.iloc[:700], real.iloc[700:]
    first = efficacy(train, synthetic, test, columns, "label")
    assert first == efficacy(train, synthetic, test, columns, "label")
    assert first["positive"] == "high"  # the rarer class
    assert set(first["real"]) == {*CLASSIFIERS, "mean"}
    assert 0.5 < first["real"]["mean"] <= 1.0
    assert first["real"]["mean"] == pytest.approx(np.mean(
        [first["real"][name] for name in CLASSIFIERS]))
    assert 0.0 <= first["synthetic"]["mean"] <= 1.0
    only = efficacy(train, synthetic, test, columns, "label", reference=False, positive="low")
    assert "real" not in only and only["positive"] == "low"
    with pytest.raises(GankitError, match="categorical or boolean target"):
        efficacy(train, synthetic, test, columns, "x")
    with pytest.raises(GankitError, match="not one of"):
        efficacy(train, synthetic, test, columns, "nope")


def test_distance_to_closest_record(tables):
    real, synthetic, columns = tables
    train, holdout = real.iloc[:700], real.iloc[700:]
    copies = distance_to_closest_record(train, train, holdout, columns, rows=300)
    assert copies["copies"] == 1.0
    assert copies["synthetic"]["median"] == 0.0 and copies["synthetic"]["p5"] == 0.0
    assert copies["synthetic"]["rows"] == 300
    assert copies["holdout"]["median"] > 0.0 and copies["holdout_copies"] == 0.0
    far = distance_to_closest_record(train, synthetic, holdout, columns, rows=300)
    assert far == distance_to_closest_record(train, synthetic, holdout, columns, rows=300)
    assert far["synthetic"]["median"] > 0.0 and far["copies"] < 0.1


def test_unknown_categories_are_missing_and_bad_tables_say_so(tables):
    real, _, columns = tables
    odd = real.copy()
    odd.loc[0, "d"], odd.loc[1, "b"] = "new", None
    (clean,) = prepared_tables(columns, test=odd)
    assert clean.loc[0, "d"] is None and pd.isna(clean.loc[1, "b"])
    assert clean.loc[2:, "d"].equals(real.loc[2:, "d"])
    with pytest.raises(GankitError, match="no rows"):
        quality(real, real.iloc[:0], columns)
    with pytest.raises(GankitError, match="DataFrame"):
        detection(real, real.to_numpy(), columns)
