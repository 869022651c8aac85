"""What a running job sees: its payload, progress, log, cancellation and the stores."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from db import jobs as jobstore
from db.entities import Job
from db.session import Database
from engine.artifacts import ArtifactStore
from engine.config import Settings
from engine.errors import JobCancelled, JobInterrupted


@dataclass
class JobContext:
    """Handed to a job kind's ``run``. Call :meth:`check` often (e.g. between training steps):
    it raises when the job was cancelled, its worker is stopping, or its lease was lost."""

    job: Job
    settings: Settings
    database: Database
    artifacts: ArtifactStore
    worker_id: str
    cancel_event: threading.Event = field(default_factory=threading.Event)
    interrupt_event: threading.Event = field(default_factory=threading.Event)
    interrupt_reason: str = ""

    @property
    def attempt(self) -> int:
        return self.job.attempts

    def check(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled(f"job {self.job.id} was cancelled")
        if self.interrupt_event.is_set():
            raise JobInterrupted(self.interrupt_reason or f"job {self.job.id} was interrupted")

    def interrupt(self, reason: str) -> None:
        self.interrupt_reason = reason
        self.interrupt_event.set()

    def progress(self, fraction: float, message: str = "") -> None:
        """Record progress (0–1) and a short message; also a cancellation point."""
        with self.database.write() as s:
            jobstore.set_progress(s, self.job.id, fraction, message)
        self.check()

    def log(self, *lines: str) -> None:
        with self.database.write() as s:
            jobstore.append_log(s, self.job.id, self.attempt, [str(x) for x in lines])
