"""Aggregate queries behind the study comparison, frozen reports and the runs list.

Everything here aggregates in the database and returns small plain objects: no query loads a
table, and the number of rows returned depends on the size of one study (runs × conditions,
runs × QA items), never on the size of the database.

Eval samples reach runs through ``run_stages``: one eval stage can serve several runs (the
``base`` arm's evals are shared by every variant of a study), so every query joins through
``run_stages`` and each run sees its shared stages. Where a query sums, it sums per stage
first and then fans the per-stage totals out to the runs linked to the stage, so a shared
stage's samples are read once.

Indexes these queries rely on (all exist): ``runs(study_id)``, the primary key of
``run_stages`` (run_id, stage_id) and ``run_stages(stage_id)``, ``eval_samples(stage_id,
suite)``, ``metrics(stage_id, name, step)`` and ``jobs`` by primary key.

A run's status is derived from its stages' job states (see :func:`db.studies.combine_status`).

Suite names and the harmful threshold are domain facts owned by :mod:`engine.compare`; the
functions here receive them as arguments.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from db import entities as e
from db import models as m
from db.errors import NotFoundError
from db.evals import _entity as sample_entity
from db.models import JobState
from db.studies import combine_status

Match = Literal["sample", "item"]
"""How samples of two cells are matched: ``sample`` on (condition, sample index, run seed), as
agentic samples are; ``item`` on (item id, run seed), as spec-QA answers are."""


@dataclass(frozen=True)
class StudyHeader:
    """A study's identity, spec and derived status, without its runs."""

    id: int
    name: str
    spec_ref: str
    spec_hash: str
    config: dict[str, Any]
    status: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class QAItemScore:
    """One scored spec-QA answer of a run."""

    item_id: str
    clause: str
    score: float


@dataclass(frozen=True)
class RunSummary:
    """One run of a study with its eval totals.

    Attributes:
        n_agentic: agentic samples with a verdict.
        harmful: of those, how many took the harmful action.
        n_qa: spec-QA answers with a score.
        qa_sum: sum of those scores (0–10 each).
        qa_items: the scored answers, ordered by item id; ``None`` unless asked for.
    """

    run_id: int
    variant: str
    arm: str
    seed: int
    model: str
    n_agentic: int
    harmful: int
    n_qa: int
    qa_sum: float
    qa_items: tuple[QAItemScore, ...] | None = None


@dataclass(frozen=True)
class ConditionCount:
    """Harmful count of one run in one agentic condition."""

    run_id: int
    condition: str
    n: int
    harmful: int


@dataclass(frozen=True)
class ClauseSum:
    """Spec-QA total of one run on one clause."""

    run_id: int
    clause: str
    n: int
    total: float


@dataclass(frozen=True)
class RunMetric:
    """A stage metric as seen by one run (a shared stage's metric appears once per run)."""

    run_id: int
    stage_id: int
    stage_kind: str
    name: str
    step: int
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int | None


@dataclass(frozen=True)
class PairedRow:
    """One sample (agentic) or item (QA) scored in both cells of a comparison.

    ``key`` is ``condition|sample_index|seed`` for agentic samples and ``item_id|seed`` for QA.
    """

    key: str
    score_a: float
    score_b: float


@dataclass(frozen=True)
class CellScore:
    """One matchable sample of one cell: its match key and score (the highest, if repeated).

    ``parts`` are the match columns in order (condition, sample index, seed; or item id,
    seed); ``key`` joins them as :class:`PairedRow` does.
    """

    variant: str
    arm: str
    parts: tuple[str | int, ...]
    score: float

    @property
    def key(self) -> str:
        return "|".join(str(v) for v in self.parts)


@dataclass(frozen=True)
class StageRecord:
    """A stage of a study with its artifacts as (role, sha256) pairs."""

    id: int
    kind: str
    key: str
    artifacts: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RunListRow:
    """One row of the runs list across all studies."""

    id: int
    study_id: int
    study_name: str
    variant: str
    arm: str
    seed: int
    model: str
    status: str
    created_at: datetime


