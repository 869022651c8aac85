"""Queries for evaluation samples: bulk writes, paged and filtered reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from db import entities as e
from db import models as m


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
