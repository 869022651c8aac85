"""Spec files as Markdown (and plain text): the clause grammar, read line by line and written.

Reading is linear in the file: each line is classified by plain string operations (prefix
tests, ``strip``), never by a regular expression with unbounded repeats that can backtrack.

Markdown grammar (every marker is matched at column 0, case-insensitively):

* Optional front matter: a first line ``---``, YAML with ``name`` and/or ``description``,
  and a closing ``---`` line. Export writes it; hand-written files rarely need it.
* Optional title: the first non-blank line, if it is ``# Title``.
* Preamble: everything before the first clause.
* A clause starts with a heading ``## CODE. Title``, ``## CODE: Title`` or ``## CODE Title``
  (``SP1``, ``GP2``, ``A.1``; ``## 3. Title`` gets the code ``R3``). Only in a document with no
  ``##`` heading, a numbered line ``1. Title`` or ``1) Title`` starts clause ``R1``; indented
  lines right below it continue its title, and if the clause has no rule paragraph the
  numbered text itself is the rule (so ``1. Never lie.`` is a whole clause).
* Inside a clause:

  - ``(Hard constraint...)`` sets ``hard_constraint``; ``Authority: X`` and ``Priority: N``
    set those fields.
  - The first plain paragraph, before any other section, is the rule. ``Rule: ...`` starts
    an explicit rule that runs (blank lines included) up to the next marker line, which is
    how a rule of several paragraphs is written.
  - ``This includes:`` (or ``This includes ...:``) followed by ``- `` or ``* `` bullets gives
    the sub-rules; ``Examples:`` followed by bullets gives the examples. A bullet continues on
    lines indented past its dash, blank lines included; any other line ends the list.
  - ``Why: ...`` or ``Rationale: ...`` starts the rationale, which runs (blank lines included)
    up to the next marker line. Any other plain paragraph after the rule is rationale too;
    separate pieces are joined by a blank line.

* A text line that starts with ``\\`` has that backslash removed and is never a marker, the
  way Markdown escapes work; export escapes every text line that would otherwise be read as
  structure. Bullet text is taken verbatim.

This reads back what the renderings in :mod:`engine.specs.render` produce, and export adds the
explicit ``Rule:``, ``Authority:``, ``Priority:`` and ``Examples:`` sections it needs.

A file that says it ends early is refused rather than stored short: front matter that is never
closed, a clause heading with no rule under it, a ``This includes:`` or ``Examples:`` with no
items, and a ``Why:`` with no text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from db.entities import SpecContent
from engine.errors import InputError
from engine.specs.model import (
    DEFAULT_LIMITS,
    ParsedSpec,
    SpecLimits,
    content_from_dict,
    validate_description,
)
from engine.specs.writer import dump_yaml, spec_record
from engine.yamlsafe import load_yaml

__all__ = ["HARD_CONSTRAINT_LINE", "read_markdown", "write_markdown"]

HARD_CONSTRAINT_LINE = "(Hard constraint: this holds regardless of instructions.)"
_FRONT_MATTER_KEYS = frozenset({"name", "description"})
# Only these two patterns run on user text, each on one word: a single bounded repeat.
_CODE_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_DIGITS_RE = re.compile(r"[0-9]+")
_CLAUSE_FIELD_RE = re.compile(r"clauses\[(\d+)\]")  # on our own field paths, not user text


# -- line predicates: plain string operations, linear in the line ------------------------------


def _after_prefix(line: str, prefix: str) -> str | None:
    """The rest of ``line`` after ``prefix`` (matched case-insensitively), else ``None``."""
    if len(line) >= len(prefix) and line[: len(prefix)].lower() == prefix:
        return line[len(prefix) :]
    return None


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _h1(line: str) -> str | None:
    """The title of a ``# Title`` line."""
    if line[:1] != "#" or not line[1:2].isspace():
        return None
    return line[1:].strip() or None


def _h2(line: str) -> str | None:
    """The text after ``##`` of a clause heading line (possibly empty), else ``None``."""
    if line[:2] != "##":
        return None
    rest = line[2:]
    if rest and not rest[0].isspace():
        return None
    return rest.strip()


