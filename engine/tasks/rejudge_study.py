"""Task ``rejudge_study``: every eval sample of a study judged again by another judge.

The job (kind :data:`JOB_KIND`) reads each evaluation stage of the study for one suite, has
the chosen judge judge every stored reply again (offline rule judges, or LLM judges through an
OpenAI-compatible endpoint), and stores the verdicts as new eval samples under the same stage
with the suite tagged ``<suite>~<judge>`` (:mod:`engine.evals.headline`), plus the stage's
rate or mean under ``<tag>.harmful_rate`` / ``<tag>.score``. The original samples are never
written. Why the same stage rather than a derived one: the per-suite SQL aggregates read the
tag unchanged, no stage row outside the stage table is needed, a stage shared by several runs
(the ``base`` arm) is re-judged once, and re-running the stage drops the verdicts with the
replies they judged.

Idempotent: a stage already holding this judge's verdicts (same name, version and, for LLM
judges, model) on every sample is skipped; anything else under the tag is replaced, never
duplicated. Cancellable between batches; progress is recorded per batch.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from db import jobs as jobstore
from db import rejudged as store
from db.entities import EvalSample, Job, MetricPoint
from engine.errors import InputError
from engine.evals import judges
from engine.evals.headline import tag
from engine.jobs.context import JobContext
from engine.jobs.kinds import JobKind, Resources
from engine.stages.table import SUITES as STAGE_SUITES

JOB_KIND: Final = "rejudge_study"
#: The suites a study can be re-judged on, and the stage kind that stores each one's samples
#: (from the stage table; other suites have their own verdict shapes).
SUITES: Final = {s: STAGE_SUITES[s] for s in ("agentic", "spec_qa")}
#: Judges that need a model behind an endpoint.
LLM_JUDGES: Final = frozenset({"agentic_llm", "qa_llm"})
#: Replies judged per batch (a cancellation and progress point).
BATCH: Final = 64
#: ``eval_samples.suite`` holds at most 50 characters.
MAX_TAG: Final = 50
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass(frozen=True)
class RejudgeRequest:
    """What to re-judge, validated on construction (also the job's payload).

    Attributes:
        study_id: the study.
        suite: ``agentic`` or ``spec_qa``.
        judge: a judge registered for the suite.
        judge_base_url: the OpenAI-compatible endpoint an LLM judge calls ("" for others).
        judge_model: the model name at that endpoint.
    """

    study_id: int
    suite: str
    judge: str
    judge_base_url: str = ""
    judge_model: str = ""

    def __post_init__(self) -> None:
        if self.suite not in SUITES:
            raise InputError(
                f"unknown suite {self.suite!r}; use {' or '.join(SUITES)}", field="suite"
            )
        if not _NAME.fullmatch(self.judge) or len(tag(self.suite, self.judge)) > MAX_TAG:
            raise InputError(f"{self.judge[:60]!r} is not a judge name", field="judge")
        if self.judge in LLM_JUDGES:
            if not self.judge_base_url:
                raise InputError(
                    f"{self.judge} needs a model: give an OpenAI-compatible endpoint (such as "
                    "`speclab serve-model`) and its model name",
                    field="judge_base_url",
                )
            parts = urlsplit(self.judge_base_url)
            if (
                len(self.judge_base_url) > 500
                or parts.scheme not in ("http", "https")
                or not parts.netloc
            ):
                raise InputError(
                    "must be an http(s) URL such as http://127.0.0.1:8000/v1",
                    field="judge_base_url",
                )
            if len(self.judge_model) > 200 or any(c.isspace() for c in self.judge_model):
                raise InputError(
                    "must be a model name without spaces (200 characters at most)",
                    field="judge_model",
                )
        elif self.judge_base_url or self.judge_model:
            raise InputError(
                f"{self.judge} works offline: leave the endpoint and model empty",
                field="judge_base_url",
            )

    @property
    def tag(self) -> str:
        return tag(self.suite, self.judge)

    @property
    def label(self) -> str:
        return f"{label_prefix(self.study_id)}{self.suite} with {self.judge}"

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> RejudgeRequest:
        return cls(
            study_id=int(payload["study_id"]),
            suite=str(payload["suite"]),
            judge=str(payload["judge"]),
            judge_base_url=str(payload.get("judge_base_url") or ""),
            judge_model=str(payload.get("judge_model") or ""),
        )


def label_prefix(study_id: int) -> str:
    """The start of the label of every re-judging job of a study."""
    return f"rejudge study {study_id}: "


def make_judge(suite: str, judge: str, judge_base_url: str = "", judge_model: str = "") -> Any:
    """The judge ``judge`` for ``suite``; LLM judges call ``judge_base_url``.

    Raises:
        InputError: the judge is not registered for the suite, or an LLM judge has no endpoint.
    """
    from engine.evals.runner import load_judges

    load_judges()
    known = judges.available(suite)
    if judge not in known:
        raise InputError(
            f"unknown {suite} judge {judge!r}; known: {', '.join(known)}", field="--judge"
        )
    if judge in LLM_JUDGES:
        if not judge_base_url:
            raise InputError(
                f"{judge} needs an OpenAI-compatible endpoint", field="--judge-base-url"
            )
        return judges.make(judge, backend=judges.judge_backend(judge_base_url, judge_model))
    return judges.make(judge)


def enqueue(session: Session, request: RejudgeRequest, *, created_by: str) -> Job:
    """Queue the re-judging, or return the same request's job still queued or running.

    Raises:
        InputError: the study has no stored samples of the suite to re-judge.
    """
    stages = store.eval_stages(session, request.study_id, [SUITES[request.suite]])
    if not stages:
        raise InputError(
            f"study {request.study_id} has no {request.suite} evaluation to re-judge",
            field="suite",
        )
    payload = dataclasses.asdict(request)
    for job in store.jobs_labelled(session, JOB_KIND, request.label):
        if not job.is_finished and job.payload == payload:
            return job
    return jobstore.enqueue(
        session, JOB_KIND, payload, label=request.label, max_attempts=3, created_by=created_by
    )


# -- the job ----------------------------------------------------------------------------------


def run(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Judge every stored reply of the study's suite again; see the module docstring."""
    request = RejudgeRequest.from_payload(payload)
    judge = make_judge(request.suite, request.judge, request.judge_base_url, request.judge_model)
    judge_id = f"{judge.name}@{judge.prompt_version}"
    with ctx.database.read() as s:
        stages = store.eval_stages(s, request.study_id, [SUITES[request.suite]])
    judged = skipped = unevaluated = 0
    for i, stage in enumerate(stages):
        where = f"stage {i + 1}/{len(stages)}"
        ctx.progress(i / max(len(stages), 1), f"{where}: reading")
        with ctx.database.read() as s:
            state = store.tagged_state(s, stage.id, request.tag, judge_id)
            samples = store.stage_samples(s, stage.id, request.suite)
        if not samples:
            unevaluated += 1  # not evaluated (yet): nothing to judge
            continue
        same_model = state.verdict.get(judge.name, {}).get("model", "") == request.judge_model
        if state.n == state.n_same == len(samples) and same_model:
            skipped += 1
            continue
        verdicts: list[judges.Verdict] = []
        for start in range(0, len(samples), BATCH):
            ctx.progress(
                (i + start / len(samples)) / len(stages),
                f"{where}: judged {start}/{len(samples)}",
            )
            batch = samples[start : start + BATCH]
            verdicts += _judge(ctx, request, judge, stage, batch)
        rows = [_row(x, v, request) for x, v in zip(samples, verdicts, strict=True)]
        with ctx.database.write() as s:
            store.replace_tagged(
                s, stage.id, request.tag, rows, _metrics(stage.id, request, verdicts)
            )
        judged += len(rows)
        ctx.log(f"{where}: {len(rows)} sample(s) judged by {judge_id} as {request.tag}")
    ctx.progress(1.0, f"{judged} sample(s) judged, {skipped} stage(s) already judged")
    return {
        "tag": request.tag,
        "judge": judge_id,
        "stages": len(stages),
        "skipped_stages": skipped,
        "unevaluated_stages": unevaluated,
        "samples": judged,
    }


def _judge(
    ctx: JobContext,
    request: RejudgeRequest,
    judge: Any,
    stage: store.EvalStageRef,
    batch: Sequence[EvalSample],
) -> list[judges.Verdict]:
    if request.suite == "agentic":
        from engine.evals.agentic import rejudge
        from engine.evals.agentic.scenarios import Condition

        lines = [
            rejudge.AgenticLine(str(x.id), Condition.parse(x.condition), x.sample_index, x.response)
            for x in batch
        ]
        return [j.verdict for j in rejudge.judge_lines(lines, judge)]
    return list(judge.judge(_qa_inputs(ctx, stage, batch)))


def _qa_inputs(
    ctx: JobContext, stage: store.EvalStageRef, batch: Sequence[EvalSample]
) -> list[judges.JudgeInput]:
    """The judge's view of stored spec-QA answers, as the eval stage built it."""
    from db import specs as specstore
    from engine.data.demos import strip_reasoning
    from engine.evals import spec_qa
    from engine.stages.spec import StageSpec

    spec = StageSpec.from_json(stage.kind, stage.config).spec
    content = None
    if spec is not None:
        with ctx.database.read() as s:
            content = specstore.get_version_by_id(s, spec.version_id).content
    questions = {q.id: q for q in spec_qa.load_builtin()}
    items = []
    for x in batch:
        q = questions.get(x.item_id)
        try:
            text = spec_qa.clause_text(content, x.clause_code) if content is not None else ""
        except KeyError:
            text = ""
        items.append(
            judges.JudgeInput(
                suite="spec_qa",
                item_id=x.item_id,
                prompt=x.prompt,
                # The eval stage judged the answer without its reasoning block; so do we.
                response=strip_reasoning(x.response).strip(),
                spec_text=text,
                reference=tuple(q.reference) if q is not None else (),
                metadata={"clause": x.clause_code, "kind": x.condition},
            )
        )
    return items


def _row(sample: EvalSample, v: judges.Verdict, request: RejudgeRequest) -> dict[str, Any]:
    """The re-judged copy of ``sample``: same reply and keys, this judge's verdict."""
    if request.suite == "agentic":
        outcome: dict[str, Any] = {"harmful": v.harmful}
        score = None if v.harmful is None else (1.0 if v.harmful else 0.0)
    else:
        outcome, score = {"score": v.score}, v.score
    model = {"model": request.judge_model} if request.judge in LLM_JUDGES else {}
    return {
        "item_id": sample.item_id,
        "sample_index": sample.sample_index,
        "condition": sample.condition,
        "clause_code": sample.clause_code,
        "prompt": sample.prompt,
        "response": sample.response,
        "parsed_actions": sample.parsed_actions,
        "verdicts": {
            v.judge: {
                **outcome,
                "prompt_version": v.prompt_version,
                "reasoning": v.reasoning,
                "headline": True,
                **model,
                **v.details,
            }
        },
        "score": score,
        "judge": f"{v.judge}@{v.prompt_version}",
        "judge_reasoning": v.reasoning,
    }


def _metrics(
    stage_id: int, request: RejudgeRequest, verdicts: Sequence[judges.Verdict]
) -> list[MetricPoint]:
    from engine.evals import stats

    if request.suite == "agentic":
        name = f"{request.tag}.harmful_rate"
        iv = stats.rate_interval([v.harmful for v in verdicts if v.harmful is not None])
    else:
        name = f"{request.tag}.score"
        iv = stats.bootstrap_mean([v.score for v in verdicts if v.score is not None], seed=0)
    # Always one row (the count): a new metric row is what tells live comparisons to refresh.
    out = [MetricPoint(stage_id, None, f"{request.tag}.samples", 0, float(len(verdicts)))]
    if iv.n:
        out.append(MetricPoint(stage_id, None, name, 0, iv.estimate, iv.low, iv.high, iv.n))
    return out


KIND: Final = JobKind(
    name=JOB_KIND,
    run=run,
    description="re-judge every eval sample of a study's suite with another judge",
    resources=Resources(cpus=1, gpus=0, memory_gb=1),
    max_attempts=3,
)
