"""Queries for the audit log: every write and every sign-in, appended and never updated.

Text fields are cut to their column's length here, so that recording an event can never fail
on PostgreSQL for a value SQLite would have kept (an audit write must not undo the work it
records).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from db import models as m

_LIMITS = {"actor": 320, "role": 20, "origin": 200, "action": 100, "target": 500, "outcome": 20}
MAX_PAGE = 10_000
"""The most events one query returns (exports page through larger logs)."""


@dataclass(frozen=True)
class AuditEventEntity:
    """One recorded action.

    Attributes:
        id: the event's number (increasing in the order events were recorded).
        at: when it happened (UTC).
        actor: who acted: an e-mail address, or the operator's login name for the CLI.
        role: the actor's role at the time (``viewer``, ``editor``, ``admin``; empty when the
            actor had none).
        origin: where it came from: ``dashboard:/<page>`` or ``cli``.
        action: what was done, as ``noun.verb`` (``study.launch``, ``member.set``, ``sign_in``).
        target: what it was done to (``study 3``, ``spec example v2``).
        outcome: ``ok``, or ``denied`` when the role did not allow it.
        detail: extra facts as JSON (ids created, counts, the role that was needed).
    """

    id: int
    at: datetime
    actor: str
    role: str
    origin: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]


def _entity(row: m.AuditEvent) -> AuditEventEntity:
    return AuditEventEntity(
        id=row.id,
        at=row.at,
        actor=row.actor,
        role=row.role,
        origin=row.origin,
        action=row.action,
        target=row.target,
        outcome=row.outcome,
        detail=dict(row.detail or {}),
    )


def record(
    session: Session,
    *,
    actor: str,
    role: str,
    origin: str,
    action: str,
    target: str = "",
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditEventEntity:
    """Append one event."""
    values = {
        "actor": actor,
        "role": role,
        "origin": origin,
        "action": action,
        "target": target,
        "outcome": outcome,
    }
    row = m.AuditEvent(
        **{k: v[: _LIMITS[k]] for k, v in values.items()},
        detail=detail or {},
    )
    session.add(row)
    session.flush()
    return _entity(row)


@dataclass(frozen=True)
class AuditFilter:
    """Which events to list; an empty field matches everything.

    Attributes:
        actor: exactly this actor.
        action: exactly this action.
        outcome: ``ok`` or ``denied``.
        since: at or after this time (UTC).
        until: before this time (UTC).
    """

    actor: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        """``stmt`` restricted to the events this filter matches."""
        if self.actor:
            stmt = stmt.where(m.AuditEvent.actor == self.actor)
        if self.action:
            stmt = stmt.where(m.AuditEvent.action == self.action)
        if self.outcome:
            stmt = stmt.where(m.AuditEvent.outcome == self.outcome)
        if self.since is not None:
            stmt = stmt.where(m.AuditEvent.at >= self.since)
        if self.until is not None:
            stmt = stmt.where(m.AuditEvent.at < self.until)
        return stmt


def query(
    session: Session, where: AuditFilter | None = None, *, limit: int = 100, offset: int = 0
) -> tuple[list[AuditEventEntity], int]:
    """A page of events matching ``where``, newest first, and how many match in all."""
    where = where or AuditFilter()
    total = session.scalar(where.apply(select(func.count(m.AuditEvent.id)))) or 0
    rows = session.scalars(
        where.apply(select(m.AuditEvent))
        .order_by(m.AuditEvent.id.desc())
        .limit(max(0, min(limit, MAX_PAGE)))
        .offset(max(0, offset))
    )
    return [_entity(r) for r in rows], int(total)


def facets(session: Session) -> dict[str, list[str]]:
    """The distinct actors, actions and outcomes recorded, for filter menus."""
    return {
        "actor": list(session.scalars(select(m.AuditEvent.actor).distinct().order_by("actor"))),
        "action": list(session.scalars(select(m.AuditEvent.action).distinct().order_by("action"))),
        "outcome": list(
            session.scalars(select(m.AuditEvent.outcome).distinct().order_by("outcome"))
        ),
    }


def exists(session: Session, *, actor: str, action: str, target: str) -> bool:
    """Whether an event with this actor, action and target was recorded already."""
    stmt = select(m.AuditEvent.id).where(
        m.AuditEvent.actor == actor[: _LIMITS["actor"]],
        m.AuditEvent.action == action,
        m.AuditEvent.target == target[: _LIMITS["target"]],
    )
    return session.scalar(stmt.limit(1)) is not None
