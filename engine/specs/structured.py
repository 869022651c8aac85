"""Spec files as JSON and YAML: one mapping, as :func:`engine.specs.writer.spec_record` writes.

Both formats hold ``format_version``, ``name``, ``description``, ``title``, ``preamble`` and
``clauses`` (a list of mappings with the :class:`~db.entities.Clause` fields). YAML is read by
the bounded loader (:mod:`engine.yamlsafe`), JSON by the bounded reader of
:mod:`engine.textfile`. A key that is present with no value (``rationale:`` as the last line)
is refused, because that is how a file cut short reads. Errors name the file, the line and
the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from db.entities import SpecContent
from engine.errors import InputError
from engine.specs.model import DEFAULT_LIMITS, ParsedSpec, SpecLimits, content_from_dict
from engine.specs.model import validate_description as _description
from engine.specs.writer import dump_yaml, spec_record
from engine.textfile import json_value
from engine.yamlsafe import compose_yaml, load_yaml

__all__ = ["read_json", "read_yaml", "write_json", "write_yaml"]


def write_json(name: str, description: str, content: SpecContent) -> str:
    return json.dumps(spec_record(name, description, content), indent=2, ensure_ascii=False) + "\n"


def write_yaml(name: str, description: str, content: SpecContent) -> str:
    return dump_yaml(spec_record(name, description, content))


def read_json(text: str, filename: str, limits: SpecLimits = DEFAULT_LIMITS) -> ParsedSpec:
    """Parse and validate a JSON spec file."""
    try:
        data = json_value(text, filename, prefix="not valid JSON")
    except InputError as exc:
        if exc.line is not None or not exc.field:
            raise
        line = _node_line(text, exc.field)
        raise InputError(exc.detail, source=filename, line=line, field=exc.field) from None
    return _from_mapping(data, text, filename, limits)


def read_yaml(text: str, filename: str, limits: SpecLimits = DEFAULT_LIMITS) -> ParsedSpec:
    """Parse and validate a YAML spec file."""
    return _from_mapping(load_yaml(text, source=filename), text, filename, limits)


def _from_mapping(data: Any, text: str, filename: str, limits: SpecLimits) -> ParsedSpec:
    try:
        if not isinstance(data, Mapping):
            raise InputError(
                "expected a mapping with 'name', 'title', 'preamble' and 'clauses'",
                source=filename,
            )
        _refuse_nulls(data)
        content = content_from_dict(data, source=filename, limits=limits)
        name = data.get("name") or None  # an export of an unnamed spec writes ""
        if name is not None and not isinstance(name, str):
            raise InputError(f"expected text, got {type(name).__name__}", field="name")
        description = _description(data.get("description"), source=filename, limits=limits)
    except InputError as exc:
        if exc.line is not None or not exc.field:
            raise InputError(exc.detail, source=filename, line=exc.line, field=exc.field) from None
        raise InputError(
            exc.detail, source=filename, line=_node_line(text, exc.field), field=exc.field
        ) from None
    return ParsedSpec(name=name, description=description, content=content, filename=filename)


def _refuse_nulls(data: Mapping[str, Any]) -> None:
    where: list[tuple[str, Mapping[str, Any]]] = [("", data)]
    clauses = data.get("clauses")
    if isinstance(clauses, list):
        where += [(f"clauses[{i}].", c) for i, c in enumerate(clauses) if isinstance(c, Mapping)]
    for prefix, mapping in where:
        for key, value in mapping.items():
            if value is None:
                raise InputError(
                    "is present with no value; give it one or remove the key "
                    "(was the file cut short?)",
                    field=f"{prefix}{key}",
                )


_PATH_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _node_line(text: str, field_path: str) -> int | None:
    """The line of the deepest node on ``field_path`` (``clauses[2].rule``), if findable.

    JSON is (practically) YAML, so both formats use the YAML composer's node positions. This
    runs only when reporting an error, so its cost never touches a good import.
    """
    node = compose_yaml(text)
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
