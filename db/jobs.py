"""The durable job queue: enqueue, atomic claim, transitions, heartbeats, logs.

Allowed transitions (anything else raises :class:`IllegalTransitionError`)::

    queued    -> running      a worker claimed it
    queued    -> cancelled    cancelled before it started
    running   -> succeeded    the kind's code returned
    running   -> failed       the kind's code raised, or its worker was lost too often
    running   -> cancelled    a cancel request reached the running code
    running   -> queued       its worker stopped heartbeating; it will run again
    failed    -> queued       retried by a user
    cancelled -> queued       retried by a user

Every transition writes a :class:`db.models.JobEvent` row in the same transaction.
A job is claimable when it is queued and every job it depends on has succeeded.
Claiming is atomic: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, and a single
conditional ``UPDATE … WHERE id = (SELECT …) AND state = 'queued' RETURNING`` inside a
``BEGIN IMMEDIATE`` transaction on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from db import entities as e
from db import models as m
from db.errors import ConflictError, IllegalTransitionError, NotFoundError
from db.models import JobState
from db.types import utcnow

Q, R, S, F, C = (
    JobState.queued,
    JobState.running,
    JobState.succeeded,
    JobState.failed,
    JobState.cancelled,
)

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    Q: frozenset({R, C}),
    R: frozenset({S, F, C, Q}),
    S: frozenset(),
    F: frozenset({Q}),
    C: frozenset({Q}),
}

FINISHED = (S, F, C)


def _entity(row: m.Job, depends_on: Sequence[int] = ()) -> e.Job:
    return e.Job(
        id=row.id,
        kind=row.kind,
        label=row.label,
        payload=dict(row.payload or {}),
        state=JobState(row.state).value,
        priority=row.priority,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        worker_id=row.worker_id,
        heartbeat_at=row.heartbeat_at,
        progress=row.progress,
        progress_message=row.progress_message,
        cancel_requested=row.cancel_requested,
        error=row.error,
        result=dict(row.result or {}),
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        depends_on=tuple(depends_on),
    )


def _deps(session: Session, job_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = list(job_ids)
    out: dict[int, list[int]] = {i: [] for i in ids}
    if not ids:
        return out
    for job_id, dep in session.execute(
        select(m.JobDependency.job_id, m.JobDependency.depends_on_id)
        .where(m.JobDependency.job_id.in_(ids))
        .order_by(m.JobDependency.depends_on_id)
    ):
        out[job_id].append(dep)
    return out


def _event(
    session: Session,
    row: m.Job,
    frm: JobState | None,
    to: JobState,
    *,
    worker_id: str | None,
    message: str,
) -> None:
    session.add(
        m.JobEvent(
            job_id=row.id,
            from_state=None if frm is None else frm.value,
            to_state=to.value,
            attempt=row.attempts,
            worker_id=worker_id,
            message=message,
            at=utcnow(),
        )
    )


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    label: str = "",
    priority: int = 0,
    max_attempts: int = 3,
    depends_on: Sequence[int] = (),
    created_by: str = "",
) -> e.Job:
    """Add a queued job; it becomes claimable once every job in ``depends_on`` succeeded."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    row = m.Job(
        kind=kind,
        payload=payload,
        label=label,
        priority=priority,
        max_attempts=max_attempts,
        state=Q,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    for dep in dict.fromkeys(depends_on):
        if session.get(m.Job, dep) is None:
            raise NotFoundError(f"job {row.id} cannot depend on job {dep}: no such job")
        session.add(m.JobDependency(job_id=row.id, depends_on_id=dep))
    _event(session, row, None, Q, worker_id=None, message="enqueued")
    session.flush()
    return _entity(row, list(dict.fromkeys(depends_on)))


def get(session: Session, job_id: int) -> e.Job:
    row = session.get(m.Job, job_id)
    if row is None:
        raise NotFoundError(f"no job with id {job_id}")
    return _entity(row, _deps(session, [job_id])[job_id])


