"""Worker registration and health (last heartbeat)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db import entities as e
from db import models as m
from db.types import utcnow


def register(session: Session, worker_id: str, hostname: str, pid: int, executor: str) -> None:
    now = utcnow()
    session.merge(
        m.Worker(
            id=worker_id,
            hostname=hostname,
            pid=pid,
            executor=executor,
            state="idle",
            current_job_id=None,
            started_at=now,
            heartbeat_at=now,
        )
    )
    session.flush()


def beat(session: Session, worker_id: str, state: str, current_job_id: int | None) -> None:
    session.execute(
        update(m.Worker)
        .where(m.Worker.id == worker_id)
        .values(heartbeat_at=utcnow(), state=state, current_job_id=current_job_id)
        .execution_options(synchronize_session=False)
    )


def mark(session: Session, worker_id: str, state: str) -> None:
    session.execute(
        update(m.Worker)
        .where(m.Worker.id == worker_id)
        .values(state=state, current_job_id=None)
        .execution_options(synchronize_session=False)
    )


def mark_lost(session: Session, cutoff: datetime) -> None:
    """Workers that stopped heartbeating before ``cutoff`` without saying goodbye."""
    session.execute(
        update(m.Worker)
        .where(m.Worker.heartbeat_at < cutoff, m.Worker.state.in_(["idle", "busy"]))
        .values(state="lost")
        .execution_options(synchronize_session=False)
    )


def list_workers(session: Session, limit: int = 50) -> list[e.WorkerInfo]:
    rows = session.scalars(select(m.Worker).order_by(m.Worker.heartbeat_at.desc()).limit(limit))
    return [
        e.WorkerInfo(
            id=r.id,
            hostname=r.hostname,
            pid=r.pid,
            executor=r.executor,
            state=r.state,
            current_job_id=r.current_job_id,
            started_at=r.started_at,
            heartbeat_at=r.heartbeat_at,
        )
        for r in rows
    ]
