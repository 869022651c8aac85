"""The spec content model: validation of clauses and whole specs.

The plain dataclasses (:class:`Clause`, :class:`SpecContent`) are the store's entities;
this module builds them from untrusted dictionaries with errors that name the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from db.entities import Clause, SpecContent
from engine.errors import InputError

CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,49}$")
SPEC_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
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
MAX_CLAUSES = 500
MAX_TEXT = 20_000

__all__ = ["Clause", "SpecContent", "clause_from_dict", "content_from_dict", "validate_name"]


def validate_name(name: str, *, source: str | None = None) -> str:
    """Spec names are lowercase slugs: they appear in URLs, CLI arguments and study files."""
    if not isinstance(name, str) or not SPEC_NAME_RE.match(name):
        raise InputError(
            f"spec name {name!r} must be 1-100 characters of a-z, 0-9, '_', '.', '-' "
            "starting with a letter or digit",
            source=source,
            field="name",
        )
    return name


def _text(value: Any, field: str, *, source: str | None, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InputError(f"expected text, got {type(value).__name__}", source=source, field=field)
    text: str = value.strip()
    if required and not text:
        raise InputError("is required and must not be empty", source=source, field=field)
    if len(text) > MAX_TEXT:
        raise InputError(
            f"is {len(text)} characters long; the limit is {MAX_TEXT}", source=source, field=field
        )
    return text


def _texts(value: Any, field: str, *, source: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise InputError("expected a list of texts", source=source, field=field)
    out = []
    for i, item in enumerate(value):
        text = _text(item, f"{field}[{i}]", source=source)
        if text:
            out.append(text)
    return tuple(out)


def clause_from_dict(
    data: Mapping[str, Any], *, where: str = "clause", source: str | None = None
) -> Clause:
    """Build a validated :class:`Clause`; ``where`` prefixes field names in errors."""
    if not isinstance(data, Mapping):
        raise InputError("expected a mapping of clause fields", source=source, field=where)
    unknown = sorted(set(data) - CLAUSE_FIELDS)
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(CLAUSE_FIELDS))}",
            source=source,
            field=f"{where}.{unknown[0]}",
        )
    code = _text(data.get("code"), f"{where}.code", source=source, required=True)
    if not CODE_RE.match(code):
        raise InputError(
            f"clause code {code!r} must start with a letter and use letters, digits, '_', '.', '-'",
            source=source,
            field=f"{where}.code",
        )
    priority = data.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InputError("expected an integer", source=source, field=f"{where}.priority")
    hard = data.get("hard_constraint", False)
    if not isinstance(hard, bool):
        raise InputError("expected true or false", source=source, field=f"{where}.hard_constraint")
    return Clause(
        code=code,
        title=_text(data.get("title"), f"{where}.title", source=source),
        rule=_text(data.get("rule"), f"{where}.rule", source=source, required=True),
        subrules=_texts(data.get("subrules"), f"{where}.subrules", source=source),
        rationale=_text(data.get("rationale"), f"{where}.rationale", source=source),
        examples=_texts(data.get("examples"), f"{where}.examples", source=source),
        authority=_text(data.get("authority"), f"{where}.authority", source=source),
        priority=priority,
        hard_constraint=hard,
    )


def content_from_dict(data: Mapping[str, Any], *, source: str | None = None) -> SpecContent:
    """Build validated :class:`SpecContent` from the JSON/YAML form of a spec."""
    if not isinstance(data, Mapping):
        raise InputError("expected a mapping with 'preamble' and 'clauses'", source=source)
    unknown = sorted(set(data) - SPEC_FIELDS)
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(SPEC_FIELDS))}",
            source=source,
            field=unknown[0],
        )
    version = data.get("format_version", 1)
    if version != 1:
        raise InputError(
            f"format_version {version!r} is not supported (this SpecLab reads 1)",
            source=source,
            field="format_version",
        )
    raw = data.get("clauses")
    if not isinstance(raw, list) or not raw:
        raise InputError("must be a non-empty list of clauses", source=source, field="clauses")
    return build_content(
        title=_text(data.get("title"), "title", source=source),
        preamble=_text(data.get("preamble"), "preamble", source=source),
        clauses=[
            clause_from_dict(c, where=f"clauses[{i}]", source=source) for i, c in enumerate(raw)
        ],
        source=source,
    )


def build_content(
    *, title: str, preamble: str, clauses: list[Clause], source: str | None = None
) -> SpecContent:
    """Check whole-spec rules (count, unique codes) and freeze the content."""
    if not clauses:
        raise InputError("a spec needs at least one clause", source=source, field="clauses")
    if len(clauses) > MAX_CLAUSES:
        raise InputError(
            f"{len(clauses)} clauses; the limit is {MAX_CLAUSES}", source=source, field="clauses"
        )
    seen: dict[str, int] = {}
    for i, c in enumerate(clauses):
        if c.code in seen:
            raise InputError(
                f"duplicate clause code {c.code!r} (also clauses[{seen[c.code]}])",
                source=source,
                field=f"clauses[{i}].code",
            )
        seen[c.code] = i
    return SpecContent(title=title, preamble=preamble, clauses=tuple(clauses))
