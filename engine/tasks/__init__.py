"""Background tasks that are not pipeline stages: work a user asks for from a page or the
command line that runs on a worker like a stage but belongs to no run's DAG.

One module per task, each declaring its :class:`~engine.jobs.kinds.JobKind` as ``KIND``;
:func:`job_kinds` lists them for the job registry (:func:`engine.jobs.kinds.load`).
"""

from __future__ import annotations

from engine.jobs.kinds import JobKind


def job_kinds() -> list[JobKind]:
    """Every task's job kind."""
    from engine.tasks import playground, rejudge_study

    return [playground.KIND, rejudge_study.KIND]
