"""Queries for studies, their runs, the shared stages of run DAGs, and stage artifacts.

A run's status is derived from the states of its stages' jobs (never stored twice):
failed > cancelled > running > queued > succeeded, so one failed stage marks the run failed.

Reads load whole sets at once (a study's runs, all their stages with their jobs' states, all
those stages' artifacts): the number of statements a read sends is fixed, whatever the number
of runs and stages (``tests/test_page_queries.py`` counts them per dashboard page).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select
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
    """Link a stage's output for ``role``. A stage has one output per role: a re-run (after
    its worker died before recording success) whose output differs replaces the earlier one."""
    session.execute(
        delete(m.StageArtifact).where(
            m.StageArtifact.stage_id == stage_id,
            m.StageArtifact.role == role,
            m.StageArtifact.artifact_id != artifact_id,
        )
    )
    exists = session.get(m.StageArtifact, (stage_id, artifact_id))
    if exists is None:
        session.add(m.StageArtifact(stage_id=stage_id, artifact_id=artifact_id, role=role))
        session.flush()


def _artifacts(session: Session, stage_ids: Any) -> dict[int, list[e.StageArtifact]]:
    """Artifacts of the stages selected by ``stage_ids`` (a list or a subquery), by stage,
    in one statement."""
    arts: dict[int, list[e.StageArtifact]] = {}
    for link, art in session.execute(
        select(m.StageArtifact, m.Artifact)
        .join(m.Artifact, m.Artifact.id == m.StageArtifact.artifact_id)
        .where(m.StageArtifact.stage_id.in_(stage_ids))
        .order_by(m.StageArtifact.stage_id, m.StageArtifact.role)
    ):
        arts.setdefault(link.stage_id, []).append(
            e.StageArtifact(role=link.role, artifact=artifact_entity(art))
        )
    return arts


def _stage_entity(
    stage: m.Stage,
    cached: bool,
    job: Sequence[Any] | None,
    artifacts: Sequence[e.StageArtifact],
) -> e.Stage:
    state, progress, message, error = job if job is not None else (None, 1.0, "", "")
    return e.Stage(
        id=stage.id,
        key=stage.key,
        kind=stage.kind,
        config=dict(stage.config or {}),
        job_id=stage.job_id,
        state=JobState(state).value if state is not None else "succeeded",
        progress=progress,
        progress_message=message,
        error=error,
        cached=bool(cached),
        artifacts=tuple(artifacts),
        created_at=stage.created_at,
    )


_JOB_COLUMNS = (m.Job.id, m.Job.state, m.Job.progress, m.Job.progress_message, m.Job.error)


def _linked_stages(session: Session, run_filter: Any) -> dict[int, list[e.Stage]]:
    """The stages of every run matched by ``run_filter`` (a condition on ``RunStage.run_id``),
    by run id, in stage order: two statements however many runs and stages there are."""
    rows = session.execute(
        select(m.RunStage.run_id, m.RunStage.cached, m.Stage, *_JOB_COLUMNS)
        .join(m.Stage, m.Stage.id == m.RunStage.stage_id)
        .outerjoin(m.Job, m.Job.id == m.Stage.job_id)
        .where(run_filter)
        .order_by(m.RunStage.run_id, m.Stage.id)
    ).all()
    stage_ids = select(m.RunStage.stage_id).where(run_filter)
    arts = _artifacts(session, stage_ids) if rows else {}
    # A stage shared by many runs is one entity per cached flag, not one per run.
    built: dict[tuple[int, bool], e.Stage] = {}
    out: dict[int, list[e.Stage]] = {}
    for run_id, cached, stage, job_id, *job in rows:
        key = (stage.id, bool(cached))
        if key not in built:
            built[key] = _stage_entity(
                stage, cached, tuple(job) if job_id is not None else None, arts.get(stage.id, [])
            )
        out.setdefault(run_id, []).append(built[key])
    return out


def get_stage(session: Session, *, stage_id: int | None = None, key: str | None = None) -> e.Stage:
    q = select(m.Stage, *_JOB_COLUMNS).outerjoin(m.Job, m.Job.id == m.Stage.job_id)
    q = q.where(m.Stage.id == stage_id) if stage_id is not None else q.where(m.Stage.key == key)
    row = session.execute(q).first()
    if row is None:
        raise NotFoundError(f"no stage {stage_id if stage_id is not None else key}")
    stage, job_id, *job = row
    arts = _artifacts(session, [stage.id])
    return _stage_entity(
        stage, False, tuple(job) if job_id is not None else None, arts.get(stage.id, [])
    )


def run_stages(session: Session, run_id: int) -> list[e.Stage]:
    return _linked_stages(session, m.RunStage.run_id == run_id).get(run_id, [])


def _run_entity(row: m.Run, variant_name: str | None, stages: Sequence[e.Stage]) -> e.Run:
    return e.Run(
        id=row.id,
        study_id=row.study_id,
        variant_id=row.variant_id,
        variant_name=variant_name or "",
        arm=row.arm,
        seed=row.seed,
        model=row.model,
        status=combine_status(s.state for s in stages),
        created_by=row.created_by,
        created_at=row.created_at,
        stages=tuple(stages),
    )


def _runs_query() -> Any:
    return select(m.Run, m.Variant.name).outerjoin(m.Variant, m.Variant.id == m.Run.variant_id)


def get_run(session: Session, run_id: int) -> e.Run:
    row = session.execute(_runs_query().where(m.Run.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"no run with id {run_id}")
    run, variant_name = row
    return _run_entity(run, variant_name, run_stages(session, run_id))


def _studies_query() -> Any:
    """Studies with their spec's name and version number (None when no spec)."""
    return (
        select(m.Study, m.Spec.name, m.SpecVersion.number)
        .outerjoin(m.SpecVersion, m.SpecVersion.id == m.Study.spec_version_id)
        .outerjoin(m.Spec, m.Spec.id == m.SpecVersion.spec_id)
    )


