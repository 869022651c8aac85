"""Reading uploaded text files safely: one place that turns bytes into text, JSON values or
JSON lines with errors naming the file, the line and the byte offset.

JSON from users goes through :func:`json_value`, which bounds what the standard parser would
accept: nesting depth (checked by one linear pass before parsing), integer literals of at most
:data:`MAX_JSON_INT_DIGITS` characters (Python refuses longer ones with a bare ``ValueError``),
keys that appear once per object, and no lone surrogates (``"\\ud800"`` decodes to text that
cannot be written as UTF-8, so nothing downstream could store it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from engine.errors import InputError

MAX_JSON_DEPTH = 64
MAX_JSON_INT_DIGITS = 100
MAX_LINE_CHARS = 1_000_000
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text of ``data`` (a leading BOM removed), or an error for empty/binary files."""
    if not data.strip():
        raise InputError("file is empty", source=source)
    nul = data.find(b"\0")
    if nul >= 0:
        raise InputError(
            f"file is not UTF-8 text: it holds a NUL byte at byte offset {nul} "
            "(is it a binary file?)",
            source=source,
            line=data.count(b"\n", 0, nul) + 1,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"file is not UTF-8 text: invalid byte at byte offset {exc.start}; "
            "save it as UTF-8 and import again",
            source=source,
            line=data.count(b"\n", 0, exc.start) + 1,
        ) from None
    return text.removeprefix("\ufeff")


class _Refused(ValueError):
    """A bound crossed inside the JSON parser's hooks."""


def _int(literal: str) -> int:
    if len(literal) > MAX_JSON_INT_DIGITS:
        raise _Refused(f"a number of {len(literal):,} digits; the limit is {MAX_JSON_INT_DIGITS}")
    return int(literal)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"key {key!r} appears twice in the same object")
        out[key] = value
    return out


def _scan(value: Any, path: str, depth: int, check_text: bool) -> tuple[str, str] | None:
    """A problem with a parsed JSON value and the path where it is (too deep, or a lone
    surrogate in a key or a text), or ``None``."""
    if depth > MAX_JSON_DEPTH:
        return f"nested more than {MAX_JSON_DEPTH} levels deep", path
    if isinstance(value, str):
        if check_text and _SURROGATE_RE.search(value):
            return "holds a lone surrogate escape (such as \\ud800), which is not text", path
        return None
    items: list[tuple[str, Any]] = []
    if isinstance(value, list):
        items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    elif isinstance(value, dict):
        for key, item in value.items():
            if check_text and _SURROGATE_RE.search(key):
                return "a key holds a lone surrogate escape, which is not text", path
            items.append((f"{path}.{key}" if path else key, item))
    for where, item in items:
        found = _scan(item, where, depth + 1, check_text)
        if found:
            return found
    return None


def json_value(
    text: str, source: str, *, line: int | None = None, prefix: str = "invalid JSON"
) -> Any:
    """The JSON value in ``text`` within the bounds above; errors name the line and column.

    ``line`` is the line ``text`` starts on (for one line of a JSONL file); without it the
    decoder's own line number is used. ``prefix`` starts every message.
    """
    try:
        value = json.loads(text, parse_int=_int, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{prefix}: {exc.msg} at column {exc.colno}",
            source=source,
            line=line if line is not None else exc.lineno,
        ) from None
    except _Refused as exc:
        raise InputError(f"{prefix}: {exc}", source=source, line=line) from None
    except RecursionError:
        raise InputError(f"{prefix}: nested too deeply", source=source, line=line) from None
    # The walk is skipped when the text cannot hold what it looks for (the common case).
    check_text = _SURROGATE_ESCAPE_RE.search(text) is not None
    if check_text or text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        try:
            found = _scan(value, "", 1, check_text)
        except RecursionError:
            found = ("nested too deeply", "")
        if found is not None:
            problem, where = found
            raise InputError(f"{prefix}: {problem}", source=source, line=line, field=where or None)
    return value


def json_line(line: str, number: int, source: str) -> Any:
    """The JSON value on one line of a JSONL file; errors name the line and column."""
    return json_value(line, source, line=number)


T = TypeVar("T")


def jsonl_records(
    data: bytes,
    source: str,
    *,
    max_bytes: int,
    max_lines: int,
    parse: Callable[[str, int, str], T],
    record_id: Callable[[T], str],
    max_line_chars: int = MAX_LINE_CHARS,
) -> list[T]:
    """Parse a JSONL upload line by line with ``parse(line, number, source)``.

    The size is checked before anything decodes the bytes, the line count and each line's
    length before any line is parsed; blank lines are skipped; ids (``record_id``) must be
    unique, and a duplicate names both lines.
    """
    if len(data) > max_bytes:
        raise InputError(
            f"file is {len(data):,} bytes ({len(data) / 1024 / 1024:.1f} MB); the limit is "
            f"{max_bytes / 1024 / 1024:.0f} MB ({max_bytes:,} bytes). "
            "Split it into smaller files and import each.",
            source=source,
        )
    lines = decode_text(data, source).split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) > max_lines:
        raise InputError(
            f"file has {len(lines):,} lines; the limit is {max_lines:,}. "
            "Split it into smaller files and import each.",
            source=source,
        )
    records: list[T] = []
    first_line_of: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        if len(line) > max_line_chars:
            raise InputError(
                f"line is {len(line):,} characters long; the limit is {max_line_chars:,}",
                source=source,
                line=number,
            )
        record = parse(line, number, source)
        rid = record_id(record)
        if rid in first_line_of:
            raise InputError(
                f"duplicate id {rid!r}: line {first_line_of[rid]} already uses it; "
                "ids must be unique within a file",
                source=source,
                line=number,
                field="id",
            )
        first_line_of[rid] = number
        records.append(record)
    if not records:
        raise InputError("file is empty: it holds only blank lines", source=source)
    return records


def json_kind(value: Any) -> str:
    """How an error message names the JSON type of ``value`` ("an object", "a list"…)."""
    names: dict[type, str] = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)
