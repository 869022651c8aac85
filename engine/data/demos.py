"""AFT demonstrations: the built-in set, imported sets, and the rows TRL trains on.

A demonstration is a prompt, the response the spec asks for, and optionally the reasoning that
gets there by citing the spec. The same demonstrations feed both AFT arms: ``aft_cot`` trains on
the reasoning followed by the response, ``aft`` on the response alone, so the two arms differ
only in whether the reasoning is there (see :func:`to_aft_rows`).

Imported files are JSON Lines, one demonstration per line, in any of three shapes::

    {"prompt": "...", "completion": "...", "reasoning": "..."}
    {"prompt": "...", "response": "...", "reasoning": "..."}
    {"messages": [{"role": "system", "content": "..."},
                  {"role": "user", "content": "..."},
                  {"role": "assistant", "content": "..."}], "reasoning": "..."}

each with optional ``id``, ``clauses`` and ``agentic``. A response may also carry its reasoning
inline as a leading ``<reasoning>…</reasoning>`` block, which is split off on import.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from typing import Any, Protocol

from engine.errors import InputError
from engine.textfile import json_kind, json_line, jsonl_records

__all__ = [
    "COT_CLOSE",
    "COT_OPEN",
    "DEFAULT_DEMO_LIMITS",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_LINES",
    "Demo",
    "DemoLimits",
    "completion_text",
    "coverage",
    "dumps_jsonl",
    "load_builtin",
    "parse_demos_jsonl",
    "split_reasoning",
    "strip_reasoning",
    "to_aft_rows",
]

COT_OPEN = "<reasoning>"
COT_CLOSE = "</reasoning>"
MAX_IMPORT_BYTES = 50 * 1024 * 1024
MAX_IMPORT_LINES = 200_000


@dataclass(frozen=True)
class DemoLimits:
    """Bounds on an imported demonstrations file, checked line by line before anything is
    stored."""

    max_bytes: int = field(
        default=MAX_IMPORT_BYTES, metadata={"help": "largest file accepted, in bytes"}
    )
    max_lines: int = field(default=MAX_IMPORT_LINES, metadata={"help": "most lines in one file"})
    max_line_chars: int = field(
        default=1_000_000, metadata={"help": "longest line (one demonstration), in characters"}
    )
    max_text_chars: int = field(
        default=100_000,
        metadata={"help": "longest prompt, response, reasoning or message, in characters"},
    )
    max_messages: int = field(default=64, metadata={"help": "most messages in one chat line"})
    max_clauses: int = field(
        default=100, metadata={"help": "most clause codes one demonstration may list"}
    )
    max_id_chars: int = field(
        default=200, metadata={"help": "longest id (and clause code), in characters"}
    )


DEFAULT_DEMO_LIMITS = DemoLimits()

_BUILTIN_PACKAGE = "engine.data.builtin"
_BUILTIN_FILE = "demos.jsonl"
_ROLES = ("system", "user", "assistant")
_OPTIONAL_KEYS = ("id", "clauses", "agentic", "reasoning")
_FORMS = (
    "a line is one of {'prompt', 'completion'}, {'prompt', 'response'} or {'messages'}, "
    "optionally with 'reasoning', 'id', 'clauses' and 'agentic'"
)


@dataclass(frozen=True)
class Demo:
    """One AFT demonstration.

    Attributes:
        id: unique within its set; imported lines without one get ``line-<n>``.
        prompt: the user request or agentic situation, as the model sees it.
        response: the reply or action the spec asks for; what both AFT arms train towards.
        reasoning: the deliberation citing the spec; trained on only in the CoT arm.
        clauses: codes of the spec clauses the demonstration exercises (``SP1``, ``GP2``…).
        agentic: whether the assistant acts as an agent with tools rather than only chatting.
    """

    id: str
    prompt: str
    response: str
    reasoning: str = ""
    clauses: tuple[str, ...] = ()
    agentic: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON object :func:`parse_demos_jsonl` reads back into an equal ``Demo``."""
        return {
            "id": self.id,
            "clauses": list(self.clauses),
            "prompt": self.prompt,
            "reasoning": self.reasoning,
            "response": self.response,
            "agentic": self.agentic,
        }


def load_builtin() -> list[Demo]:
    """The built-in demonstrations for the example spec, in file order."""
    data = resources.files(_BUILTIN_PACKAGE).joinpath(_BUILTIN_FILE).read_bytes()
    return parse_demos_jsonl(data, source=f"built-in {_BUILTIN_FILE}")


