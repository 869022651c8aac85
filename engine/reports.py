"""Frozen reports, read-only share links, and exports that open anywhere.

A report is a snapshot of a study comparison (the dict that ``engine.compare`` produces,
``format_version`` 1), validated and stored once under an unguessable id; nothing updates
it afterwards. A share link is a random token given to its creator once; the database keeps
only the token's SHA-256, so a leaked database does not leak working links. Links can be
revoked and expire.

Exports: JSON (the snapshot plus the report's identity), CSV (the headline and comparison
tables, safe to open in a spreadsheet), and a single HTML file that makes no network request
when opened: inline CSS, charts as inline SVG, every piece of user text escaped.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import hashlib
import html
import io
import json
import re
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from db import reports as reportstore
from db.reports import ReportEntity, ReportSummary, ShareLinkEntity
from db.session import Database
from db.types import utcnow
from engine.errors import AccessDenied, InputError, ShareDenied

SNAPSHOT_FORMAT_VERSION = 1
DEFAULT_SHARE_LIFETIME = timedelta(days=30)
"""How long a share link works unless its creator asks for another lifetime."""
MAX_TITLE_CHARS = 500
MAX_AUTHOR_CHARS = 200
MAX_TOKEN_CHARS = 256
"""Longer strings are not tokens we issued; they are refused without a lookup."""


# -- snapshot validation -------------------------------------------------------------------

# Per row list: (text fields, number fields, yes/no fields). Every field is required; a
# number or yes/no may be null (an interval that could not be computed), text may be null.
_ROWS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "table": (
        ("variant", "arm"),
        (
            "runs",
            "seeds",
            "n_agentic",
            "harmful_rate",
            "harmful_low",
            "harmful_high",
            "n_qa",
            "qa_score",
            "qa_low",
            "qa_high",
            "p_harmful_fc",
        ),
        (),
    ),
    "comparisons": (
        ("a", "b", "metric", "method"),
        ("diff", "low", "high", "p_value", "p_holm", "n_pairs"),
        ("within_noise",),
    ),
    "conditions": (("variant", "arm", "condition"), ("rate", "low", "high", "n"), ()),
    "clauses": (("variant", "arm", "clause"), ("score", "low", "high", "n"), ()),
    "loss_curves": (("variant", "arm"), ("seed", "step", "loss"), ()),
}
_STUDY_KEYS = ("id", "name", "spec", "status", "created_by", "created_at")
REQUIRED_KEYS = ("format_version", "title", "study", *_ROWS, "charts", "capsule")


def _plain(o: Any) -> Any:
    # NumPy/pandas scalars leak out of dataframes; store them as the Python numbers they are.
    item = getattr(o, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(o).__name__} is not JSON data")


def _fail(message: str, field: str | None = None) -> InputError:
    return InputError(message, source="report snapshot", field=field)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_text(v: Any) -> bool:
    return isinstance(v, str)


def _is_flag(v: Any) -> bool:
    return isinstance(v, bool)


def validate_snapshot(snapshot: Any) -> dict[str, Any]:
    """A deep, JSON-plain copy of ``snapshot`` after checking it is a format-1 comparison.

    Raises:
        InputError: naming the field that is missing or of the wrong type.
    """
    if not isinstance(snapshot, dict):
        raise _fail(f"expected a JSON object, got {type(snapshot).__name__}")
    try:
        plain: dict[str, Any] = json.loads(json.dumps(snapshot, allow_nan=False, default=_plain))
    except ValueError as exc:
        raise _fail(f"numbers must be finite; use null for a missing value ({exc})") from exc
    except TypeError as exc:
        raise _fail(f"holds something that is not JSON data: {exc}") from exc
    missing = [k for k in REQUIRED_KEYS if k not in plain]
    if missing:
        raise _fail(f"missing keys: {', '.join(missing)}", missing[0])
    version = plain["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version != 1:
        raise _fail(
            f"format_version {version!r} is not supported; this SpecLab reads version "
            f"{SNAPSHOT_FORMAT_VERSION}. Recompute the comparison and freeze it again.",
            "format_version",
        )
    if not isinstance(plain["title"], str):
        raise _fail("must be text", "title")
    study = plain["study"]
    if not isinstance(study, dict):
        raise _fail("must be an object", "study")
    for key in _STUDY_KEYS:
        if key not in study:
            raise _fail("missing", f"study.{key}")
    for section, (texts, numbers, flags) in _ROWS.items():
        rows = plain[section]
        if not isinstance(rows, list):
            raise _fail("must be a list of rows", section)
        for i, row in enumerate(rows):
            where = f"{section}[{i}]"
            if not isinstance(row, dict):
                raise _fail("must be an object", where)
            for keys, ok, kind in (
                (texts, _is_text, "text"),
                (numbers, _is_number, "a number"),
                (flags, _is_flag, "true or false"),
            ):
                for key in keys:
                    if key not in row:
                        raise _fail("missing", f"{where}.{key}")
                    if row[key] is not None and not ok(row[key]):
                        raise _fail(f"must be {kind} or null, got {row[key]!r}", f"{where}.{key}")
    charts = plain["charts"]
    if not isinstance(charts, dict) or not all(isinstance(c, dict) for c in charts.values()):
        raise _fail("must map chart names to Vega-Lite specs", "charts")
    if not isinstance(plain["capsule"], dict):
        raise _fail("must be an object", "capsule")
    return plain


# -- use cases -----------------------------------------------------------------------------


def _clean_text(value: str, field: str, limit: int) -> str:
    text = value.strip()
    if len(text) > limit:
        raise InputError(f"is {len(text)} characters; at most {limit} are allowed", field=field)
    return text


def freeze(
    db: Database,
    *,
    study_id: int | None,
    snapshot: dict[str, Any],
    title: str,
    author: str,
) -> ReportEntity:
    """Store ``snapshot`` as a new report under an unguessable id.

    The report keeps its own copy: later changes to ``snapshot`` do not reach it, and there
    is no way to update it. A blank ``title`` takes the snapshot's title.

    Raises:
        InputError: the snapshot is not a valid format-1 comparison, or the title or author
            is too long, or the snapshot belongs to another study.
        NotFoundError: there is no study ``study_id``.
    """
    plain = validate_snapshot(snapshot)
    snap_study = plain["study"]["id"]
    if study_id is not None and snap_study is not None and snap_study != study_id:
        raise _fail(f"the snapshot is of study #{snap_study}, not #{study_id}", "study.id")
    name = _clean_text(title.strip() or plain["title"], "title", MAX_TITLE_CHARS)
    if not name:
        raise InputError("a report needs a title", field="title")
    by = _clean_text(author, "author", MAX_AUTHOR_CHARS)
    with db.write() as s:
        stored = reportstore.create_report(
            s,
            report_id=secrets.token_urlsafe(9),
            study_id=study_id,
            title=name,
            snapshot=plain,
            created_by=by,
        )
    # The store holds ``plain``; hand the caller a copy so its edits cannot alias it.
    return dataclasses.replace(stored, snapshot=copy.deepcopy(plain))


def get_report(db: Database, report_id: str) -> ReportEntity:
    """The report behind a permalink (:class:`NotFoundError` if there is none)."""
    with db.read() as s:
        return reportstore.get_report(s, report_id)


def list_reports(db: Database, *, limit: int = 20, offset: int = 0) -> list[ReportSummary]:
    """Reports, newest first, without snapshots."""
    with db.read() as s:
        return reportstore.list_reports(s, limit=limit, offset=offset)


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


def open_shared(db: Database, token: str, *, now: datetime | None = None) -> ReportEntity:
    """The report a share token opens.

    Args:
        token: the token from the link.
        now: the time to check expiry against (default: the current time).

    Raises:
        AccessDenied: the token is invalid, revoked or expired.
    """
    token = token.strip() if isinstance(token, str) else ""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise AccessDenied("invalid")
    with db.read() as s:
        try:
            return reportstore.resolve_share(s, hash_token(token), now or utcnow())
        except ShareDenied as exc:
            raise AccessDenied("invalid" if exc.reason == "unknown" else exc.reason) from None


# -- JSON and CSV --------------------------------------------------------------------------


def export_json(report: ReportEntity) -> str:
    """The snapshot plus the report's id, title, author and freeze time, as stable JSON."""
    data = dict(report.snapshot)
    data["report"] = {
        "id": report.id,
        "title": report.title,
        "created_by": report.created_by,
        "created_at": report.created_at.isoformat(),
    }
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return repr(value)
    text = str(value)
    # A spreadsheet runs a cell that starts with one of these as a formula.
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_fields(section: str) -> tuple[str, ...]:
    texts, numbers, flags = _ROWS[section]
    if section == "comparisons":
        return ("a", "b", "metric", *numbers, "method", *flags)
    return (*texts, *numbers, *flags)


