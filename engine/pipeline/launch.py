"""Launching a study: write its :class:`~engine.pipeline.plan.StudyPlan` — the study, its
runs, and jobs for the stages not already computed.

Stages are shared by key. For each distinct planned stage:

* ``cached``: a stage whose job succeeded is reused as is (no job, no compute);
* ``shared``: a stage queued or running for another run or study is shared;
* ``retry``: a stage whose job failed or was cancelled is retried, once, for everyone;
* ``new``: a new stage and its job are created, depending on the jobs of its input stages,
  with the retry policy its kind declares.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from db import jobs as jobstore
from db import studies as studystore
from engine.pipeline import presets
from engine.pipeline.plan import PlannedStage, StudyPlan
from engine.stages import get as stage_kind


@dataclass(frozen=True)
class LaunchResult:
    """What a launch did."""

    study_id: int
    runs: int
    stages: int
    new_jobs: int
    cached: int
    shared: int


def _scaling(ps: PlannedStage, preset: str) -> dict[str, float] | None:
    """How the stage's job scales its kind's declared resources: the preset's scaling
    (``presets.RESOURCES``), and a GPU for a writing stage that loads its model itself
    (``gen_docs``/``gen_demos`` declare none, since by default they write from templates or
    copy a dataset) unless the preset runs everything on CPUs."""
    scale = dict(presets.RESOURCES.get(preset) or {})
    if getattr(ps.spec.config, "runs_local_model", False) and "gpus" not in scale:
        scale["gpus"] = max(stage_kind(ps.spec.kind).resources.gpus, 1.0)
    return scale or None


def _write_stage(
    session: Session,
    ps: PlannedStage,
    job_of: dict[str, int],
    author: str,
    resources: dict[str, float] | None = None,
) -> int:
    """The stage's id after making sure its work is done, underway or queued."""
    if ps.status == "cached":
        assert ps.stage_id is not None
        return ps.stage_id
    if ps.status in ("shared", "retry"):
        assert ps.stage_id is not None and ps.job_id is not None
        job_of[ps.key] = ps.job_id
        if ps.status == "retry":
            jobstore.retry(session, ps.job_id, by=author)
        return ps.stage_id
    stage_id = studystore.create_stage(
        session, key=ps.key, kind=ps.spec.kind, config=ps.spec.to_json(), job_id=None
    )
    job = jobstore.enqueue(
        session,
        ps.spec.kind,
        # The preset's scaling of the kind's declared resources (see presets.RESOURCES).
        {"stage_id": stage_id, **({"resources": resources} if resources else {})},
        label=ps.spec.label,
        max_attempts=stage_kind(ps.spec.kind).max_attempts,
        depends_on=[job_of[k] for k in ps.spec.inputs.values() if k in job_of],
        created_by=author,
    )
    studystore.set_stage_job(session, stage_id, job.id)
    job_of[ps.key] = job.id
    return stage_id


def launch(session: Session, plan: StudyPlan, *, author: str) -> LaunchResult:
    """Create the study, its runs, and the jobs of every stage not already done or underway."""
    study_id = studystore.create_study(
        session,
        name=plan.config.name,
        spec_version_id=plan.version.id,
        config={**plan.config.to_dict(), "resolved": plan.configs.to_dict()},
        created_by=author,
    )
    job_of: dict[str, int] = {}
    stage_ids: dict[str, int] = {}
    # Stages are written in the order runs list them, so inputs exist before their consumers.
    for run in plan.runs:
        run_id = studystore.add_run(
            session,
            study_id=study_id,
            variant_id=run.variant.id,
            arm=run.arm,
            seed=run.seed,
            model=run.model,
            created_by=author,
        )
        for spec in run.stages:
            ps = plan.stages[spec.key]
            if ps.key not in stage_ids:
                stage_ids[ps.key] = _write_stage(
                    session, ps, job_of, author, _scaling(ps, plan.config.preset)
                )
            studystore.link_stage(session, run_id, stage_ids[ps.key], cached=ps.status == "cached")
    return LaunchResult(
        study_id=study_id,
        runs=len(plan.runs),
        stages=len(plan.stages),
        new_jobs=plan.count("new") + plan.count("retry"),
        cached=plan.count("cached"),
        shared=plan.count("shared"),
    )
