"""The table of stage kinds: the one list every other list of kinds derives from.

The planner, the stage keys, the study file's ``overrides`` and ``evals`` keys, the presets,
the estimate, the dashboard and the job registry (with each kind's resources and retry
policy) all read :data:`STAGES`. To add a stage kind, write its module here and add it below.
"""

from __future__ import annotations

from typing import Any

from db import studies as studystore
from engine.errors import NotFoundError
from engine.jobs.context import JobContext
from engine.jobs.kinds import JobKind
from engine.stages import aft, eval_agentic, eval_published, eval_qa, gen_demos, gen_docs, midtrain
from engine.stages.kind import StageKind
from engine.stages.spec import StageSpec

#: Every stage kind, in pipeline order.
STAGES: dict[str, StageKind] = {
    k.name: k
    for k in (
        gen_docs.KIND,
        midtrain.KIND,
        gen_demos.KIND,
        aft.KIND,
        eval_qa.KIND,
        eval_agentic.KIND,
        eval_published.KIND,
    )
}
#: Evaluation suite name → the stage kind that runs it.
SUITES: dict[str, str] = {k.suite: k.name for k in STAGES.values() if k.suite}


def get(name: str) -> StageKind:
    try:
        return STAGES[name]
    except KeyError:
        raise NotFoundError(f"no stage kind {name!r} (known: {', '.join(STAGES)})") from None


def _run_stage(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """The job behind every stage: read the stage row and its typed spec, run its kind."""
    with ctx.database.read() as s:
        stage = studystore.get_stage(s, stage_id=int(payload["stage_id"]))
    spec = StageSpec.from_json(stage.kind, stage.config)
    return get(stage.kind).run(ctx, spec, stage.id)


def job_kinds() -> list[JobKind]:
    """The stage kinds as job kinds, with their declared resources and retry policy."""
    return [
        JobKind(
            name=k.name,
            run=_run_stage,
            description=k.description,
            resources=k.resources,
            max_attempts=k.max_attempts,
        )
        for k in STAGES.values()
    ]
