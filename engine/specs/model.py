"""The spec content model: validation of clauses and whole specs.

The plain dataclasses (:class:`Clause`, :class:`SpecContent`) are the store's entities;
this module builds them from untrusted dictionaries with errors that name the field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from db.entities import Clause, SpecContent
from engine.errors import InputError

CODE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,49}")
SPEC_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
CLAUSE_FIELDS = frozenset(
    {
        "code",
        "title",
        "rule",
        "subrules",
        "rationale",
        "examples",
        "authority",
        "priority",
        "hard_constraint",
    }
)
SPEC_FIELDS = frozenset({"format_version", "name", "title", "preamble", "clauses", "description"})
# Column widths in db/models.py; the limits may be lower, never higher (tests compare them).
TITLE_COLUMN = 500
AUTHORITY_COLUMN = 100
# NUL cannot be stored by PostgreSQL; a lone surrogate cannot be encoded as UTF-8 at all.
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class SpecLimits:
    """Bounds on one spec, checked before anything is stored; the same on every database."""

    max_clauses: int = field(default=500, metadata={"help": "most clauses in one spec"})
    max_text: int = field(
        default=20_000,
        metadata={
            "help": "longest rule, rationale, preamble, description, sub-rule or example, "
            "in characters"
        },
    )
    max_title: int = field(
        default=TITLE_COLUMN,
        metadata={"help": "longest spec or clause title, in characters (at most 500)"},
    )
    max_authority: int = field(
        default=AUTHORITY_COLUMN,
        metadata={"help": "longest clause authority, in characters (at most 100)"},
    )
    max_items: int = field(
        default=200, metadata={"help": "most sub-rules, and most examples, in one clause"}
    )
    max_priority: int = field(
        default=1_000_000, metadata={"help": "largest clause priority, positive or negative"}
    )
    max_total_chars: int = field(
        default=5_000_000, metadata={"help": "most characters of text in one spec, all fields"}
    )

    def __post_init__(self) -> None:
        if self.max_title > TITLE_COLUMN or self.max_authority > AUTHORITY_COLUMN:
            raise InputError(
                f"title and authority limits cannot exceed the database columns "
                f"({TITLE_COLUMN} and {AUTHORITY_COLUMN} characters)",
                field="max_title" if self.max_title > TITLE_COLUMN else "max_authority",
            )


DEFAULT_LIMITS = SpecLimits()
# Kept for callers that read the defaults directly.
MAX_CLAUSES = DEFAULT_LIMITS.max_clauses
MAX_TEXT = DEFAULT_LIMITS.max_text

__all__ = [
    "DEFAULT_LIMITS",
    "Clause",
    "ParsedSpec",
    "SpecContent",
    "SpecLimits",
    "build_content",
    "clause_from_dict",
    "content_from_dict",
    "name_from_filename",
    "validate_description",
    "validate_name",
]

_NAME_RULE = "1-100 characters of a-z, 0-9, '_', '.', '-' starting with a letter or digit"


def validate_name(name: str, *, source: str | None = None, hint: str = "") -> str:
    """Spec names are lowercase slugs: they appear in URLs, CLI arguments and study files.

    ``hint`` is appended to the error (the import paths say how to give another name).
    """
    if not isinstance(name, str) or not SPEC_NAME_RE.fullmatch(name):
        shown = repr(name) if isinstance(name, str) else f"of type {type(name).__name__}"
        raise InputError(
            f"spec name {shown[:120]} must be {_NAME_RULE}{hint}", source=source, field="name"
        )
    return name


def name_from_filename(filename: str) -> str | None:
    """A spec name made from a file name (``My Spec v2.md`` → ``my-spec-v2``), if it has
    any letters or digits."""
    stem = PurePath(filename.replace("\\", "/")).stem
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9_.-]+", "-", ascii_stem).strip("-_.")[:100].rstrip("-_.")
    return slug if SPEC_NAME_RE.fullmatch(slug) else None


@dataclass(frozen=True)
class ParsedSpec:
    """A spec file after parsing and validation.

    Attributes:
        name: the spec name the file carries, if any (validated as a slug).
        description: the one-line description the file carries, or ``""``.
        content: the validated spec content.
        filename: the file it came from; names an unnamed spec (see :meth:`spec_name`).
    """

    name: str | None
    description: str
    content: SpecContent
    filename: str = field(default="", compare=False)

    def spec_name(self, explicit: str | None = None) -> str:
        """The name to store the spec under: ``explicit``, else the file's ``name``, else
        one made from the file name."""
        hint = "; pass another with --name (or the Name box in the dashboard)"
        if explicit:
            return validate_name(explicit, source=self.filename or None, hint=hint)
        if self.name:
            return self.name
        derived = name_from_filename(self.filename)
        if derived is None:
            raise InputError(
                f"the file carries no spec name and none can be made from its file name "
                f"{self.filename!r}; pass one with --name (or the Name box in the dashboard)",
                source=self.filename or None,
                field="name",
            )
        return derived


def _text(
    value: Any,
    field: str,
    *,
    source: str | None,
    required: bool = False,
    limit: int = DEFAULT_LIMITS.max_text,
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InputError(f"expected text, got {type(value).__name__}", source=source, field=field)
    text: str = value.strip()
    if required and not text:
        raise InputError("is required and must not be empty", source=source, field=field)
    if len(text) > limit:
        raise InputError(
            f"is {len(text):,} characters long; the limit is {limit:,}", source=source, field=field
        )
    bad = _UNSTORABLE_RE.search(text)
    if bad is not None:
        what = "a NUL character" if bad.group() == "\x00" else "a lone surrogate (broken UTF-16)"
        raise InputError(
            f"holds {what} at character {bad.start() + 1}, which cannot be stored; "
            "remove it or fix the file's encoding",
            source=source,
            field=field,
        )
    return text


def validate_description(
    value: Any, *, source: str | None, limits: SpecLimits = DEFAULT_LIMITS
) -> str:
    """A spec's one-line description (``None`` reads as empty)."""
    return _text(value, "description", source=source, limit=limits.max_text)


