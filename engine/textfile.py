"""Reading uploaded text files safely: one place that turns bytes into text or JSON lines
with errors naming the file, the line and the byte offset."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from engine.errors import InputError


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


def json_line(line: str, number: int, source: str) -> Any:
    """The JSON value on one line of a JSONL file; errors name the line and column."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON: {exc.msg} at column {exc.colno}", source=source, line=number
        ) from None
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply", source=source, line=number) from None


T = TypeVar("T")


def jsonl_records(
    data: bytes,
    source: str,
    *,
    max_bytes: int,
    max_lines: int,
    parse: Callable[[str, int, str], T],
    record_id: Callable[[T], str],
) -> list[T]:
    """Parse a JSONL upload line by line with ``parse(line, number, source)``.

    The size is checked before anything decodes the bytes; blank lines are skipped; ids
    (``record_id``) must be unique, and a duplicate names both lines.
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
