"""Queries for datasets: content-addressed JSONL artifacts with a kind, provenance and preview."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db import entities as e
from db import models as m
from db.artifacts import to_entity as artifact_entity
from db.errors import NotFoundError


def _entity(row: m.Dataset, art: m.Artifact) -> e.Dataset:
    return e.Dataset(
        id=row.id,
        kind=row.kind,
        name=row.name,
        n_rows=row.n_rows,
        provenance=dict(row.provenance or {}),
        preview=list(row.preview or []),
        artifact=artifact_entity(art),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def add(
    session: Session,
    *,
    kind: str,
    name: str,
    artifact_id: int,
    n_rows: int,
    provenance: dict[str, Any],
    preview: list[Any],
    created_by: str = "",
) -> e.Dataset:
    """Record a dataset, or return the existing one of the same kind for the same artifact."""
    existing = session.execute(
        select(m.Dataset, m.Artifact)
        .join(m.Artifact, m.Artifact.id == m.Dataset.artifact_id)
        .where(m.Dataset.artifact_id == artifact_id, m.Dataset.kind == kind)
    ).first()
    if existing is not None:
        return _entity(existing[0], existing[1])
    row = m.Dataset(
        kind=kind,
        name=name,
        artifact_id=artifact_id,
        n_rows=n_rows,
        provenance=provenance,
        preview=preview,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    art = session.get(m.Artifact, artifact_id)
    assert art is not None
    return _entity(row, art)


def by_artifact(session: Session, sha256: str) -> e.Dataset:
    row = session.execute(
        select(m.Dataset, m.Artifact)
        .join(m.Artifact, m.Artifact.id == m.Dataset.artifact_id)
        .where(m.Artifact.sha256 == sha256)
    ).first()
    if row is None:
        raise NotFoundError(f"no dataset stored with hash {sha256}")
    return _entity(row[0], row[1])


def by_artifacts(session: Session, shas: Sequence[str]) -> dict[str, e.Dataset]:
    """The datasets stored under each of ``shas`` (one statement; missing ones left out)."""
    if not shas:
        return {}
    rows = session.execute(
        select(m.Dataset, m.Artifact)
        .join(m.Artifact, m.Artifact.id == m.Dataset.artifact_id)
        .where(m.Artifact.sha256.in_(list(shas)))
    ).all()
    return {a.sha256: _entity(d, a) for d, a in rows}


def list_datasets(
    session: Session, *, kind: str | None = None, limit: int = 100
) -> list[e.Dataset]:
    q = select(m.Dataset, m.Artifact).join(m.Artifact, m.Artifact.id == m.Dataset.artifact_id)
    if kind:
        q = q.where(m.Dataset.kind == kind)
    rows = session.execute(q.order_by(m.Dataset.id.desc()).limit(limit)).all()
    return [_entity(d, a) for d, a in rows]


_HEX_PREFIX = re.compile(r"[0-9a-f]{6,64}")


def find(session: Session, ref: str, *, limit: int = 20) -> list[e.Dataset]:
    """Datasets whose content hash starts with ``ref`` (6 to 64 hex digits) or whose name is
    ``ref``, newest first."""
    match = m.Dataset.name == ref
    if _HEX_PREFIX.fullmatch(ref):
        match = or_(match, m.Artifact.sha256.startswith(ref, autoescape=True))
    rows = session.execute(
        select(m.Dataset, m.Artifact)
        .join(m.Artifact, m.Artifact.id == m.Dataset.artifact_id)
        .where(match)
        .order_by(m.Dataset.id.desc())
        .limit(limit)
    ).all()
    return [_entity(d, a) for d, a in rows]


def producing_studies(
    session: Session, stage_keys: Sequence[str]
) -> dict[str, list[tuple[int, str]]]:
    """(id, name) of every study with a run that uses each stage of ``stage_keys``, oldest
    first (one statement; keys no study uses are left out)."""
    if not stage_keys:
        return {}
    rows = session.execute(
        select(m.Stage.key, m.Study.id, m.Study.name)
        .join(m.RunStage, m.RunStage.stage_id == m.Stage.id)
        .join(m.Run, m.Run.id == m.RunStage.run_id)
        .join(m.Study, m.Study.id == m.Run.study_id)
        .where(m.Stage.key.in_(list(stage_keys)))
        .distinct()
        .order_by(m.Stage.key, m.Study.id)
    ).all()
    out: dict[str, list[tuple[int, str]]] = {}
    for key, study_id, name in rows:
        out.setdefault(str(key), []).append((int(study_id), str(name)))
    return out
