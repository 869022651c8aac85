"""The error hierarchy shared by every layer.

It lives at the bottom layer (``db``) so that ``engine`` and ``app`` can catch store errors
without the store knowing about them. Messages say what was wrong and what to do next.
"""

from __future__ import annotations

from typing import Literal


class SpecLabError(Exception):
    """Base class for every error SpecLab raises on purpose."""


class NotFoundError(SpecLabError):
    """A named or numbered thing does not exist."""


class ConflictError(SpecLabError):
    """The change clashes with what is stored (duplicate name, concurrent update)."""


class IllegalTransitionError(SpecLabError):
    """A job was asked to move between two states that the state machine does not allow."""


class SchemaOutOfDateError(SpecLabError):
    """The database schema is older (or newer) than this code; the message names the fix."""


class ConfigError(SpecLabError):
    """The environment or a settings value is wrong; the message names the variable."""


class StoreError(SpecLabError):
    """The database driver failed; wraps the driver error with the operation that failed."""


class InputError(SpecLabError):
    """User input (a file, a form, a CLI flag) is malformed.

    Attributes:
        source: the file name or form the input came from, if any.
        line: 1-based line number in ``source``, if known.
        field: the field or key at fault, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.detail = message
        where = []
        if source:
            where.append(source)
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


DenyReason = Literal["unknown", "revoked", "expired"]


class ShareDenied(SpecLabError):
    """A share token does not open a report.

    Attributes:
        reason: ``unknown`` (no link has this hash), ``revoked`` or ``expired``.
    """

    def __init__(self, reason: DenyReason) -> None:
        self.reason: DenyReason = reason
        super().__init__(f"share link {reason}")
