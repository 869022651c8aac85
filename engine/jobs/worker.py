"""A worker process: claims jobs from the database and runs them through an executor.

Many workers (on this machine or others sharing the database) can run at once; the queue's
atomic claim guarantees each attempt goes to one worker. A background thread heartbeats the
worker and its job every ``heartbeat_seconds``, turns a cancel request into a
:class:`~engine.errors.JobCancelled` at the job's next :meth:`JobContext.check`, and re-queues
jobs of workers that stopped heartbeating for ``lease_seconds`` (crashed or killed).

SIGINT/SIGTERM stop a worker cleanly: its running job is interrupted and re-queued, and the
worker marks itself stopped. Either way (killed or stopped) the job's attempt counts against
its lost-worker budget (``max_lost_workers``), not against its own attempts: see
:mod:`db.jobs`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import traceback
import uuid
from datetime import timedelta
from types import FrameType
from typing import Any

from db import jobs as jobstore
from db import workers as workerstore
from db.entities import Job
from db.session import Database
from db.types import utcnow
from engine.artifacts import ArtifactStore
from engine.config import Settings
from engine.errors import (
    ConfigError,
    ConflictError,
    InputError,
    JobCancelled,
    JobInterrupted,
    NotFoundError,
    SpecLabError,
)
from engine.jobs import kinds as kindreg
from engine.jobs.context import JobContext
from engine.jobs.executors import Executor, get_executor

log = logging.getLogger("speclab.worker")


class Worker:
    """Claims and runs jobs until stopped (or, in burst mode, until nothing is left)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        executor: Executor | None = None,
        worker_id: str | None = None,
        burst: bool = False,
        max_jobs: int | None = None,
        poll_seconds: float = 0.5,
    ) -> None:
        self.settings = settings
        self.db = database
        self.executor = executor or get_executor("local")
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.burst = burst
        self.max_jobs = max_jobs
        self.poll_seconds = poll_seconds
        self.artifacts = ArtifactStore.from_settings(settings, database)
        self.stop_event = threading.Event()
        # Heartbeats go on until the main loop has ended, not until a stop was asked for: a
        # stopping worker still owns its job until it has handed it back, and silence during
        # that time would let another worker presume it dead and run the job a second time.
        self._beats_done = threading.Event()
        self._current: JobContext | None = None
        # Re-entrant: the signal handler runs in the main thread and takes this lock, possibly
        # while the main thread already holds it (a plain Lock would deadlock the worker).
        self._lock = threading.RLock()
        self.jobs_done = 0
        kindreg.load(settings.plugins)

    # -- lifecycle -------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: FrameType | None) -> None:
            self.stop(f"worker {self.id} received {signal.Signals(signum).name}")

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def stop(self, reason: str = "worker stopping") -> None:
        self.stop_event.set()
        with self._lock:
            if self._current is not None:
                self._current.interrupt(reason)

    def run(self) -> int:
        """The main loop; returns the number of jobs this worker finished."""
        with self.db.write() as s:
            workerstore.register(s, self.id, socket.gethostname(), os.getpid(), self.executor.name)
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        log.info("worker %s started (executor %s)", self.id, self.executor.name)
        try:
            while not self.stop_event.is_set():
                if self.max_jobs is not None and self.jobs_done >= self.max_jobs:
                    break
                job = self._claim()
                if job is None:
                    if self.burst and self._nothing_left():
                        break
                    self.stop_event.wait(self.poll_seconds)
                    continue
                self._execute(job)
        finally:
            self.stop_event.set()
            self._beats_done.set()
            beat.join(timeout=5)
            with self.db.write() as s:
                workerstore.mark(s, self.id, "stopped")
            log.info("worker %s stopped after %d jobs", self.id, self.jobs_done)
        return self.jobs_done

    # -- internals -------------------------------------------------------------------------

    def _claim(self) -> Job | None:
        # Look before taking the write lock: idle workers polling every fraction of a second
        # would otherwise hold SQLite's single write lock most of the time and starve the
        # heartbeats and the dashboard's writes.
        with self.db.read() as s:
            if not jobstore.has_claimable(s):
                return None
        with self.db.write() as s:
            return jobstore.claim(s, self.id)

    def _nothing_left(self) -> bool:
        # Not "my claim found nothing": on PostgreSQL a claim skips a job another worker is
        # claiming, and that worker may die before running it; a burst worker that left then
        # would leave the job behind with nobody to re-queue it.
        with self.db.read() as s:
            return not jobstore.has_work(s)

    def _execute(self, job: Job) -> None:
        ctx = JobContext(
            job=job,
            settings=self.settings,
            database=self.db,
            artifacts=self.artifacts,
            worker_id=self.id,
        )
        with self._lock:
            self._current = ctx
        if self.stop_event.is_set():
            ctx.interrupt(f"worker {self.id} stopping")
        to: str
        fields: dict[str, Any] = {}
        lost_reason: str | None = None
        try:
            kind = kindreg.get(job.kind)
            result = self.executor.execute(kind, ctx)
            to, fields = "succeeded", {"result": result, "message": "succeeded"}
        except JobCancelled:
            to, fields = "cancelled", {"message": "cancelled while running"}
        except JobInterrupted as exc:  # this worker is stopping, or lost its lease
            to, lost_reason = "queued", str(exc) or f"job {job.id} was interrupted"
        except Exception as exc:  # the job's own code failed: record why, keep the worker
            tb = traceback.format_exc()
            ctx.log(*tb.rstrip().splitlines())
            summary = str(exc) if isinstance(exc, SpecLabError) else f"{type(exc).__name__}: {exc}"
            # Bad input or settings fail the same way every time; anything else (a crash, an
            # endpoint that was down, memory) gets the job's remaining attempts.
            retry = not isinstance(exc, InputError | ConfigError | NotFoundError)
            to, fields = "failed", {"error": summary, "retry": retry}
        finally:
            with self._lock:
                self._current = None
        try:
            with self.db.write() as s:
                if lost_reason is not None:
                    jobstore.release_lost(
                        s,
                        job.id,
                        worker_id=self.id,
                        attempt=job.attempts,
                        reason=lost_reason,
                        max_lost_workers=self.settings.max_lost_workers,
                    )
                elif to == "failed":
                    jobstore.fail_attempt(
                        s, job.id, worker_id=self.id, attempt=job.attempts, **fields
                    )
                else:
                    jobstore.transition(
                        s, job.id, to, worker_id=self.id, attempt=job.attempts, **fields
                    )
        except ConflictError as exc:
            # Our lease was lost (we were presumed dead and the job re-queued): drop the result.
            log.warning("dropping the outcome of job %s: %s", job.id, exc)
            return
        self.jobs_done += 1

    def _heartbeat_loop(self) -> None:
        interval = self.settings.heartbeat_seconds
        lease = timedelta(seconds=self.settings.lease_seconds)
        while not self._beats_done.wait(interval):
            try:
                self._beat(lease)
            except SpecLabError as exc:  # a busy database must not kill the heartbeat
                log.warning("heartbeat failed: %s", exc)

    def _beat(self, lease: timedelta) -> None:
        with self._lock:
            ctx = self._current
        with self.db.write() as s:
            workerstore.beat(s, self.id, "busy" if ctx else "idle", ctx.job.id if ctx else None)
            if ctx is not None:
                cancel = jobstore.heartbeat(s, ctx.job.id, self.id, ctx.attempt)
                if cancel is None:
                    ctx.interrupt(f"worker {self.id} lost its lease on job {ctx.job.id}")
                elif cancel:
                    ctx.cancel_event.set()
            cutoff = utcnow() - lease
            stale = jobstore.requeue_stale(
                s, cutoff, max_lost_workers=self.settings.max_lost_workers
            )
            for job in stale:
                log.warning("job %s of a lost worker is now %s", job.id, job.state)
            workerstore.mark_lost(s, cutoff)


def run_worker(settings: Settings, database: Database, **kwargs: Any) -> int:
    """Run a worker in this process with signal handling (used by ``speclab worker``)."""
    worker = Worker(settings, database, **kwargs)
    worker.install_signal_handlers()
    return worker.run()
