"""Launching a study: runs, their stage DAGs, and jobs for the stages not already computed.

Stages are shared by key. For each planned stage:

* a stage whose job **succeeded** is reused as is (``cached``: no job, no compute);
* a stage that is **queued or running** (another run or study asked for it) is shared;
* a stage whose job **failed or was cancelled** is retried, once, for everyone who needs it;
* otherwise a new stage and its job are created, depending on the jobs of its input stages.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from db import jobs as jobstore
from db import specs as specstore
from db import studies as studystore
from db.entities import SpecVersion, Variant
from engine.errors import InputError
from engine.pipeline import presets
from engine.pipeline.plan import PlannedStage, plan_run
from engine.pipeline.study import StudyConfig


@dataclass(frozen=True)
class LaunchResult:
    study_id: int
    runs: int
    stages: int
    new_jobs: int
    cached: int
    shared: int


def resolve_variants(session: Session, config: StudyConfig) -> tuple[SpecVersion, list[Variant]]:
    """(spec version, variants) named by the study, or an error naming the key."""
    name, number = config.spec_name_and_version()
    try:
        version = specstore.get_version(session, name, number)
    except Exception as exc:  # NotFoundError, with the study key added
        raise InputError(str(exc), field="spec") from exc
    variants = []
    for i, vname in enumerate(config.variants):
        v = specstore.find_variant(session, version.id, vname)
        if v is None:
            known = ", ".join(x.name for x in specstore.list_variants(session, version.id))
            raise InputError(
                f"{version.ref} has no variant {vname!r} (known: {known or 'none'})",
                field=f"variants[{i}]",
            )
        variants.append(v)
    return version, variants


def _ensure_stage(
    session: Session, ps: PlannedStage, job_of: dict[str, int], author: str
) -> tuple[int, str]:
    """(stage id, how) where how is 'cached', 'shared', 'retried' or 'new'."""
    found = studystore.find_stage(session, ps.key)
    if found is not None:
        stage_id, job_id = found
        if job_id is None:
            return stage_id, "cached"
        job = jobstore.get(session, job_id)
        job_of[ps.key] = job_id
        if job.state == "succeeded":
            return stage_id, "cached"
        if job.state in ("queued", "running"):
            return stage_id, "shared"
        jobstore.retry(session, job_id, by=author)
        return stage_id, "retried"
    stage_id = studystore.create_stage(
        session, key=ps.key, kind=ps.kind, config=ps.spec, job_id=None
    )
    job = jobstore.enqueue(
        session,
        ps.kind,
        {"stage_id": stage_id},
        label=ps.label,
        depends_on=[job_of[k] for k in ps.depends_on if k in job_of],
        created_by=author,
    )
    studystore.set_stage_job(session, stage_id, job.id)
    job_of[ps.key] = job.id
    return stage_id, "new"


def launch(session: Session, config: StudyConfig, *, model_id: str, author: str) -> LaunchResult:
    """Create the study, its runs, and the jobs of every stage not already done or underway."""
    configs = presets.resolve(config.preset, {k: dict(v) for k, v in config.overrides.items()})
    version, variants = resolve_variants(session, config)
    study_id = studystore.create_study(
        session,
        name=config.name,
        spec_version_id=version.id,
        config={**config.to_dict(), "resolved": configs.to_dict()},
        created_by=author,
    )
    job_of: dict[str, int] = {}
    seen: dict[str, str] = {}
    for variant in variants:
        for arm in config.arms:
            for seed in config.seeds:
                run_id = studystore.add_run(
                    session,
                    study_id=study_id,
                    variant_id=variant.id,
                    arm=arm,
                    seed=seed,
                    model=model_id,
                    created_by=author,
                )
                for ps in plan_run(
                    arm=arm,
                    variant=variant,
                    seed=seed,
                    model=model_id,
                    configs=configs,
                    evals=config.evals,
                    spec=(version.id, version.content_hash),
                ):
                    if ps.key in seen:
                        how = "shared" if seen[ps.key] != "cached" else "cached"
                        found = studystore.find_stage(session, ps.key)
                        assert found is not None
                        stage_id = found[0]
                    else:
                        stage_id, how = _ensure_stage(session, ps, job_of, author)
                        seen[ps.key] = how
                    studystore.link_stage(session, run_id, stage_id, cached=how == "cached")
    counts = list(seen.values())
    return LaunchResult(
        study_id=study_id,
        runs=config.n_runs,
        stages=len(seen),
        new_jobs=counts.count("new") + counts.count("retried"),
        cached=counts.count("cached"),
        shared=counts.count("shared"),
    )
