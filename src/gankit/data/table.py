"""Tables: ``table`` (a user's CSV, TSV or Parquet file) and the built-in ``adult`` and
``census`` (UCI), read with pandas and encoded for training by
:class:`gankit.tables.TableTransformer`.

The rows are split once into a training and a held-out test split (``data.options.split``):

- ``table``: a seeded shuffle (``seed``), the last ``test_share`` of the rows held out;
- ``adult``: SDGym's protocol: ``adult.data`` only, shuffled as ``numpy.random.seed(0);
  numpy.random.shuffle(rows)`` does, the last 10,000 rows held out (``adult.test`` unused);
- ``census``: the UCI training file for training, its test file held out; the instance weight
  (column 25) is dropped, as SDGym does.

The training split's column kinds (:func:`gankit.tables.detect_columns`) and its fitted
transformer are the run's ``dataset.json`` facts (``table``), from which a trained run decodes
its samples into rows again. The data set's tensor ``x`` holds the encoded rows; ``table``
holds the rows themselves (a DataFrame).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from pydantic import Field

from gankit.data.base import DATASETS, Dataset, DataSource, Evaluation
from gankit.data.idx import _find, _read, cache_dir, fetch, search_dirs
from gankit.errors import GankitError
from gankit.options import StrictModel

if TYPE_CHECKING:
    import pandas as pd

    from gankit.config import DataConfig

#: the UCI convention for a missing value in the built-in tables
UCI_MISSING = "?"


class TableOptions(StrictModel):
    """Options of ``table``: which split, and how the columns are read."""

    split: Literal["train", "test"] = "train"
    #: columns to treat as categorical whatever their type (e.g. codes stored as numbers)
    discrete: list[str] = Field(default_factory=list)
    #: columns to leave out (identifiers, free text)
    drop: list[str] = Field(default_factory=list)
    #: the column machine-learning efficacy predicts (``gankit eval``); None: the last one
    target: str | None = None
    #: categories kept per column; rarer ones are merged into one ``<other>`` category
    max_categories: int = Field(100, ge=2, le=100_000)
    #: share of the rows held out as the test split (``table`` only)
    test_share: float = Field(0.2, gt=0.0, lt=1.0)
    #: the split's shuffle and the transformer's random choices
    seed: int = Field(0, ge=0, lt=2**32)
    #: field separator (None: by the file's suffix, else sniffed)
    sep: str | None = None


class BuiltinTableOptions(StrictModel):
    """Options of ``adult`` and ``census``."""

    split: Literal["train", "test"] = "train"
    discrete: list[str] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)
    target: str | None = "income"
    max_categories: int = Field(100, ge=2, le=100_000)
    seed: int = Field(0, ge=0, lt=2**32)
    download: bool = True
    mirror: str = "https://archive.ics.uci.edu/ml/machine-learning-databases"


@dataclass(frozen=True)
class BuiltinTable:
    """A UCI table: where its files are, their md5 (of the decompressed content) and names."""

    name: str
    title: str
    files: dict[str, str]  # split → file name (without .gz)
    md5: dict[str, str]
    urls: dict[str, str]  # split → path under the mirror
    columns: tuple[str, ...]
    dropped: tuple[str, ...] = ()


ADULT_COLUMNS = ("age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
                 "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
                 "hours-per-week", "native-country", "income")
CENSUS_COLUMNS = (
    "age", "class-of-worker", "industry-code", "occupation-code", "education", "wage-per-hour",
    "enrolled-in-edu-inst-last-wk", "marital-status", "major-industry-code",
    "major-occupation-code", "race", "hispanic-origin", "sex", "member-of-labor-union",
    "reason-for-unemployment", "employment-status", "capital-gains", "capital-losses",
    "dividends-from-stocks", "tax-filer-status", "region-of-previous-residence",
    "state-of-previous-residence", "detailed-household-and-family-stat",
    "detailed-household-summary-in-household", "instance-weight",
    "migration-code-change-in-msa", "migration-code-change-in-reg",
    "migration-code-move-within-reg", "live-in-this-house-1-year-ago",
    "migration-prev-res-in-sunbelt", "num-persons-worked-for-employer",
    "family-members-under-18", "country-of-birth-father", "country-of-birth-mother",
    "country-of-birth-self", "citizenship", "own-business-or-self-employed",
    "fill-inc-questionnaire-for-veterans-admin", "veterans-benefits", "weeks-worked-in-year",
    "year", "income")

ADULT = BuiltinTable(
    "adult", "UCI Adult", {"train": "adult.data"},
    {"train": "5d7c39d7b8804f071cdd1f2a7c460872"}, {"train": "adult/adult.data"},
    ADULT_COLUMNS)
CENSUS = BuiltinTable(
    "census", "UCI Census-Income (KDD)",
    {"train": "census_income_1994_1995_train.csv", "test": "census_income_1994_1995_test.csv"},
    {"train": "887f4dc410a99bc332bddbb0a4195b88", "test": "b82952d217858365c8e597827e3e5468"},
    {"train": "census-income-mld/census-income.data.gz",
     "test": "census-income-mld/census-income.test.gz"},
    CENSUS_COLUMNS, dropped=("instance-weight",))

#: SDGym's held-out rows of ``adult``
ADULT_TEST_ROWS = 10_000
#: where a built-in table's files are looked for: its name, then these sub-folders
_FOLDERS = {"adult": ("adult",), "census": ("census", "census-income")}


def read_table(path: Path, sep: str | None = None) -> pd.DataFrame:
    """A user's table file as a DataFrame (CSV, TSV, gzipped or not, or Parquet), with the
    header row as column names; one sentence for a file that is not a table."""
    import pandas as pd

    if not path.is_file():
        raise GankitError(f"Table file {str(path)!r} does not exist; fix --data-dir.")
    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes:
        try:
            return pd.read_parquet(path)
        except ImportError:
            raise GankitError("Reading Parquet needs pyarrow: pip install pyarrow, or save the "
                              "table as CSV.") from None
        except (OSError, ValueError) as err:
            raise GankitError(f"{str(path)!r} is not a readable Parquet file ({err}).") from None
    if path.stat().st_size == 0:
        raise GankitError(f"Table file {str(path)!r} is empty.")
    if sep is None and (".tsv" in suffixes or ".tab" in suffixes):
        sep = "\t"
    elif sep is None and ".csv" in suffixes:
        sep = ","
    try:
        frame = pd.read_csv(path, sep=sep, engine="python" if sep is None else "c",
                            skipinitialspace=True, na_values=[UCI_MISSING, ""],
                            compression="infer")
    except pd.errors.EmptyDataError:
        raise GankitError(f"Table file {str(path)!r} is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, csv.Error) as err:
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise GankitError(f"{str(path)!r} is not a table pandas can read as CSV ({why}).") \
            from None
    if frame.empty:
        raise GankitError(f"Table file {str(path)!r} has a header but no rows.")
    return frame


def write_table(frame: pd.DataFrame, path: Path, suffix: str) -> None:
    """Write rows to ``path`` as ``suffix`` says: .csv, .tsv or .parquet (needs pyarrow)."""
    if suffix == ".parquet":
        try:
            frame.to_parquet(path, index=False)
        except ImportError:
            raise GankitError("Writing Parquet needs pyarrow: pip install pyarrow, or write a "
                              ".csv.") from None
    else:
        frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")


def read_builtin(table: BuiltinTable, split: str, cfg_path: str | None,
                 options: BuiltinTableOptions) -> pd.DataFrame:
    """The rows of a built-in table's file for ``split``, found locally or downloaded."""
    import pandas as pd

    fname = table.files[split]
    dirs = [d for sub in _FOLDERS[table.name] for d in search_dirs(sub, cfg_path)]
    found = _find(fname, dirs) or _find(Path(table.urls[split]).name.removesuffix(".gz"), dirs)
    if found is None:
        if not options.download:
            raise _missing(table, "download is off")
        found = download(table, split, options.mirror)
    content = _read(found)
    import hashlib

    if hashlib.md5(content).hexdigest() != table.md5[split]:
        raise GankitError(f"{str(found)!r} is not the {table.title} file {fname} (checksum "
                          "differs); delete it and let gankit download it again.")
    text = content.decode("latin-1")
    if table.name == "adult":  # adult.data has no comment line; adult.test has one
        text = "\n".join(line for line in text.splitlines() if not line.startswith("|"))
    frame = pd.read_csv(io.StringIO(text), header=None, names=list(table.columns),
                        skipinitialspace=True, na_values=[UCI_MISSING])
    return frame.drop(columns=list(table.dropped))


