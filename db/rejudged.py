"""Queries behind re-judging a study: its eval stages' samples, and the re-judged copies.

A re-judged verdict is a new ``eval_samples`` row under the same eval stage as the sample it
judges, with the suite tagged ``<suite>~<judge>`` (the tag is built by the engine, see
:mod:`engine.tasks.rejudge_study`): every per-suite aggregate in :mod:`db.compare` reads it
unchanged when handed the tag, the original rows are never written, and a stage that is run
again (:func:`db.evals.replace_samples`) drops the verdicts on the replies it replaces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from db import entities as e
from db import models as m
from db.errors import NotFoundError
from db.evals import _entity as sample_entity
from db.jobs import _entity as job_entity
from db.studies import add_metrics


@dataclass(frozen=True)
class EvalStageRef:
    """An evaluation stage of a study, with its stored settings (``stages.config``)."""

    id: int
    kind: str
    config: dict[str, Any]


@dataclass(frozen=True)
class TaggedState:
    """What a stage already holds under a tag.

    Attributes:
        n: rows under the tag.
        n_same: of those, rows whose ``judge`` is the given ``name@version``.
        verdict: the tagged verdicts of one such row (to compare settings such as the model).
    """

    n: int
    n_same: int
    verdict: dict[str, Any]


def eval_stages(session: Session, study_id: int, kinds: Sequence[str]) -> list[EvalStageRef]:
    """The distinct stages of ``kinds`` linked to the study's runs, by id."""
    in_study = (
        select(m.RunStage.stage_id)
        .join(m.Run, m.Run.id == m.RunStage.run_id)
        .where(m.Run.study_id == study_id)
    )
    rows = session.execute(
        select(m.Stage.id, m.Stage.kind, m.Stage.config)
        .where(m.Stage.id.in_(in_study), m.Stage.kind.in_(list(kinds)))
        .order_by(m.Stage.id)
    )
    return [EvalStageRef(i, kind, dict(config or {})) for i, kind, config in rows]


def stage_samples(session: Session, stage_id: int, suite: str) -> list[e.EvalSample]:
    """Every sample of one stage and suite, in the order they were stored."""
    rows = session.scalars(
        select(m.EvalSample)
        .where(m.EvalSample.stage_id == stage_id, m.EvalSample.suite == suite)
        .order_by(m.EvalSample.id)
    )
    return [sample_entity(r) for r in rows]


def tagged_state(session: Session, stage_id: int, tag: str, judge: str) -> TaggedState:
    """How many rows ``stage_id`` holds under ``tag``, and how many of them ``judge`` wrote."""
    n, same = session.execute(
        select(
            func.count(m.EvalSample.id),
            func.count(m.EvalSample.id).filter(m.EvalSample.judge == judge),
        ).where(m.EvalSample.stage_id == stage_id, m.EvalSample.suite == tag)
    ).one()
    verdict = session.scalar(
        select(m.EvalSample.verdicts)
        .where(
            m.EvalSample.stage_id == stage_id,
            m.EvalSample.suite == tag,
            m.EvalSample.judge == judge,
        )
        .limit(1)
    )
    return TaggedState(int(n or 0), int(same or 0), dict(verdict or {}))


def replace_tagged(
    session: Session,
    stage_id: int,
    tag: str,
    rows: Sequence[Mapping[str, Any]],
    metrics: Sequence[e.MetricPoint],
) -> int:
    """Store a stage's re-judged rows and summary metrics under ``tag``, replacing any earlier
    ones under the same tag (metrics named ``<tag>.…``). The stage's other rows stay as they
    are. A new metric row also moves :func:`db.compare.data_version`, so live comparisons
    computed before it are recomputed."""
    session.execute(
        delete(m.EvalSample).where(m.EvalSample.stage_id == stage_id, m.EvalSample.suite == tag)
    )
    session.execute(
        delete(m.Metric).where(m.Metric.stage_id == stage_id, m.Metric.name.startswith(f"{tag}."))
    )
    if rows:
        session.execute(
            insert(m.EvalSample), [{**row, "stage_id": stage_id, "suite": tag} for row in rows]
        )
    add_metrics(session, [replace(p, run_id=None, stage_id=stage_id) for p in metrics])
    return len(rows)


def other_verdicts(
    session: Session, samples: Sequence[e.EvalSample], prefix: str
) -> dict[int, list[e.EvalSample]]:
    """For each of ``samples`` (by id), the rows whose suite tag starts with ``prefix`` that
    judge the same reply (same stage, item and sample index), by tag. One statement."""
    keys = {(s.stage_id, s.item_id, s.sample_index): s.id for s in samples}
    out: dict[int, list[e.EvalSample]] = {s.id: [] for s in samples}
    if not keys:
        return out
    rows = session.scalars(
        select(m.EvalSample)
        .where(
            m.EvalSample.suite.startswith(prefix, autoescape=True),
            or_(
                *(
                    and_(
                        m.EvalSample.stage_id == stage_id,
                        m.EvalSample.item_id == item_id,
                        m.EvalSample.sample_index == index,
                    )
                    for stage_id, item_id, index in keys
                )
            ),
        )
        .order_by(m.EvalSample.suite, m.EvalSample.id)
    )
    for r in rows:
        out[keys[(r.stage_id, r.item_id, r.sample_index)]].append(sample_entity(r))
    return out


def has_tag(session: Session, study_id: int, tag: str) -> bool:
    """Whether any eval stage of the study holds rows under ``tag``."""
    in_study = (
        select(m.RunStage.stage_id)
        .join(m.Run, m.Run.id == m.RunStage.run_id)
        .where(m.Run.study_id == study_id)
    )
    found = session.scalar(
        select(m.EvalSample.id)
        .where(m.EvalSample.stage_id.in_(in_study), m.EvalSample.suite == tag)
        .limit(1)
    )
    return found is not None


def set_study_config(session: Session, study_id: int, config: Mapping[str, Any]) -> None:
    """Replace a study's stored ``config`` (the caller merges what it changes)."""
    done = session.execute(
        update(m.Study).where(m.Study.id == study_id).values(config=dict(config))
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(f"no study with id {study_id}")


def jobs_labelled(session: Session, kind: str, label_prefix: str, limit: int = 50) -> list[e.Job]:
    """Jobs of ``kind`` whose label starts with ``label_prefix``, newest first."""
    rows = session.scalars(
        select(m.Job)
        .where(m.Job.kind == kind, m.Job.label.startswith(label_prefix, autoescape=True))
        .order_by(m.Job.id.desc())
        .limit(limit)
    )
    return [job_entity(r) for r in rows]


def study_config(session: Session, study_id: int) -> dict[str, Any]:
    """A study's stored ``config``."""
    config = session.scalar(select(m.Study.config).where(m.Study.id == study_id))
    if config is None:
        raise NotFoundError(f"no study with id {study_id}")
    return dict(config)
