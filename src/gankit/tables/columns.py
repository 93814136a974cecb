"""What each column of a table is: detected once, stored as JSON, read by the transformer.

Strings are stripped of surrounding whitespace; ``""``, ``"?"`` (the UCI convention), NaN and
None are missing. A categorical column with more than ``max_categories`` distinct values keeps
its ``max_categories - 1`` most frequent ones and merges the rest into :data:`OTHER`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from gankit.errors import GankitError

ColumnKind = Literal["continuous", "integer", "categorical", "boolean", "datetime"]
NUMERIC_KINDS = ("continuous", "integer", "datetime")
DISCRETE_KINDS = ("categorical", "boolean")

#: the category that stands for the rare values of a capped categorical column
OTHER = "<other>"
#: the category that stands for a missing value of a discrete column (transformer only)
MISSING = "<missing>"
#: string values read as missing (after stripping whitespace)
MISSING_TOKENS = frozenset({"", "?"})

_BOOLEAN_WORDS = ({"false", "true"}, {"no", "yes"})
_BOOLEAN_NAMES = {"true": "true", "yes": "true", "1": "true", "false": "false", "no": "false",
                  "0": "false"}
_DATE_LIKE = re.compile(r"^\d{1,4}[-/]\d{1,2}[-/]\d{1,4}")
_MAX_EXACT = 2.0**53


@dataclass
class ColumnInfo:
    """One column: its kind, share of missing values, categories and observed range.

    ``categories`` (categorical and boolean only, sorted; booleans are ``["false", "true"]``)
    include :data:`OTHER` when ``capped`` rare values were merged into it. ``minimum`` and
    ``maximum`` are set for numeric kinds; datetimes give them as int64 nanoseconds.
    """

    name: str
    kind: ColumnKind
    missing: float = 0.0
    categories: list[str] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    capped: int = 0

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (str, float, int, list)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnInfo:
        """The column :meth:`to_json` wrote, or one sentence saying what is wrong with it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown or "name" not in data or "kind" not in data:
            raise GankitError(f"A stored column description is malformed (keys "
                              f"{sorted(data)}); write it with ColumnInfo.to_json.")
        if data["kind"] not in get_args(ColumnKind):
            raise GankitError(f"Column {data['name']!r} has the unknown kind {data['kind']!r}; "
                              f"kinds are {', '.join(get_args(ColumnKind))}.")
        info = cls(**data)
        info.categories = [str(c) for c in info.categories]
        return info


def detect_columns(frame: pd.DataFrame, discrete: Iterable[str] = (), drop: Iterable[str] = (),
                   max_categories: int = 100) -> list[ColumnInfo]:
    """The kind, missing share, categories and range of each column kept from ``frame``.

    Names in ``discrete`` are categorical whatever their dtype; names in ``drop`` are left out.
    Bad input (unknown names, no rows, fewer than two columns, an empty, constant or
    identifier-like column) raises :class:`GankitError` naming the column.
    """
    if max_categories < 2:
        raise GankitError(f"max_categories must be at least 2, not {max_categories}.")
    frame = _checked_frame(frame)
    discrete, drop = list(discrete), list(drop)
    for option, names in (("discrete", discrete), ("drop", drop)):
        for name in names:
            if name not in frame.columns:
                raise GankitError(f"Column {name!r} in {option} is not in the table, whose "
                                  f"columns are {', '.join(map(str, frame.columns))}.")
    if len(frame) == 0:
        raise GankitError("The table has no rows.")
    kept = [c for c in frame.columns if c not in set(drop)]
    if len(kept) < 2:
        left = f"only column {kept[0]!r}" if kept else "no column"
        after = " left after drop" if drop else ""
        raise GankitError(f"The table has {left}{after}, and it needs at least 2.")
    return [_detect(frame[name], str(name), name in set(discrete), max_categories)
            for name in kept]


def prepare(frame: pd.DataFrame, columns: Sequence[ColumnInfo]) -> pd.DataFrame:
    """The ``columns`` of ``frame`` as clean typed values: float64 for continuous and integer
    columns, datetime64[ns] for datetimes, pandas ``boolean`` for booleans and strings (rare
    ones as :data:`OTHER`) for categoricals; missing values are NaN/NaT/NA."""
    out: dict[str, Any] = {}
    for info in columns:
        series = column_of(frame, info.name)
        if info.kind == "datetime":
            out[info.name] = pd.Series(to_datetime_ns(series, info.name), dtype="datetime64[ns]",
                                       index=frame.index)
            continue
        if info.numeric:
            out[info.name] = pd.Series(numeric_values(series, info), index=frame.index)
            continue
        codes = category_codes(series, info)
        names = np.asarray(info.categories + [None], dtype=object)[codes]
        if info.kind == "boolean":
            out[info.name] = pd.Series(pd.array(
                [None if v is None else v == "true" for v in names], dtype="boolean"),
                index=frame.index)
        else:
            out[info.name] = pd.Series(names, index=frame.index, dtype=object)
    return pd.DataFrame(out, index=frame.index)


# ---- values of one column, shared with the transformer ----------------------------------------

