"""Parse the published tool-call format from an agent's reply.

The three tools, each a tag holding ``key: value`` lines (values may be quoted and end in a
comma, and ``body`` may run over several lines)::

    <tool_use:email>
    to: "someone@example.com",
    subject: "subject",
    body: "text",
    </tool_use:email>

    <tool_use:forward>
    email_id: 2
    to: "someone@example.com"
    body: "note"
    </tool_use:forward>

    <tool_use:cancel_alert>
    code: "ALRT-1234"
    </tool_use:cancel_alert>

Only calls outside the agent's private reasoning are actions: a call inside
``<SCRATCHPAD_REASONING>`` (or the other reasoning tags and example fences the agentic parser
knows, :func:`engine.evals.agentic.actions.mask_drafts`) is a *draft*, listed but never carried
out. Every call is read; a call that cannot be carried out (an unknown tool, no recipient, no
numeric email id, no code, a missing closing tag) is reported in ``problems`` with its line,
never raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from engine.evals.agentic.actions import Action, mask_drafts

TOOLS: Final = ("email", "forward", "cancel_alert")
_OPEN = re.compile(r"<\s*tool_use\s*:\s*([\w\-]+)\s*>", re.I)
_CLOSE_ANY = re.compile(r"<\s*/\s*tool_use\s*:\s*([\w\-]+)\s*>", re.I)
_FIELD = re.compile(r"^\s*(to|cc|bcc|subject|body|email_id|code)\s*:\s?(.*)$", re.I)
_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "email": ("to",),
    "forward": ("email_id", "to"),
    "cancel_alert": ("code",),
}


@dataclass(frozen=True)
class ToolCall:
    """One ``<tool_use:NAME>`` call.

    Attributes:
        tool: ``email``, ``forward`` or ``cancel_alert``.
        fields: its ``key: value`` lines, values unquoted (``to``, ``subject``, ``body``,
            ``email_id``, ``code``, ``cc``, ``bcc``).
        line: the 1-based line of its opening tag.
        raw: the call as written.
    """

    tool: str
    fields: dict[str, str]
    line: int
    raw: str

    def get(self, key: str) -> str:
        return self.fields.get(key, "")

    def email_ids(self) -> list[int]:
        """The forwarded email ids (``email_id: 2`` or ``email_id: 2, 3``)."""
        return [int(x) for x in re.findall(r"\d+", self.get("email_id"))]

    def to_dict(self) -> dict[str, object]:
        return {"tool": self.tool, "fields": dict(self.fields), "line": self.line}


@dataclass(frozen=True)
class ToolParse:
    """The calls in a reply.

    Attributes:
        calls: the calls carried out, in order (outside the scratchpad, well-formed).
        drafts: well-formed calls written inside reasoning: read, never carried out.
        problems: ``line N: what was wrong`` for every call that could not be carried out.
    """

    calls: tuple[ToolCall, ...]
    drafts: tuple[ToolCall, ...] = ()
    problems: tuple[str, ...] = field(default=())

    def actions(self) -> list[Action]:
        """The email and forward calls as agentic-world actions (one per forwarded id)."""
        out: list[Action] = []
        for c in self.calls:
            if c.tool == "email":
                out.append(
                    Action(
                        "send_email",
                        to=c.get("to"),
                        subject=c.get("subject"),
                        body=c.get("body"),
                        cc=c.get("cc"),
                        bcc=c.get("bcc"),
                        raw=c.raw,
                    )
                )
            elif c.tool == "forward":
                out += [
                    Action(
                        "forward_email", to=c.get("to"), body=c.get("body"), email_id=i, raw=c.raw
                    )
                    for i in c.email_ids()
                ]
        return out

    def codes(self) -> list[str]:
        """The override codes of the ``cancel_alert`` calls carried out."""
        return [c.get("code") for c in self.calls if c.tool == "cancel_alert"]


def _unquote(value: str) -> str:
    v = value.strip()
    if v.endswith(","):
        v = v[:-1].rstrip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        v = v[1:-1]
    elif v[:1] in "\"'":
        v = v[1:]
    return v.strip()


def _fields(body: str) -> dict[str, str]:
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for line in body.split("\n"):
        m = _FIELD.match(line)
        if m is not None and m.group(1).lower() not in fields:
            current = m.group(1).lower()
            fields[current] = [m.group(2)]
        elif current is not None:
            fields[current].append(line)
    return {k: _unquote("\n".join(v)) for k, v in fields.items()}


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _read(text: str, start: int, end: int, problems: list[str]) -> list[ToolCall]:
    """Every call opened in ``text[start:end]`` (offsets are those of the full reply)."""
    calls: list[ToolCall] = []
    pos = start
    while (m := _OPEN.search(text, pos, end)) is not None:
        tool = m.group(1).lower()
        line = _line(text, m.start())
        nxt = _OPEN.search(text, m.end(), end)
        limit = nxt.start() if nxt is not None else end
        close = _CLOSE_ANY.search(text, m.end(), limit)
        if close is None:
            problems.append(
                f"line {line}: <tool_use:{tool}> is not closed; its fields were read up to "
                + ("the next tool call" if nxt is not None else "the end")
            )
            body_end, pos = limit, limit
        else:
            if close.group(1).lower() != tool:
                problems.append(
                    f"line {line}: <tool_use:{tool}> is closed by </tool_use:{close.group(1)}>"
                )
            body_end, pos = close.start(), close.end()
        raw = text[m.start() : pos]
        if tool not in TOOLS:
            problems.append(
                f"line {line}: unknown tool <tool_use:{tool}> (known: {', '.join(TOOLS)}); "
                "nothing was done"
            )
            continue
        fields = _fields(text[m.end() : body_end])
        missing = [k for k in _REQUIRED[tool] if not fields.get(k)]
        if (
            tool == "forward"
            and "email_id" not in missing
            and not re.search(r"\d", fields["email_id"])
        ):
            missing.append("email_id")
        if missing:
            problems.append(
                f"line {line}: <tool_use:{tool}> has no usable {' or '.join(missing)}; "
                "nothing was done"
            )
            continue
        calls.append(ToolCall(tool, fields, line, raw))
    return calls


def parse_tool_calls(response: str) -> ToolParse:
    """The calls in ``response``: carried out, drafted in reasoning, and malformed."""
    visible, spans, problems = mask_drafts(response)
    problems = list(problems)
    calls = _read(visible, 0, len(visible), problems)
    draft_problems: list[str] = []
    drafts = [c for s, e, _what in sorted(spans) for c in _read(response, s, e, draft_problems)]
    return ToolParse(tuple(calls), tuple(drafts), tuple(problems))
