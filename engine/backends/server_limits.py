"""The bounds of ``speclab serve-model``: what one request may ask of the model server.

Every field of :class:`ServerLimits` is a ``serve-model`` flag of the same name, printed at
start and documented in the README's Limits section.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError
from engine.typed_config import setting


def _bounded(text: str, default: Any, lo: float, hi: float) -> Any:
    return setting(text, default, lo=lo, hi=hi)


@dataclass(frozen=True)
class ServerLimits:
    """What one request may ask of the model server; every field is a ``serve-model`` flag."""

    max_body_bytes: int = _bounded(
        "largest request body in bytes; a bigger one is refused with 413 before it is read",
        1024 * 1024,
        1024,
        1024**3,
    )
    max_prompt_tokens: int = _bounded(
        "most prompt tokens (chat template included), counted before generation; "
        "a longer prompt gets 400 context_length_exceeded (capped at the context - 1)",
        4096,
        1,
        2**31 - 1,
    )
    max_prompt_chars: int | None = _bounded(
        "most characters of message content, checked before tokenizing; default: "
        "max_prompt_tokens x the longest vocabulary entry, so only prompts that cannot fit "
        "are refused unread",
        None,
        1,
        2**31 - 1,
    )
    context_tokens: int | None = _bounded(
        "the model's context (prompt + max_tokens); default: from the model's config",
        None,
        2,
        2**31 - 1,
    )
    generation_timeout_s: float = _bounded(
        "seconds one generation may run; then it stops and answers what it has with "
        "finish_reason 'length'",
        60.0,
        0.01,
        86400.0,
    )
    max_queue: int = _bounded(
        "requests that may wait while one generates; beyond that: 503 with Retry-After",
        8,
        0,
        10_000,
    )
    queue_timeout_s: float = _bounded(
        "seconds a request may wait for the model; then 503 with Retry-After", 30.0, 0.01, 86400.0
    )
    request_timeout_s: float = _bounded(
        "seconds a client has to send its whole request (line, headers, body); then 408 and "
        "the connection is closed",
        30.0,
        0.01,
        86400.0,
    )
    max_connections: int = _bounded(
        "connections served at once; a request beyond that gets 503 before its body is read",
        64,
        1,
        100_000,
    )
    backlog: int = _bounded(
        "listen backlog: connections the kernel holds before they are accepted", 128, 1, 65535
    )
    max_json_depth: int = _bounded(
        "deepest nesting of arrays and objects in a request body", 32, 8, 1000
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.default is None:
                continue
            kind = float if isinstance(f.default, float) else int
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if ok and kind is int:
                ok = isinstance(value, int)
            lo, hi = f.metadata["lo"], f.metadata["hi"]
            if not ok or not (math.isfinite(value) and lo <= value <= hi):
                raise InputError(
                    f"must be {'an integer' if kind is int else 'a number'} from {lo} to {hi}, "
                    f"got {shown(value)}",
                    field=f.name,
                )


def add_limit_flags(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per :class:`ServerLimits` field (default: the field's default)."""
    for f in dataclasses.fields(ServerLimits):
        default = f.default
        shown = "" if default is None else f" (default {default})"
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f"limit_{f.name}",
            type=float if isinstance(default, float) else int,
            default=None,
            metavar="N",
            help=f"{f.metadata['help']}{shown}",
        )


def limits_from_args(args: argparse.Namespace) -> ServerLimits:
    """The :class:`ServerLimits` that :func:`add_limit_flags`' flags ask for.

    Raises:
        InputError: a value out of its range, naming the field.
    """
    given = {
        f.name: getattr(args, f"limit_{f.name}")
        for f in dataclasses.fields(ServerLimits)
        if getattr(args, f"limit_{f.name}", None) is not None
    }
    return ServerLimits(**given)


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