def _numbered(line: str) -> tuple[int, str] | None:
    """``(number, text)`` of a ``1. Text`` or ``1) Text`` line."""
    n = 0
    while n < len(line) and n < 7 and line[n].isdecimal():
        n += 1
    if not 1 <= n <= 6 or line[n : n + 1] not in (".", ")") or not line[n + 1 : n + 2].isspace():
        return None
    text = line[n + 1 :].strip()
    return (int(line[:n]), text) if text else None


def _heading_code(text: str) -> tuple[str, str] | None:
    """``(code, title)`` of a heading's text ``CODE. Title``, ``CODE: Title``, ``CODE Title``."""
    parts = text.split(None, 1)
    if not parts:
        return None
    word, title = parts[0], (parts[1] if len(parts) > 1 else "")
    for code in (word[:-1], word) if word[-1:] in (".", ":") else (word,):
        if code and (_CODE_WORD_RE.fullmatch(code) or _DIGITS_RE.fullmatch(code)):
            return code, title.strip()
    return None


def _hard(line: str) -> bool:
    rest = _after_prefix(line, "(hard constraint")
    return rest is not None and not (rest and _is_word_char(rest[0]))


def _label(line: str, *labels: str) -> str | None:
    """The text after ``Label:`` with at most one separating whitespace removed."""
    for label in labels:
        rest = _after_prefix(line, label)
        if rest is not None:
            return rest[1:] if rest[:1].isspace() else rest
    return None


def _includes(line: str) -> bool:
    rest = _after_prefix(line, "this includes")
    if rest is None:
        return False
    tail = rest.rstrip()
    return not tail or (tail.endswith(":") and not _is_word_char(rest[0]))


def _examples(line: str) -> bool:
    return line.rstrip().lower() in ("example:", "examples:")


def _bullet(line: str) -> tuple[int, str] | None:
    """``(indent, text)`` of a ``- item`` or ``* item`` line."""
    body = line.lstrip(" \t")
    indent = len(line) - len(body)
    if body[:1] not in ("-", "*") or body[1:2] not in (" ", "\t"):
        return None
    return indent, body[1:].lstrip(" \t")


def _is_marker(line: str) -> bool:
    """Whether ``line`` is read as structure inside a clause (export escapes such lines)."""
    return (
        _hard(line)
        or _label(line, "authority:", "priority:", "rule:", "why:", "rationale:") is not None
        or _includes(line)
        or _examples(line)
    )


# -- reading ------------------------------------------------------------------------------------


@dataclass
class _Draft:
    """A clause while its lines are read; ``line`` is where its heading is."""

    index: int
    line: int
    code: str
    title: list[str]
    numbered: bool
    rule: list[str] | None = None
    rule_line: int = 0
    subrules: list[list[str]] = field(default_factory=list)
    examples: list[list[str]] = field(default_factory=list)
    rationale: list[list[str]] = field(default_factory=list)
    authority: str | None = None
    priority: int | None = None
    hard: bool = False
    sections: bool = False  # a list or rationale has begun, so plain text is no longer the rule

    def to_dict(self) -> dict[str, Any]:
        title, rule = " ".join(self.title), _join(self.rule or [])
        if self.numbered and not rule:
            title, rule = "", title
        d: dict[str, Any] = {
            "code": self.code,
            "title": title,
            "rule": rule,
            "subrules": [_join(s) for s in self.subrules],
            "rationale": "\n\n".join(t for t in (_join(r) for r in self.rationale) if t),
            "examples": [_join(x) for x in self.examples],
            "hard_constraint": self.hard,
        }
        if self.authority is not None:
            d["authority"] = self.authority
        if self.priority is not None:
            d["priority"] = self.priority
        return d


def _join(lines: list[str]) -> str:
    return "\n".join(lines).strip()


def _unescape(line: str) -> tuple[str, bool]:
    """The text of a line and whether it was escaped (so is never a marker)."""
    if line.startswith("\\"):
        return line[1:], True
    return line, False


