"""The error hierarchy shared by every layer: every SpecLab error class is defined here.

It lives at the bottom layer (``db``) so that the store can raise the same errors the engine
does, and ``engine`` and ``app`` catch them without the store knowing about either; the engine
and the pages import them through :mod:`engine.errors`. Messages say what was wrong and what
to do next.
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


Reason = Literal["invalid", "revoked", "expired", "forbidden"]


class AccessDenied(SpecLabError):
    """Access refused: a share token that does not open a report, or an actor whose role does
    not allow the action (:func:`engine.access.require`).

    For a share token the message says only ``invalid``, ``revoked`` or ``expired``: an
    unknown token and a malformed one read the same, so the answer does not help anyone guess
    tokens. For a role (``forbidden``) the message names the role the action needs.

    Attributes:
        reason: ``invalid``, ``revoked``, ``expired`` or ``forbidden``.
    """

    def __init__(self, reason: Reason, message: str | None = None) -> None:
        self.reason: Reason = reason
        what = {
            "invalid": "is invalid",
            "revoked": "was revoked",
            "expired": "has expired",
            "forbidden": "is not yours to use",
        }
        super().__init__(
            message
            or f"This share link {what[reason]} ({reason}). Ask the report's owner for a new link."
        )


class EndpointError(SpecLabError):
    """An OpenAI-compatible endpoint refused a request or could not be reached.

    Attributes:
        url: the URL that failed (no credentials in it).
        status: the last HTTP status, or ``None`` when no HTTP answer came back.
        attempts: how many times the request was sent.
    """

    def __init__(self, message: str, *, url: str, status: int | None, attempts: int) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts


class JobCancelled(SpecLabError):
    """Raised inside a running job when a user cancelled it."""


class JobInterrupted(SpecLabError):
    """Raised inside a running job when its worker is shutting down or lost its lease."""
