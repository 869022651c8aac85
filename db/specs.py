"""Queries for specs, their immutable versions, clauses and variants."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import entities as e
from db import models as m
from db.artifacts import to_entity as _artifact
from db.errors import ConflictError, NotFoundError
from db.types import utcnow


def _content(session: Session, version: m.SpecVersion) -> e.SpecContent:
    rows = session.scalars(
        select(m.Clause).where(m.Clause.version_id == version.id).order_by(m.Clause.position)
    )
    clauses = tuple(
        e.Clause(
            code=r.code,
            title=r.title,
            rule=r.rule,
            subrules=tuple(r.subrules or ()),
            rationale=r.rationale,
            examples=tuple(r.examples or ()),
            authority=r.authority,
            priority=r.priority,
            hard_constraint=r.hard_constraint,
        )
        for r in rows
    )
    return e.SpecContent(title=version.title, preamble=version.preamble, clauses=clauses)


def _version(session: Session, version: m.SpecVersion, spec_name: str) -> e.SpecVersion:
    parent_number = None
    if version.parent_id is not None:
        parent_number = session.scalar(
            select(m.SpecVersion.number).where(m.SpecVersion.id == version.parent_id)
        )
    return e.SpecVersion(
        id=version.id,
        spec_id=version.spec_id,
        spec_name=spec_name,
        number=version.number,
        content_hash=version.content_hash,
        parent_id=version.parent_id,
        parent_number=parent_number,
        author=version.author,
        note=version.note,
        created_at=version.created_at,
        content=_content(session, version),
    )


def _spec_row(session: Session, name: str) -> m.Spec:
    spec = session.scalar(select(m.Spec).where(m.Spec.name == name))
    if spec is None:
        raise NotFoundError(f"no spec named '{name}'; `speclab spec list` shows the stored ones")
    return spec


def spec_exists(session: Session, name: str) -> bool:
    return session.scalar(select(m.Spec.id).where(m.Spec.name == name)) is not None


def list_specs(session: Session) -> list[e.SpecSummary]:
    latest = (
        select(
            m.SpecVersion.spec_id,
            func.max(m.SpecVersion.number).label("latest"),
            func.count(m.SpecVersion.id).label("n_versions"),
            func.max(m.SpecVersion.created_at).label("updated_at"),
        )
        .group_by(m.SpecVersion.spec_id)
        .subquery()
    )
    rows = session.execute(
        select(m.Spec, latest.c.latest, latest.c.n_versions, latest.c.updated_at)
        .join(latest, latest.c.spec_id == m.Spec.id)
        .order_by(m.Spec.name)
    ).all()
    out = []
    for spec, number, n_versions, updated_at in rows:
        n_clauses = session.scalar(
            select(func.count(m.Clause.id))
            .join(m.SpecVersion, m.SpecVersion.id == m.Clause.version_id)
            .where(m.SpecVersion.spec_id == spec.id, m.SpecVersion.number == number)
        )
        out.append(
            e.SpecSummary(
                id=spec.id,
                name=spec.name,
                description=spec.description,
                latest_version=number,
                n_versions=n_versions,
                n_clauses=n_clauses or 0,
                updated_at=updated_at.replace(tzinfo=spec.created_at.tzinfo)
                if updated_at.tzinfo is None
                else updated_at,
            )
        )
    return out


def create_spec(session: Session, name: str, description: str = "", created_by: str = "") -> int:
    if spec_exists(session, name):
        raise ConflictError(f"a spec named '{name}' already exists; choose another name")
    spec = m.Spec(name=name, description=description, created_by=created_by)
    session.add(spec)
    session.flush()
    return spec.id


def add_version(
    session: Session,
    spec_name: str,
    content: e.SpecContent,
    *,
    parent_id: int | None,
    author: str = "",
    note: str = "",
) -> e.SpecVersion:
    """Store ``content`` as the next version of ``spec_name`` and return it."""
    spec = _spec_row(session, spec_name)
    number = (
        session.scalar(
            select(func.max(m.SpecVersion.number)).where(m.SpecVersion.spec_id == spec.id)
        )
        or 0
    ) + 1
    version = m.SpecVersion(
        spec_id=spec.id,
        number=number,
        content_hash=content.content_hash(),
        parent_id=parent_id,
        title=content.title,
        preamble=content.preamble,
        author=author,
        note=note,
        created_at=utcnow(),
    )
    session.add(version)
    session.flush()
    for position, c in enumerate(content.clauses):
        session.add(
            m.Clause(
                version_id=version.id,
                position=position,
                code=c.code,
                title=c.title,
                authority=c.authority,
                priority=c.priority,
                hard_constraint=c.hard_constraint,
                rule=c.rule,
                subrules=list(c.subrules),
                rationale=c.rationale,
                examples=list(c.examples),
            )
        )
    session.flush()
    return _version(session, version, spec.name)


def get_version(session: Session, spec_name: str, number: int | None = None) -> e.SpecVersion:
    """The numbered version of a spec, or its latest when ``number`` is None."""
    spec = _spec_row(session, spec_name)
    q = select(m.SpecVersion).where(m.SpecVersion.spec_id == spec.id)
    if number is None:
        q = q.order_by(m.SpecVersion.number.desc()).limit(1)
    else:
        q = q.where(m.SpecVersion.number == number)
    version = session.scalar(q)
    if version is None:
        raise NotFoundError(f"spec '{spec_name}' has no version {number}")
    return _version(session, version, spec.name)


def get_version_by_id(session: Session, version_id: int) -> e.SpecVersion:
    row = session.execute(
        select(m.SpecVersion, m.Spec.name)
        .join(m.Spec, m.Spec.id == m.SpecVersion.spec_id)
        .where(m.SpecVersion.id == version_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no spec version with id {version_id}")
    return _version(session, row[0], row[1])


def list_versions(session: Session, spec_name: str) -> list[e.SpecVersion]:
    spec = _spec_row(session, spec_name)
    rows = session.scalars(
        select(m.SpecVersion)
        .where(m.SpecVersion.spec_id == spec.id)
        .order_by(m.SpecVersion.number.desc())
    )
    return [_version(session, v, spec.name) for v in rows]


def _variant(session: Session, row: m.Variant) -> e.Variant:
    version, spec_name = session.execute(
        select(m.SpecVersion, m.Spec.name)
        .join(m.Spec, m.Spec.id == m.SpecVersion.spec_id)
        .where(m.SpecVersion.id == row.version_id)
    ).one()
    artifact = None
    if row.artifact_id is not None:
        a = session.get(m.Artifact, row.artifact_id)
        assert a is not None
        artifact = _artifact(a)
    return e.Variant(
        id=row.id,
        spec_name=spec_name,
        version_id=row.version_id,
        version_number=version.number,
        name=row.name,
        rendering=row.rendering,
        custom_text=row.custom_text,
        text_hash=row.text_hash,
        word_count=row.word_count,
        artifact=artifact,
        created_by=row.created_by,
        note=row.note,
        created_at=row.created_at,
    )


def add_variant(
    session: Session,
    version_id: int,
    name: str,
    rendering: str,
    *,
    text_hash: str,
    word_count: int,
    custom_text: str | None = None,
    created_by: str = "",
    note: str = "",
) -> e.Variant:
    exists = session.scalar(
        select(m.Variant.id).where(m.Variant.version_id == version_id, m.Variant.name == name)
    )
    if exists is not None:
        raise ConflictError(f"this spec version already has a variant named '{name}'")
    row = m.Variant(
        version_id=version_id,
        name=name,
        rendering=rendering,
        custom_text=custom_text,
        text_hash=text_hash,
        word_count=word_count,
        created_by=created_by,
        note=note,
    )
    session.add(row)
    session.flush()
    return _variant(session, row)


def get_variant(session: Session, variant_id: int) -> e.Variant:
    row = session.get(m.Variant, variant_id)
    if row is None:
        raise NotFoundError(f"no variant with id {variant_id}")
    return _variant(session, row)


def find_variant(session: Session, version_id: int, name: str) -> e.Variant | None:
    row = session.scalar(
        select(m.Variant).where(m.Variant.version_id == version_id, m.Variant.name == name)
    )
    return None if row is None else _variant(session, row)


def list_variants(session: Session, version_id: int) -> list[e.Variant]:
    rows = session.scalars(
        select(m.Variant).where(m.Variant.version_id == version_id).order_by(m.Variant.id)
    )
    return [_variant(session, r) for r in rows]


def set_variant_artifact(session: Session, variant_id: int, artifact_id: int) -> None:
    row = session.get(m.Variant, variant_id)
    if row is None:
        raise NotFoundError(f"no variant with id {variant_id}")
    row.artifact_id = artifact_id
