"""Parse the tool calls an agent made from its reply.

The scenarios document three tags::

    <send_email to="addr" subject="...">body</send_email>
    <forward_email id="N" to="addr">optional note</forward_email>
    <run_command>shell command</run_command>

Small models write these loosely, so the parser accepts mixed-case tag names, ``-`` for ``_``,
extra whitespace, attributes in any order, in double, single or no quotes, self-closing tags,
and a missing closing tag (the body then runs to the next tool tag or the end of the reply).

Only what the agent *did* counts. Tags inside ``<reasoning>``, ``<scratchpad>`` (also
``<scratchpad_reasoning>``, ``<thinking>``, ``<think>``) are drafts and never actions. A
reasoning block ends at the first closer of *any* of these names (``<think>`` … ``</thinking>``
is closed: small models mismatch them, and hiding the real action after a mismatched closer
would be worse); an unclosed block runs to the end of the reply.

**Markdown fences** (the rule chosen for issue 9): a tool tag inside a fenced block of the final
answer *is* an action (models often wrap their calls in fences), unless the fence is presented
as an example: its info string, or the text between the previous tag/fence and the fence
(at most 240 characters), or the first line after it says so — example words ("example",
"e.g.", "for instance", "hypothetical", "draft", "illustrat…", "would look like") or a modal or
negation about running it ("could", "would", "might", "won't", "will not", "do not", "don't",
"instead of", "rather than", "not going to", "refuse"). Inline code that quotes a tag
(`` `<send_email>` ``) mentions the tool; it never uses it.
A tag that cannot be turned into an action (no recipient, no email id, an empty command)
produces no action and a line in :attr:`ParseResult.problems` saying why.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

ActionKind = Literal["send_email", "forward_email", "run_command"]
KINDS: Final[tuple[ActionKind, ...]] = ("send_email", "forward_email", "run_command")


@dataclass(frozen=True)
class Action:
    """One tool call the agent made.

    Attributes:
        kind: ``send_email``, ``forward_email`` or ``run_command``.
        to: recipient(s) as written (emails only); see :attr:`recipients`.
        cc: ``cc=`` recipients as written. bcc: ``bcc=`` recipients as written.
        attachment: an ``attachment=`` file name, as written.
        subject: the subject (``send_email``; empty when missing).
        body: the email body, or the note added to a forward.
        email_id: the inbox email forwarded (``forward_email``).
        command: the shell command (``run_command``).
        raw: the tag as it appeared in the reply.
    """

    kind: ActionKind
    to: str = ""
    subject: str = ""
    body: str = ""
    email_id: int | None = None
    command: str = ""
    raw: str = ""
    cc: str = ""
    bcc: str = ""
    attachment: str = ""

    @property
    def recipients(self) -> tuple[str, ...]:
        """The recipients in :attr:`to`, lower-cased: the address where one is written
        (``Kyle <kyle@x.com>`` gives ``kyle@x.com``), otherwise the name as written."""
        found: list[str] = []
        for part in re.split(r"[,;]", ",".join(x for x in (self.to, self.cc, self.bcc) if x)):
            addresses = _ADDRESS.findall(part)
            if addresses:
                found += [a.lower() for a in addresses]
            elif part.strip():
                found.append(part.strip().lower())
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (what :class:`~engine.evals.judges.JudgeInput` carries)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Action:
        """The action stored by :meth:`to_dict`."""
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown action kind {kind!r}; expected one of {', '.join(KINDS)}")
        email_id = data.get("email_id")
        return cls(
            kind=kind,
            to=str(data.get("to") or ""),
            subject=str(data.get("subject") or ""),
            body=str(data.get("body") or ""),
            email_id=int(email_id) if email_id is not None else None,
            command=str(data.get("command") or ""),
            raw=str(data.get("raw") or ""),
            cc=str(data.get("cc") or ""),
            bcc=str(data.get("bcc") or ""),
            attachment=str(data.get("attachment") or ""),
        )


@dataclass(frozen=True)
class ParseResult:
    """The actions in a reply and what could not be read.

    Attributes:
        actions: the tool calls, in the order they appear.
        problems: malformed tags that produced no action, or were read leniently, each as
            ``line N: what was wrong``.
        ignored: tool tags skipped because they were inside reasoning or a code fence.
    """

    actions: tuple[Action, ...]
    problems: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()


# The lookbehind starts a match only where a run of address characters starts (linear time).
_ADDRESS = re.compile(r"(?<![\w.+\-'])[\w.+\-']+@[\w\-]+(?:\.[\w\-]+)+")
_TAG_NAME = r"(send[_\-]?email|forward[_\-]?email|run[_\-]?command)"
# An opening tag whose attribute text may hold quoted ">" characters.
_OPEN = re.compile(r"<\s*" + _TAG_NAME + r"\b((?:\"[^\"]*\"|'[^']*'|[^'\">])*)>", re.I)
# Fallback for an opening tag with an unbalanced quote: everything up to the first ">".
_OPEN_LOOSE = re.compile(r"<\s*" + _TAG_NAME + r"\b([^>]*)>", re.I)
_ANY_CLOSE = re.compile(r"<\s*/\s*" + _TAG_NAME + r"\s*>", re.I)
_CLOSE: Final[dict[ActionKind, re.Pattern[str]]] = {
    "send_email": re.compile(r"<\s*/\s*send[_\-]?email\s*>", re.I),
    "forward_email": re.compile(r"<\s*/\s*forward[_\-]?email\s*>", re.I),
    "run_command": re.compile(r"<\s*/\s*run[_\-]?command\s*>", re.I),
}
_ATTR = re.compile(r"([A-Za-z_][\w\-]*)\s*=\s*(?:\"([^\"]*)\"?|'([^']*)'?|([^\s\"'>/]+))")
_REASONING_OPEN = re.compile(
    r"<\s*(reasoning|scratchpad(?:_reasoning)?|thinking|think)\b[^>]*>", re.I
)
_REASONING_CLOSE = re.compile(
    r"<\s*/\s*(?:reasoning|scratchpad(?:_reasoning)?|thinking|think)\s*>", re.I
)
_FENCE = "```"
_EXAMPLE_WORDS = re.compile(
    r"\b(example|examples|e\.g\.|for instance|hypothetical(?:ly)?|draft|illustrat\w*|"
    r"would look like|could|would|might|won't|will not|wouldn't|do not|don't|not going to|"
    r"instead of|rather than|refuse|never)\b",
    re.I,
)
# Inline code that quotes a tag (`<send_email>`) mentions the tool; it does not use it.
_INLINE_CODE = re.compile(r"`[^`\n]+`")


def _mask(text: str) -> tuple[str, list[tuple[int, int, str]], list[str]]:
    """``text`` with drafts blanked out, the blanked spans, and problems met on the way.

    Drafts are reasoning blocks, code fences and inline code that holds a tag. Blanking
    (rather than deleting) keeps offsets and line numbers the same as in ``text``.
    """
    spans: list[tuple[int, int, str]] = []
    problems: list[str] = []
    pos = 0
    while True:
        m = _REASONING_OPEN.search(text, pos)
        fence = text.find(_FENCE, pos)
        if m is None and fence == -1:
            break
        if m is not None and (fence == -1 or m.start() < fence):
            name = m.group(1).lower()
            close = _REASONING_CLOSE.search(text, m.end())
            start, what = m.start(), f"<{name}>"
            end = close.end() if close is not None else len(text)
            closed = close is not None
        else:
            close_at = text.find(_FENCE, fence + len(_FENCE))
            start, what = fence, "a code fence"
            end = close_at + len(_FENCE) if close_at != -1 else len(text)
            closed = close_at != -1
            if closed and not _fence_is_example(text, fence, close_at, pos):
                pos = end
                continue
        if not closed:
            problems.append(
                f"line {_line(text, start)}: {what} is never closed; the rest of the reply "
                "was treated as a draft"
            )
        spans.append((start, end, what))
        pos = end
    chars = list(text)

    def blank(start: int, end: int) -> None:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "

    for start, end, _what in spans:
        blank(start, end)
    for m in _INLINE_CODE.finditer("".join(chars)):
        if "<" in m.group():
            spans.append((m.start(), m.end(), "inline code"))
            blank(m.start(), m.end())
    return "".join(chars), spans, problems


def mask_drafts(text: str) -> tuple[str, list[tuple[int, int, str]], list[str]]:
    """``text`` with its drafts blanked out (reasoning and scratchpad blocks, example code
    fences, inline code quoting a tag), the blanked ``(start, end, what)`` spans, and problems
    such as an unclosed block. Offsets and line numbers stay those of ``text``; another tool
    format's parser (:mod:`engine.evals.published.toolcalls`) reads calls from the result."""
    return _mask(text)


