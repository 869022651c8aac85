"""Queries for the members stored from the admin Members page.

A member row gives a role to one e-mail address (``alice@example.org``) or to every address
of a domain (``@example.org``). Patterns are stored lower-case; the engine
(:mod:`engine.access`) validates them and the role names before they get here, and merges
these rows with the roles named in the deployment's configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models as m
from db.errors import NotFoundError
from db.types import utcnow


@dataclass(frozen=True)
class MemberEntity:
    """A stored role assignment.

    Attributes:
        id: the row's number.
        pattern: ``name@domain`` for one address, ``@domain`` for a whole domain.
        role: ``viewer``, ``editor`` or ``admin``.
        created_by: who first assigned it.
        created_at: when it was first assigned (UTC).
        updated_at: when its role last changed (UTC).
    """

    id: int
    pattern: str
    role: str
    created_by: str
    created_at: datetime
    updated_at: datetime


def _entity(row: m.Member) -> MemberEntity:
    return MemberEntity(
        id=row.id,
        pattern=row.pattern,
        role=row.role,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_members(session: Session) -> list[MemberEntity]:
    """Every stored assignment, domains first, then addresses, each alphabetically."""
    rows = session.scalars(select(m.Member))
    return sorted(
        (_entity(r) for r in rows), key=lambda e: (not e.pattern.startswith("@"), e.pattern)
    )


def find(session: Session, patterns: Sequence[str]) -> list[MemberEntity]:
    """The stored assignments whose pattern is one of ``patterns`` (one indexed lookup)."""
    if not patterns:
        return []
    rows = session.scalars(select(m.Member).where(m.Member.pattern.in_(list(patterns))))
    return [_entity(r) for r in rows]


def set_member(session: Session, pattern: str, role: str, *, by: str) -> MemberEntity:
    """Give ``pattern`` the role ``role``, adding the row or changing its role."""
    row = session.scalar(select(m.Member).where(m.Member.pattern == pattern))
    if row is None:
        row = m.Member(pattern=pattern, role=role, created_by=by)
        session.add(row)
    elif row.role != role:
        row.role = role
        row.updated_at = utcnow()
    session.flush()
    return _entity(row)


def remove_member(session: Session, pattern: str) -> MemberEntity:
    """Delete the assignment of ``pattern``; :class:`NotFoundError` if there is none."""
    row = session.scalar(select(m.Member).where(m.Member.pattern == pattern))
    if row is None:
        raise NotFoundError(f"no member {pattern!r} is stored")
    entity = _entity(row)
    session.delete(row)
    session.flush()
    return entity
