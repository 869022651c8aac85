"""Queries for studies, their runs, the shared stages of run DAGs, and stage artifacts.

A run's status is derived from the states of its stages' jobs (never stored twice):
failed > cancelled > running > queued > succeeded, so one failed stage marks the run failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import entities as e
from db import models as m
from db.artifacts import to_entity as artifact_entity
from db.errors import NotFoundError
from db.models import JobState

STATUS_ORDER = ("failed", "cancelled", "running", "queued", "succeeded")


def combine_status(states: Iterable[str]) -> str:
    """The status of a group of stages (or runs): the first of STATUS_ORDER present."""
    present = set(states)
    if not present:
        return "succeeded"
    return next(s for s in STATUS_ORDER if s in present)


def create_study(
    session: Session,
    *,
    name: str,
    spec_version_id: int | None,
    config: dict[str, Any],
    created_by: str,
) -> int:
    row = m.Study(name=name, spec_version_id=spec_version_id, config=config, created_by=created_by)
    session.add(row)
    session.flush()
    return row.id


def add_run(
    session: Session,
    *,
    study_id: int,
    variant_id: int | None,
    arm: str,
    seed: int,
    model: str,
    created_by: str,
) -> int:
    row = m.Run(
        study_id=study_id,
        variant_id=variant_id,
        arm=arm,
        seed=seed,
        model=model,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row.id


def find_stage(session: Session, key: str) -> tuple[int, int | None] | None:
    """(stage id, job id) of the stage with ``key``, if it exists."""
    row = session.execute(select(m.Stage.id, m.Stage.job_id).where(m.Stage.key == key)).first()
    return None if row is None else (row[0], row[1])


def create_stage(
    session: Session, *, key: str, kind: str, config: dict[str, Any], job_id: int | None
) -> int:
    row = m.Stage(key=key, kind=kind, config=config, job_id=job_id)
    session.add(row)
    session.flush()
    return row.id


def set_stage_job(session: Session, stage_id: int, job_id: int) -> None:
    row = session.get(m.Stage, stage_id)
    if row is None:
        raise NotFoundError(f"no stage with id {stage_id}")
    row.job_id = job_id


def link_stage(session: Session, run_id: int, stage_id: int, *, cached: bool) -> None:
    session.add(m.RunStage(run_id=run_id, stage_id=stage_id, cached=cached))
    session.flush()


def add_stage_artifact(session: Session, stage_id: int, artifact_id: int, role: str) -> None:
    exists = session.get(m.StageArtifact, (stage_id, artifact_id))
    if exists is None:
        session.add(m.StageArtifact(stage_id=stage_id, artifact_id=artifact_id, role=role))
        session.flush()


def _stage_entities(session: Session, rows: Sequence[tuple[m.Stage, bool]]) -> list[e.Stage]:
    stage_ids = [s.id for s, _ in rows]
    job_ids = [s.job_id for s, _ in rows if s.job_id is not None]
    jobs = (
        {j.id: j for j in session.scalars(select(m.Job).where(m.Job.id.in_(job_ids)))}
        if job_ids
        else {}
    )
    arts: dict[int, list[e.StageArtifact]] = {i: [] for i in stage_ids}
    if stage_ids:
        for link, art in session.execute(
            select(m.StageArtifact, m.Artifact)
            .join(m.Artifact, m.Artifact.id == m.StageArtifact.artifact_id)
            .where(m.StageArtifact.stage_id.in_(stage_ids))
            .order_by(m.StageArtifact.role)
        ):
            arts[link.stage_id].append(
                e.StageArtifact(role=link.role, artifact=artifact_entity(art))
            )
    out = []
    for stage, cached in rows:
        job = jobs.get(stage.job_id) if stage.job_id is not None else None
        out.append(
            e.Stage(
                id=stage.id,
                key=stage.key,
                kind=stage.kind,
                config=dict(stage.config or {}),
                job_id=stage.job_id,
                state=JobState(job.state).value if job else "succeeded",
                progress=job.progress if job else 1.0,
                progress_message=job.progress_message if job else "",
                error=job.error if job else "",
                cached=bool(cached),
                artifacts=tuple(arts[stage.id]),
                created_at=stage.created_at,
            )
        )
    return out


def get_stage(session: Session, *, stage_id: int | None = None, key: str | None = None) -> e.Stage:
    q = select(m.Stage)
    q = q.where(m.Stage.id == stage_id) if stage_id is not None else q.where(m.Stage.key == key)
    row = session.scalar(q)
    if row is None:
        raise NotFoundError(f"no stage {stage_id if stage_id is not None else key}")
    return _stage_entities(session, [(row, False)])[0]


def run_stages(session: Session, run_id: int) -> list[e.Stage]:
    rows = session.execute(
        select(m.Stage, m.RunStage.cached)
        .join(m.RunStage, m.RunStage.stage_id == m.Stage.id)
        .where(m.RunStage.run_id == run_id)
        .order_by(m.Stage.id)
    ).all()
    return _stage_entities(session, [(s, c) for s, c in rows])


def _run_entity(session: Session, row: m.Run, with_stages: bool) -> e.Run:
    variant_name = ""
    if row.variant_id is not None:
        variant_name = (
            session.scalar(select(m.Variant.name).where(m.Variant.id == row.variant_id)) or ""
        )
    stages = run_stages(session, row.id)
    return e.Run(
        id=row.id,
        study_id=row.study_id,
        variant_id=row.variant_id,
        variant_name=variant_name,
        arm=row.arm,
        seed=row.seed,
        model=row.model,
        status=combine_status(s.state for s in stages),
        created_by=row.created_by,
        created_at=row.created_at,
        stages=tuple(stages) if with_stages else (),
    )


def get_run(session: Session, run_id: int) -> e.Run:
    row = session.get(m.Run, run_id)
    if row is None:
        raise NotFoundError(f"no run with id {run_id}")
    return _run_entity(session, row, True)


def _spec_ref(session: Session, version_id: int | None) -> str:
    if version_id is None:
        return ""
    row = session.execute(
        select(m.Spec.name, m.SpecVersion.number)
        .join(m.SpecVersion, m.SpecVersion.spec_id == m.Spec.id)
        .where(m.SpecVersion.id == version_id)
    ).first()
    return "" if row is None else f"{row[0]}@{row[1]}"


def get_study(session: Session, study_id: int) -> e.Study:
    row = session.get(m.Study, study_id)
    if row is None:
        raise NotFoundError(f"no study with id {study_id}")
    runs = [
        _run_entity(session, r, True)
        for r in session.scalars(select(m.Run).where(m.Run.study_id == study_id).order_by(m.Run.id))
    ]
    return e.Study(
        id=row.id,
        name=row.name,
        spec_ref=_spec_ref(session, row.spec_version_id),
        config=dict(row.config or {}),
        status=combine_status(r.status for r in runs),
        created_by=row.created_by,
        created_at=row.created_at,
        n_runs=len(runs),
        runs=tuple(runs),
    )


def list_studies(session: Session, *, limit: int = 50, offset: int = 0) -> list[e.Study]:
    rows = list(
        session.scalars(select(m.Study).order_by(m.Study.id.desc()).limit(limit).offset(offset))
    )
    out = []
    for row in rows:
        states = session.execute(
            select(m.Job.state)
            .join(m.Stage, m.Stage.job_id == m.Job.id)
            .join(m.RunStage, m.RunStage.stage_id == m.Stage.id)
            .join(m.Run, m.Run.id == m.RunStage.run_id)
            .where(m.Run.study_id == row.id)
        ).scalars()
        n_runs = session.scalar(select(func.count(m.Run.id)).where(m.Run.study_id == row.id))
        out.append(
            e.Study(
                id=row.id,
                name=row.name,
                spec_ref=_spec_ref(session, row.spec_version_id),
                config=dict(row.config or {}),
                status=combine_status(JobState(s).value for s in states),
                created_by=row.created_by,
                created_at=row.created_at,
                n_runs=n_runs or 0,
            )
        )
    return out


def add_metrics(session: Session, points: Sequence[e.MetricPoint]) -> None:
    session.add_all(
        m.Metric(
            run_id=p.run_id,
            stage_id=p.stage_id,
            name=p.name,
            step=p.step,
            value=p.value,
            ci_low=p.ci_low,
            ci_high=p.ci_high,
            n=p.n,
        )
        for p in points
    )
    session.flush()


def stage_metrics(
    session: Session, stage_ids: Sequence[int], names: Sequence[str] | None = None
) -> list[e.MetricPoint]:
    if not stage_ids:
        return []
    q = select(m.Metric).where(m.Metric.stage_id.in_(list(stage_ids)))
    if names:
        q = q.where(m.Metric.name.in_(list(names)))
    rows = session.scalars(q.order_by(m.Metric.stage_id, m.Metric.name, m.Metric.step, m.Metric.id))
    return [
        e.MetricPoint(
            stage_id=r.stage_id,
            run_id=r.run_id,
            name=r.name,
            step=r.step,
            value=r.value,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            n=r.n,
        )
        for r in rows
    ]
