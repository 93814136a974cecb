"""Column detection and CTGAN's reversible table encoding (gankit.tables), on small tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gankit.errors import GankitError
from gankit.tables import (
    MISSING,
    OTHER,
    ColumnInfo,
    TableTransformer,
    detect_columns,
    prepare,
)

ADULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "adult" / "adult.data.gz"
ADULT_NAMES = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
               "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
               "hours-per-week", "native-country", "income"]


def _mixed(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """Two clear modes (near 0 and near 50), an integer, categorical, boolean and datetime
    column, and missing values in one numeric and one categorical column."""
    rng = np.random.default_rng(seed)
    half = rows // 2
    bimodal = np.concatenate([np.clip(rng.normal(0.0, 1.0, half), -2.5, 2.5),
                              np.clip(rng.normal(50.0, 2.0, rows - half), 45.0, 55.0)])
    price = rng.uniform(1.0, 100.0, rows)
    price[rng.random(rows) < 0.2] = np.nan
    kind = rng.choice(["a", "b", "c"], rows).astype(object)
    kind[rng.random(rows) < 0.15] = "?"
    return pd.DataFrame({
        "bimodal": bimodal,
        "count": rng.integers(0, 40, rows),
        "colour": rng.choice(["red", " green", "blue "], rows),
        "flag": rng.random(rows) < 0.3,
        "when": pd.Timestamp("2021-03-01") + pd.to_timedelta(rng.integers(0, 9 * 86_400, rows),
                                                             unit="s"),
        "price": price,
        "kind": kind,
    })


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _mixed()


@pytest.fixture(scope="module")
def fitted(table: pd.DataFrame) -> TableTransformer:
    return TableTransformer.fit(table, detect_columns(table), seed=0)


def test_detect_kinds_missing_and_ranges(table: pd.DataFrame) -> None:
    info = {c.name: c for c in detect_columns(table)}
    assert {n: c.kind for n, c in info.items()} == {
        "bimodal": "continuous", "count": "integer", "colour": "categorical", "flag": "boolean",
        "when": "datetime", "price": "continuous", "kind": "categorical"}
    assert info["colour"].categories == ["blue", "green", "red"]
    assert info["flag"].categories == ["false", "true"]
    assert info["kind"].categories == ["a", "b", "c"]
    assert info["kind"].missing == pytest.approx((table["kind"] == "?").mean())
    assert info["price"].missing == pytest.approx(table["price"].isna().mean())
    assert info["count"].minimum == table["count"].min()
    assert info["when"].maximum == float(table["when"].max().as_unit("ns").value)
    for column in info.values():
        assert ColumnInfo.from_json(json.loads(json.dumps(column.to_json()))) == column


def test_detect_from_strings() -> None:
    frame = pd.DataFrame({
        "n": ["1", " 2", "?", "30"], "x": ["1.5", "2", "", "3"], "yes": ["Yes", "no", "NO", "?"],
        "day": ["2020-01-02", "2020-02-03", "2021-12-31", None], "word": ["a-b", "c-d", "a-b", "e"],
        "code": [3, 1, 3, 2]})
    kinds = {c.name: c.kind for c in detect_columns(frame, discrete=["code"], drop=["word"])}
    assert kinds == {"n": "integer", "x": "continuous", "yes": "boolean", "day": "datetime",
                     "code": "categorical"}
    clean = prepare(frame, detect_columns(frame, discrete=["code"]))
    assert clean["n"].isna().tolist() == [False, False, True, False]
    assert clean["yes"].tolist()[:3] == [True, False, False]
    assert clean["code"].tolist() == ["3", "1", "3", "2"]


def test_round_trip(table: pd.DataFrame, fitted: TableTransformer) -> None:
    matrix = fitted.transform(table)
    assert matrix.dtype == np.float32 and matrix.shape == (len(table), fitted.output_width)
    back = fitted.inverse(matrix)
    assert list(back.columns) == list(table.columns)
    np.testing.assert_allclose(back["bimodal"], table["bimodal"], rtol=1e-3, atol=1e-3)
    assert back["count"].dtype == np.int64 and (back["count"] == table["count"]).all()
    assert back["colour"].tolist() == table["colour"].str.strip().tolist()
    assert back["flag"].dtype == bool and (back["flag"] == table["flag"]).all()
    assert back["when"].dtype == "datetime64[ns]"
    assert (back["when"].dt.round("s") == table["when"]).all()
    present = table["price"].notna()
    assert (back["price"].isna() == ~present).all()
    np.testing.assert_allclose(back["price"][present], table["price"][present], rtol=1e-3)
    kind = table["kind"].where(table["kind"] != "?")
    assert (back["kind"].isna() == kind.isna()).all()
    assert back["kind"][kind.notna()].tolist() == kind.dropna().tolist()


def test_layout_and_determinism(table: pd.DataFrame, fitted: TableTransformer) -> None:
    starts = [s.start for s in fitted.spans]
    ends = [s.start + s.width for s in fitted.spans]
    assert starts[0] == 0 and starts[1:] == ends[:-1] and ends[-1] == fitted.output_width
    assert [s.kind for s in fitted.spans if fitted.columns[s.column].name == "price"] == [
        "scalar", "onehot", "onehot"]
    assert [(fitted.columns[d.column].name, d.width) for d in fitted.discrete_spans] == [
        ("colour", 3), ("flag", 2), ("kind", 4)]
    matrix = fitted.transform(table, seed=5)
    assert np.array_equal(matrix, fitted.transform(table, seed=5))
    for span in fitted.spans:
        block = matrix[:, span.start:span.start + span.width]
        if span.kind == "onehot":
            assert (block.sum(axis=1) == 1).all()
        else:
            assert np.abs(block).max() <= 0.99
    from_frame = fitted.category_frequencies(table)
    from_matrix = fitted.category_frequencies(matrix)
    assert all(np.array_equal(a, b) for a, b in zip(from_frame, from_matrix, strict=True))
    assert from_frame[2][-1] == (table["kind"] == "?").sum()


def test_prepared_table_encodes_like_the_raw_one(table: pd.DataFrame,
                                                 fitted: TableTransformer) -> None:
    clean = prepare(table, fitted.columns)
    assert np.array_equal(fitted.transform(clean, seed=1), fitted.transform(table, seed=1))
    again = TableTransformer.fit(clean, fitted.columns, seed=0)
    assert again.state() == fitted.state()


def test_bimodal_column_gets_two_modes(fitted: TableTransformer) -> None:
    mode = fitted.modes[0]
    assert mode is not None and len(mode.means) == 2
    np.testing.assert_allclose(mode.means, [0.0, 50.0], atol=0.5)
    # the mixture's covariance prior (the whole column's spread) widens modes of small samples
    assert ((mode.stds > 0.5) & (mode.stds < 5.0)).all()
    np.testing.assert_allclose(mode.weights, [0.5, 0.5], atol=0.02)


def test_zero_inflated_column_gets_an_exact_point_mass() -> None:
    """A floor value holding at least 5 % of a column (adult's capital-gain zeros) is a mode
    of width 0: encoded and decoded exactly whatever the generator's scalar, never smeared."""
    rng = np.random.default_rng(3)
    rows = 600
    gain = np.where(rng.random(rows) < 0.8, 0.0, rng.uniform(2_000.0, 20_000.0, rows)).round()
    frame = pd.DataFrame({"gain": gain, "group": rng.choice(["x", "y"], rows)})
    fitted = TableTransformer.fit(frame, detect_columns(frame), seed=0)
    mode = fitted.modes[0]
    assert mode is not None
    point = np.flatnonzero(mode.stds == 0)
    assert len(point) == 1 and mode.means[point[0]] == 0.0
    np.testing.assert_allclose(mode.weights[point[0]], (gain == 0).mean(), atol=1e-9)
    assert (fitted.inverse(fitted.transform(frame))["gain"] == frame["gain"]).all()
    scalar, onehot = fitted.spans[:2]
    matrix = rng.normal(0.0, 2.0, size=(500, fitted.output_width))
    matrix[:, onehot.start:onehot.start + onehot.width] = np.eye(onehot.width)[point[0]]
    assert scalar.kind == "scalar" and (fitted.inverse(matrix)["gain"] == 0).all()
    # a heap inside the range (a 40-hour week) is left to the mixture
    hours = np.where(rng.random(rows) < 0.5, 40.0, rng.uniform(10.0, 80.0, rows).round())
    inner = pd.DataFrame({"hours": hours, "group": frame["group"]})
    modes = TableTransformer.fit(inner, detect_columns(inner), seed=0).modes[0]
    assert modes is not None and (modes.stds > 0).all()


def test_inverse_of_random_matrices_stays_in_range(fitted: TableTransformer) -> None:
    rng = np.random.default_rng(1)
    back = fitted.inverse(rng.normal(0.0, 2.0, size=(500, fitted.output_width)))
    for info in fitted.columns:
        column = back[info.name]
        if info.kind == "datetime":
            ns = column.dropna().astype("int64")
            assert ns.min() >= info.minimum and ns.max() <= info.maximum
        elif info.numeric:
            values = column.dropna().astype(float)
            assert values.min() >= info.minimum and values.max() <= info.maximum
            if info.kind == "integer":
                assert (values == np.round(values)).all()
        elif info.kind == "categorical":
            assert set(column.dropna()) <= set(info.categories)
    assert back["count"].dtype == np.int64
    assert back["price"].isna().any() and back["kind"].isna().any()
    assert MISSING not in set(back["kind"].dropna())


def test_state_round_trip_is_bit_identical(table: pd.DataFrame,
                                           fitted: TableTransformer) -> None:
    again = TableTransformer.from_state(json.loads(json.dumps(fitted.state())))
    assert again.spans == fitted.spans and again.discrete_spans == fitted.discrete_spans
    matrix = fitted.transform(table, seed=3)
    assert np.array_equal(again.transform(table, seed=3), matrix)
    noise = np.random.default_rng(2).normal(size=(200, fitted.output_width))
    pd.testing.assert_frame_equal(again.inverse(noise), fitted.inverse(noise))
    pd.testing.assert_frame_equal(again.inverse(matrix), fitted.inverse(matrix))


def test_bad_state_and_matrix(fitted: TableTransformer) -> None:
    with pytest.raises(GankitError, match="format"):
        TableTransformer.from_state({"format": "other"})
    state = fitted.state()
    state["modes"] = state["modes"][:-1]
    with pytest.raises(GankitError, match="pairs columns and modes wrongly"):
        TableTransformer.from_state(state)
    with pytest.raises(GankitError, match="shape"):
        fitted.inverse(np.zeros((3, fitted.output_width + 1)))


def test_missing_in_a_column_fitted_without_any(table: pd.DataFrame,
                                                fitted: TableTransformer) -> None:
    other = table.head(10).copy()
    other.loc[0, "bimodal"] = np.nan
    with pytest.raises(GankitError, match="'bimodal'"):
        fitted.transform(other)
    other = table.head(10).copy()
    other["colour"] = "purple"
    with pytest.raises(GankitError, match="'colour'.*'purple'"):
        fitted.transform(other)


@pytest.mark.parametrize(("frame", "options", "pattern"), [
    (pd.DataFrame({"a": [1, 2], "b": [3, 4]}), {"discrete": ["c"]}, "'c' in discrete"),
    (pd.DataFrame({"a": [1, 2], "b": [3, 4]}), {"drop": ["zz"]}, "'zz' in drop"),
    (pd.DataFrame({"a": [], "b": []}), {}, "no rows"),
    (pd.DataFrame({"a": [1, 2], "b": [3, 4]}), {"drop": ["b"]}, "only column 'a'"),
    (pd.DataFrame({"a": [1, 2], "b": ["?", " "]}), {}, "'b' has no values"),
    (pd.DataFrame({"a": [1, 2], "b": [np.nan, np.nan]}), {}, "'b' has no values"),
    (pd.DataFrame({"a": [1, 2], "b": [7, 7]}), {}, "'b' holds the single value.*drop it"),
    (pd.DataFrame({"a": [1, 2], "b": ["x", "x "]}), {}, "'b' holds the single value"),
    (pd.DataFrame({"a": range(300), "id": [f"u{i}" for i in range(300)]}),
     {"max_categories": 100}, "'id' looks like an identifier.*drop it"),
])
def test_bad_input_names_the_column(frame: pd.DataFrame, options: dict, pattern: str) -> None:
    with pytest.raises(GankitError, match=pattern) as caught:
        detect_columns(frame, **options)
    assert str(caught.value).count(". ") == 0 and str(caught.value).endswith(".")


def test_high_cardinality_is_capped() -> None:
    rng = np.random.default_rng(0)
    rows = 20_000
    city = np.array([f"city{i}" for i in range(5_000)])[rng.zipf(1.3, rows) % 5_000]
    frame = pd.DataFrame({"city": city, "x": rng.normal(size=rows)})
    distinct = len(set(city))
    info = detect_columns(frame, max_categories=50)[0]
    assert len(info.categories) == 50 and OTHER in info.categories
    assert info.capped == distinct - 49
    counts = pd.Series(city).value_counts()
    assert set(counts.index[:49]) == set(info.categories) - {OTHER}
    transformer = TableTransformer.fit(frame.head(2_000), [info, detect_columns(frame)[1]],
                                       max_modes=3)
    assert transformer.discrete_spans[0].width == 50
    back = transformer.inverse(transformer.transform(frame.head(2_000)))
    kept = frame["city"].head(2_000).where(frame["city"].head(2_000).isin(info.categories), OTHER)
    assert back["city"].tolist() == kept.tolist()


@pytest.mark.skipif(not ADULT.exists(), reason=f"{ADULT} not found")
def test_adult_kinds() -> None:
    frame = pd.read_csv(ADULT, header=None, names=ADULT_NAMES, sep=",", skipinitialspace=True)
    info = {c.name: c for c in detect_columns(frame)}
    integers = {"age", "fnlwgt", "education-num", "capital-gain", "capital-loss",
                "hours-per-week"}
    assert {n for n, c in info.items() if c.kind == "integer"} == integers
    assert all(info[n].kind == "categorical" for n in set(ADULT_NAMES) - integers)
    assert {n for n, c in info.items() if c.missing > 0} == {"workclass", "occupation",
                                                             "native-country"}
    assert info["income"].categories == ["<=50K", ">50K"]
    assert all(c.capped == 0 for c in info.values())
