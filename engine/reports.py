"""Frozen reports and the read-only share links that open them.

A report is a :class:`~engine.compare.snapshot.Snapshot` of a study comparison, checked and
stored once under an unguessable id; nothing updates it afterwards. Its chart specs are
checked on the way in (:func:`engine.compare.charts.check_chart`: inline data only) and again
wherever they are drawn. Reports stored in an older snapshot format open through
:func:`engine.compare.snapshot.read_snapshot`.

A share link is a random token given to its creator once; the database keeps only the token's
SHA-256, so a leaked database does not leak working links. Links can be revoked and expire.
Exports (HTML, CSV, JSON) live in :mod:`engine.report_export`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from db import reports as reportstore
from db.reports import ReportEntity, ReportSummary, ShareLinkEntity
from db.session import Database
from db.types import utcnow
from engine.compare.bidi import neutralise
from engine.compare.charts import check_chart
from engine.compare.snapshot import Snapshot, read_snapshot
from engine.errors import AccessDenied, InputError

DEFAULT_SHARE_LIFETIME = timedelta(days=30)
"""How long a share link works unless its creator asks for another lifetime."""
MAX_TITLE_CHARS = 500
MAX_AUTHOR_CHARS = 200
MAX_TOKEN_CHARS = 256
"""Longer strings are not tokens we issued; they are refused without a lookup."""


@dataclass(frozen=True)
class Report:
    """A frozen report as readers see it: its identity and its typed snapshot.

    Attributes:
        id: the unguessable permalink id.
        study_id: the study it was frozen from (``None`` once that study is deleted).
        title: the report's title (bidirectional controls removed).
        created_by: who froze it.
        created_at: when it was frozen (UTC).
        snapshot: the comparison exactly as it was when frozen.
    """

    id: str
    study_id: int | None
    title: str
    created_by: str
    created_at: datetime
    snapshot: Snapshot


def _report(entity: ReportEntity) -> Report:
    return Report(
        id=entity.id,
        study_id=entity.study_id,
        title=neutralise(entity.title),
        created_by=neutralise(entity.created_by),
        created_at=entity.created_at,
        snapshot=read_snapshot(entity.snapshot),
    )


def _clean_text(value: str, field: str, limit: int) -> str:
    text = neutralise(value).strip()
    if len(text) > limit:
        raise InputError(f"is {len(text)} characters; at most {limit} are allowed", field=field)
    return text


def freeze(
    db: Database,
    *,
    study_id: int | None,
    snapshot: Snapshot | Mapping[str, object],
    title: str,
    author: str,
) -> Report:
    """Store ``snapshot`` as a new report under an unguessable id.

    ``snapshot`` is a :class:`Snapshot` or its JSON data in any readable format (stored in the
    current one). The report keeps its own copy: later changes to the source do not reach it,
    and there is no way to update it. A blank ``title`` takes the snapshot's title.

    Raises:
        InputError: the snapshot is not a valid comparison, has no reproducibility capsule,
            or holds a chart that is not inline data only; or the title or author is too
            long; or the snapshot belongs to another study.
        NotFoundError: there is no study ``study_id``.
    """
    snap = read_snapshot(dict(snapshot) if isinstance(snapshot, Mapping) else snapshot)
    if snap.capsule is None:
        raise InputError(
            "a frozen report needs its reproducibility capsule (engine.compare.capsule)",
            source="report snapshot",
            field="capsule",
        )
    for name, spec in snap.charts.items():
        check_chart(name, spec)
    snap_study = snap.study.id
    if study_id is not None and snap_study is not None and snap_study != study_id:
        raise InputError(
            f"the snapshot is of study #{snap_study}, not #{study_id}",
            source="report snapshot",
            field="study.id",
        )
    name = _clean_text(title.strip() or snap.title, "title", MAX_TITLE_CHARS)
    if not name:
        raise InputError("a report needs a title", field="title")
    by = _clean_text(author, "author", MAX_AUTHOR_CHARS)
    with db.write() as s:
        stored = reportstore.create_report(
            s,
            report_id=secrets.token_urlsafe(9),
            study_id=study_id,
            title=name,
            snapshot=snap.to_dict(),
            created_by=by,
        )
    return _report(stored)


def get_report(db: Database, report_id: str) -> Report:
    """The report behind a permalink.

    Raises:
        NotFoundError: there is no such report.
        InputError: its stored snapshot cannot be read (naming the field).
    """
    with db.read() as s:
        return _report(reportstore.get_report(s, report_id))


def list_reports(db: Database, *, limit: int = 20, offset: int = 0) -> list[ReportSummary]:
    """Reports, newest first, without snapshots (titles with bidirectional controls removed)."""
    with db.read() as s:
        rows = reportstore.list_reports(s, limit=limit, offset=offset)
    return [dataclasses.replace(r, title=neutralise(r.title)) for r in rows]


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a share token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_share_link(
    db: Database,
    report_id: str,
    *,
    author: str,
    expires_in: timedelta | None = DEFAULT_SHARE_LIFETIME,
) -> tuple[str, ShareLinkEntity]:
    """A new read-only link to a report: ``(token, link)``.

    The token is returned only here; the database keeps its hash. ``expires_in=None`` makes
    a link that works until it is revoked.

    Raises:
        InputError: ``expires_in`` is not a positive duration.
        NotFoundError: there is no such report.
    """
    if expires_in is not None and expires_in <= timedelta(0):
        raise InputError(
            f"must be a positive duration, got {expires_in}; revoke a link to end it now",
            field="expires_in",
        )
    token = secrets.token_urlsafe(32)
    expires_at = None if expires_in is None else utcnow() + expires_in
    with db.write() as s:
        link = reportstore.create_share(
            s,
            report_id=report_id,
            token_hash=hash_token(token),
            expires_at=expires_at,
            created_by=_clean_text(author, "author", MAX_AUTHOR_CHARS),
        )
    return token, link


def list_shares(db: Database, report_id: str) -> list[ShareLinkEntity]:
    """A report's share links, newest first (hash prefixes only, never tokens)."""
    with db.read() as s:
        return reportstore.list_shares(s, report_id)


def revoke(db: Database, share_id: int) -> ShareLinkEntity:
    """Stop a share link from working (idempotent)."""
    with db.write() as s:
        return reportstore.revoke_share(s, share_id)


def open_shared(db: Database, token: str, *, now: datetime | None = None) -> Report:
    """The report a share token opens.

    Args:
        token: the token from the link.
        now: the time to check expiry against (default: the current time).

    Raises:
        AccessDenied: the token is invalid, revoked or expired.
        InputError: the report's stored snapshot cannot be read.
    """
    token = token.strip() if isinstance(token, str) else ""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise AccessDenied("invalid")
    with db.read() as s:
        entity = reportstore.resolve_share(s, hash_token(token), now or utcnow())
    return _report(entity)