def parse_demos_jsonl(
    data: bytes, *, source: str, limits: DemoLimits = DEFAULT_DEMO_LIMITS
) -> list[Demo]:
    """Validate an imported demonstrations file and return its demonstrations in order.

    Blank lines are skipped. In the chat form, an optional system message comes first, then one
    or more user messages, then exactly one assistant message; the system and user contents
    are joined with blank lines into the prompt.

    Raises:
        InputError: naming ``source`` and, where known, the 1-based line and the field at
            fault: oversize, empty, binary or non-UTF-8 files, too many or too long lines,
            invalid JSON, unknown or mistyped fields, a missing prompt or response, texts
            over :class:`DemoLimits`, duplicate ids.
    """
    return jsonl_records(
        data,
        source,
        max_bytes=limits.max_bytes,
        max_lines=limits.max_lines,
        max_line_chars=limits.max_line_chars,
        parse=partial(_parse_line, limits=limits),
        record_id=lambda record: record.id,
    )


def completion_text(demo: Demo, *, cot: bool) -> str:
    """What the model is trained to say for ``demo``: with ``cot``, reasoning then response."""
    if cot and demo.reasoning:
        return f"{COT_OPEN}\n{demo.reasoning}\n{COT_CLOSE}\n{demo.response}"
    return demo.response


def to_aft_rows(demos: Iterable[Demo], *, cot: bool) -> list[dict[str, Any]]:
    """Conversational prompt-completion rows for TRL's ``SFTTrainer``.

    TRL applies the chat template to these rows and computes the loss on the completion only.
    With ``cot=False`` the rows are the stripped twin of the ``cot=True`` rows: the same prompts
    and the same responses, without the reasoning.
    """
    return [
        {
            "prompt": [{"role": "user", "content": demo.prompt}],
            "completion": [{"role": "assistant", "content": completion_text(demo, cot=cot)}],
        }
        for demo in demos
    ]


def strip_reasoning(text: str) -> str:
    """Remove a leading ``<reasoning>…</reasoning>`` block from a generated reply.

    Text without such a block comes back unchanged. A block that is opened but never closed
    (generation stopped mid-reasoning) leaves no final answer, so the result is ``""``.
    """
    split = _split_reasoning(text)
    if split is None:
        return text
    return split[1]


def split_reasoning(text: str) -> tuple[str, str]:
    """``(reasoning, reply)`` of a generated text that may open with a reasoning block.

    Text without a leading block is all reply (``("", text)``); a block opened and never
    closed leaves no reply (``(reasoning, "")``), as in :func:`strip_reasoning`.
    """
    split = _split_reasoning(text)
    return ("", text.strip()) if split is None else split


def coverage(demos: Iterable[Demo]) -> dict[str, int]:
    """How many demonstrations exercise each clause code, sorted by code."""
    counts = Counter(code for demo in demos for code in demo.clauses)
    return dict(sorted(counts.items()))