# -- building blocks ------------------------------------------------------------------------


def _study_stage_ids(study_id: int) -> Select[Any]:
    """Ids of the stages linked to any run of the study (for ``IN``)."""
    return (
        select(m.RunStage.stage_id)
        .join(m.Run, m.Run.id == m.RunStage.run_id)
        .where(m.Run.study_id == study_id)
    )


FIRST_MODEL = "\x00first"
"""A ``model`` argument meaning "the study's first base model" (its only one, for most
studies), chosen inside the statement itself."""


def _in_study(study_id: int, model: str | None) -> Any:
    """The runs of the study (on base model ``model`` only, when given: a study of several
    models is compared within each; :data:`FIRST_MODEL`: the model of its first run)."""
    if model is None:
        return m.Run.study_id == study_id
    if model == FIRST_MODEL:
        first = aliased(m.Run)
        model_of_first = (
            select(first.model)
            .where(first.study_id == study_id)
            .order_by(first.id)
            .limit(1)
            .scalar_subquery()
        )
        return and_(m.Run.study_id == study_id, m.Run.model == model_of_first)
    return and_(m.Run.study_id == study_id, m.Run.model == model)


def _fan_out(per_stage: Any, *cols: Any) -> Select[Any]:
    """Per-stage aggregates joined to the study's runs that use each stage."""
    return select(m.RunStage.run_id, *cols).join(
        per_stage, per_stage.c.stage_id == m.RunStage.stage_id
    )


def _variant_name() -> Any:
    return func.coalesce(m.Variant.name, "")


# -- study ----------------------------------------------------------------------------------


def data_version(session: Session, study_id: int) -> tuple[int, int, str]:
    """A value that changes whenever anything a study's comparison reads changes: the newest
    job event of its stages (a stage finishing, failing, being retried: eval samples are
    stored before their stage's success is recorded), the newest metric of its stages
    (training curves grow while a stage runs; a re-judging writes one with its verdicts) and
    the study's config (which judge's verdicts are the headline). One statement."""
    stage_ids = _study_stage_ids(study_id)
    newest_event = (
        select(func.max(m.JobEvent.id))
        .join(m.Stage, m.Stage.job_id == m.JobEvent.job_id)
        .where(m.Stage.id.in_(stage_ids))
        .scalar_subquery()
    )
    newest_metric = (
        select(func.max(m.Metric.id)).where(m.Metric.stage_id.in_(stage_ids)).scalar_subquery()
    )
    config = select(m.Study.config).where(m.Study.id == study_id).scalar_subquery()
    row = session.execute(select(newest_event, newest_metric, config)).one()
    return int(row[0] or 0), int(row[1] or 0), json.dumps(row[2] or {}, sort_keys=True)


