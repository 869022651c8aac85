"""SpecLab's errors, as the engine and the pages import them.

Every class is defined once, in :mod:`db.errors` (the bottom layer, so the store can raise
them too); this module is the name the layers above use.
"""

from __future__ import annotations

from db.errors import (
    AccessDenied,
    ConfigError,
    ConflictError,
    EndpointError,
    IllegalTransitionError,
    InputError,
    JobCancelled,
    JobInterrupted,
    NotFoundError,
    Reason,
    SchemaOutOfDateError,
    SpecLabError,
    StoreError,
)

__all__ = [
    "AccessDenied",
    "ConfigError",
    "ConflictError",
    "EndpointError",
    "IllegalTransitionError",
    "InputError",
    "JobCancelled",
    "JobInterrupted",
    "NotFoundError",
    "Reason",
    "SchemaOutOfDateError",
    "SpecLabError",
    "StoreError",
]