def list_jobs(
    session: Session,
    *,
    states: Sequence[str] | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[e.Job]:
    """A page of jobs, newest first."""
    q = select(m.Job)
    if states:
        q = q.where(m.Job.state.in_([JobState(s) for s in states]))
    if kind:
        q = q.where(m.Job.kind == kind)
    rows = list(session.scalars(q.order_by(m.Job.id.desc()).limit(limit).offset(offset)))
    deps = _deps(session, [r.id for r in rows])
    return [_entity(r, deps[r.id]) for r in rows]


def counts(session: Session) -> e.JobCounts:
    by_state = dict(
        session.execute(select(m.Job.state, func.count(m.Job.id)).group_by(m.Job.state)).all()
    )
    return e.JobCounts(**{JobState(k).value: v for k, v in by_state.items()})


def claim(session: Session, worker_id: str, kinds: Sequence[str] | None = None) -> e.Job | None:
    """Atomically move the next claimable job to ``running`` for ``worker_id``."""
    parent = aliased(m.Job)
    blocked = exists().where(
        m.JobDependency.job_id == m.Job.id,
        m.JobDependency.depends_on_id == parent.id,
        parent.state != S,
    )
    candidate = select(m.Job.id).where(m.Job.state == Q, ~blocked)
    if kinds is not None:
        candidate = candidate.where(m.Job.kind.in_(list(kinds)))
    candidate = candidate.order_by(m.Job.priority.desc(), m.Job.id).limit(1)
    now = utcnow()
    values = dict(
        state=R,
        worker_id=worker_id,
        attempts=m.Job.attempts + 1,
        heartbeat_at=now,
        started_at=now,
        finished_at=None,
        progress=0.0,
        progress_message="",
        cancel_requested=False,
        error="",
    )
    if session.get_bind().dialect.name == "postgresql":
        job_id = session.scalar(candidate.with_for_update(skip_locked=True, of=m.Job))
        if job_id is None:
            return None
        where = and_(m.Job.id == job_id, m.Job.state == Q)
    else:
        where = and_(m.Job.id == candidate.scalar_subquery(), m.Job.state == Q)
    claimed = session.execute(
        update(m.Job)
        .where(where)
        .values(**values)
        .returning(m.Job.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if claimed is None:
        return None
    row = session.get(m.Job, claimed, populate_existing=True)
    assert row is not None
    _event(session, row, Q, R, worker_id=worker_id, message=f"claimed by {worker_id}")
    session.flush()
    return _entity(row, _deps(session, [row.id])[row.id])


def _locked(session: Session, job_id: int) -> m.Job:
    row = session.get(m.Job, job_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFoundError(f"no job with id {job_id}")
    return row


def transition(
    session: Session,
    job_id: int,
    to: JobState | str,
    *,
    worker_id: str | None = None,
    attempt: int | None = None,
    message: str = "",
    error: str | None = None,
    result: dict[str, Any] | None = None,
) -> e.Job:
    """Move a job to state ``to``, writing an event.

    When ``attempt`` is given, the caller is the worker running that attempt: if the job has
    since been re-queued or claimed by another worker, :class:`ConflictError` is raised and
    nothing changes (the caller's lease was lost).
    """
    to = JobState(to)
    row = _locked(session, job_id)
    frm = JobState(row.state)
    if attempt is not None and (frm != R or row.attempts != attempt or row.worker_id != worker_id):
        raise ConflictError(
            f"job {job_id} attempt {attempt} no longer belongs to worker {worker_id} "
            f"(now {frm.value}, attempt {row.attempts}, worker {row.worker_id})"
        )
    if to not in TRANSITIONS[frm]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[frm])) or "none"
        raise IllegalTransitionError(
            f"job {job_id} cannot go from {frm.value} to {to.value} (allowed: {allowed})"
        )
    row.state = to
    if to in FINISHED:
        row.finished_at = utcnow()
    if to == S:
        row.progress = 1.0
    if error is not None:
        row.error = error
    if result is not None:
        row.result = result
    if to == Q:
        row.worker_id = None
        row.heartbeat_at = None
        row.cancel_requested = False
        row.finished_at = None
    _event(session, row, frm, to, worker_id=worker_id, message=message or error or "")
    session.flush()
    return _entity(row, _deps(session, [row.id])[row.id])


def request_cancel(session: Session, job_id: int, *, by: str = "") -> e.Job:
    """Cancel a queued job now, or ask a running job's worker to stop it."""
    row = _locked(session, job_id)
    state = JobState(row.state)
    who = f" by {by}" if by else ""
    if state == Q:
        return transition(session, job_id, C, message=f"cancelled{who} before it started")
    if state == R:
        row.cancel_requested = True
        session.flush()
        return _entity(row, _deps(session, [job_id])[job_id])
    raise IllegalTransitionError(
        f"job {job_id} is {state.value}; only queued or running jobs can be cancelled"
    )


def retry(session: Session, job_id: int, *, by: str = "") -> e.Job:
    """Put a failed or cancelled job back in the queue, with one more attempt allowed."""
    row = _locked(session, job_id)
    state = JobState(row.state)
    if state not in (F, C):
        raise IllegalTransitionError(
            f"job {job_id} is {state.value}; only failed or cancelled jobs can be retried"
        )
    row.max_attempts = max(row.max_attempts, row.attempts + 1)
    row.error = ""
    row.progress = 0.0
    row.progress_message = ""
    who = f" by {by}" if by else ""
    return transition(session, job_id, Q, message=f"retried{who}")


def heartbeat(session: Session, job_id: int, worker_id: str, attempt: int) -> bool | None:
    """Refresh a running job's heartbeat.

    Returns whether a cancel was requested, or None when the job no longer belongs to this
    worker's attempt (its lease was lost).
    """
    updated = session.execute(
        update(m.Job)
        .where(
            m.Job.id == job_id,
            m.Job.state == R,
            m.Job.worker_id == worker_id,
            m.Job.attempts == attempt,
        )
        .values(heartbeat_at=utcnow())
        .returning(m.Job.cancel_requested)
        .execution_options(synchronize_session=False)
    ).first()
    return None if updated is None else bool(updated[0])


def set_progress(session: Session, job_id: int, fraction: float, message: str = "") -> None:
    session.execute(
        update(m.Job)
        .where(m.Job.id == job_id)
        .values(progress=min(max(float(fraction), 0.0), 1.0), progress_message=message[:2000])
        .execution_options(synchronize_session=False)
    )


def append_log(session: Session, job_id: int, attempt: int, lines: Sequence[str]) -> None:
    now = utcnow()
    session.add_all(m.JobLog(job_id=job_id, attempt=attempt, line=ln, at=now) for ln in lines)
    session.flush()


def log_tail(session: Session, job_id: int, n: int = 200) -> list[e.JobLogLine]:
    rows = list(
        session.scalars(
            select(m.JobLog).where(m.JobLog.job_id == job_id).order_by(m.JobLog.id.desc()).limit(n)
        )
    )
    return [
        e.JobLogLine(job_id=r.job_id, attempt=r.attempt, line=r.line, at=r.at)
        for r in reversed(rows)
    ]


def events(session: Session, job_id: int) -> list[e.JobEvent]:
    rows = session.scalars(
        select(m.JobEvent).where(m.JobEvent.job_id == job_id).order_by(m.JobEvent.id)
    )
    return [
        e.JobEvent(
            id=r.id,
            job_id=r.job_id,
            from_state=r.from_state,
            to_state=r.to_state,
            attempt=r.attempt,
            worker_id=r.worker_id,
            message=r.message,
            at=r.at,
        )
        for r in rows
    ]


def requeue_stale(session: Session, cutoff: datetime) -> list[e.Job]:
    """Re-queue (or fail, past ``max_attempts``) running jobs not heartbeating since ``cutoff``."""
    q = select(m.Job.id).where(m.Job.state == R, m.Job.heartbeat_at < cutoff)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    changed = []
    for job_id in list(session.scalars(q)):
        row = _locked(session, job_id)
        lost = row.worker_id
        beat = row.heartbeat_at.isoformat(timespec="seconds") if row.heartbeat_at else "never"
        why = f"worker {lost} stopped heartbeating (last heartbeat {beat})"
        if row.attempts < row.max_attempts:
            job = transition(
                session,
                job_id,
                Q,
                worker_id=lost,
                message=f"{why}; re-queued after attempt {row.attempts} of {row.max_attempts}",
            )
        else:
            job = transition(
                session,
                job_id,
                F,
                worker_id=lost,
                error=f"{why}; gave up after {row.attempts} attempts",
            )
        changed.append(job)
    return changed