def _texts(value: Any, field: str, *, source: str | None, limits: SpecLimits) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise InputError("expected a list of texts", source=source, field=field)
    if len(value) > limits.max_items:
        raise InputError(
            f"{len(value):,} items; the limit is {limits.max_items:,}", source=source, field=field
        )
    out = []
    for i, item in enumerate(value):
        text = _text(item, f"{field}[{i}]", source=source, limit=limits.max_text)
        if text:
            out.append(text)
    return tuple(out)


def clause_from_dict(
    data: Mapping[str, Any],
    *,
    where: str = "clause",
    source: str | None = None,
    limits: SpecLimits = DEFAULT_LIMITS,
) -> Clause:
    """Build a validated :class:`Clause`; ``where`` prefixes field names in errors."""
    if not isinstance(data, Mapping):
        raise InputError("expected a mapping of clause fields", source=source, field=where)
    unknown = sorted(str(k) for k in set(data) - CLAUSE_FIELDS)
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(CLAUSE_FIELDS))}",
            source=source,
            field=f"{where}.{unknown[0]}",
        )
    code = _text(data.get("code"), f"{where}.code", source=source, required=True, limit=50)
    if not CODE_RE.fullmatch(code):
        raise InputError(
            f"clause code {code!r} must start with a letter and use letters, digits, '_', '.', '-'",
            source=source,
            field=f"{where}.code",
        )
    priority = data.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InputError("expected an integer", source=source, field=f"{where}.priority")
    if abs(priority) > limits.max_priority:
        raise InputError(
            f"must be between -{limits.max_priority:,} and {limits.max_priority:,}",
            source=source,
            field=f"{where}.priority",
        )
    hard = data.get("hard_constraint", False)
    if not isinstance(hard, bool):
        raise InputError("expected true or false", source=source, field=f"{where}.hard_constraint")
    return Clause(
        code=code,
        title=_text(data.get("title"), f"{where}.title", source=source, limit=limits.max_title),
        rule=_text(
            data.get("rule"), f"{where}.rule", source=source, required=True, limit=limits.max_text
        ),
        subrules=_texts(data.get("subrules"), f"{where}.subrules", source=source, limits=limits),
        rationale=_text(
            data.get("rationale"), f"{where}.rationale", source=source, limit=limits.max_text
        ),
        examples=_texts(data.get("examples"), f"{where}.examples", source=source, limits=limits),
        authority=_text(
            data.get("authority"), f"{where}.authority", source=source, limit=limits.max_authority
        ),
        priority=priority,
        hard_constraint=hard,
    )