def download(table: BuiltinTable, split: str, mirror: str) -> Path:
    """Download a built-in table's file into the cache; kept only if its content md5 matches."""
    import hashlib

    url = mirror.rstrip("/") + "/" + table.urls[split]
    target = cache_dir() / table.name / (table.files[split] + (".gz" if url.endswith(".gz")
                                                               else ""))
    return fetch(url, target,
                 lambda tmp: hashlib.md5(_read(tmp)).hexdigest() == table.md5[split],
                 f"Downloaded {url} failed its checksum check; try again later or use another "
                 "mirror (data.options.mirror).",
                 lambda why: _missing(table, why))


def _missing(table: BuiltinTable, why: str) -> GankitError:
    names = ", ".join(f"{f}(.gz)" for f in table.files.values())
    return GankitError(f"{table.title} files not found ({why}): put {names} in "
                       f"{cache_dir() / table.name}, or pass --data-dir / set GANKIT_DATA_DIR to "
                       f"a folder holding {table.name}/ with them.")


def split_rows(frame: pd.DataFrame, split: str, test_rows: int, seed: int) -> pd.DataFrame:
    """The training or test rows: ``numpy.random.RandomState(seed).shuffle`` of the row order
    (the permutation ``np.random.seed(seed); np.random.shuffle(rows)`` gives), the last
    ``test_rows`` held out."""
    if not 0 < test_rows < len(frame):
        raise GankitError(f"The table has {len(frame)} rows, too few to hold out {test_rows} "
                          "as a test split.")
    order = np.arange(len(frame))
    np.random.RandomState(seed).shuffle(order)
    keep = order[:-test_rows] if split == "train" else order[-test_rows:]
    return frame.iloc[keep].reset_index(drop=True)


