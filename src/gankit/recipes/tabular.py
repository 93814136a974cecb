"""What the table recipes (``ctgan``, ``tvae``) share: the table's transformer (from the run's
data spec), sampling rows as a DataFrame with fixed columns (``where``), and the pictures."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.models import DataSpec
from gankit.recipes.base import Recipe
from gankit.recipes.capabilities import SamplesTables

if TYPE_CHECKING:
    import pandas as pd

    from gankit.data import Dataset
    from gankit.tables.pictures import TablePictures
    from gankit.tables.transformer import TableTransformer

#: rows generated at a time
SAMPLE_CHUNK = 5000
#: how many times ``n`` rows may be generated to find ``n`` that meet every ``where`` condition
MAX_TRIES = 50


def table_transformer(spec: DataSpec, recipe: str) -> TableTransformer:
    """The fitted transformer of a table run's data, or one sentence for other data."""
    if spec.kind != "table" or not spec.codec:
        raise GankitError(f"The {recipe} recipe trains on tables (--data table, adult or "
                          f"census), and {spec.name!r} holds {spec.kind}s.")
    from gankit.tables.transformer import TableTransformer

    return TableTransformer.from_state(spec.codec["transformer"])


def _texts(series: pd.Series) -> np.ndarray:
    """A decoded categorical or boolean column as lower-case strings (booleans: "true" and
    "false", as their categories are named; missing values never match)."""
    return np.asarray([str(v).lower() if v is not None and v == v else "\0" for v in series],
                      dtype=object)


class TableRecipe(Recipe, SamplesTables):
    """A recipe that generates encoded rows (:meth:`generate_rows`); decodes them to tables."""

    transformer: TableTransformer

    @abstractmethod
    def generate_rows(self, n: int, condition: tuple[int, int] | None,
                      generator: torch.Generator) -> torch.Tensor:
        """``n`` encoded rows (CPU, float32), in eval mode; ``condition`` = (index among the
        discrete columns, category) asks for rows of that category where the recipe can."""

    def parse_where(self, where: dict[str, Any]) -> list[tuple[int, int, str, str]]:
        """``{column: value}`` as (discrete-column index, category index, column, category);
        one sentence for a column that is not categorical or a value it never takes."""
        discrete = {self.transformer.columns[d.column].name: i
                    for i, d in enumerate(self.transformer.discrete_spans)}
        names = [c.name for c in self.transformer.columns]
        out = []
        for column, value in where.items():
            if column not in names:
                raise GankitError(f"--where names {column!r}, which is not a column of the "
                                  f"table (columns: {', '.join(names)}).")
            if column not in discrete:
                raise GankitError(f"--where fixes categorical and boolean columns only, and "
                                  f"{column!r} is numeric.")
            info = self.transformer.columns[self.transformer.discrete_spans[
                discrete[column]].column]
            text = str(value).strip()
            cats = [str(c) for c in info.categories]
            match = [i for i, c in enumerate(cats) if c == text] or \
                [i for i, c in enumerate(cats) if c.lower() == text.lower()]
            if not match:
                shown = ", ".join(cats[:12]) + (", ..." if len(cats) > 12 else "")
                raise GankitError(f"--where {column}={text}: {column!r} never takes the value "
                                  f"{text!r} (its values: {shown}).")
            out.append((discrete[column], match[0], column, cats[match[0]]))
        return out

    def sample_table(self, n: int, where: dict[str, Any] | None = None,
                     seed: int = 0) -> pd.DataFrame:
        if n < 1:
            raise GankitError(f"The number of rows must be at least 1 (got {n}).")
        conditions = self.parse_where(where or {})
        generator = torch.Generator().manual_seed(seed)
        first = conditions[0][:2] if conditions else None
        parts, have, made = [], 0, 0
        while have < n:
            if made >= MAX_TRIES * n:
                asked = ", ".join(f"{c}={v}" for *_, c, v in conditions)
                raise GankitError(f"Only {have} of {n} rows generated in {made} tries meet "
                                  f"{asked}; the model rarely makes that combination.")
            rows = self.transformer.inverse(
                self.generate_rows(SAMPLE_CHUNK, first, generator).numpy())
            made += SAMPLE_CHUNK
            keep = np.ones(len(rows), dtype=bool)
            for *_, column, value in conditions:
                keep &= _texts(rows[column]) == value.lower()
            rows = rows[keep]
            parts.append(rows)
            have += len(rows)
        import pandas as pd

        return pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)

    def pictures(self, dataset: Dataset) -> TablePictures:
        from gankit.tables.pictures import TablePictures

        return TablePictures(self, dataset, self.cfg.seed)