def export_csv(report: ReportEntity) -> str:
    """The headline table, a blank line, then the comparisons; safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    for i, section in enumerate(("table", "comparisons")):
        if i:
            writer.writerow([])
        fields = _csv_fields(section)
        writer.writerow(fields)
        for row in report.snapshot.get(section, []):
            writer.writerow([_csv_cell(row.get(f)) for f in fields])
    return out.getvalue()


# -- HTML ----------------------------------------------------------------------------------


def _esc(value: Any) -> str:
    """HTML-escaped text; ``://`` becomes ``&#58;//`` so no URL appears in the file's bytes
    (it displays the same, and nothing in a text node or a kept attribute fetches it)."""
    return html.escape("" if value is None else str(value), quote=True).replace("://", "&#58;//")


def _pct(v: float) -> str:
    return f"{v * 100:.1f}%"


def _points(v: float) -> str:
    return f"{v * 100:+.1f} pp"


def _score(v: float) -> str:
    return f"{v:.2f}"


def _signed(v: float) -> str:
    return f"{v:+.2f}"


def _p(v: float) -> str:
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def _count(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(v)


def _num(path: str, value: Any, fmt: Callable[[float], str]) -> str:
    """A number as displayed, with the exact stored value alongside for checking."""
    shown = "—" if value is None else fmt(value)
    return (
        f'<span class="num" data-path="{_esc(path)}" data-value="{_esc(json.dumps(value))}">'
        f"{_esc(shown)}</span>"
    )


def _interval(path: str, row: dict[str, Any], keys: Sequence[str], fmt: Callable[..., str]) -> str:
    mid, low, high = keys
    return (
        f'{_num(f"{path}.{mid}", row.get(mid), fmt)} <span class="ci">['
        f"{_num(f'{path}.{low}', row.get(low), fmt)}, "
        f"{_num(f'{path}.{high}', row.get(high), fmt)}]</span>"
    )


def _text_cell(value: Any) -> str:
    return f'<td dir="auto">{_esc(value)}</td>'


def _table(caption: str, headers: Sequence[str], rows: Sequence[str]) -> str:
    if not rows:
        return f'<h2>{_esc(caption)}</h2><p class="empty">No rows.</p>'
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    return (
        f"<h2>{_esc(caption)}</h2><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _is_rate(metric: Any) -> bool:
    name = str(metric or "").lower()
    return "rate" in name or "harm" in name


def _headline(snapshot: dict[str, Any]) -> str:
    rows = []
    for i, r in enumerate(snapshot.get("table", [])):
        p = f"table.{i}"
        rows.append(
            "<tr>"
            + _text_cell(r.get("variant"))
            + _text_cell(r.get("arm"))
            + f"<td>{_num(f'{p}.runs', r.get('runs'), _count)}</td>"
            + f"<td>{_num(f'{p}.seeds', r.get('seeds'), _count)}</td>"
            + f"<td>{_interval(p, r, ('harmful_rate', 'harmful_low', 'harmful_high'), _pct)}</td>"
            + f"<td>{_num(f'{p}.n_agentic', r.get('n_agentic'), _count)}</td>"
            + f"<td>{_interval(p, r, ('qa_score', 'qa_low', 'qa_high'), _score)}</td>"
            + f"<td>{_num(f'{p}.n_qa', r.get('n_qa'), _count)}</td>"
            + f"<td>{_num(f'{p}.p_harmful_fc', r.get('p_harmful_fc'), _p)}</td>"
            + "</tr>"
        )
    headers = (
        "Variant",
        "Arm",
        "Runs",
        "Seeds",
        "Misalignment (harmful) rate [95% CI]",
        "n agentic",
        "QA score [95% CI]",
        "n QA",
        "p harmful (FC)",
    )
    return _table("Headline", headers, rows)


def _comparisons(snapshot: dict[str, Any]) -> str:
    rows = []
    for i, r in enumerate(snapshot.get("comparisons", [])):
        p = f"comparisons.{i}"
        fmt = _points if _is_rate(r.get("metric")) else _signed
        noise = r.get("within_noise")
        badge = (
            '<span class="badge noise">within noise</span>'
            if noise is True
            else '<span class="badge signal">beyond noise</span>'
            if noise is False
            else ""
        )
        rows.append(
            "<tr>"
            + _text_cell(r.get("a"))
            + _text_cell(r.get("b"))
            + _text_cell(r.get("metric"))
            + f"<td>{_interval(p, r, ('diff', 'low', 'high'), fmt)}</td>"
            + f"<td>{_num(f'{p}.p_value', r.get('p_value'), _p)}</td>"
            + f"<td>{_num(f'{p}.p_holm', r.get('p_holm'), _p)}</td>"
            + f"<td>{_num(f'{p}.n_pairs', r.get('n_pairs'), _count)}</td>"
            + _text_cell(r.get("method"))
            + f"<td>{badge}</td>"
            + "</tr>"
        )
    headers = ("A", "B", "Metric", "B − A [95% CI]", "p", "p (Holm)", "Pairs", "Method", "")
    return _table("Paired comparisons", headers, rows)


def _breakdown(
    snapshot: dict[str, Any], section: str, label: str, value: str, fmt: Callable[..., str]
) -> str:
    rows = []
    key = "condition" if section == "conditions" else "clause"
    for i, r in enumerate(snapshot.get(section, [])):
        p = f"{section}.{i}"
        rows.append(
            "<tr>"
            + _text_cell(r.get("variant"))
            + _text_cell(r.get("arm"))
            + _text_cell(r.get(key))
            + f"<td>{_interval(p, r, (value, 'low', 'high'), fmt)}</td>"
            + f"<td>{_num(f'{p}.n', r.get('n'), _count)}</td>"
            + "</tr>"
        )
    return _table(
        label, ("Variant", "Arm", key.capitalize(), f"{value.capitalize()} [95% CI]", "n"), rows
    )


_DROP_ELEMENTS = {"script", "style", "foreignObject", "image", "use", "iframe", "object", "embed"}
_EXTERNAL_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)", re.IGNORECASE)


def _local(name: str) -> tuple[str | None, str]:
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return ns, local
    return None, name


def _clean_svg(node: ElementTree.Element) -> list[ElementTree.Element]:
    """``node`` without anything that could fetch, link or run: the elements to keep."""
    _, tag = _local(node.tag)
    if tag in _DROP_ELEMENTS:
        return []
    kept = [c for child in list(node) for c in _clean_svg(child)]
    if tag == "a":  # keep a link's content, drop the link
        return kept
    node.tag = tag  # an inline <svg> in HTML needs no namespace declarations
    for name, value in list(node.attrib.items()):
        ns, local = _local(name)
        del node.attrib[name]
        if ns is not None or local.lower().startswith("on") or local in ("href", "src"):
            continue
        if _EXTERNAL_URL.search(value) or "javascript:" in value.lower():
            continue
        node.attrib[local] = value
    node[:] = kept
    return [node]


def _chart_svg(name: str, spec: dict[str, Any]) -> str:
    import vl_convert as vlc  # a native renderer: loaded only when a report is exported

    try:
        raw = vlc.vegalite_to_svg(spec, allowed_base_urls=[])
        root = ElementTree.fromstring(raw)
    except (ValueError, ElementTree.ParseError) as exc:
        # The renderer's message ends in a JavaScript stack; its last other line says why.
        lines = [ln.strip() for ln in str(exc).splitlines()]
        why = [ln for ln in lines if ln and not ln.startswith("at ")][-1:] or ["unknown error"]
        return f'<p class="empty">Chart “{_esc(name)}” could not be drawn: {_esc(why[0])}</p>'
    (clean,) = _clean_svg(root)
    return ElementTree.tostring(clean, encoding="unicode").replace("://", "&#58;//")


def _figure(name: str, spec: dict[str, Any]) -> str:
    caption = f'<figcaption dir="auto">{_esc(name)}</figcaption>'
    return f"<figure>{caption}{_chart_svg(name, spec)}</figure>"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1b1f24;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}
.meta{color:#57606a}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.num{font-variant-numeric:tabular-nums}.ci{color:#57606a}
.badge{border-radius:1rem;padding:.05rem .5rem;font-size:.8rem;white-space:nowrap}
.noise{background:#eaeef2;color:#57606a}.signal{background:#dafbe1;color:#116329}
figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.3rem}
pre{background:#f6f8fa;padding:1rem;overflow:auto;font-size:.8rem}
footer{margin-top:2rem;border-top:1px solid #d0d7de;padding-top:.5rem;color:#57606a}
.empty{color:#57606a;font-style:italic}
"""


