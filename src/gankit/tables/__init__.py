"""Tables for CTGAN and TVAE: what each column is, and the reversible encoding they train on."""

from __future__ import annotations

from gankit.tables.columns import (
    MISSING,
    OTHER,
    ColumnInfo,
    ColumnKind,
    detect_columns,
    prepare,
)
from gankit.tables.transformer import DiscreteSpan, Modes, Span, TableTransformer

__all__ = ["MISSING", "OTHER", "ColumnInfo", "ColumnKind", "DiscreteSpan", "Modes", "Span",
           "TableTransformer", "detect_columns", "prepare"]