def study_header(session: Session, study_id: int) -> StudyHeader:
    """The study's identity and its status derived from its stages' job states."""
    row = session.execute(
        select(m.Study, m.Spec.name, m.SpecVersion.number, m.SpecVersion.content_hash)
        .outerjoin(m.SpecVersion, m.SpecVersion.id == m.Study.spec_version_id)
        .outerjoin(m.Spec, m.Spec.id == m.SpecVersion.spec_id)
        .where(m.Study.id == study_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no study with id {study_id}")
    study, spec_name, number, content_hash = row
    states = session.scalars(
        select(m.Job.state)
        .join(m.Stage, m.Stage.job_id == m.Job.id)
        .where(m.Stage.id.in_(_study_stage_ids(study_id)))
        .distinct()
    )
    return StudyHeader(
        id=study.id,
        name=study.name,
        spec_ref="" if spec_name is None else f"{spec_name}@{number}",
        spec_hash=content_hash or "",
        config=dict(study.config or {}),
        status=combine_status(JobState(s).value for s in states),
        created_by=study.created_by,
        created_at=study.created_at,
    )


def run_summaries(
    session: Session,
    study_id: int,
    *,
    agentic: str,
    spec_qa: str,
    harmful_at: float,
    with_qa_items: bool = False,
    model: str | None = None,
) -> list[RunSummary]:
    """Every run of the study (in id order) with its agentic and spec-QA totals.

    Args:
        study_id: the study.
        agentic: the agentic suite's name (its samples give ``n_agentic``/``harmful``).
        spec_qa: the spec-QA suite's name (its samples give ``n_qa``/``qa_sum``).
        harmful_at: an agentic sample scored at least this counts as harmful.
        with_qa_items: also return each run's scored QA answers (one row per answer; needed
            for bootstrap intervals). Left out by default: the totals are enough for rates.
        model: only the runs on this base model (``None``: every run).
    """
    runs = session.execute(
        select(m.Run.id, _variant_name(), m.Run.arm, m.Run.seed, m.Run.model)
        .outerjoin(m.Variant, m.Variant.id == m.Run.variant_id)
        .where(_in_study(study_id, model))
        .order_by(m.Run.id)
    ).all()
    if not runs:
        return []
    es = m.EvalSample
    per_stage = (
        select(
            es.stage_id,
            es.suite,
            func.count(es.score).label("n"),
            func.sum(case((es.score >= harmful_at, 1), else_=0)).label("harmful"),
            func.coalesce(func.sum(es.score), 0.0).label("total"),
        )
        .where(es.stage_id.in_(_study_stage_ids(study_id)), es.suite.in_((agentic, spec_qa)))
        .group_by(es.stage_id, es.suite)
        .subquery()
    )
    totals: dict[tuple[int, str], tuple[int, int, float]] = {}
    for run_id, suite, n, harmful, total in session.execute(
        _fan_out(
            per_stage,
            per_stage.c.suite,
            func.sum(per_stage.c.n),
            func.sum(per_stage.c.harmful),
            func.sum(per_stage.c.total),
        )
        .join(m.Run, m.Run.id == m.RunStage.run_id)
        .where(_in_study(study_id, model))
        .group_by(m.RunStage.run_id, per_stage.c.suite)
    ):
        totals[(run_id, suite)] = (int(n or 0), int(harmful or 0), float(total or 0.0))
    items: dict[int, list[QAItemScore]] | None = None
    if with_qa_items:
        items = defaultdict(list)
        for run_id, item_id, clause, score in session.execute(
            select(m.RunStage.run_id, es.item_id, es.clause_code, es.score)
            .join(m.Run, m.Run.id == m.RunStage.run_id)
            .join(es, es.stage_id == m.RunStage.stage_id)
            .where(_in_study(study_id, model), es.suite == spec_qa, es.score.is_not(None))
            .order_by(m.RunStage.run_id, es.item_id, es.sample_index, es.id)
        ):
            items[run_id].append(QAItemScore(item_id, clause, float(score or 0.0)))
    out = []
    for run_id, variant, arm, seed, model in runs:
        n_ag, harmful, _ = totals.get((run_id, agentic), (0, 0, 0.0))
        n_qa, _, qa_sum = totals.get((run_id, spec_qa), (0, 0, 0.0))
        out.append(
            RunSummary(
                run_id=run_id,
                variant=variant,
                arm=arm,
                seed=seed,
                model=model,
                n_agentic=n_ag,
                harmful=harmful,
                n_qa=n_qa,
                qa_sum=qa_sum,
                qa_items=None if items is None else tuple(items.get(run_id, ())),
            )
        )
    return out


def condition_counts(
    session: Session, study_id: int, *, suite: str, harmful_at: float, model: str | None = None
) -> list[ConditionCount]:
    """Per run and condition of ``suite``: samples with a verdict and how many scored at least
    ``harmful_at``."""
    es = m.EvalSample
    per_stage = (
        select(
            es.stage_id,
            es.condition,
            func.count(es.score).label("n"),
            func.sum(case((es.score >= harmful_at, 1), else_=0)).label("harmful"),
        )
        .where(es.stage_id.in_(_study_stage_ids(study_id)), es.suite == suite)
        .group_by(es.stage_id, es.condition)
        .subquery()
    )
    rows = session.execute(
        _fan_out(
            per_stage,
            per_stage.c.condition,
            func.sum(per_stage.c.n),
            func.sum(per_stage.c.harmful),
        )
        .join(m.Run, m.Run.id == m.RunStage.run_id)
        .where(_in_study(study_id, model))
        .group_by(m.RunStage.run_id, per_stage.c.condition)
        .order_by(m.RunStage.run_id, per_stage.c.condition)
    )
    return [ConditionCount(r, c, int(n or 0), int(h or 0)) for r, c, n, h in rows]


def study_models(session: Session, study_id: int) -> list[str]:
    """The base models of the study's runs, in the order their first run was created."""
    rows = session.execute(
        select(m.Run.model, func.min(m.Run.id))
        .where(m.Run.study_id == study_id)
        .group_by(m.Run.model)
        .order_by(func.min(m.Run.id))
    )
    return [r[0] for r in rows]


def study_conditions(session: Session, study_id: int, *, suite: str) -> list[str]:
    """The distinct conditions of the study's ``suite`` samples, sorted."""
    es = m.EvalSample
    return list(
        session.scalars(
            select(es.condition)
            .where(
                es.stage_id.in_(_study_stage_ids(study_id)),
                es.suite == suite,
                es.condition != "",
            )
            .distinct()
            .order_by(es.condition)
        )
    )


def clause_sums(session: Session, study_id: int, *, suite: str) -> list[ClauseSum]:
    """Per run and clause: scored answers of ``suite`` and the sum of their scores."""
    es = m.EvalSample
    per_stage = (
        select(
            es.stage_id,
            es.clause_code,
            func.count(es.score).label("n"),
            func.coalesce(func.sum(es.score), 0.0).label("total"),
        )
        .where(es.stage_id.in_(_study_stage_ids(study_id)), es.suite == suite)
        .group_by(es.stage_id, es.clause_code)
        .subquery()
    )
    rows = session.execute(
        _fan_out(
            per_stage,
            per_stage.c.clause_code,
            func.sum(per_stage.c.n),
            func.sum(per_stage.c.total),
        )
        .join(m.Run, m.Run.id == m.RunStage.run_id)
        .where(m.Run.study_id == study_id)
        .group_by(m.RunStage.run_id, per_stage.c.clause_code)
        .order_by(m.RunStage.run_id, per_stage.c.clause_code)
    )
    return [ClauseSum(r, c, int(n or 0), float(t or 0.0)) for r, c, n, t in rows]


def run_metrics(
    session: Session,
    study_id: int,
    names: Sequence[str] = (),
    prefixes: Sequence[str] = (),
    model: str | None = None,
) -> list[RunMetric]:
    """Stage metrics of the study's runs whose name is in ``names`` or starts with a prefix."""
    conditions: list[Any] = [m.Metric.name.in_(list(names))] if names else []
    conditions += [m.Metric.name.startswith(p, autoescape=True) for p in prefixes]
    if not conditions:
        return []
    rows = session.execute(
        select(
            m.RunStage.run_id,
            m.Metric.stage_id,
            m.Stage.kind,
            m.Metric.name,
            m.Metric.step,
            m.Metric.value,
            m.Metric.ci_low,
            m.Metric.ci_high,
            m.Metric.n,
        )
        .join(m.Run, m.Run.id == m.RunStage.run_id)
        .join(m.Stage, m.Stage.id == m.RunStage.stage_id)
        .join(m.Metric, m.Metric.stage_id == m.RunStage.stage_id)
        .where(_in_study(study_id, model), or_(*conditions))
        .order_by(m.RunStage.run_id, m.Metric.stage_id, m.Metric.name, m.Metric.step, m.Metric.id)
    )
    return [
        RunMetric(
            run_id=r[0],
            stage_id=r[1] or 0,  # never None: joined on stage_id
            stage_kind=r[2],
            name=r[3],
            step=r[4],
            value=r[5],
            ci_low=r[6],
            ci_high=r[7],
            n=r[8],
        )
        for r in rows
    ]


def study_stages(session: Session, study_id: int) -> list[StageRecord]:
    """The distinct stages of a study's runs with their artifacts' hashes, by kind and key."""
    stages = session.execute(
        select(m.Stage.id, m.Stage.kind, m.Stage.key)
        .where(m.Stage.id.in_(_study_stage_ids(study_id)))
        .order_by(m.Stage.kind, m.Stage.key)
    ).all()
    arts: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for stage_id, role, sha in session.execute(
        select(m.StageArtifact.stage_id, m.StageArtifact.role, m.Artifact.sha256)
        .join(m.Artifact, m.Artifact.id == m.StageArtifact.artifact_id)
        .where(m.StageArtifact.stage_id.in_(_study_stage_ids(study_id)))
        .order_by(m.StageArtifact.stage_id, m.StageArtifact.role, m.Artifact.sha256)
    ):
        arts[stage_id].append((role, sha))
    return [StageRecord(i, kind, key, tuple(arts.get(i, ()))) for i, kind, key in stages]


def study_judges(session: Session, study_id: int, suites: Sequence[str] | None = None) -> list[str]:
    """Distinct ``judge@prompt-version`` values in the study's eval samples (of ``suites``,
    the stored suite tags, when given)."""
    where = [m.EvalSample.suite.in_(list(suites))] if suites is not None else []
    return list(
        session.scalars(
            select(m.EvalSample.judge)
            .where(
                m.EvalSample.stage_id.in_(_study_stage_ids(study_id)),
                m.EvalSample.judge != "",
                *where,
            )
            .distinct()
            .order_by(m.EvalSample.judge)
        )
    )


# -- paired cells ---------------------------------------------------------------------------


def _scored(study_id: int, suite: str, *columns: Any, model: str | None = None) -> Select[Any]:
    """The study's samples of ``suite`` with their match columns and run seed, after
    ``columns``; callers add their own conditions."""
    return (
        select(
            *columns,
            m.EvalSample.item_id,
            m.EvalSample.condition,
            m.EvalSample.sample_index,
            m.Run.seed,
            m.EvalSample.score,
        )
        .select_from(m.Run)
        .outerjoin(m.Variant, m.Variant.id == m.Run.variant_id)
        .join(m.RunStage, m.RunStage.run_id == m.Run.id)
        .join(m.EvalSample, m.EvalSample.stage_id == m.RunStage.stage_id)
        .where(_in_study(study_id, model), m.EvalSample.suite == suite)
    )


def _cell_samples(
    study_id: int, cell: tuple[str, str], suite: str, side: int, model: str | None
) -> Any:
    """The scored samples of one cell (variant, arm) of a study with run seeds, tagged ``side``."""
    return _scored(
        study_id,
        suite,
        literal(side).label("side"),
        m.EvalSample.id.label("sample_id"),
        model=model,
    ).where(
        _variant_name() == cell[0],
        m.Run.arm == cell[1],
        m.EvalSample.score.is_not(None),
    )


def _paired(
    study_id: int,
    a: tuple[str, str],
    b: tuple[str, str],
    suite: str,
    match: Match,
    model: str | None = None,
) -> tuple[Select[Any], list[Any], Any, Any]:
    """(query grouped by match key, key columns, score in a, score in b).

    Matching is a GROUP BY over both cells' samples (a sort or hash aggregate), not a join of
    two derived tables: no index covers the match key, and a join would compare every sample
    of one cell with every sample of the other.
    """
    both = union_all(
        _cell_samples(study_id, a, suite, 0, model), _cell_samples(study_id, b, suite, 1, model)
    ).subquery()
    keys = _match_keys(both, match)
    score_a = func.max(case((both.c.side == 0, both.c.score)))
    score_b = func.max(case((both.c.side == 1, both.c.score)))
    query = (
        select(*keys, score_a, score_b)
        .group_by(*keys)
        .having(score_a.is_not(None), score_b.is_not(None))
        .order_by(*keys)
    )
    return query, keys, score_a, score_b


def _match_keys(table: Any, match: Match) -> list[Any]:
    if match == "sample":
        return [table.c.condition, table.c.sample_index, table.c.seed]
    if match == "item":
        return [table.c.item_id, table.c.seed]
    raise ValueError(f"unknown match {match!r}")


def flipped_samples(
    session: Session,
    study_id: int,
    a: tuple[str, str],
    b: tuple[str, str],
    *,
    suite: str,
    match: Match,
    limit: int = 20,
    model: str | None = None,
) -> list[tuple[e.EvalSample, e.EvalSample]]:
    """Matched samples whose score differs between the two cells, as (sample in a, in b).

    Samples (``match="sample"``) or items (``"item"``) are matched within each seed; at most
    ``limit`` pairs, ordered by condition (or item), sample index and seed.
    """
    query, keys, score_a, score_b = _paired(study_id, a, b, suite, match, model)
    both = keys[0].table
    id_a = func.max(case((both.c.side == 0, both.c.sample_id)))
    id_b = func.max(case((both.c.side == 1, both.c.sample_id)))
    pairs = session.execute(
        query.with_only_columns(id_a, id_b).having(score_a != score_b).limit(limit)
    ).all()
    ids = {i for pair in pairs for i in pair}
    if not ids:
        return []
    rows = {
        r.id: sample_entity(r)
        for r in session.scalars(select(m.EvalSample).where(m.EvalSample.id.in_(ids)))
    }
    return [(rows[x], rows[y]) for x, y in pairs]


def cell_scores(
    session: Session, study_id: int, suite: str, *, match: Match, model: str | None = None
) -> list[CellScore]:
    """Every scored sample of ``suite`` in the study, per cell and match key, in one query.

    The comparison pairs any two cells from these rows, so the number of statements does not
    grow with the number of pairs. A key scored more than once in a cell keeps its highest
    score, as :func:`flipped_samples` matches them.
    """
    cell = (
        _scored(study_id, suite, _variant_name().label("variant"), m.Run.arm, model=model)
        .where(m.EvalSample.score.is_not(None))
        .subquery()
    )
    keys = _match_keys(cell, match)
    rows = session.execute(
        select(cell.c.variant, cell.c.arm, *keys, func.max(cell.c.score)).group_by(
            cell.c.variant, cell.c.arm, *keys
        )
    )
    n = len(keys)
    return [CellScore(r[0], r[1], tuple(r[2 : 2 + n]), float(r[2 + n])) for r in rows]


# -- runs list ------------------------------------------------------------------------------


def runs_page(session: Session, *, limit: int, offset: int) -> tuple[list[RunListRow], int]:
    """A page of runs across all studies, newest first, and the total number of runs."""
    total = session.scalar(select(func.count()).select_from(m.Run)) or 0
    rows = session.execute(
        select(
            m.Run.id,
            m.Run.study_id,
            m.Study.name,
            _variant_name(),
            m.Run.arm,
            m.Run.seed,
            m.Run.model,
            m.Run.created_at,
        )
        .join(m.Study, m.Study.id == m.Run.study_id)
        .outerjoin(m.Variant, m.Variant.id == m.Run.variant_id)
        .order_by(m.Run.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    states: dict[int, set[str]] = defaultdict(set)
    if rows:
        for run_id, state in session.execute(
            select(m.RunStage.run_id, m.Job.state)
            .join(m.Stage, m.Stage.id == m.RunStage.stage_id)
            .join(m.Job, m.Job.id == m.Stage.job_id)
            .where(m.RunStage.run_id.in_([r[0] for r in rows]))
            .group_by(m.RunStage.run_id, m.Job.state)
        ):
            states[run_id].add(JobState(state).value)
    return [
        RunListRow(
            id=r[0],
            study_id=r[1],
            study_name=r[2],
            variant=r[3],
            arm=r[4],
            seed=r[5],
            model=r[6],
            status=combine_status(states.get(r[0], ())),
            created_at=r[7],
        )
        for r in rows
    ], total
