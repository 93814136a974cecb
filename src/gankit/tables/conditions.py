"""CTGAN's condition vector and its *training-by-sampling* (Xu et al. 2019, section 4.3).

The condition vector is the concatenation of one one-hot block per discrete column (its
categories, as the transformer encodes them), all zero except the category asked for. For
training, a discrete column is drawn uniformly, then one of its categories with probability
proportional to the log of its frequency (``log(1 + count)``: rare categories are asked for far
more often than they occur, so the generator learns them), and a real row of that category is
drawn to stand beside it. For sampling without conditions, categories are drawn with their real
frequencies, so the samples keep the real proportions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from gankit.errors import GankitError

Batch = dict[str, torch.Tensor]


class ConditionSpace:
    """The discrete columns' blocks of an encoded table (``(start, width)`` in the encoded
    row) with each category's count of rows; :meth:`index_rows` prepares drawing real rows of a
    category (training)."""

    def __init__(self, blocks: Sequence[tuple[int, int]], counts: Sequence[int]) -> None:
        self.blocks = [(int(s), int(w)) for s, w in blocks]
        widths = torch.tensor([w for _, w in self.blocks], dtype=torch.long)
        self.offsets = torch.cat([torch.zeros(1, dtype=torch.long), widths.cumsum(0)])
        self.dim = int(self.offsets[-1])
        self.max_width = int(widths.max()) if len(widths) else 0
        self._set_counts(torch.as_tensor(list(counts), dtype=torch.long))

    @classmethod
    def of_rows(cls, blocks: Sequence[tuple[int, int]], x: torch.Tensor) -> ConditionSpace:
        """The space of the encoded rows ``x``, ready to draw rows from."""
        space = cls(blocks, [0] * sum(int(w) for _, w in blocks))
        space.index_rows(x)
        return space

    @property
    def columns(self) -> int:
        return len(self.blocks)

    def categories_of(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The category index of every row of ``x`` in each discrete column."""
        return [x[:, s:s + w].argmax(1).cpu() for s, w in self.blocks]

    def count(self, x: torch.Tensor) -> list[int]:
        """Each category's number of rows in ``x`` (all columns in order)."""
        return [int(c) for j, cat in enumerate(self.categories_of(x))
                for c in torch.bincount(cat, minlength=self.blocks[j][1])]

    def _set_counts(self, counts: torch.Tensor) -> None:
        self.counts = counts
        self.log_probs = self._per_column(torch.log1p(counts.double()))
        self.real_probs = self._per_column(counts.double())

    def index_rows(self, x: torch.Tensor) -> None:
        """Count the categories of the training rows ``x`` and group the rows by category."""
        cats = self.categories_of(x)
        self._set_counts(torch.tensor(self.count(x), dtype=torch.long))
        self.starts = torch.cat([torch.zeros(1, dtype=torch.long), self.counts.cumsum(0)[:-1]])
        #: the row indices once per discrete column, each run sorted by category: the rows of
        #: global category g are ``rows[starts[g] : starts[g] + counts[g]]`` (each column's
        #: counts add up to the number of rows, so ``starts`` runs on across the columns)
        self.rows = torch.cat([torch.argsort(c, stable=True) for c in cats]) if cats \
            else torch.zeros(0, dtype=torch.long)

    def _per_column(self, weights: torch.Tensor) -> torch.Tensor:
        """``(columns, max_width)`` probabilities of each column's categories (zero padded)."""
        table = torch.zeros(self.columns, self.max_width, dtype=torch.double)
        for j, (_, w) in enumerate(self.blocks):
            part = weights[self.offsets[j]:self.offsets[j + 1]]
            table[j, :w] = part / part.sum() if part.sum() > 0 else 1.0 / w
        return table

    def draw(self, n: int, generator: torch.Generator, real_frequencies: bool = False
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` (column, category) pairs: the column uniformly, the category by log-frequency
        (training) or by its real frequency (``real_frequencies``, for sampling)."""
        col = torch.randint(self.columns, (n,), generator=generator)
        probs = (self.real_probs if real_frequencies else self.log_probs)[col]
        opt = torch.multinomial(probs, 1, generator=generator).flatten()
        return col, opt

    def vector(self, col: torch.Tensor, opt: torch.Tensor) -> torch.Tensor:
        """The condition vectors ``(n, dim)`` of the pairs."""
        out = torch.zeros(len(col), self.dim)
        if self.dim:
            out[torch.arange(len(col)), self.offsets[col] + opt] = 1.0
        return out

    def rows_of(self, col: torch.Tensor, opt: torch.Tensor,
                generator: torch.Generator) -> torch.Tensor:
        """For each pair, a real row of that category, drawn uniformly."""
        g = self.offsets[col] + opt
        u = torch.rand(len(g), generator=generator, dtype=torch.double)
        pick = self.starts[g] + (u * self.counts[g]).long().clamp_max(self.counts[g] - 1)
        return self.rows[pick]


class ConditionalRowSampler:
    """Batches of training-by-sampling: ``x`` real rows (drawn for conditions of their own),
    with ``cond`` (the generator's condition vectors), ``col`` and ``opt`` (the column and
    category each asks for) and ``cond_real`` (the real rows' condition vectors). Every rank
    draws the same global batch and keeps its shard; the state is the generator's."""

    def __init__(self, x: torch.Tensor, space: ConditionSpace, batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1) -> None:
        if batch_size > len(x):
            raise GankitError(f"Batch size {batch_size} is larger than the table ({len(x)} "
                              "rows); lower train.batch_size.")
        self.x, self.space, self.batch_size = x, space, batch_size
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)

    def next(self) -> Batch:
        n, space, gen = self.batch_size, self.space, self.generator
        if space.columns:
            col, opt = space.draw(n, gen)
            col_real, opt_real = space.draw(n, gen)
            rows = space.rows_of(col_real, opt_real, gen)
            cond, cond_real = space.vector(col, opt), space.vector(col_real, opt_real)
        else:
            col = opt = torch.zeros(n, dtype=torch.long)
            rows = torch.randint(len(self.x), (n,), generator=gen)
            cond = cond_real = torch.zeros(n, 0)
        shard = slice(self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size)
        device = self.x.device
        return {"x": self.x[rows[shard].to(device)], "cond": cond[shard].to(device),
                "cond_real": cond_real[shard].to(device), "col": col[shard].to(device),
                "opt": opt[shard].to(device)}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