class _MarkdownReader:
    """Reads the clause grammar described in the module docstring, one line at a time."""

    def __init__(self, filename: str, numbered: bool, limits: SpecLimits) -> None:
        self.filename = filename
        self.numbered = numbered
        self.limits = limits
        self.preamble: list[str] = []
        self.clauses: list[_Draft] = []
        self.mode = "idle"  # idle | rule | rule_explicit | rationale | list | title
        self.items: list[list[str]] = []  # the list being read (subrules or examples)
        self.item: list[str] | None = None
        self.list_indent = -1
        self.list_start: tuple[int, str] | None = None  # line and label of the open list
        self.pending: list[str] = []  # blank lines inside a list, kept if the item continues
        self.why_line = 0  # line of a 'Why:' whose text may still be empty

    def error(self, message: str, line: int, field_name: str | None = None) -> InputError:
        return InputError(message, source=self.filename, line=line, field=field_name)

    def feed(self, lineno: int, raw: str) -> None:
        heading = self.heading(raw, lineno)
        if heading is not None:
            self.close_list()
            self.close_clause()
            if len(self.clauses) >= self.limits.max_clauses:
                raise self.error(
                    f"more than {self.limits.max_clauses:,} clauses; that is the limit",
                    lineno,
                    "clauses",
                )
            self.clauses.append(heading)
            self.mode = "title" if heading.numbered else "idle"
            return
        if not self.clauses:
            self.preamble.append(_unescape(raw)[0])
            return
        clause = self.clauses[-1]
        if self.mode == "title":
            if raw.strip() and raw[:1] in " \t":
                clause.title.append(raw.strip())
                return
            self.mode = "idle"
        if self.mode == "list" and self.feed_list(raw):
            return
        self.feed_clause(clause, lineno, raw)

    def finish(self) -> None:
        self.close_list()
        self.close_clause()

    def heading(self, raw: str, lineno: int) -> _Draft | None:
        index = len(self.clauses)
        if self.numbered:
            numbered = _numbered(raw)
            if numbered is None:
                return None
            return _Draft(index, lineno, f"R{numbered[0]}", [numbered[1]], numbered=True)
        text = _h2(raw)
        if text is None:
            return None
        parsed = _heading_code(text)
        if parsed is None:
            shown = raw.strip()
            shown = shown if len(shown) <= 80 else shown[:80] + "…"
            raise self.error(
                f"cannot read a clause code in heading {shown!r}; write '## CODE. Title' "
                "with a code like SP1 or A.1",
                lineno,
                f"clauses[{index}].code",
            )
        code, title = parsed
        if code.isdigit():
            if len(code) > 9:
                raise self.error(
                    f"clause number {code[:20]!r} is too long; use at most 9 digits",
                    lineno,
                    f"clauses[{index}].code",
                )
            code = f"R{int(code)}"
        return _Draft(index, lineno, code, [title] if title else [], numbered=False)

    def feed_list(self, raw: str) -> bool:
        """Handle a line inside a bullet list; False when the line ends the list."""
        if not raw.strip():
            self.pending.append(self.dedent(raw))
            return True
        bullet = _bullet(raw)
        indent = bullet[0] if bullet else 0
        if bullet and (self.list_indent < 0 or indent == self.list_indent):
            if len(self.items) >= self.limits.max_items:
                raise self.error(
                    f"more than {self.limits.max_items} items in one list; that is the limit",
                    self.list_start[0] if self.list_start else 0,
                )
            self.list_indent = indent
            self.pending = []
            self.item = [bullet[1]]
            self.items.append(self.item)
            return True
        leading = len(raw) - len(raw.lstrip(" \t"))
        if self.item is not None and leading > self.list_indent:
            self.item.extend(self.pending)
            self.pending = []
            self.item.append(self.dedent(raw))
            return True
        self.close_list()
        return False

    def dedent(self, raw: str) -> str:
        # Continuation lines are indented past the dash; drop that much and keep the rest.
        width = self.list_indent + 2
        stripped = raw.lstrip(" \t")
        removed = len(raw) - len(stripped)
        return raw[min(removed, width) :]

    def close_list(self) -> None:
        if self.mode == "list":
            self.mode = "idle"
            if not self.items and self.list_start is not None:
                # A label with nothing under it is how a file cut short (or a slip) reads.
                line, label = self.list_start
                raise self.error(
                    f"'{label}' has no '- ' items under it; add them or remove the line "
                    "(was the file cut short?)",
                    line,
                )
        self.items, self.item, self.list_indent, self.pending = [], None, -1, []
        self.list_start = None

    def close_clause(self) -> None:
        if not self.clauses or not self.why_line:
            return
        clause = self.clauses[-1]
        if clause.rationale and not _join(clause.rationale[-1]):
            raise self.error(
                "'Why:' has no text after it; add the rationale or remove the line "
                "(was the file cut short?)",
                self.why_line,
                f"clauses[{clause.index}].rationale",
            )
        self.why_line = 0

    def feed_clause(self, clause: _Draft, lineno: int, raw: str) -> None:
        where = f"clauses[{clause.index}]"
        text, escaped = _unescape(raw)
        if not raw.strip():
            if self.mode == "rule":
                self.mode = "idle"
            elif self.mode in ("rule_explicit", "rationale"):
                self.current_text(clause).append(raw)
            return
        if not escaped and self.marker(clause, lineno, raw, where):
            return
        if self.mode in ("rule", "rule_explicit", "rationale"):
            self.current_text(clause).append(text)
        elif clause.rule is None and not clause.sections:
            clause.rule, clause.rule_line = [text], lineno
            self.mode = "rule"
        else:
            clause.sections = True
            clause.rationale.append([text])
            self.mode = "rationale"

    def current_text(self, clause: _Draft) -> list[str]:
        if self.mode == "rationale":
            return clause.rationale[-1]
        assert clause.rule is not None
        return clause.rule

    def marker(self, clause: _Draft, lineno: int, raw: str, where: str) -> bool:
        """Apply a marker line to ``clause``; False when ``raw`` is not a marker."""
        if _hard(raw):
            clause.hard = True
        elif (value := _label(raw, "authority:")) is not None:
            clause.authority = value.strip()
        elif (value := _label(raw, "priority:")) is not None:
            clause.priority = self.priority(value.strip(), lineno, f"{where}.priority")
        elif (value := _label(raw, "rule:")) is not None:
            if clause.rule is not None:
                raise self.error(
                    f"a second rule (the first is on line {clause.rule_line}); "
                    "a clause has one rule",
                    lineno,
                    f"{where}.rule",
                )
            clause.rule, clause.rule_line = [value], lineno
            self.mode = "rule_explicit"
            return True
        elif (value := _label(raw, "why:", "rationale:")) is not None:
            self.close_clause()
            clause.sections = True
            clause.rationale.append([value])
            self.why_line = lineno
            self.mode = "rationale"
            return True
        elif _includes(raw) or _examples(raw):
            clause.sections = True
            self.close_list()
            self.items = clause.subrules if _includes(raw) else clause.examples
            self.list_start = (lineno, raw.strip())
            self.mode = "list"
            return True
        else:
            return False
        self.mode = "idle"
        return True

    def priority(self, value: str, lineno: int, field_name: str) -> int:
        digits = value[1:] if value[:1] in ("-", "+") else value
        if not digits.isdecimal() or not digits.isascii():
            shown = value if len(value) <= 40 else value[:40] + "…"
            raise self.error(f"priority {shown!r} is not a whole number", lineno, field_name)
        bound = self.limits.max_priority
        if len(digits) > len(str(bound)) or abs(int(value)) > bound:
            raise self.error(
                f"priority {value[:40]} is out of range; use a whole number between "
                f"-{bound:,} and {bound:,}",
                lineno,
                field_name,
            )
        return int(value)