def column_of(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column ``name`` of ``frame`` (whose names may be non-strings), or one sentence."""
    frame = _checked_frame(frame)
    if name not in frame.columns:
        # a table read without a header has integer names, which ColumnInfo keeps as strings
        named = [c for c in frame.columns if str(c) == name]
        if len(named) == 1:
            return frame[named[0]]
        raise GankitError(f"Column {name!r} is missing from the table, whose columns are "
                          f"{', '.join(map(str, frame.columns))}.")
    return frame[name]


def numeric_values(series: pd.Series, info: ColumnInfo) -> np.ndarray:
    """A continuous, integer or datetime column as float64 (datetimes as ns), NaN missing."""
    if info.kind == "datetime":
        ns = to_datetime_ns(series, info.name)
        values = ns.astype(np.float64)
        values[ns == np.iinfo(np.int64).min] = np.nan
        return values
    values = _as_numbers(series)
    if values is None:
        raise GankitError(f"Column {info.name!r} holds values that are not numbers, so it "
                          "cannot be read as the numeric column it was described as.")
    return values


def to_datetime_ns(series: pd.Series, name: str) -> np.ndarray:
    """A datetime column as int64 nanoseconds (NaT as the int64 minimum), or one sentence."""
    parsed = _as_datetimes(series)
    if parsed is None:
        raise GankitError(f"Column {name!r} holds values that are not dates, so it cannot be "
                          "read as a datetime column.")
    return parsed


def category_codes(series: pd.Series, info: ColumnInfo) -> np.ndarray:
    """Each value's index in ``info.categories`` (-1 for missing); rare values of a capped
    column go to :data:`OTHER`, and an unseen value of any other column is an error."""
    codes, uniques = _text_codes(series, info.kind == "boolean")
    lookup = {c: i for i, c in enumerate(info.categories)}
    fallback = lookup.get(OTHER)
    remap = np.empty(len(uniques) + 1, dtype=np.int64)
    remap[-1] = -1
    for i, value in enumerate(uniques):
        index = lookup.get(value, fallback)
        if index is None:
            raise GankitError(f"Column {info.name!r} holds the value {value!r}, which the "
                              "table it was described from did not have.")
        remap[i] = index
    return remap[codes]


# ---- detection ---------------------------------------------------------------------------------

def _checked_frame(frame: Any) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise GankitError(f"A table must be a pandas DataFrame, not {type(frame).__name__}.")
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise GankitError(f"Column {duplicated[0]!r} appears more than once in the table.")
    return frame


def _detect(series: pd.Series, name: str, discrete: bool, max_categories: int) -> ColumnInfo:
    rows = len(series)
    if discrete:
        return _categorical(series, name, max_categories, rows)
    if pd.api.types.is_bool_dtype(series.dtype):
        return _boolean(series, name, rows)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return _numeric(name, "datetime", _as_datetimes(series), rows)
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = _as_numbers(series)
        kind = "integer" if pd.api.types.is_integer_dtype(series.dtype) else _int_or_float(values)
        return _numeric(name, kind, values, rows)
    codes, uniques = _text_codes(series, False)
    if not uniques:
        raise _all_missing(name)
    lowered = {u.lower() for u in uniques}
    if any(lowered <= words for words in _BOOLEAN_WORDS):
        return _boolean(series, name, rows)
    numbers = _numbers_of(uniques)
    if numbers is not None:
        values = np.append(numbers, np.nan)[codes]
        return _numeric(name, _int_or_float(values), values, rows)
    if all(_DATE_LIKE.match(u) for u in uniques) and _dates_of(uniques) is not None:
        return _numeric(name, "datetime", _as_datetimes(series), rows)
    return _categorical(series, name, max_categories, rows, (codes, uniques))


def _numeric(name: str, kind: ColumnKind, values: np.ndarray | None, rows: int) -> ColumnInfo:
    assert values is not None
    if kind == "datetime":
        missing = values == np.iinfo(np.int64).min
        present = values[~missing]
    else:
        missing = np.isnan(values)
        present = values[~missing]
        if not np.isfinite(present).all():
            raise GankitError(f"Column {name!r} holds infinite values; replace or drop them.")
    if present.size == 0:
        raise _all_missing(name)
    low, high = present.min(), present.max()
    if low == high:
        raise _constant(name, pd.Timestamp(int(low)) if kind == "datetime" else float(low))
    return ColumnInfo(name, kind, missing=float(missing.mean()), minimum=float(low),
                      maximum=float(high))


def _boolean(series: pd.Series, name: str, rows: int) -> ColumnInfo:
    codes, uniques = _text_codes(series, True)
    if not uniques:
        raise _all_missing(name)
    if len(uniques) == 1:
        raise _constant(name, uniques[0])
    return ColumnInfo(name, "boolean", missing=float((codes < 0).mean()),
                      categories=["false", "true"])


def _categorical(series: pd.Series, name: str, max_categories: int, rows: int,
                 coded: tuple[np.ndarray, list[str]] | None = None) -> ColumnInfo:
    codes, uniques = coded or _text_codes(series, False)
    if not uniques:
        raise _all_missing(name)
    if len(uniques) == 1:
        raise _constant(name, uniques[0])
    missing = float((codes < 0).mean())
    if len(uniques) <= max_categories:
        return ColumnInfo(name, "categorical", missing=missing, categories=sorted(uniques))
    if len(uniques) > rows / 2:
        raise GankitError(f"Column {name!r} looks like an identifier ({len(uniques)} distinct "
                          f"values in {rows} rows); drop it, or list it in discrete only if it "
                          "is a real category.")
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    order = sorted(range(len(uniques)), key=lambda i: (-counts[i], uniques[i]))
    kept = [uniques[i] for i in order[:max_categories - 1]]
    return ColumnInfo(name, "categorical", missing=missing, categories=sorted(kept + [OTHER]),
                      capped=len(uniques) - len(kept))


def _all_missing(name: str) -> GankitError:
    return GankitError(f"Column {name!r} has no values (all are missing); drop it.")


def _constant(name: str, value: Any) -> GankitError:
    return GankitError(f"Column {name!r} holds the single value {str(value)!r}, which tells "
                       "nothing; drop it.")


def _int_or_float(values: np.ndarray | None) -> ColumnKind:
    assert values is not None
    present = values[np.isfinite(values)]
    whole = np.array_equal(present, np.round(present)) and bool(
        (np.abs(present) < _MAX_EXACT).all())
    return "integer" if whole else "continuous"


# ---- turning a column's raw values into numbers, dates or clean strings ---------------------

def _is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    return not (pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
                or pd.api.types.is_datetime64_any_dtype(dtype))


def _text_codes(series: pd.Series, boolean: bool) -> tuple[np.ndarray, list[str]]:
    """Codes (-1 missing) into the distinct clean strings, in order of first appearance.

    Booleans come back as ``"false"``/``"true"`` (from bools or from true/false, yes/no)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    codes, raw = pd.factorize(series, use_na_sentinel=True)
    whole = pd.api.types.is_numeric_dtype(series.dtype) and _int_or_float(
        np.asarray(raw, dtype=np.float64)) == "integer"
    index: dict[str, int] = {}
    remap = np.empty(len(raw) + 1, dtype=np.int64)
    remap[-1] = -1
    for i, value in enumerate(raw):
        text = _clean_text(value, boolean, whole)
        remap[i] = -1 if text is None else index.setdefault(text, len(index))
    return remap[codes], list(index)


def _clean_text(value: Any, boolean: bool, whole: bool) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        text = "true" if value else "false"
    elif whole and isinstance(value, (float, np.floating)):
        text = str(int(value))
    else:
        text = str(value).strip()
    if text in MISSING_TOKENS:
        return None
    if boolean:
        return _BOOLEAN_NAMES.get(text.lower(), text)
    return text


def _numbers_of(texts: list[str]) -> np.ndarray | None:
    """The strings as finite float64 numbers, or None when one of them is not a number."""
    numbers = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan)
    return numbers if np.isfinite(numbers).all() else None