def content_from_dict(
    data: Mapping[str, Any], *, source: str | None = None, limits: SpecLimits = DEFAULT_LIMITS
) -> SpecContent:
    """Build validated :class:`SpecContent` from the JSON/YAML form of a spec."""
    if not isinstance(data, Mapping):
        raise InputError("expected a mapping with 'preamble' and 'clauses'", source=source)
    unknown = sorted(str(k) for k in set(data) - SPEC_FIELDS)
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(SPEC_FIELDS))}",
            source=source,
            field=unknown[0],
        )
    version = data.get("format_version", 1)
    if version != 1 or isinstance(version, bool):
        raise InputError(
            f"format_version {str(version)[:20]!r} is not supported (this SpecLab reads 1)",
            source=source,
            field="format_version",
        )
    raw = data.get("clauses")
    if not isinstance(raw, list) or not raw:
        raise InputError("must be a non-empty list of clauses", source=source, field="clauses")
    # Counted before each clause is validated, so a huge list costs nothing.
    _check_count(len(raw), source, limits)
    return build_content(
        title=data.get("title"),
        preamble=data.get("preamble"),
        clauses=[
            clause_from_dict(c, where=f"clauses[{i}]", source=source, limits=limits)
            for i, c in enumerate(raw)
        ],
        source=source,
        limits=limits,
    )


def _check_count(n: int, source: str | None, limits: SpecLimits) -> None:
    if n > limits.max_clauses:
        raise InputError(
            f"{n:,} clauses; the limit is {limits.max_clauses:,}", source=source, field="clauses"
        )


def build_content(
    *,
    title: Any,
    preamble: Any,
    clauses: list[Clause],
    source: str | None = None,
    limits: SpecLimits = DEFAULT_LIMITS,
) -> SpecContent:
    """Check whole-spec rules (title and preamble, count, total size, unique codes) and
    freeze the content."""
    title = _text(title, "title", source=source, limit=limits.max_title)
    preamble = _text(preamble, "preamble", source=source, limit=limits.max_text)
    if not clauses:
        raise InputError("a spec needs at least one clause", source=source, field="clauses")
    _check_count(len(clauses), source, limits)
    seen: dict[str, int] = {}
    total = len(title) + len(preamble)
    for i, c in enumerate(clauses):
        if c.code in seen:
            raise InputError(
                f"duplicate clause code {c.code!r} (also clauses[{seen[c.code]}])",
                source=source,
                field=f"clauses[{i}].code",
            )
        seen[c.code] = i
        total += len(c.title) + len(c.rule) + len(c.rationale) + len(c.authority)
        total += sum(map(len, c.subrules)) + sum(map(len, c.examples))
    if total > limits.max_total_chars:
        raise InputError(
            f"holds {total:,} characters of text; the limit for one spec is "
            f"{limits.max_total_chars:,}",
            source=source,
            field="clauses",
        )
    return SpecContent(title=title, preamble=preamble, clauses=tuple(clauses))
