"""SpecLab's errors, in one place for the engine and its callers.

The classes are defined at the bottom layer (:mod:`db.errors`) so the store can raise them;
the engine adds the ones only it raises.
"""

from __future__ import annotations

from db.errors import (
    ConfigError,
    ConflictError,
    IllegalTransitionError,
    InputError,
    NotFoundError,
    SchemaOutOfDateError,
    SpecLabError,
    StoreError,
)


class JobCancelled(SpecLabError):
    """Raised inside a running job when a user cancelled it."""


class JobInterrupted(SpecLabError):
    """Raised inside a running job when its worker is shutting down or lost its lease."""


__all__ = [
    "ConfigError",
    "ConflictError",
    "IllegalTransitionError",
    "InputError",
    "JobCancelled",
    "JobInterrupted",
    "NotFoundError",
    "SchemaOutOfDateError",
    "SpecLabError",
    "StoreError",
]