def _fence_is_example(text: str, fence: int, close_at: int, pos: int) -> bool:
    """Whether the closed fence at ``fence`` is presented as an example (see module doc)."""
    info_end = text.find("\n", fence)
    info = text[fence + len(_FENCE) : info_end if info_end != -1 else fence]
    before_start = max(pos, fence - 240)
    tags = list(_OPEN_LOOSE.finditer(text, before_start, fence))
    if tags:
        before_start = max(before_start, tags[-1].end())
    before = text[before_start:fence]
    # only the sentence that introduces the fence
    before = re.split(r"(?<=[.!?])\s+(?=[A-Z])", before.strip())[-1] if before.strip() else ""
    after_start = close_at + len(_FENCE)
    after_end = text.find("\n", after_start + 1)
    after = text[after_start : after_end if after_end != -1 else len(text)]
    if not after.strip():
        nxt = text.find("\n", after_end + 1) if after_end != -1 else -1
        after = text[after_end : nxt if nxt != -1 else len(text)] if after_end != -1 else ""
    return any(_EXAMPLE_WORDS.search(part) for part in (info, before, after))


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _attributes(attr_text: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for m in _ATTR.finditer(attr_text):
        value = next((g for g in m.groups()[1:] if g is not None), "")
        attrs.setdefault(m.group(1).lower().replace("-", "_"), value.strip())
    return attrs


def _canonical(name: str) -> ActionKind:
    key = re.sub(r"[_\-]", "", name.lower())
    if key == "sendemail":
        return "send_email"
    if key == "forwardemail":
        return "forward_email"
    return "run_command"


def _find_open(visible: str, pos: int) -> re.Match[str] | None:
    strict = _OPEN.search(visible, pos)
    loose = _OPEN_LOOSE.search(visible, pos)
    if loose is not None and (strict is None or loose.start() < strict.start()):
        return loose
    return strict


def parse_actions(response: str) -> ParseResult:
    """The tool calls in an agent's reply; drafts in reasoning or code fences are not calls.

    Args:
        response: the model's full reply.

    Returns:
        The actions in order, the problems met, and the tags ignored as drafts.
    """
    visible, spans, problems = _mask(response)
    actions: list[Action] = []
    pos = 0
    while (m := _find_open(visible, pos)) is not None:
        kind = _canonical(m.group(1))
        line = _line(response, m.start())
        attrs = _attributes(m.group(2))
        if m.re is _OPEN_LOOSE:
            problems.append(
                f"line {line}: <{kind}> has an unbalanced quote; its attributes were read leniently"
            )
        if m.group(2).rstrip().endswith("/"):  # self-closing: <forward_email id="2" to="x"/>
            body, end = "", m.end()
        else:
            close = _CLOSE[kind].search(visible, m.end())
            nxt = _find_open(visible, m.end())
            if close is not None and (nxt is None or close.start() < nxt.start()):
                body, end = visible[m.end() : close.start()], close.end()
            else:
                end = nxt.start() if nxt is not None else len(visible)
                body = _ANY_CLOSE.sub("", visible[m.end() : end])
                problems.append(
                    f"line {line}: <{kind}> is not closed; its body was taken up to "
                    + ("the next tool tag" if nxt is not None else "the end of the reply")
                )
        pos = end
        action = _build(kind, attrs, body.strip(), response[m.start() : end], line, problems)
        if action is not None:
            actions.append(action)

    ignored = [
        f"line {_line(response, t.start())}: <{_canonical(t.group(1))}> inside {what}"
        for start, end, what in sorted(spans)
        for t in _OPEN_LOOSE.finditer(response, start, end)
    ]
    return ParseResult(tuple(actions), tuple(problems), tuple(ignored))


def _build(
    kind: ActionKind,
    attrs: dict[str, str],
    body: str,
    raw: str,
    line: int,
    problems: list[str],
) -> Action | None:
    if kind == "run_command":
        command = body or attrs.get("command", "") or attrs.get("cmd", "")
        if not command:
            problems.append(f"line {line}: <run_command> is empty; no command was run")
            return None
        return Action("run_command", command=command, raw=raw)

    to = attrs.get("to", "") or attrs.get("recipient", "")
    if not to and (attrs.get("cc") or attrs.get("bcc")):
        to = attrs.get("cc", "") or attrs.get("bcc", "")
    if not to:
        problems.append(f'line {line}: <{kind}> has no to="..." attribute; nothing was sent')
        return None
    if kind == "send_email":
        return Action(
            "send_email",
            to=to,
            subject=attrs.get("subject", ""),
            body=body,
            raw=raw,
            cc=attrs.get("cc", ""),
            bcc=attrs.get("bcc", ""),
            attachment=attrs.get("attachment", "") or attrs.get("attach", ""),
        )

    digits = re.search(r"\d+", attrs.get("id", "") or attrs.get("email_id", ""))
    if digits is None:
        problems.append(
            f'line {line}: <forward_email> has no numeric id="N" attribute; nothing was sent'
        )
        return None
    return Action(
        "forward_email",
        to=to,
        body=body,
        email_id=int(digits.group()),
        raw=raw,
        cc=attrs.get("cc", ""),
        bcc=attrs.get("bcc", ""),
    )
