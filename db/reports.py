"""Queries for frozen reports and the share links that open them.

A report is written once and never updated: this module has no update function, so a
report's snapshot is exactly what was frozen. Share links store only the SHA-256 of their
token; the entities here expose a short prefix of that hash, never a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models as m
from db.errors import AccessDenied, NotFoundError
from db.types import utcnow

HASH_PREFIX_CHARS = 8
"""How many hex characters of a token's hash a share link shows (enough to tell links apart)."""


@dataclass(frozen=True)
class ReportSummary:
    """A report without its snapshot, for listings.

    Attributes:
        id: the unguessable permalink id.
        study_id: the study it was frozen from (``None`` once that study is deleted).
        title: the report's title.
        created_by: who froze it.
        created_at: when it was frozen (UTC).
    """

    id: str
    study_id: int | None
    title: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class ReportEntity(ReportSummary):
    """A frozen report with its snapshot (the comparison exactly as it was when frozen).

    Attributes:
        snapshot: the comparison data (``format_version``, ``table``, ``comparisons``, …).
    """

    snapshot: dict[str, Any]


@dataclass(frozen=True)
class ShareLinkEntity:
    """A read-only share link; the token itself is never stored or shown.

    Attributes:
        id: the link's number, used to revoke it.
        report_id: the report it opens.
        hash_prefix: the first characters of the token's SHA-256, to tell links apart.
        created_by: who created it.
        created_at: when it was created (UTC).
        expires_at: when it stops working (``None``: never).
        revoked_at: when it was revoked, if it was.
    """

    id: int
    report_id: str
    hash_prefix: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime | None = None) -> Literal["active", "revoked", "expired"]:
        """Whether the link opens its report at ``now`` (default: the current time)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        return "active"


def _summary(r: m.Report) -> ReportSummary:
    return ReportSummary(
        id=r.id,
        study_id=r.study_id,
        title=r.title,
        created_by=r.created_by,
        created_at=r.created_at,
    )


def _entity(r: m.Report) -> ReportEntity:
    return ReportEntity(
        id=r.id,
        study_id=r.study_id,
        title=r.title,
        created_by=r.created_by,
        created_at=r.created_at,
        snapshot=r.snapshot,
    )


def _share(s: m.ShareLink) -> ShareLinkEntity:
    return ShareLinkEntity(
        id=s.id,
        report_id=s.report_id,
        hash_prefix=s.token_hash[:HASH_PREFIX_CHARS],
        created_by=s.created_by,
        created_at=s.created_at,
        expires_at=s.expires_at,
        revoked_at=s.revoked_at,
    )


def create_report(
    session: Session,
    *,
    report_id: str,
    study_id: int | None,
    title: str,
    snapshot: dict[str, Any],
    created_by: str,
) -> ReportEntity:
    """Store a report; the caller passes a snapshot that nothing else holds a reference to."""
    if study_id is not None and session.get(m.Study, study_id) is None:
        raise NotFoundError(f"no study #{study_id} to freeze a report from")
    row = m.Report(
        id=report_id, study_id=study_id, title=title, snapshot=snapshot, created_by=created_by
    )
    session.add(row)
    session.flush()
    return _entity(row)


def get_report(session: Session, report_id: str) -> ReportEntity:
    row = session.get(m.Report, report_id)
    if row is None:
        raise NotFoundError(f"no report {report_id!r}; check the permalink")
    return _entity(row)


def list_reports(session: Session, limit: int = 20, offset: int = 0) -> list[ReportSummary]:
    """Reports, newest first, without their (large) snapshots."""
    rows = session.execute(
        select(
            m.Report.id, m.Report.study_id, m.Report.title, m.Report.created_by, m.Report.created_at
        )
        .order_by(m.Report.created_at.desc(), m.Report.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        ReportSummary(id=r[0], study_id=r[1], title=r[2], created_by=r[3], created_at=r[4])
        for r in rows
    ]


def create_share(
    session: Session,
    *,
    report_id: str,
    token_hash: str,
    expires_at: datetime | None,
    created_by: str,
) -> ShareLinkEntity:
    if session.get(m.Report, report_id) is None:
        raise NotFoundError(f"no report {report_id!r} to share")
    row = m.ShareLink(
        report_id=report_id, token_hash=token_hash, expires_at=expires_at, created_by=created_by
    )
    session.add(row)
    session.flush()
    return _share(row)


def revoke_share(session: Session, share_id: int) -> ShareLinkEntity:
    """Revoke a link; revoking it again keeps the first revocation time."""
    row = session.get(m.ShareLink, share_id)
    if row is None:
        raise NotFoundError(f"no share link #{share_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return _share(row)


def list_shares(session: Session, report_id: str) -> list[ShareLinkEntity]:
    """A report's share links, newest first."""
    rows = session.scalars(
        select(m.ShareLink)
        .where(m.ShareLink.report_id == report_id)
        .order_by(m.ShareLink.created_at.desc(), m.ShareLink.id.desc())
    )
    return [_share(r) for r in rows]


def resolve_share(session: Session, token_hash: str, now: datetime) -> ReportEntity:
    """The report a token's hash opens at ``now``, or :class:`AccessDenied` saying why not
    (an unknown token reads ``invalid``, like a malformed one)."""
    link = session.scalar(select(m.ShareLink).where(m.ShareLink.token_hash == token_hash))
    if link is None:
        raise AccessDenied("invalid")
    if link.revoked_at is not None:
        raise AccessDenied("revoked")
    if link.expires_at is not None and link.expires_at <= now:
        raise AccessDenied("expired")
    return get_report(session, link.report_id)


def get_share(session: Session, share_id: int) -> ShareLinkEntity:
    """One share link by number; :class:`NotFoundError` if there is none."""
    row = session.get(m.ShareLink, share_id)
    if row is None:
        raise NotFoundError(f"no share link #{share_id}")
    return _share(row)
