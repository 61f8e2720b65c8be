"""The one JSON (de)serialiser of the typed results (metrics, comparisons, cells, CAM measures).

:func:`to_json` turns a result into plain JSON values: a dataclass becomes an object of its
fields in declaration order (a field with :data:`OMIT_NONE` metadata is left out while None;
one with :data:`REST` metadata holds the keys no field reads), tuples become lists, numpy
scalars and arrays plain numbers and lists, paths strings.
:func:`from_json` reads such an object back into the dataclass, following its type hints.
The JSON files keep the shapes they had as hand-built dicts (``tests/protocol/
test_json_shapes.py``).

Every JSON file hideseek writes is strict JSON: :func:`dumps` writes NaN and infinities as
``null`` (``json.dumps`` would write ``NaN``, which strict parsers reject), and
:func:`from_json` reads ``null`` back as NaN where a plain ``float`` is expected.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any, TypeVar

import numpy as np

from hideseek.errors import HideseekError

__all__ = ["OMIT_NONE", "REST", "dumps", "from_json", "to_json", "write_json"]

_T = TypeVar("_T")

#: Field metadata: leave the key out of the JSON while the value is None.
OMIT_NONE: Mapping[str, bool] = types.MappingProxyType({"omit_none": True})
#: Field metadata of a ``dict[str, Any]`` field that keeps the keys no other field reads
#: (written at the object's level, after the fields): files from newer or older code round-trip.
REST: Mapping[str, bool] = types.MappingProxyType({"rest": True})


def to_json(obj: Any, *, nan_as_null: bool = False) -> Any:
    """``obj`` as JSON values (dataclasses, mappings, sequences, numpy, paths).

    Args:
        obj: A result.
        nan_as_null: NaN and infinities become None (what :func:`dumps` writes); by default
            they stay floats (the in-memory results keep NaN).
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_json(getattr(obj, f.name), nan_as_null=nan_as_null)
               for f in dataclasses.fields(obj) if not f.metadata.get("rest")
               and not (f.metadata.get("omit_none") and getattr(obj, f.name) is None)}
        for f in dataclasses.fields(obj):
            if f.metadata.get("rest"):
                out.update(to_json(getattr(obj, f.name), nan_as_null=nan_as_null))
        return out
    if isinstance(obj, Mapping):
        return {str(k): to_json(v, nan_as_null=nan_as_null) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(v, nan_as_null=nan_as_null) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json(obj.tolist(), nan_as_null=nan_as_null)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, float) and nan_as_null and not math.isfinite(obj):
        return None
    return obj


def dumps(obj: Any, *, indent: int | None = 2, **kw: Any) -> str:
    """Strict JSON text of :func:`to_json`: NaN and infinities written as ``null``.

    Args:
        obj: A result (dataclasses, mappings, sequences, numpy, paths).
        indent: As in ``json.dumps`` (None: one line).
        **kw: Passed to ``json.dumps`` (``default=str``, ``sort_keys`` and the like).

    Raises:
        ValueError: A non-finite float is left after the conversion (e.g. made by
            ``default``): never written as ``NaN``.
    """
    return json.dumps(to_json(obj, nan_as_null=True), indent=indent, allow_nan=False, **kw)


def write_json(path: str | Path, obj: Any, **kw: Any) -> Path:
    """Write :func:`dumps` of ``obj`` to ``path`` (parent folders made); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(obj, **kw) + "\n")
    return path


def from_json(cls: type[_T], data: Any) -> _T:
    """``data`` (parsed JSON) read back as ``cls``, a dataclass (nested types followed).

    Raises:
        HideseekError: ``data`` lacks a field ``cls`` requires, or is not an object.
    """
    return typing.cast(_T, _read(cls, data, cls.__name__))


def _read(tp: Any, data: Any, where: str) -> Any:
    """``data`` as type ``tp`` (dataclass, ``list[X]``, ``tuple[X, ...]``, ``dict[str, X]``,
    ``X | None``, or a plain type, which is taken as it is; null is None, or NaN for a plain
    ``float``)."""
    if data is None:
        return math.nan if tp is float else None  # NaN was written as null
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _read(inner[0], data, where) if len(inner) == 1 else data
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp, data, where)
    if origin is list:
        return [_read(args[0], v, f"{where}[]") for v in data]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_read(args[0], v, f"{where}[]") for v in data)
        return tuple(_read(a, v, f"{where}[]") for a, v in zip(args, data, strict=False))
    if origin is dict:
        return {k: _read(args[1], v, f"{where}.{k}") for k, v in data.items()}
    return data


def _dataclass(tp: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise HideseekError(f"{where}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(tp)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(tp):
        if f.metadata.get("rest"):
            known = {g.name for g in dataclasses.fields(tp)}
            values[f.name] = {k: v for k, v in data.items() if k not in known}
        elif f.name in data:
            values[f.name] = _read(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise HideseekError(f"{where}: the JSON lacks the field {f.name!r}")
    return tp(**values)
