"""The base of every options model (config sections, data sources, networks, recipes).

Unknown keys, wrong types, infinities and NaN are errors, and a boolean is never taken for a
number (pydantic alone reads ``steps: true`` as 1).
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

#: a layer width or channel count
Width = Annotated[int, Field(ge=1, le=65_536)]


def _admits_number_not_bool(annotation: Any) -> bool:
    """Whether a field's type takes int or float values but not booleans."""
    found: set[Any] = set()

    def walk(tp: Any) -> None:
        origin = typing.get_origin(tp)
        if origin is Literal:
            found.update(type(v) for v in typing.get_args(tp))
        elif origin is Annotated:
            walk(typing.get_args(tp)[0])
        elif origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
            for arg in typing.get_args(tp):
                walk(arg)
        elif tp is Any or origin is dict:
            found.add(bool)
        else:
            found.add(tp)

    walk(annotation)
    return bool(found & {int, float}) and bool not in found


def _has_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, list | tuple) and any(isinstance(v, bool) for v in value)


class StrictModel(BaseModel):
    """Options with no unknown keys, no booleans as numbers and no infinite or NaN values."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _has_bool(value) and _admits_number_not_bool(field.annotation):
            raise ValueError("must be a number, not true or false")
        return value