def _as_numbers(series: pd.Series) -> np.ndarray | None:
    """A column as float64 (NaN missing), or None when a value is not a number."""
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_datetime64_any_dtype(
            series.dtype):
        return None
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    codes, uniques = _text_codes(series, False)
    numbers = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan)
    if np.isnan(numbers).any():
        return None
    return np.append(numbers, np.nan)[codes]


def _dates_of(texts: list[str]) -> pd.DatetimeIndex | None:
    """The strings parsed as naive datetime64[ns] (UTC if they carry offsets), or None."""
    strings = pd.Series(texts, dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fmt, utc in (("ISO8601", False), ("ISO8601", True), ("mixed", False),
                         ("mixed", True)):
            try:
                parsed = pd.DatetimeIndex(pd.to_datetime(strings, format=fmt, errors="coerce",
                                                         utc=utc))
            except (ValueError, TypeError, OverflowError):
                continue
            if not parsed.isna().any():
                return _naive_ns(parsed)
    return None


def _naive_ns(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("ns")


def _as_datetimes(series: pd.Series) -> np.ndarray | None:
    """A column as int64 ns (NaT as the int64 minimum), or None when a value is not a date."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return _naive_ns(pd.DatetimeIndex(series)).asi8.copy()
    if not _is_text(series):
        return None
    codes, uniques = _text_codes(series, False)
    dates = _dates_of(uniques) if uniques else pd.DatetimeIndex([], dtype="datetime64[ns]")
    if dates is None:
        return None
    return np.append(dates.asi8, np.iinfo(np.int64).min)[codes]


def describe_columns(columns: Sequence[ColumnInfo]) -> str:
    """One line naming each column's kind, share of missing values and capped categories."""
    parts = []
    for info in columns:
        notes = [info.kind]
        if info.missing:
            notes.append(f"{100 * info.missing:.1f} % missing")
        if info.capped:
            notes.append(f"{info.capped} rare categories merged into {OTHER}")
        parts.append(f"{info.name} ({', '.join(notes)})")
    return "; ".join(parts)
