"""Queries for evaluation samples: bulk writes, paged and filtered reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from db import entities as e
from db import models as m
from db.errors import NotFoundError


def replace_samples(session: Session, stage_id: int, rows: Sequence[dict[str, Any]]) -> int:
    """Store a stage's samples, replacing any from an earlier attempt of the same stage."""
    session.execute(delete(m.EvalSample).where(m.EvalSample.stage_id == stage_id))
    if rows:
        session.execute(insert(m.EvalSample), [{"stage_id": stage_id, **row} for row in rows])
    return len(rows)


def _entity(r: m.EvalSample) -> e.EvalSample:
    return e.EvalSample(
        id=r.id,
        stage_id=r.stage_id,
        suite=r.suite,
        item_id=r.item_id,
        sample_index=r.sample_index,
        condition=r.condition,
        clause_code=r.clause_code,
        prompt=r.prompt,
        response=r.response,
        parsed_actions=list(r.parsed_actions or []),
        verdicts=dict(r.verdicts or {}),
        score=r.score,
        judge=r.judge,
        judge_reasoning=r.judge_reasoning,
    )


def samples(
    session: Session,
    stage_ids: Sequence[int],
    *,
    suite: str | None = None,
    condition: str | None = None,
    clause: str | None = None,
    harmful: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[e.EvalSample], int]:
    """A page of samples of the given stages matching the filters, and the total count."""
    q = select(m.EvalSample).where(m.EvalSample.stage_id.in_(list(stage_ids)))
    if suite:
        q = q.where(m.EvalSample.suite == suite)
    if condition:
        q = q.where(m.EvalSample.condition == condition)
    if clause:
        q = q.where(m.EvalSample.clause_code == clause)
    if harmful is not None:
        # The headline verdict is mirrored into `score` (1.0 harmful, 0.0 safe) for agentic.
        q = q.where(m.EvalSample.score == (1.0 if harmful else 0.0))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(m.EvalSample.id).limit(limit).offset(offset))
    return [_entity(r) for r in rows], total


def facets(session: Session, stage_ids: Sequence[int]) -> dict[str, list[str]]:
    """Distinct conditions and clauses of the given stages' samples (for filter widgets)."""
    ids = list(stage_ids)
    conditions = session.scalars(
        select(m.EvalSample.condition)
        .where(m.EvalSample.stage_id.in_(ids), m.EvalSample.condition != "")
        .distinct()
        .order_by(m.EvalSample.condition)
    )
    clauses = session.scalars(
        select(m.EvalSample.clause_code)
        .where(m.EvalSample.stage_id.in_(ids), m.EvalSample.clause_code != "")
        .distinct()
        .order_by(m.EvalSample.clause_code)
    )
    return {"conditions": list(conditions), "clauses": list(clauses)}


def get_sample(session: Session, sample_id: int) -> e.EvalSample:
    """One sample by its id (the sample browser's permalink)."""
    row = session.get(m.EvalSample, sample_id)
    if row is None:
        raise NotFoundError(f"no sample with id {sample_id}")
    return _entity(row)


def stage_runs(session: Session, stage_id: int) -> list[tuple[int, int]]:
    """(run id, study id) of every run that uses the stage, oldest run first."""
    rows = session.execute(
        select(m.RunStage.run_id, m.Run.study_id)
        .join(m.Run, m.Run.id == m.RunStage.run_id)
        .where(m.RunStage.stage_id == stage_id)
        .order_by(m.RunStage.run_id)
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def study_samples(
    session: Session, study_id: int, *, limit: int
) -> tuple[list[tuple[e.RunLabel, e.EvalSample]], int]:
    """Every evaluated sample of a study's runs with the run it belongs to (a stage shared by
    two runs shows under both), in run then sample order, at most ``limit``; and the total."""
    q = (
        select(m.Run.id, m.Variant.name, m.Run.arm, m.Run.seed, m.Run.model, m.EvalSample)
        .join(m.RunStage, m.RunStage.stage_id == m.EvalSample.stage_id)
        .join(m.Run, m.Run.id == m.RunStage.run_id)
        .outerjoin(m.Variant, m.Variant.id == m.Run.variant_id)
        .where(m.Run.study_id == study_id)
    )
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.execute(q.order_by(m.Run.id, m.EvalSample.id).limit(limit))
    return [
        (e.RunLabel(run_id, variant or "", arm, seed, model), _entity(sample))
        for run_id, variant, arm, seed, model, sample in rows
    ], total


def item_samples(
    session: Session,
    study_id: int,
    *,
    suite: str,
    condition: str = "",
    sample_index: int | None = None,
    item_id: str = "",
) -> list[tuple[e.RunLabel, e.EvalSample]]:
    """One item (an agentic condition and sample index, or a spec-QA item id) in every run of
    a study: its samples of ``suite`` and of every re-judging of it (``suite~judge``), in run
    then suite order."""
    es = m.EvalSample
    q = (
        select(m.Run.id, m.Variant.name, m.Run.arm, m.Run.seed, m.Run.model, es)
        .join(m.RunStage, m.RunStage.stage_id == es.stage_id)
        .join(m.Run, m.Run.id == m.RunStage.run_id)
        .outerjoin(m.Variant, m.Variant.id == m.Run.variant_id)
        .where(m.Run.study_id == study_id)
        .where((es.suite == suite) | es.suite.startswith(f"{suite}~", autoescape=True))
    )
    if condition:
        q = q.where(es.condition == condition)
    if sample_index is not None:
        q = q.where(es.sample_index == sample_index)
    if item_id:
        q = q.where(es.item_id == item_id)
    rows = session.execute(q.order_by(m.Run.id, es.suite, es.id).limit(1000))
    return [
        (e.RunLabel(run_id, variant or "", arm, seed, model), _entity(sample))
        for run_id, variant, arm, seed, model, sample in rows
    ]
