"""Import and export of specs as Markdown, JSON and YAML files: the entry points.

:func:`parse_spec` turns an uploaded file into validated :class:`ParsedSpec`; every error it
raises is an :class:`InputError` naming the file and, where known, the 1-based line and the
field. :func:`export_spec` writes the inverse, so ``parse_spec(export_spec(...))`` gives back
equal content in every format.

The format is chosen by the file extension: ``.md``, ``.markdown`` and ``.txt`` are Markdown
(plain text is read with the same grammar; see :mod:`engine.specs.markdown`), ``.json`` is
JSON and ``.yaml``/``.yml`` is YAML (see :mod:`engine.specs.structured`). Every exporter writes
the same record (:mod:`engine.specs.writer`). Files over :data:`MAX_FILE_BYTES`, empty files
and files that are not UTF-8 text are refused before any parsing, and every field is checked
against :class:`~engine.specs.model.SpecLimits` before anything reaches a database.

A file with no ``name`` of its own is named after its file name when it is stored
(:meth:`ParsedSpec.spec_name`).
"""

from __future__ import annotations

from pathlib import Path

from db.entities import SpecContent
from engine.errors import InputError
from engine.specs.markdown import read_markdown, write_markdown
from engine.specs.model import DEFAULT_LIMITS, ParsedSpec, SpecLimits
from engine.specs.structured import read_json, read_yaml, write_json, write_yaml
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
_READERS = {"md": read_markdown, "json": read_json, "yaml": read_yaml}
_WRITERS = {"md": write_markdown, "json": write_json, "yaml": write_yaml}


def parse_spec(data: bytes, *, filename: str, limits: SpecLimits = DEFAULT_LIMITS) -> ParsedSpec:
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
    text = decode_text(data, filename)
    return _READERS[fmt](text, filename, limits)


def export_spec(name: str, description: str, content: SpecContent, fmt: str) -> str:
    """Write a spec as ``md``, ``json`` or ``yaml`` text that :func:`parse_spec` reads back."""
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise InputError(
            f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}",
            field="format",
        )
    return writer(name, description, content)