def _study_entity(
    row: m.Study,
    spec_name: str | None,
    spec_number: int | None,
    status: str,
    n_runs: int,
    runs: Sequence[e.Run] = (),
) -> e.Study:
    return e.Study(
        id=row.id,
        name=row.name,
        spec_ref="" if spec_name is None else f"{spec_name}@{spec_number}",
        config=dict(row.config or {}),
        status=status,
        created_by=row.created_by,
        created_at=row.created_at,
        n_runs=n_runs,
        runs=tuple(runs),
    )


def get_study(session: Session, study_id: int) -> e.Study:
    """A study with all its runs, their stages and the stages' artifacts: three statements."""
    rows = session.execute(
        select(m.Study, m.Spec.name, m.SpecVersion.number, m.Run, m.Variant.name)
        .outerjoin(m.SpecVersion, m.SpecVersion.id == m.Study.spec_version_id)
        .outerjoin(m.Spec, m.Spec.id == m.SpecVersion.spec_id)
        .outerjoin(m.Run, m.Run.study_id == m.Study.id)
        .outerjoin(m.Variant, m.Variant.id == m.Run.variant_id)
        .where(m.Study.id == study_id)
        .order_by(m.Run.id)
    ).all()
    if not rows:
        raise NotFoundError(f"no study with id {study_id}")
    row, spec_name, spec_number = rows[0][:3]
    run_ids = select(m.Run.id).where(m.Run.study_id == study_id)
    stages = _linked_stages(session, m.RunStage.run_id.in_(run_ids))
    runs = [
        _run_entity(r, variant_name, stages.get(r.id, []))
        for *_, r, variant_name in rows
        if r is not None
    ]
    status = combine_status(r.status for r in runs)
    return _study_entity(row, spec_name, spec_number, status, len(runs), runs)


def list_studies(session: Session, *, limit: int = 50, offset: int = 0) -> list[e.Study]:
    """A page of studies, newest first, with status and run count (no runs): three
    statements whatever the number of studies and runs."""
    rows = session.execute(
        _studies_query().order_by(m.Study.id.desc()).limit(limit).offset(offset)
    ).all()
    ids = [r[0].id for r in rows]
    if not ids:
        return []
    n_runs = dict(
        session.execute(
            select(m.Run.study_id, func.count(m.Run.id))
            .where(m.Run.study_id.in_(ids))
            .group_by(m.Run.study_id)
        ).all()
    )
    states: dict[int, set[str]] = {}
    for study_id, state in session.execute(
        select(m.Run.study_id, m.Job.state)
        .join(m.RunStage, m.RunStage.run_id == m.Run.id)
        .join(m.Stage, m.Stage.id == m.RunStage.stage_id)
        .join(m.Job, m.Job.id == m.Stage.job_id)
        .where(m.Run.study_id.in_(ids))
        .distinct()
    ):
        states.setdefault(study_id, set()).add(JobState(state).value)
    return [
        _study_entity(
            row, spec_name, number, combine_status(states.get(row.id, ())), n_runs.get(row.id, 0)
        )
        for row, spec_name, number in rows
    ]


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


def recent_metric_values(
    session: Session, name: str, *, min_step: int = 0, limit: int = 200
) -> list[float]:
    """The latest ``limit`` values of metric ``name`` at steps ≥ ``min_step``, newest first."""
    rows = session.scalars(
        select(m.Metric.value)
        .where(m.Metric.name == name, m.Metric.step >= min_step)
        .order_by(m.Metric.id.desc())
        .limit(limit)
    )
    return list(rows)