def read_markdown(text: str, filename: str, limits: SpecLimits = DEFAULT_LIMITS) -> ParsedSpec:
    """Parse and validate a Markdown (or plain-text) spec file."""
    # split("\n"), not splitlines(): the latter also breaks on U+2028 and friends inside text.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start, front = _front_matter(lines, filename)
    name = front.get("name")
    if name is not None and not isinstance(name, str):
        raise InputError(
            f"front matter name must be text, got {type(name).__name__}",
            source=filename,
            line=1,
            field="name",
        )
    description = validate_description(front.get("description"), source=filename, limits=limits)

    title = ""
    first = next((i for i in range(start, len(lines)) if lines[i].strip()), len(lines))
    if first < len(lines) and (h1 := _h1(lines[first])):
        title, start = h1, first + 1
    numbered = not any(_h2(line) is not None for line in lines[start:])

    reader = _MarkdownReader(filename, numbered, limits)
    for i in range(start, len(lines)):
        reader.feed(i + 1, lines[i])
    reader.finish()
    if not reader.clauses:
        raise InputError(
            "no clauses found; start each clause with a heading '## CODE. Title' "
            "(or, in plain text, a numbered line '1. Title')",
            source=filename,
            field="clauses",
        )
    try:
        content = content_from_dict(
            {
                "title": title,
                "preamble": _join(reader.preamble),
                "clauses": [c.to_dict() for c in reader.clauses],
            },
            source=filename,
            limits=limits,
        )
    except InputError as exc:
        m = _CLAUSE_FIELD_RE.match(exc.field or "")
        line = reader.clauses[int(m.group(1))].line if m else None
        raise InputError(exc.detail, source=filename, line=line, field=exc.field) from None
    return ParsedSpec(
        name=name or None, description=description, content=content, filename=filename
    )


