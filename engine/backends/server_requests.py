"""Reading a chat-completions request: every malformed field is a 4xx naming it."""

from __future__ import annotations

import json
import math
from typing import Any

from engine.backends.base import Message
from engine.backends.server_limits import shown

_ROLES = ("system", "user", "assistant")
_MAX_STOP = 16
_MAX_STOP_CHARS = 1000


class RequestError(Exception):
    """A request the server refuses; becomes an OpenAI-style error response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }


class ClientGone(Exception):
    """The client closed its connection while its request waited for the model."""


def number(body: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and lo <= value <= hi)
    ):
        raise RequestError(
            400, f"'{key}' must be a number from {lo} to {hi}, got {shown(value)}", param=key
        )
    return float(value)


def integer(body: dict[str, Any], key: str, lo: int, hi: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RequestError(
            400, f"'{key}' must be an integer from {lo} to {hi}, got {shown(value)}", param=key
        )
    return value


def text(value: str, where: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(
            400, f"{where} is not valid Unicode (a lone surrogate?)", param=where
        ) from None
    return value


def content(value: Any, i: int) -> str:
    """A message's content: a string, or a list of ``{"type": "text", "text": ...}`` parts."""
    where = f"messages[{i}].content"
    if isinstance(value, str):
        return text(value, where)
    if isinstance(value, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in value
    ):
        return text("".join(p["text"] for p in value), where)
    raise RequestError(400, f"{where} must be a string or a list of text parts", param=where)


def messages(body: dict[str, Any], most: int) -> list[Message]:
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise RequestError(
            400, "'messages' is required: a non-empty list of messages", param="messages"
        )
    if len(raw) > most:
        raise RequestError(
            400,
            f"'messages' has {len(raw)} messages; at most {most} fit in the prompt",
            param="messages",
            code="context_length_exceeded",
        )
    out: list[Message] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise RequestError(
                400,
                f"messages[{i}] must be an object with a 'role' of {', '.join(_ROLES)}",
                param=f"messages[{i}].role",
            )
        out.append({"role": str(m["role"]), "content": content(m.get("content"), i)})
    return out


def stop(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("stop")
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if (
        not isinstance(stops, list)
        or len(stops) > _MAX_STOP
        or not all(isinstance(s, str) and len(s) <= _MAX_STOP_CHARS for s in stops)
    ):
        raise RequestError(
            400,
            f"'stop' must be a string or a list of at most {_MAX_STOP} strings of at most "
            f"{_MAX_STOP_CHARS} characters",
            param="stop",
        )
    return tuple(text(s, "stop") for s in stops)


def depth_within(value: Any, limit: int) -> bool:
    """Whether arrays and objects in ``value`` nest at most ``limit`` deep (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def parse_body(raw: bytes, max_depth: int) -> dict[str, Any]:
    """The JSON object in ``raw``; :class:`RequestError` (400) when it is not one."""
    try:
        body = json.loads(raw)
    except RecursionError:
        body = None
        deep = True
    except ValueError as exc:  # bad JSON, bad UTF-8, an integer of over 4300 digits
        raise RequestError(400, f"the body is not valid JSON: {exc}") from None
    else:
        deep = not depth_within(body, max_depth)
    if deep:
        raise RequestError(400, f"the body nests arrays/objects deeper than {max_depth} levels")
    if not isinstance(body, dict):
        raise RequestError(400, "the body must be a JSON object")
    return body