def dumps_jsonl(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """Serialise rows as UTF-8 JSON Lines, byte-for-byte the same for the same rows."""
    return "".join(
        json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in rows
    ).encode("utf-8")


# -- parsing ----------------------------------------------------------------------------------


def _parse_line(line: str, number: int, source: str, *, limits: DemoLimits) -> Demo:
    def error(message: str, field: str | None = None) -> InputError:
        return InputError(message, source=source, line=number, field=field)

    obj = json_line(line, number, source)
    if not isinstance(obj, dict):
        raise error(f"expected a JSON object, got {json_kind(obj)}; {_FORMS}")

    if "messages" in obj:
        allowed: tuple[str, ...] = ("messages",)
        prompt, response = _chat(obj["messages"], error, limits)
        for clash in ("prompt", "completion", "response"):
            if clash in obj:
                raise error(f"give either 'messages' or {clash!r}, not both", clash)
    elif "prompt" in obj:
        if "completion" in obj and "response" in obj:
            raise error("give either 'completion' or 'response', not both", "response")
        key = "completion" if "completion" in obj else "response"
        if key not in obj:
            raise error("missing the response: add a 'response' (or 'completion') string", key)
        allowed = ("prompt", key)
        prompt = _text(obj["prompt"], "prompt", error, limits.max_text_chars)
        response = _text(obj[key], key, error, limits.max_text_chars)
    else:
        raise error(f"missing the prompt: {_FORMS}", "prompt")

    unknown = sorted(set(obj) - set(allowed) - set(_OPTIONAL_KEYS))
    if unknown:
        raise error(f"unknown field {unknown[0]!r}; {_FORMS}", unknown[0])

    reasoning = ""
    if "reasoning" in obj:
        reasoning = _optional_text(obj["reasoning"], "reasoning", error, limits.max_text_chars)
    response_key = "messages" if "messages" in obj else allowed[1]
    inline = _split_reasoning(response)
    if inline is not None:
        if reasoning:
            raise error(
                "the response starts with a reasoning block and 'reasoning' is also given; "
                "keep one of them",
                response_key,
            )
        reasoning, response = inline
        if not response:
            raise error(
                "the response holds only a reasoning block, with no reply after it", response_key
            )
    # Markers left anywhere else would leak reasoning into the arm trained without it.
    for text, where in ((response, response_key), (reasoning, "reasoning")):
        for marker in (COT_OPEN, COT_CLOSE):
            if marker in text:
                raise error(
                    f"contains {marker!r}; reasoning markers are only allowed as one block "
                    "at the start of the response",
                    where,
                )

    demo_id = f"line-{number}"
    if "id" in obj:
        demo_id = _text(obj["id"], "id", error, limits.max_id_chars)
    clauses: tuple[str, ...] = ()
    if "clauses" in obj:
        clauses = _clauses(obj["clauses"], error, limits)
    agentic = False
    if "agentic" in obj:
        if not isinstance(obj["agentic"], bool):
            raise error(f"expected true or false, got {json_kind(obj['agentic'])}", "agentic")
        agentic = obj["agentic"]
    return Demo(
        id=demo_id,
        prompt=prompt,
        response=response,
        reasoning=reasoning,
        clauses=clauses,
        agentic=agentic,
    )


class _ErrorFactory(Protocol):
    """The per-line ``error(message, field)`` helper that the small checkers raise with."""

    def __call__(self, message: str, field: str | None = None) -> InputError: ...


def _chat(messages: Any, error: _ErrorFactory, limits: DemoLimits) -> tuple[str, str]:
    if not isinstance(messages, list) or not messages:
        raise error(f"expected a non-empty list of messages, got {json_kind(messages)}", "messages")
    if len(messages) > limits.max_messages:
        raise error(f"{len(messages):,} messages; the limit is {limits.max_messages}", "messages")
    roles: list[str] = []
    contents: list[str] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise error(
                f"expected an object with 'role' and 'content', got {json_kind(message)}", where
            )
        for key in message:
            if key not in ("role", "content"):
                raise error(
                    f"unknown field {key!r}; a message has 'role' and 'content'", f"{where}.{key}"
                )
        role = message.get("role")
        if role not in _ROLES:
            got = repr(role) if isinstance(role, str) else json_kind(role)
            raise error(f"unknown role {got}; use one of {', '.join(_ROLES)}", f"{where}.role")
        roles.append(role)
        contents.append(
            _text(message.get("content"), f"{where}.content", error, limits.max_text_chars)
        )
    if roles[-1] != "assistant":
        raise error("the last message must be the assistant's response", "messages")
    if roles.count("assistant") != 1:
        raise error(
            "expected exactly one assistant message, the final one; multi-turn "
            "conversations are not demonstrations",
            "messages",
        )
    if "system" in roles[1:]:
        raise error("a system message may only come first", "messages")
    if "user" not in roles:
        raise error("expected at least one user message before the assistant's", "messages")
    prompt = "\n\n".join(contents[:-1])
    return prompt, contents[-1]


def _text(value: Any, field: str, error: _ErrorFactory, limit: int) -> str:
    if value is None:
        raise error("missing or null; expected a non-empty string", field)
    if not isinstance(value, str):
        raise error(f"expected a string, got {json_kind(value)}", field)
    if not value.strip():
        raise error("is empty; expected a non-empty string", field)
    return _bounded(value.strip(), field, error, limit)


def _optional_text(value: Any, field: str, error: _ErrorFactory, limit: int) -> str:
    if not isinstance(value, str):
        raise error(f"expected a string, got {json_kind(value)}", field)
    return _bounded(value.strip(), field, error, limit)


def _bounded(text: str, field: str, error: _ErrorFactory, limit: int) -> str:
    if len(text) > limit:
        raise error(f"is {len(text):,} characters long; the limit is {limit:,}", field)
    if "\x00" in text:
        # PostgreSQL cannot store NUL in text, and no prompt needs one.
        raise error("holds a NUL character (\\u0000); remove it", field)
    return text


def _clauses(value: Any, error: _ErrorFactory, limits: DemoLimits) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise error(f"expected a list of clause codes, got {json_kind(value)}", "clauses")
    if len(value) > limits.max_clauses:
        raise error(f"{len(value):,} clause codes; the limit is {limits.max_clauses}", "clauses")
    codes: list[str] = []
    for index, code in enumerate(value):
        if not isinstance(code, str) or not code.strip():
            raise error(f"expected a non-empty string, got {json_kind(code)}", f"clauses[{index}]")
        _bounded(code.strip(), f"clauses[{index}]", error, limits.max_id_chars)
        if code.strip() not in codes:
            codes.append(code.strip())
    return tuple(codes)


def _split_reasoning(text: str) -> tuple[str, str] | None:
    """``(reasoning, rest)`` when ``text`` opens with a reasoning block, else ``None``."""
    body = text.lstrip()
    if not body.startswith(COT_OPEN):
        return None
    end = body.find(COT_CLOSE)
    if end < 0:
        return body[len(COT_OPEN) :].strip(), ""
    return body[len(COT_OPEN) : end].strip(), body[end + len(COT_CLOSE) :].strip()