def export_html(report: ReportEntity) -> str:
    """One self-contained HTML file: opens offline and makes no network request.

    Numbers are shown formatted (rates as percentages with one decimal) and carry their
    exact stored value in ``data-value`` (and their place in the snapshot in ``data-path``).
    """
    snap = report.snapshot
    study = snap.get("study", {})
    charts = "".join(_figure(name, spec) for name, spec in snap.get("charts", {}).items())
    capsule = json.dumps(snap.get("capsule", {}), sort_keys=True, indent=2, ensure_ascii=False)
    created = report.created_at.isoformat(timespec="seconds")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(report.title)}</title><style>{_CSS}</style></head><body>"
        f'<h1 dir="auto">{_esc(report.title)}</h1>'
        f'<p class="meta" dir="auto">Study #{_esc(study.get("id"))} '
        f"“{_esc(study.get('name'))}” · spec {_esc(study.get('spec'))} · "
        f"status {_esc(study.get('status'))} · by {_esc(study.get('created_by'))} · "
        f"started {_esc(study.get('created_at'))}</p>"
        + _headline(snap)
        + _comparisons(snap)
        + _breakdown(snap, "conditions", "By condition", "rate", _pct)
        + _breakdown(snap, "clauses", "By clause", "score", _score)
        + (f"<h2>Charts</h2>{charts}" if charts else "")
        + f"<h2>Reproducibility capsule</h2><pre>{_esc(capsule)}</pre>"
        + f'<footer dir="auto">Report {_esc(report.id)} · frozen by {_esc(report.created_by)}'
        f" · {_esc(created)} · snapshot format {_esc(snap.get('format_version'))}</footer>"
        "</body></html>\n"
    )
