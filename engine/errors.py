"""SpecLab's errors, in one place for the engine and its callers.

The classes are defined at the bottom layer (:mod:`db.errors`) so the store can raise them;
the engine adds the ones only it raises.
"""

from __future__ import annotations

from typing import Literal

from db.errors import (
    ConfigError,
    ConflictError,
    IllegalTransitionError,
    InputError,
    NotFoundError,
    SchemaOutOfDateError,
    ShareDenied,
    SpecLabError,
    StoreError,
)

Reason = Literal["invalid", "revoked", "expired"]


class AccessDenied(SpecLabError):
    """A share token does not open a report.

    The message says only ``invalid``, ``revoked`` or ``expired``: an unknown token and a
    malformed one read the same, so the answer does not help anyone guess tokens.

    Attributes:
        reason: ``invalid``, ``revoked`` or ``expired``.
    """

    def __init__(self, reason: Reason) -> None:
        self.reason: Reason = reason
        what = {"invalid": "is invalid", "revoked": "was revoked", "expired": "has expired"}
        super().__init__(
            f"This share link {what[reason]} ({reason}). Ask the report's owner for a new link."
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


__all__ = [
    "AccessDenied",
    "ConfigError",
    "EndpointError",
    "ConflictError",
    "IllegalTransitionError",
    "InputError",
    "JobCancelled",
    "JobInterrupted",
    "NotFoundError",
    "SchemaOutOfDateError",
    "ShareDenied",
    "SpecLabError",
    "StoreError",
]