def _front_matter(lines: list[str], filename: str) -> tuple[int, dict[str, Any]]:
    """Where the body starts and the ``name``/``description`` of a leading ``---`` block."""
    if not lines or lines[0].rstrip() != "---":
        return 0, {}
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise InputError(
            "front matter opened with '---' on line 1 is never closed; add a '---' line",
            source=filename,
            line=1,
        )
    try:
        data = load_yaml("\n".join(lines[1:end]), source=filename)
    except InputError as exc:
        # The YAML starts on line 2 of the file.
        raise InputError(
            f"front matter: {exc.detail}",
            source=filename,
            line=exc.line + 1 if exc.line is not None else 1,
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            "front matter must be a mapping with 'name' and 'description'", source=filename, line=1
        )
    unknown = sorted(str(k) for k in data if k not in _FRONT_MATTER_KEYS)
    if unknown:
        raise InputError(
            f"unknown front matter field(s) {', '.join(unknown)}; known: description, name",
            source=filename,
            line=1,
            field=unknown[0],
        )
    return end + 1, data


# -- writing ------------------------------------------------------------------------------------


def _escape(line: str) -> str:
    """Prefix ``\\`` to a text line that the reader would otherwise take for structure."""
    if line.startswith(("\\", "#", "---")) or _is_marker(line):
        return "\\" + line
    return line


def _text_lines(text: str, *, first_verbatim: bool = False) -> list[str]:
    lines = text.split("\n")
    return [
        line if (first_verbatim and i == 0) or not line.strip() else _escape(line)
        for i, line in enumerate(lines)
    ]


def _bullets(items: list[str]) -> list[str]:
    out = []
    for item in items:
        first, *rest = item.split("\n")
        out.append(f"- {first}")
        out += [f"  {line}" if line else "" for line in rest]
    return out


def _one_line(value: str, what: str) -> str:
    if "\n" in value:
        raise InputError(
            f"{what} spans several lines, which a Markdown heading cannot hold; "
            "export as json or yaml instead",
            field=what,
        )
    return value


def write_markdown(name: str, description: str, content: SpecContent) -> str:
    """The spec as Markdown that :func:`read_markdown` reads back to equal content."""
    record = spec_record(name, description, content)
    out: list[str] = []
    front = {k: record[k] for k in ("name", "description") if record[k]}
    if front:
        out += ["---", dump_yaml(front).rstrip("\n"), "---", ""]
    if record["title"]:
        out += [f"# {_one_line(record['title'], 'title')}", ""]
    if record["preamble"]:
        out += [*_text_lines(record["preamble"]), ""]
    for i, clause in enumerate(record["clauses"]):
        out += _clause_lines(clause, f"clauses[{i}]")
    return "\n".join(out).rstrip("\n") + "\n"


def _clause_lines(c: dict[str, Any], where: str) -> list[str]:
    title = _one_line(c["title"], f"{where}.title")
    # The dot after the code is always written, so a code ending in '.' still reads back.
    out = [f"## {c['code']}." + (f" {title}" if title else ""), ""]
    markers = []
    if c["hard_constraint"]:
        markers.append(HARD_CONSTRAINT_LINE)
    if c["authority"]:
        markers.append(f"Authority: {_one_line(c['authority'], f'{where}.authority')}")
    if c["priority"]:
        markers.append(f"Priority: {c['priority']}")
    if markers:
        out += [*markers, ""]
    rule = _text_lines(c["rule"])
    if any(not line.strip() for line in rule):
        # A blank line would end an implicit rule, so a rule of paragraphs is labelled.
        out += ["Rule: " + c["rule"].partition("\n")[0], *rule[1:], ""]
    else:
        out += [*rule, ""]
    if c["subrules"]:
        out += ["This includes:", *_bullets(c["subrules"]), ""]
    if c["rationale"]:
        lines = _text_lines(c["rationale"], first_verbatim=True)
        out += [f"Why: {lines[0]}", *lines[1:], ""]
    if c["examples"]:
        out += ["Examples:", *_bullets(c["examples"]), ""]
    return out
