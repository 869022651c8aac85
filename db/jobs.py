"""The durable job queue: enqueue, atomic claim, transitions, heartbeats, logs.

Allowed transitions (anything else raises :class:`IllegalTransitionError`)::

    queued    -> running      a worker claimed it
    queued    -> cancelled    cancelled before it started
    running   -> succeeded    the kind's code returned
    running   -> failed       the kind's code raised, or its worker was lost too often
    running   -> cancelled    a cancel request reached the running code
    running   -> queued       its worker was lost: it stopped heartbeating for the lease, or it
                              was stopped (SIGTERM/SIGINT) mid-job; the job will run again
    failed    -> queued       retried by a user
    cancelled -> queued       retried by a user

Every transition writes a :class:`db.models.JobEvent` row in the same transaction.
A job is claimable when it is queued and every job it depends on has succeeded.
Claiming is atomic: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, and a single
conditional ``UPDATE … WHERE id = (SELECT …) AND state = 'queued' RETURNING`` inside a
``BEGIN IMMEDIATE`` transaction on SQLite.

Attempts. ``attempts`` counts every start of the job. ``max_attempts`` is the job's own
attempt limit: code that raises fails the job at once, and a user's retry raises the limit by
one. An attempt whose *worker* was lost is not the job's doing, so it is given back (the limit
grows by one, keeping ``max_attempts - attempts`` the job's own attempts left) and counts
instead against a separate, larger budget, ``max_lost_workers`` (``SPECLAB_MAX_LOST_WORKERS``,
default :data:`DEFAULT_MAX_LOST_WORKERS`). Lost workers are counted from the job's
``running -> queued`` events since it was enqueued or last retried (see :func:`lost_workers`);
the loss that reaches the budget fails the job with a message saying so. The budget is finite
because a job that itself kills its worker (out of memory, a crash in native code) looks
exactly like a job whose worker was killed.

Delivery is at least once: a worker killed after a stage wrote its output but before it
recorded success leaves the job running, and the job runs again. That is safe because stage
outputs are content-addressed and written atomically (:mod:`engine.artifacts`), and recording
them is idempotent: a re-run writes the same files under the same names and finds the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select, update
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

DEFAULT_MAX_LOST_WORKERS = 10


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


def _claimable(kinds: Sequence[str] | None = None) -> Select[int]:
    """Ids of queued jobs whose dependencies all succeeded."""
    parent = aliased(m.Job)
    blocked = exists().where(
        m.JobDependency.job_id == m.Job.id,
        m.JobDependency.depends_on_id == parent.id,
        parent.state != S,
    )
    candidate = select(m.Job.id).where(m.Job.state == Q, ~blocked)
    if kinds is not None:
        candidate = candidate.where(m.Job.kind.in_(list(kinds)))
    return candidate


def has_claimable(session: Session, kinds: Sequence[str] | None = None) -> bool:
    """Whether some job could be claimed now (a plain read: no lock is taken or skipped)."""
    return session.scalar(_claimable(kinds).limit(1)) is not None


def has_work(session: Session) -> bool:
    """Whether any job is running or could be claimed: what a burst worker waits for.

    Not the same as a failed :func:`claim`: on PostgreSQL a claim skips a job that another
    worker is claiming at that moment, and that worker may still die before it runs it.
    """
    # One statement, so one snapshot: asked as two, a job claimed between them (queued at
    # the first, running at the second) was seen by neither, and a burst worker left while
    # that job still needed a slot (found by the Ray executor's two-slot test).
    running = select(m.Job.id).where(m.Job.state == R)
    found = session.scalar(
        select(m.Job.id).where(or_(m.Job.id.in_(running), m.Job.id.in_(_claimable()))).limit(1)
    )
    return found is not None


def claim(session: Session, worker_id: str, kinds: Sequence[str] | None = None) -> e.Job | None:
    """Atomically move the next claimable job to ``running`` for ``worker_id``."""
    candidate = _claimable(kinds).order_by(m.Job.priority.desc(), m.Job.id).limit(1)
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


def fail_attempt(
    session: Session,
    job_id: int,
    *,
    worker_id: str,
    attempt: int,
    error: str,
    retry: bool,
) -> e.Job:
    """Record that a running attempt's own code failed: the job fails and, when ``retry`` and
    it has attempts left (``attempts < max_attempts``), goes straight back to the queue.

    Failures that will not change on a re-run (bad input or settings) pass ``retry=False``.
    Both moves are recorded as events (``running -> failed``, then ``failed -> queued``), so
    the history shows every failed attempt and its error.
    """
    job = transition(session, job_id, F, worker_id=worker_id, attempt=attempt, error=error)
    if not retry or job.attempts >= job.max_attempts:
        return job
    return transition(
        session,
        job_id,
        Q,
        worker_id=worker_id,
        message=(
            f"retried automatically after attempt {job.attempts} failed "
            f"({job.attempts} of {job.max_attempts} attempts used)"
        ),
    )


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
            node=_node_in(r.message),
        )
        for r in rows
    ]


# -- which node ran an attempt -------------------------------------------------------------

#: Written after an attempt's claim message by :func:`record_node`.
NODE_MARK = "; on node "


def _node_in(message: str) -> str:
    return message.rsplit(NODE_MARK, 1)[1] if NODE_MARK in message else ""


def record_node(session: Session, job_id: int, attempt: int, node: str) -> None:
    """Note which node runs ``attempt`` of a job, on the attempt's claim event (its
    ``queued -> running`` event): written by the node itself once the attempt starts there,
    so the record survives the node. A second note for the same attempt is ignored."""
    row = session.scalars(
        select(m.JobEvent)
        .where(
            m.JobEvent.job_id == job_id,
            m.JobEvent.attempt == attempt,
            m.JobEvent.from_state == Q.value,
            m.JobEvent.to_state == R.value,
        )
        .order_by(m.JobEvent.id.desc())
        .limit(1)
    ).first()
    if row is not None and NODE_MARK not in row.message:
        row.message = f"{row.message}{NODE_MARK}{node}"
        session.flush()


def nodes(session: Session, job_ids: Sequence[int]) -> dict[int, str]:
    """The node recorded for each job's latest attempt (jobs with none recorded are left
    out), in one statement."""
    if not job_ids:
        return {}
    latest = (
        select(m.JobEvent.job_id, func.max(m.JobEvent.id).label("id"))
        .where(
            m.JobEvent.job_id.in_(list(job_ids)),
            m.JobEvent.from_state == Q.value,
            m.JobEvent.to_state == R.value,
        )
        .group_by(m.JobEvent.job_id)
        .subquery()
    )
    out: dict[int, str] = {}
    for job_id, message in session.execute(
        select(m.JobEvent.job_id, m.JobEvent.message).join(latest, m.JobEvent.id == latest.c.id)
    ):
        if node := _node_in(message):
            out[job_id] = node
    return out


def lost_workers(session: Session, job_id: int) -> int:
    """How many attempts of a job lost their worker since it was enqueued or last retried.

    Only a lost worker moves a job from ``running`` back to ``queued``, so these are its
    ``running -> queued`` events after its last ``failed/cancelled -> queued`` (a retry).
    """
    last_retry = (
        select(func.max(m.JobEvent.id))
        .where(
            m.JobEvent.job_id == job_id,
            m.JobEvent.to_state == Q.value,
            m.JobEvent.from_state.in_([F.value, C.value]),
        )
        .scalar_subquery()
    )
    return int(
        session.scalar(
            select(func.count(m.JobEvent.id)).where(
                m.JobEvent.job_id == job_id,
                m.JobEvent.from_state == R.value,
                m.JobEvent.to_state == Q.value,
                m.JobEvent.id > func.coalesce(last_retry, 0),
            )
        )
        or 0
    )


def release_lost(
    session: Session,
    job_id: int,
    *,
    worker_id: str | None,
    reason: str,
    max_lost_workers: int = DEFAULT_MAX_LOST_WORKERS,
    attempt: int | None = None,
) -> e.Job:
    """End a running attempt whose worker was lost: re-queue the job, or fail it when this
    loss reaches ``max_lost_workers``. The attempt is not counted against ``max_attempts``.

    ``attempt`` is given when the worker itself gives the job up (it was stopped): as in
    :func:`transition`, :class:`ConflictError` is raised if the attempt is no longer its own.
    """
    if max_lost_workers < 1:
        raise ValueError("max_lost_workers must be at least 1")
    row = _locked(session, job_id)
    lost = lost_workers(session, job_id) + 1
    if lost >= max_lost_workers:
        return transition(
            session,
            job_id,
            F,
            worker_id=worker_id,
            attempt=attempt,
            error=(
                f"{reason}; gave up: the worker running this job was lost on {lost} attempts, "
                f"the limit for lost workers (SPECLAB_MAX_LOST_WORKERS={max_lost_workers})"
            ),
        )
    job = transition(
        session,
        job_id,
        Q,
        worker_id=worker_id,
        attempt=attempt,
        message=(
            f"{reason}; re-queued: lost worker {lost} of {max_lost_workers} allowed "
            f"(SPECLAB_MAX_LOST_WORKERS), not counted against the job's own attempts"
        ),
    )
    # Give the attempt back: the job's own limit grows by one with each lost worker.
    row.max_attempts += 1
    session.flush()
    return get(session, job.id)


def requeue_stale(
    session: Session, cutoff: datetime, *, max_lost_workers: int = DEFAULT_MAX_LOST_WORKERS
) -> list[e.Job]:
    """Release running jobs not heartbeating since ``cutoff`` (see :func:`release_lost`)."""
    q = select(m.Job.id).where(m.Job.state == R, m.Job.heartbeat_at < cutoff)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    changed = []
    for job_id in list(session.scalars(q)):
        row = _locked(session, job_id)
        beat = row.heartbeat_at.isoformat(timespec="seconds") if row.heartbeat_at else "never"
        changed.append(
            release_lost(
                session,
                job_id,
                worker_id=row.worker_id,
                reason=f"worker {row.worker_id} stopped heartbeating (last heartbeat {beat})",
                max_lost_workers=max_lost_workers,
            )
        )
    return changed
