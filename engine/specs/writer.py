"""The one writer of a spec's fields, shared by every exporter.

:func:`spec_record` lays a spec out as an ordered record (``format_version``, ``name``,
``description``, ``title``, ``preamble``, ``clauses``; each clause with its fields in
:data:`CLAUSE_ORDER`). JSON and YAML export dump that record as it is; Markdown export lays
the same record out as headings and sections. A field added to clauses is therefore written by
every format at once, or by none.
"""

from __future__ import annotations

from typing import Any

import yaml

from db.entities import CONTENT_FORMAT_VERSION, Clause, SpecContent

__all__ = ["CLAUSE_ORDER", "clause_record", "dump_yaml", "spec_record"]

CLAUSE_ORDER = (
    "code",
    "title",
    "rule",
    "subrules",
    "rationale",
    "examples",
    "authority",
    "priority",
    "hard_constraint",
)


def clause_record(clause: Clause) -> dict[str, Any]:
    """One clause's fields in :data:`CLAUSE_ORDER`, lists as lists."""
    d = clause.to_dict()
    return {key: d[key] for key in CLAUSE_ORDER}


def spec_record(name: str, description: str, content: SpecContent) -> dict[str, Any]:
    """The whole spec as the ordered record every exporter writes."""
    return {
        "format_version": CONTENT_FORMAT_VERSION,
        "name": name,
        "description": description,
        "title": content.title,
        "preamble": content.preamble,
        "clauses": [clause_record(c) for c in content.clauses],
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


def dump_yaml(data: dict[str, Any]) -> str:
    """``data`` as block-style YAML in insertion order, long lines unwrapped."""
    return yaml.dump(
        data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=1_000_000_000
    )
