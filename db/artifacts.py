"""Queries for content-addressed artifacts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import entities as e
from db import models as m
from db.errors import NotFoundError


def to_entity(a: m.Artifact) -> e.Artifact:
    return e.Artifact(
        id=a.id,
        sha256=a.sha256,
        kind=a.kind,
        path=a.path,
        bytes=a.bytes,
        media_type=a.media_type,
        created_at=a.created_at,
    )


def record(
    session: Session, *, sha256: str, kind: str, path: str, size: int, media_type: str
) -> e.Artifact:
    """Record an artifact, or return the existing record for the same content."""
    row = session.scalar(select(m.Artifact).where(m.Artifact.sha256 == sha256))
    if row is None:
        row = m.Artifact(sha256=sha256, kind=kind, path=path, bytes=size, media_type=media_type)
        session.add(row)
        session.flush()
    return to_entity(row)


def get_by_sha(session: Session, sha256: str) -> e.Artifact:
    row = session.scalar(select(m.Artifact).where(m.Artifact.sha256 == sha256))
    if row is None:
        raise NotFoundError(f"no artifact with hash {sha256}")
    return to_entity(row)
