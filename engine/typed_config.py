"""The one idiom for typed settings: frozen dataclasses whose fields carry a help text.

Every stage config (``TrainConfig``, ``DocGenConfig``, ``DemoConfig``, the eval configs) is
declared with :func:`setting`, validated on construction, stored as JSON with its stage, shown
with its help texts in the New-study form and in ``speclab study settings``, and overridden
from a study file. :func:`from_mapping` checks every value against the field's declared type
(an ``int`` field refuses ``1e12``, ``.inf``, ``true`` or ``"5"``) and a bound, so a typo or a
hostile file is refused with the field's name before anything runs.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InputError

#: No integer setting may exceed this (steps, sizes, counts): large enough for any real run,
#: small enough that a typo such as ``1e12`` is refused instead of queued.
MAX_INT = 2**31 - 1
MAX_TEXT = 1000


def setting(text: str, default: Any, *, lo: float | None = None, hi: float | None = None) -> Any:
    """A config field with its help text (shown in the dashboard and ``--help``) and optional
    inclusive bounds for numbers."""
    if isinstance(default, list | dict):
        raise TypeError("use tuples for sequence defaults")
    return field(default=default, metadata={"help": text, "lo": lo, "hi": hi})


@dataclass(frozen=True)
class FieldHelp:
    """One setting as the form and the CLI show it."""

    name: str
    type: str
    default: Any
    help: str


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "none"
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def _check(value: Any, tp: Any, where: str) -> Any:
    """``value`` converted to ``tp`` (lists to tuples, ints to floats) or an InputError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            try:
                return _check(value, option, where)
            except InputError as exc:
                errors.append(exc)
        raise InputError(f"must be {_type_name(tp)}, got {_shown(value)}", field=where)
    if tp is type(None):
        if value is None:
            return None
    elif origin is tuple:
        if isinstance(value, list | tuple):
            inner = typing.get_args(tp)[0]
            return tuple(_check(v, inner, f"{where}[{i}]") for i, v in enumerate(value))
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > MAX_INT:
                raise InputError(f"must be at most {MAX_INT:,} in size", field=where)
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value) or abs(value) > MAX_INT:
                raise InputError(f"must be a finite number, got {_shown(value)}", field=where)
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise InputError(f"must be at most {MAX_TEXT} characters", field=where)
            return value
    else:  # pragma: no cover - a config class declared a type this idiom does not know
        raise TypeError(f"unsupported setting type {tp!r} at {where}")
    raise InputError(f"must be {_type_name(tp)}, got {_shown(value)}", field=where)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def from_mapping(cls: type[Any], data: Mapping[str, Any], *, where: str) -> Any:
    """Build ``cls`` from a mapping (a stored JSON config, a form, a study file's overrides),
    naming ``where.key`` in every error."""
    if not isinstance(data, Mapping):
        raise InputError("expected a mapping of settings", field=where)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise InputError(
                f"unknown setting {str(key)[:60]!r}; known: {', '.join(sorted(fields))}",
                field=f"{where}.{str(key)[:60]}",
            )
        checked = _check(value, hints[key], f"{where}.{key}")
        meta = fields[key].metadata
        if isinstance(checked, int | float) and not isinstance(checked, bool):
            if meta.get("lo") is not None and checked < meta["lo"]:
                raise InputError(f"must be at least {meta['lo']}", field=f"{where}.{key}")
            if meta.get("hi") is not None and checked > meta["hi"]:
                raise InputError(f"must be at most {meta['hi']}", field=f"{where}.{key}")
        values[key] = checked
    try:
        return cls(**values)
    except InputError as exc:
        raise InputError(exc.detail, field=f"{where}.{exc.field}") from None


def with_overrides(config: Any, overrides: Mapping[str, Any], *, where: str) -> Any:
    """A copy of ``config`` with ``overrides`` applied and validated."""
    if not isinstance(overrides, Mapping):
        raise InputError("expected a mapping of settings", field=where)
    return from_mapping(type(config), {**as_dict(config), **overrides}, where=where)


def as_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a config (tuples become lists)."""
    out = dataclasses.asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def describe(config: Any) -> list[FieldHelp]:
    """Every setting of a config instance (or class) with its type, value and help text."""
    cls = config if isinstance(config, type) else type(config)
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        value = getattr(config, f.name) if not isinstance(config, type) else f.default
        if isinstance(value, tuple):
            value = list(value)
        out.append(FieldHelp(f.name, _type_name(hints[f.name]), value, f.metadata.get("help", "")))
    return out