def table_dataset(name: str, frame: pd.DataFrame, options: Any, facts: dict[str, Any]
                  ) -> Dataset:
    """Detect the columns of the training rows ``frame``, fit the transformer and encode."""
    from gankit.tables.columns import describe_columns, detect_columns, prepare
    from gankit.tables.conditions import ConditionSpace
    from gankit.tables.transformer import TableTransformer

    columns = detect_columns(frame, discrete=options.discrete, drop=options.drop,
                             max_categories=options.max_categories)
    frame = prepare(frame, columns)
    target = options.target or columns[-1].name
    if target not in [c.name for c in columns]:
        raise GankitError(f"data.options.target {target!r} is not a column of the table "
                          f"(columns: {', '.join(c.name for c in columns)}).")
    transformer = TableTransformer.fit(frame, columns, seed=options.seed)
    x = torch.from_numpy(transformer.transform(frame, seed=options.seed))
    blocks = [(d.start, d.width) for d in transformer.discrete_spans]
    codec = {"columns": [c.to_json() for c in columns], "target": target,
             "transformer": transformer.state(),
             "summary": f"Columns: {describe_columns(columns)}.",
             "category_counts": ConditionSpace(blocks, [0] * sum(w for _, w in blocks)).count(x)}
    return Dataset(name=name, x=x, kind="table", normalize="symmetric",
                   info={**facts, "rows": len(frame)}, table=frame, codec=codec)


def _table_rows(cfg: DataConfig, options: TableOptions, split: str
                ) -> tuple[str, pd.DataFrame, dict[str, Any]]:
    if not cfg.path:
        raise GankitError("--data table needs the table file: --data-dir FILE.csv (or .tsv, "
                          ".parquet).")
    path = Path(cfg.path).expanduser()
    frame = read_table(path, options.sep)
    rows = split_rows(frame, split, max(1, round(options.test_share * len(frame))),
                      options.seed)
    return path.stem, rows, {"file": str(path), "split": split,
                             "test_share": options.test_share}


def _adult_rows(cfg: DataConfig, options: BuiltinTableOptions, split: str
                ) -> tuple[str, pd.DataFrame, dict[str, Any]]:
    rows = split_rows(read_builtin(ADULT, "train", cfg.path, options), split, ADULT_TEST_ROWS,
                      0)
    return "adult", rows, {"split": split, "protocol": "SDGym: adult.data, np.random.seed(0) "
                           "shuffle, last 10,000 rows held out"}


def _census_rows(cfg: DataConfig, options: BuiltinTableOptions, split: str
                 ) -> tuple[str, pd.DataFrame, dict[str, Any]]:
    return "census", read_builtin(CENSUS, split, cfg.path, options), {
        "split": split, "protocol": "UCI train file / test file; instance weight dropped"}


_ROWS = {"table": _table_rows, "adult": _adult_rows, "census": _census_rows}


def table_rows(cfg: DataConfig, split: str) -> pd.DataFrame:
    """The raw rows of the ``split`` (train or test) of the table source ``cfg`` names, read
    and split as for training but not encoded (evaluation reads the held-out rows so)."""
    options = DATASETS.get(cfg.name).options.model_validate(cfg.options)
    return _ROWS[cfg.name](cfg, options, split)[1]


def load_table(cfg: DataConfig, options: TableOptions | BuiltinTableOptions) -> Dataset:
    name, rows, facts = _ROWS[cfg.name](cfg, options, options.split)
    return table_dataset(name, rows, options, facts)


TABLE_EVALUATION = Evaluation(test_split=True)

DATASETS.add("table", DataSource(load_table, TableOptions,
                                 "a table from a CSV, TSV or Parquet file (--data-dir FILE)",
                                 TABLE_EVALUATION))
DATASETS.add("adult", DataSource(load_table, BuiltinTableOptions,
                                 "UCI Adult, 32,561 rows x 15 columns (SDGym's split)",
                                 TABLE_EVALUATION))
DATASETS.add("census", DataSource(load_table, BuiltinTableOptions,
                                  "UCI Census-Income (KDD), 199,523 rows x 41 columns",
                                  TABLE_EVALUATION))
