"""The job queue's state machine, claims, dependencies, cancels and stale-lease recovery."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from db import jobs as jobstore
from db.session import Database
from db.types import utcnow
from engine.config import Settings
from engine.errors import ConflictError, IllegalTransitionError
from engine.jobs.worker import Worker


def _enqueue(database: Database, n: int = 1, **kw):  # type: ignore[no-untyped-def]
    with database.write() as s:
        return [
            jobstore.enqueue(s, kw.pop("kind", "test_steps"), {"steps": 1}, **kw) for _ in range(n)
        ]


def test_illegal_transitions_raise(database: Database) -> None:
    # Guards the written-down state machine: succeeded is final, queued cannot succeed.
    (job,) = _enqueue(database)
    with database.write() as s, pytest.raises(IllegalTransitionError, match="queued to succeeded"):
        jobstore.transition(s, job.id, "succeeded")
    with database.write() as s:
        claimed = jobstore.claim(s, "w1")
        assert claimed is not None and claimed.id == job.id
        jobstore.transition(s, job.id, "succeeded", worker_id="w1", attempt=1)
    with database.write() as s, pytest.raises(IllegalTransitionError):
        jobstore.transition(s, job.id, "queued")
    with database.read() as s:
        events = jobstore.events(s, job.id)
    assert [(e.from_state, e.to_state) for e in events] == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "succeeded"),
    ]


def test_dependencies_gate_claims(database: Database) -> None:
    # Guards DAG order: a job is claimable only after every dependency succeeded.
    (a,) = _enqueue(database)
    with database.write() as s:
        b = jobstore.enqueue(s, "test_steps", {}, depends_on=[a.id])
    with database.write() as s:
        first = jobstore.claim(s, "w")
        assert first is not None and first.id == a.id
        assert jobstore.claim(s, "w") is None  # b waits on a
        jobstore.transition(s, a.id, "failed", worker_id="w", attempt=1, error="x")
        assert jobstore.claim(s, "w") is None  # a failed: b stays queued
        jobstore.retry(s, a.id)
        again = jobstore.claim(s, "w")
        assert again is not None and again.id == a.id and again.attempts == 2
        jobstore.transition(s, a.id, "succeeded", worker_id="w", attempt=2)
        nxt = jobstore.claim(s, "w")
        assert nxt is not None and nxt.id == b.id


def test_claim_is_exclusive_across_threads(database: Database) -> None:
    # Guards double claims: concurrent claimers get disjoint jobs (SQLite and PostgreSQL).
    _enqueue(database, 60)
    got: list[int] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while True:
            with database.write() as s:
                job = jobstore.claim(s, name)
            if job is None:
                return
            with lock:
                got.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 60 and len(set(got)) == 60


def test_stale_running_job_is_requeued_then_failed(database: Database) -> None:
    # Guards lost-worker recovery and the retry limit, with the reason recorded.
    with database.write() as s:
        job = jobstore.enqueue(s, "test_steps", {}, max_attempts=2)
    for attempt in (1, 2):
        with database.write() as s:
            claimed = jobstore.claim(s, f"dead{attempt}")
            assert claimed is not None and claimed.attempts == attempt
        with database.write() as s:
            changed = jobstore.requeue_stale(s, utcnow() + timedelta(seconds=1))
        assert [j.state for j in changed] == ["queued" if attempt == 1 else "failed"]
    with database.read() as s:
        final = jobstore.get(s, job.id)
        events = jobstore.events(s, job.id)
    assert final.state == "failed" and "stopped heartbeating" in final.error
    assert "gave up after 2 attempts" in final.error
    assert [e.attempt for e in events if e.to_state == "running"] == [1, 2]


def test_lost_lease_outcome_is_dropped(database: Database) -> None:
    # Guards exactly-once: a presumed-dead worker cannot complete a job that was re-queued.
    (job,) = _enqueue(database)
    with database.write() as s:
        jobstore.claim(s, "slow")
        jobstore.requeue_stale(s, utcnow() + timedelta(seconds=1))
        jobstore.claim(s, "fresh")
    with database.write() as s, pytest.raises(ConflictError, match="no longer belongs"):
        jobstore.transition(s, job.id, "succeeded", worker_id="slow", attempt=1)
    with database.read() as s:
        assert jobstore.get(s, job.id).worker_id == "fresh"


def test_cancel_queued_and_running(settings: Settings, database: Database) -> None:
    # Guards cancel: queued jobs cancel at once, running ones within a heartbeat.
    (queued,) = _enqueue(database)
    with database.write() as s:
        assert jobstore.request_cancel(s, queued.id).state == "cancelled"
        long = jobstore.enqueue(s, "test_steps", {"steps": 200, "step_seconds": 0.05})
    settings = Settings(**{**settings.__dict__, "plugins": ("plugins.test_kinds",)})
    worker = Worker(settings, database, burst=True)
    t = threading.Thread(target=worker.run)
    t.start()
    deadline = utcnow() + timedelta(seconds=20)
    while utcnow() < deadline:
        with database.read() as s:
            if jobstore.get(s, long.id).state == "running":
                break
    with database.write() as s:
        jobstore.request_cancel(s, long.id, by="tester")
    t.join(timeout=20)
    assert not t.is_alive()
    with database.read() as s:
        final = jobstore.get(s, long.id)
    assert final.state == "cancelled" and final.progress < 1.0


def test_failing_job_records_error_and_can_be_retried(
    settings: Settings, database: Database
) -> None:
    # Guards failure reporting: the exception text is stored, the traceback logged.
    with database.write() as s:
        job = jobstore.enqueue(s, "test_fail", {"message": "no GPU here"})
    settings = Settings(**{**settings.__dict__, "plugins": ("plugins.test_kinds",)})
    Worker(settings, database, burst=True).run()
    with database.read() as s:
        failed = jobstore.get(s, job.id)
        log = [ln.line for ln in jobstore.log_tail(s, job.id)]
    assert failed.state == "failed" and failed.error == "RuntimeError: no GPU here"
    assert any("Traceback" in ln for ln in log)
    with database.write() as s:
        assert jobstore.retry(s, job.id).state == "queued"
