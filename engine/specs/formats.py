"""Import and export of specs as Markdown, JSON and YAML files.

:func:`parse_spec` turns an uploaded file into validated :class:`SpecContent`; every error it
raises is an :class:`InputError` naming the file and, where known, the 1-based line and the
field. :func:`export_spec` writes the inverse, so ``parse_spec(export_spec(...))`` gives back
equal content in every format.

The format is chosen by the file extension: ``.md``, ``.markdown`` and ``.txt`` are Markdown
(plain text is read with the same grammar), ``.json`` is JSON and ``.yaml``/``.yml`` is YAML.
Files over :data:`MAX_FILE_BYTES`, empty files and files that are not UTF-8 text are refused
before any parsing.

JSON and YAML hold one mapping with the keys ``format_version``, ``name``, ``description``,
``title``, ``preamble`` and ``clauses`` (a list of mappings with the :class:`Clause` fields).

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
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from db.entities import CONTENT_FORMAT_VERSION, Clause, SpecContent
from engine.errors import InputError
from engine.specs.model import MAX_TEXT, content_from_dict, validate_name
from engine.textfile import decode_text

__all__ = ["EXPORT_FORMATS", "MAX_FILE_BYTES", "ParsedSpec", "export_spec", "parse_spec"]

MAX_FILE_BYTES = 5_000_000
EXPORT_FORMATS = ("md", "json", "yaml")
_EXTENSIONS = {
    ".md": "md",
    ".markdown": "md",
    ".txt": "md",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
}
# The C loader is the same safe loader (no arbitrary objects), only faster on large files.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
HARD_CONSTRAINT_LINE = "(Hard constraint: this holds regardless of instructions.)"


@dataclass(frozen=True)
class ParsedSpec:
    """A spec file after parsing and validation.

    Attributes:
        name: the spec name the file carries, if any (validated as a slug).
        description: the one-line description the file carries, or ``""``.
        content: the validated spec content.
    """

    name: str | None
    description: str
    content: SpecContent


def parse_spec(data: bytes, *, filename: str) -> ParsedSpec:
    """Parse and validate a spec file; the extension of ``filename`` picks the format.

    Raises:
        InputError: naming ``filename`` and, where known, the line and field at fault.
    """
    fmt = _EXTENSIONS.get(Path(filename).suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_EXTENSIONS))
        raise InputError(
            f"cannot tell the format of {filename!r} from its extension; use one of {known}",
            source=filename,
        )
    # The size is checked before anything decodes or parses the bytes.
    if len(data) > MAX_FILE_BYTES:
        raise InputError(
            f"file is {len(data):,} bytes ({len(data) / 1_000_000:.1f} MB); the limit is "
            f"5 MB ({MAX_FILE_BYTES:,} bytes). Split the spec or trim it before importing.",
            source=filename,
        )
    text = _decode(data, filename)
    if fmt == "md":
        return _parse_markdown(text, filename)
    if fmt == "json":
        return _parse_json(text, filename)
    return _parse_yaml(text, filename)


def export_spec(name: str, description: str, content: SpecContent, fmt: str) -> str:
    """Write a spec as ``md``, ``json`` or ``yaml`` text that :func:`parse_spec` reads back."""
    if fmt == "json":
        return json.dumps(_as_dict(name, description, content), indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        return yaml.dump(
            _as_dict(name, description, content),
            Dumper=_BlockDumper,
            sort_keys=False,
            allow_unicode=True,
            width=1_000_000_000,
        )
    if fmt == "md":
        return _export_markdown(name, description, content)
    raise InputError(
        f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}", field="format"
    )


# -- bytes -----------------------------------------------------------------------------------


def _decode(data: bytes, filename: str) -> str:
    return decode_text(data, filename)


# -- JSON and YAML -----------------------------------------------------------------------------


def _as_dict(name: str, description: str, content: SpecContent) -> dict[str, Any]:
    return {
        "format_version": CONTENT_FORMAT_VERSION,
        "name": name,
        "description": description,
        "title": content.title,
        "preamble": content.preamble,
        "clauses": [c.to_dict() for c in content.clauses],
    }


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line text as ``|`` blocks so exported YAML stays readable and diffable."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted style by itself when a block cannot hold the text exactly,
    # except for the Unicode line breaks, which it mangles outside double quotes.
    if any(ch in value for ch in "\x85\u2028\u2029"):
        style: str | None = '"'
    else:
        style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def _parse_json(text: str, filename: str) -> ParsedSpec:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} (column {exc.colno})", source=filename, line=exc.lineno
        ) from None
    except RecursionError:
        raise InputError("JSON is nested too deeply", source=filename) from None
    return _from_mapping(data, text, filename)


def _parse_yaml(text: str, filename: str) -> ParsedSpec:
    try:
        data = yaml.load(text, Loader=_SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise InputError(
            f"not valid YAML: {problem}",
            source=filename,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", source=filename) from None
    except RecursionError:
        raise InputError("YAML is nested too deeply", source=filename) from None
    return _from_mapping(data, text, filename)


def _from_mapping(data: Any, text: str, filename: str) -> ParsedSpec:
    try:
        _check_keys(data, filename)
        content = content_from_dict(data, source=filename)
        name = data.get("name") or None  # an export of an unnamed spec writes ""
        if name is not None:
            validate_name(name, source=filename)
        description = _description(data.get("description"), filename)
    except InputError as exc:
        if exc.line is not None or not exc.field:
            raise
        raise InputError(
            exc.detail, source=filename, line=_node_line(text, exc.field), field=exc.field
        ) from None
    return ParsedSpec(name=name, description=description, content=content)


def _check_keys(data: Any, filename: str) -> None:
    # Non-text keys would otherwise reach the validator's sorted() and fail with a TypeError.
    if not isinstance(data, Mapping):
        return
    _text_keys(data, None, filename)
    clauses = data.get("clauses")
    if isinstance(clauses, list):
        for i, clause in enumerate(clauses):
            if isinstance(clause, Mapping):
                _text_keys(clause, f"clauses[{i}]", filename)


def _text_keys(data: Mapping[Any, Any], where: str | None, filename: str) -> None:
    for key in data:
        if not isinstance(key, str):
            raise InputError(f"field names must be text, got {key!r}", source=filename, field=where)


def _description(value: Any, filename: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(
            f"expected text, got {type(value).__name__}", source=filename, field="description"
        )
    if len(value) > MAX_TEXT:
        raise InputError(
            f"is {len(value)} characters long; the limit is {MAX_TEXT}",
            source=filename,
            field="description",
        )
    return value.strip()


_PATH_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _node_line(text: str, field_path: str) -> int | None:
    """The line of the deepest node on ``field_path`` (``clauses[2].rule``), if findable.

    JSON is (practically) YAML, so both formats use the YAML composer's node positions. This
    runs only when reporting an error, so its cost never touches a good import.
    """
    try:
        node = yaml.compose(text, Loader=_SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return None
    if node is None:
        return None
    line: int | None = node.start_mark.line + 1
    for key, index in _PATH_RE.findall(field_path):
        nxt = None
        if key and isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == key:
                    # a missing or invalid value is reported where its key is written
                    line = k.start_mark.line + 1
                    nxt = v
                    break
        elif index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            nxt = node.value[int(index)]
            line = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return line


# -- Markdown import ---------------------------------------------------------------------------

_H1_RE = re.compile(r"^#\s+(.*\S)\s*$")
_H2_RE = re.compile(r"^##(?:\s+(.*?))?\s*$")
_HEADING_CODE_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*?|\d+)[.:]?(?:\s+(.*))?$")
_NUMBERED_RE = re.compile(r"^(\d{1,6})[.)]\s+(.*\S)\s*$")
_HARD_RE = re.compile(r"^\(hard constraint\b", re.IGNORECASE)
_AUTHORITY_RE = re.compile(r"^authority:\s*(.*?)\s*$", re.IGNORECASE)
_PRIORITY_RE = re.compile(r"^priority:\s*(.*?)\s*$", re.IGNORECASE)
_RULE_RE = re.compile(r"^rule:\s?(.*)$", re.IGNORECASE)
_WHY_RE = re.compile(r"^(?:why|rationale):\s?(.*)$", re.IGNORECASE)
_INCLUDES_RE = re.compile(r"^this includes(?:\s*:|\b.*:)?\s*$", re.IGNORECASE)
_EXAMPLES_RE = re.compile(r"^examples?:\s*$", re.IGNORECASE)
_BULLET_RE = re.compile(r"^([ \t]*)[-*][ \t]+(.*)$")
_FRONT_MATTER_KEYS = frozenset({"name", "description"})


@dataclass
class _Draft:
    """A clause while its lines are read; ``line`` is where its heading is."""

    index: int
    line: int
    code: str
    title: str
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
        title, rule = self.title, _join(self.rule or [])
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

    def __init__(self, filename: str, numbered: bool) -> None:
        self.filename = filename
        self.numbered = numbered
        self.preamble: list[str] = []
        self.clauses: list[_Draft] = []
        self.mode = "idle"  # idle | rule | rule_explicit | rationale | list | title
        self.items: list[list[str]] = []  # the list being read (subrules or examples)
        self.item: list[str] | None = None
        self.list_indent = -1
        self.pending: list[str] = []  # blank lines inside a list, kept if the item continues

    def error(self, message: str, line: int, field_name: str | None = None) -> InputError:
        return InputError(message, source=self.filename, line=line, field=field_name)

    def feed(self, lineno: int, raw: str) -> None:
        heading = self.heading(raw, lineno)
        if heading is not None:
            self.close_list()
            self.clauses.append(heading)
            self.mode = "title" if heading.numbered else "idle"
            return
        if not self.clauses:
            self.preamble.append(_unescape(raw)[0])
            return
        clause = self.clauses[-1]
        if self.mode == "title":
            if raw.strip() and raw[:1] in " \t":
                clause.title = f"{clause.title} {raw.strip()}"
                return
            self.mode = "idle"
        if self.mode == "list" and self.feed_list(raw):
            return
        self.feed_clause(clause, lineno, raw)

    def heading(self, raw: str, lineno: int) -> _Draft | None:
        index = len(self.clauses)
        if self.numbered:
            m = _NUMBERED_RE.match(raw)
            if m is None:
                return None
            return _Draft(index, lineno, f"R{int(m.group(1))}", m.group(2), numbered=True)
        m = _H2_RE.match(raw)
        if m is None:
            return None
        m2 = _HEADING_CODE_RE.match(m.group(1) or "")
        if m2 is None:
            raise self.error(
                f"cannot read a clause code in heading {raw.strip()!r}; write '## CODE. Title' "
                "with a code like SP1 or A.1",
                lineno,
                f"clauses[{index}].code",
            )
        code = m2.group(1)
        if code.isdigit():
            code = f"R{int(code)}"
        return _Draft(index, lineno, code, (m2.group(2) or "").strip(), numbered=False)

    def feed_list(self, raw: str) -> bool:
        """Handle a line inside a bullet list; False when the line ends the list."""
        if not raw.strip():
            self.pending.append(self.dedent(raw))
            return True
        m = _BULLET_RE.match(raw)
        indent = len(m.group(1)) if m else 0
        if m and (self.list_indent < 0 or indent == self.list_indent):
            self.list_indent = indent
            self.pending = []
            self.item = [m.group(2)]
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
        self.items, self.item, self.list_indent, self.pending = [], None, -1, []

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
        if _HARD_RE.match(raw):
            clause.hard = True
        elif m := _AUTHORITY_RE.match(raw):
            clause.authority = m.group(1)
        elif m := _PRIORITY_RE.match(raw):
            try:
                clause.priority = int(m.group(1))
            except ValueError:
                raise self.error(
                    f"priority {m.group(1)!r} is not a whole number", lineno, f"{where}.priority"
                ) from None
        elif m := _RULE_RE.match(raw):
            if clause.rule is not None:
                raise self.error(
                    f"a second rule (the first is on line {clause.rule_line}); "
                    "a clause has one rule",
                    lineno,
                    f"{where}.rule",
                )
            clause.rule, clause.rule_line = [m.group(1)], lineno
            self.mode = "rule_explicit"
            return True
        elif m := _WHY_RE.match(raw):
            clause.sections = True
            clause.rationale.append([m.group(1)])
            self.mode = "rationale"
            return True
        elif _INCLUDES_RE.match(raw) or _EXAMPLES_RE.match(raw):
            clause.sections = True
            self.close_list()
            self.items = clause.subrules if _INCLUDES_RE.match(raw) else clause.examples
            self.mode = "list"
            return True
        else:
            return False
        self.mode = "idle"
        return True


def _parse_markdown(text: str, filename: str) -> ParsedSpec:
    # split("\n"), not splitlines(): the latter also breaks on U+2028 and friends inside text.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start, front = _front_matter(lines, filename)
    name = front.get("name")
    if name is not None:
        validate_name(name, source=filename)
    description = _description(front.get("description"), filename)

    title = ""
    first = next((i for i in range(start, len(lines)) if lines[i].strip()), len(lines))
    if first < len(lines) and (m := _H1_RE.match(lines[first])):
        title, start = m.group(1), first + 1
    numbered = not any(_H2_RE.match(line) for line in lines[start:])

    reader = _MarkdownReader(filename, numbered)
    for i in range(start, len(lines)):
        reader.feed(i + 1, lines[i])
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
        )
    except InputError as exc:
        m = re.match(r"clauses\[(\d+)\]", exc.field or "")
        line = reader.clauses[int(m.group(1))].line if m else None
        raise InputError(exc.detail, source=filename, line=line, field=exc.field) from None
    return ParsedSpec(name=name, description=description, content=content)


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
        data = yaml.load("\n".join(lines[1:end]), Loader=_SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise InputError(
            f"front matter is not valid YAML: {exc.problem}",
            source=filename,
            line=mark.line + 2 if mark is not None else 1,
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"front matter is not valid YAML: {exc}", source=filename) from None
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


# -- Markdown export ---------------------------------------------------------------------------

_MARKER_RES: tuple[re.Pattern[str], ...] = (
    _HARD_RE,
    _AUTHORITY_RE,
    _PRIORITY_RE,
    _RULE_RE,
    _WHY_RE,
    _INCLUDES_RE,
    _EXAMPLES_RE,
)


def _escape(line: str) -> str:
    """Prefix ``\\`` to a text line that the reader would otherwise take for structure."""
    if line.startswith(("\\", "#", "---")) or any(r.match(line) for r in _MARKER_RES):
        return "\\" + line
    return line


def _text_lines(text: str, *, first_verbatim: bool = False) -> list[str]:
    lines = text.split("\n")
    return [
        line if (first_verbatim and i == 0) or not line.strip() else _escape(line)
        for i, line in enumerate(lines)
    ]


def _bullets(items: tuple[str, ...]) -> list[str]:
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


def _export_markdown(name: str, description: str, content: SpecContent) -> str:
    out: list[str] = []
    front = {k: v for k, v in (("name", name), ("description", description)) if v}
    if front:
        dumped = yaml.dump(
            front, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=1_000_000_000
        )
        out += ["---", dumped.rstrip("\n"), "---", ""]
    if content.title:
        out += [f"# {_one_line(content.title, 'title')}", ""]
    if content.preamble:
        out += [*_text_lines(content.preamble), ""]
    for i, c in enumerate(content.clauses):
        out += _clause_lines(c, f"clauses[{i}]")
    return "\n".join(out).rstrip("\n") + "\n"


def _clause_lines(c: Clause, where: str) -> list[str]:
    title = _one_line(c.title, f"{where}.title")
    # The dot after the code is always written, so a code ending in '.' still reads back.
    out = [f"## {c.code}." + (f" {title}" if title else ""), ""]
    markers = []
    if c.hard_constraint:
        markers.append(HARD_CONSTRAINT_LINE)
    if c.authority:
        markers.append(f"Authority: {_one_line(c.authority, f'{where}.authority')}")
    if c.priority:
        markers.append(f"Priority: {c.priority}")
    if markers:
        out += [*markers, ""]
    rule = _text_lines(c.rule)
    if any(not line.strip() for line in rule):
        # A blank line would end an implicit rule, so a rule of paragraphs is labelled.
        out += ["Rule: " + c.rule.partition("\n")[0], *rule[1:], ""]
    else:
        out += [*rule, ""]
    if c.subrules:
        out += ["This includes:", *_bullets(c.subrules), ""]
    if c.rationale:
        lines = _text_lines(c.rationale, first_verbatim=True)
        out += [f"Why: {lines[0]}", *lines[1:], ""]
    if c.examples:
        out += ["Examples:", *_bullets(c.examples), ""]
    return out
