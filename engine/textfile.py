"""Reading uploaded text files safely: one place that turns bytes into text or JSON lines
with errors naming the file, the line and the byte offset."""

from __future__ import annotations

import json
from typing import Any

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
