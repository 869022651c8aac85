"""The job queue's state machine, claims, dependencies, cancels and stale-lease recovery."""

from __future__ import annotations

import threading
import time
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


def _lose_worker(database: Database, worker: str, budget: int) -> list[str]:
    """Claim the next job for ``worker`` and let its lease run out; the states it moved to."""
    with database.write() as s:
        assert jobstore.claim(s, worker) is not None
    with database.write() as s:
        changed = jobstore.requeue_stale(
            s, utcnow() + timedelta(seconds=1), max_lost_workers=budget
        )
    return [j.state for j in changed]


def test_lost_workers_use_their_own_budget_not_the_jobs_attempts(database: Database) -> None:
    # Guards issue 13: a job whose worker died on max_attempts attempts was failed. Lost
    # workers now count against a separate budget, with the reason recorded on each re-queue.
    with database.write() as s:
        job = jobstore.enqueue(s, "test_steps", {}, max_attempts=2)
    for n in (1, 2, 3):  # past max_attempts, still re-queued
        assert _lose_worker(database, f"dead{n}", budget=4) == ["queued"]
    with database.read() as s:
        requeued = jobstore.get(s, job.id)
        assert jobstore.lost_workers(s, job.id) == 3
    assert requeued.attempts == 3 and requeued.max_attempts == 2 + 3  # each lost one given back
    assert _lose_worker(database, "dead4", budget=4) == ["failed"]
    with database.read() as s:
        final = jobstore.get(s, job.id)
        events = jobstore.events(s, job.id)
    assert final.state == "failed" and "dead4 stopped heartbeating" in final.error
    assert "lost on 4 attempts" in final.error and "SPECLAB_MAX_LOST_WORKERS=4" in final.error
    assert [e.attempt for e in events if e.to_state == "running"] == [1, 2, 3, 4]
    requeues = [e.message for e in events if (e.from_state, e.to_state) == ("running", "queued")]
    assert len(requeues) == 3 and "dead1 stopped heartbeating" in requeues[0]
    assert "lost worker 3 of 4 allowed" in requeues[2]
    assert "not counted against the job's own attempts" in requeues[2]
    # A user's retry starts a fresh lost-worker budget.
    with database.write() as s:
        jobstore.retry(s, job.id)
        assert jobstore.lost_workers(s, job.id) == 0
    assert _lose_worker(database, "dead5", budget=4) == ["queued"]


def test_stopped_worker_gives_its_job_back_against_the_lost_budget(database: Database) -> None:
    # Guards SIGTERM/SIGINT: a stopping worker's release counts as a lost worker, and a
    # release for an attempt that is no longer the worker's own changes nothing.
    (job,) = _enqueue(database)
    with database.write() as s:
        jobstore.claim(s, "polite")
        back = jobstore.release_lost(
            s, job.id, worker_id="polite", attempt=1, reason="worker polite received SIGTERM"
        )
    assert back.state == "queued" and back.worker_id is None and back.max_attempts == 4
    with database.write() as s:
        jobstore.claim(s, "polite")
        failed = jobstore.release_lost(
            s, job.id, worker_id="polite", attempt=2, reason="SIGTERM", max_lost_workers=2
        )
    assert failed.state == "failed" and "lost on 2 attempts" in failed.error
    with database.write() as s, pytest.raises(ConflictError, match="no longer belongs"):
        jobstore.release_lost(s, job.id, worker_id="polite", attempt=2, reason="late")
    with database.read() as s:
        assert jobstore.get(s, job.id).state == "failed"


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
        # It never finishes on its own, so the cancel cannot arrive after it completed.
        long = jobstore.enqueue(
            s, "test_steps", {"steps": 5, "step_seconds": 0.05, "hang_attempts": 1}
        )
    settings = Settings(**{**settings.__dict__, "plugins": ("plugins.test_kinds",)})
    worker = Worker(settings, database, burst=True)
    t = threading.Thread(target=worker.run)
    t.start()
    deadline = utcnow() + timedelta(seconds=60)
    while utcnow() < deadline:
        with database.read() as s:
            if jobstore.get(s, long.id).state == "running":
                break
        time.sleep(0.02)
    with database.write() as s:
        jobstore.request_cancel(s, long.id, by="tester")
    t.join(timeout=60)
    assert not t.is_alive()
    with database.read() as s:
        final = jobstore.get(s, long.id)
    assert final.state == "cancelled" and final.progress < 1.0


def test_bad_input_fails_at_once_whatever_the_attempts_left(
    settings: Settings, database: Database
) -> None:
    # Guards the retry policy: an InputError fails the same way every time, so it is not
    # retried even with attempts left.
    with database.write() as s:
        job = jobstore.enqueue(s, "test_bad_input", {}, max_attempts=3)
    settings = Settings(**{**settings.__dict__, "plugins": ("plugins.test_kinds",)})
    Worker(settings, database, burst=True).run()
    with database.read() as s:
        final = jobstore.get(s, job.id)
    assert (final.state, final.attempts) == ("failed", 1) and "max_steps" in final.error


def test_failing_job_records_error_and_can_be_retried(
    settings: Settings, database: Database
) -> None:
    # Guards failure reporting and the retry policy: the exception text is stored, the
    # traceback logged, and the job used each of its max_attempts before it stayed failed.
    with database.write() as s:
        job = jobstore.enqueue(s, "test_fail", {"message": "no GPU here"}, max_attempts=2)
    settings = Settings(**{**settings.__dict__, "plugins": ("plugins.test_kinds",)})
    Worker(settings, database, burst=True).run()
    with database.read() as s:
        failed = jobstore.get(s, job.id)
        log = [ln.line for ln in jobstore.log_tail(s, job.id)]
        moves = [(ev.from_state, ev.to_state) for ev in jobstore.events(s, job.id)]
    assert failed.state == "failed" and failed.error == "RuntimeError: no GPU here"
    assert failed.attempts == 2 and any("Traceback" in ln for ln in log)
    assert moves[1:] == [
        ("queued", "running"), ("running", "failed"), ("failed", "queued"),
        ("queued", "running"), ("running", "failed"),
    ]  # fmt: skip
    with database.write() as s:
        assert jobstore.retry(s, job.id).state == "queued"
