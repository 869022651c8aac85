"""Report exports that open anywhere: JSON, CSV and a single self-contained HTML file.

Every export reads the report's typed :class:`~engine.compare.snapshot.Snapshot`.

* **JSON** — the snapshot (current format) plus the report's identity.
* **CSV** — the headline and comparison tables, safe to open in a spreadsheet: every text
  cell a spreadsheet could read as a formula is defused (:func:`defuse_cell`).
* **HTML** — one file that makes no network request when opened: inline CSS, charts as
  inline SVG (each chart spec checked again by :func:`engine.compare.charts.check_chart`, and
  refused with a message instead of drawn when it could fetch anything), every piece of user
  text escaped and isolated in its own ``dir="auto"`` element.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable, Sequence
from xml.etree import ElementTree

from engine.compare.bidi import neutralise
from engine.compare.snapshot import (
    BEYOND_NOISE,
    FORMAT_VERSION,
    TOO_SMALL,
    WITHIN_NOISE,
    ChartCheck,
    ClauseRow,
    ConditionRow,
    Json,
    Snapshot,
    TableRow,
    too_small,
)
from engine.reports import Report

# -- JSON and CSV --------------------------------------------------------------------------


def export_json(report: Report) -> str:
    """The snapshot plus the report's id, title, author and freeze time, as stable JSON."""
    data = report.snapshot.to_dict()
    data["report"] = {
        "id": report.id,
        "title": report.title,
        "created_by": report.created_by,
        "created_at": report.created_at.isoformat(),
    }
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)


FORMULA_SIGNS = "=+-@|\uff1d\uff0b\uff0d\uff20\uff5c"
"""Characters that make a spreadsheet read a cell as a formula (or a DDE call), full-width
forms included (Excel folds ＝＋－＠ to their ASCII twins)."""
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def defuse_cell(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet runs: prefixed with ``'`` when it, or any line of
    it, starts with a formula sign after leading whitespace, or it holds a pipe anywhere."""
    text = neutralise(text)
    lines = _LINE_BREAKS.split(text)
    risky = (
        text[:1] in ("\t", "\r")
        or any(line.lstrip()[:1] in FORMULA_SIGNS and line.lstrip() for line in lines)
        or "|" in text
        or "\uff5c" in text
    )
    return "'" + text if risky else text


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return defuse_cell(str(value))


TABLE_FIELDS = (
    "variant", "arm", "runs", "seeds", "n_agentic", "harmful_rate", "harmful_low",
    "harmful_high", "n_qa", "qa_score", "qa_low", "qa_high", "p_harmful_fc",
)  # fmt: skip
COMPARISON_FIELDS = (
    "a", "b", "metric", "diff", "low", "high", "p_value", "p_holm", "n_pairs", "method",
    "within_noise", "verdict",
)  # fmt: skip


INSTRUMENT_FIELDS = (
    "suite", "judge", "labelled_set", "n", "accuracy", "kappa", "uncertain_rate", "note",
    "heldout_set", "heldout_n", "heldout_accuracy", "heldout_kappa",
)  # fmt: skip


def export_csv(report: Report) -> str:
    """The headline table, the comparisons and the instruments, each after a blank line; safe
    to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    sections: tuple[tuple[tuple[str, ...], Sequence[object]], ...] = (
        (TABLE_FIELDS, report.snapshot.table),
        (COMPARISON_FIELDS, report.snapshot.comparisons),
        (INSTRUMENT_FIELDS, report.snapshot.instruments),
    )
    for i, (fields, rows) in enumerate(sections):
        if i:
            writer.writerow([])
        writer.writerow(fields)
        for row in rows:
            writer.writerow([_csv_cell(getattr(row, f)) for f in fields])
    return out.getvalue()


# -- HTML ----------------------------------------------------------------------------------


def _esc(value: object) -> str:
    """HTML-escaped text; ``://`` becomes ``&#58;//`` so no URL appears in the file's bytes
    (it displays the same, and nothing in a text node or a kept attribute fetches it)."""
    text = "" if value is None else neutralise(str(value))
    return html.escape(text, quote=True).replace("://", "&#58;//")


escape = _esc
"""The escaping every HTML export uses, for modules that add to one (:mod:`.report_bundle`)."""


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


def _num(path: str, value: float | int | None, fmt: Callable[[float], str]) -> str:
    """A number as displayed, with the exact stored value alongside for checking."""
    shown = "—" if value is None else fmt(value)
    return (
        f'<span class="num" data-path="{_esc(path)}" data-value="{_esc(json.dumps(value))}">'
        f"{_esc(shown)}</span>"
    )


def _interval(
    path: str, row: object, keys: Sequence[str], fmt: Callable[[float], str], n: int
) -> str:
    mid, low, high = keys
    bounds = (
        f"{_num(f'{path}.{low}', getattr(row, low), fmt)}, "
        f"{_num(f'{path}.{high}', getattr(row, high), fmt)}"
    )
    if too_small(n):
        # The bounds stay in the file for checking, but the reader sees why they are not shown.
        return (
            f'{_num(f"{path}.{mid}", getattr(row, mid), fmt)} <span class="ci">'
            f"[{_esc(TOO_SMALL)}]<span hidden>{bounds}</span></span>"
        )
    return f'{_num(f"{path}.{mid}", getattr(row, mid), fmt)} <span class="ci">[{bounds}]</span>'


def _text_cell(value: object) -> str:
    return f'<td dir="auto">{_esc(value)}</td>'


def _table(caption: str, headers: Sequence[str], rows: Sequence[str]) -> str:
    if not rows:
        return f'<h2>{_esc(caption)}</h2><p class="empty">No rows.</p>'
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    return (
        f"<h2>{_esc(caption)}</h2><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _is_rate(metric: str) -> bool:
    name = metric.lower()
    return "rate" in name or "harm" in name


HARMFUL_KEYS = ("harmful_rate", "harmful_low", "harmful_high")


def _headline(table: Sequence[TableRow]) -> str:
    rows = []
    for i, r in enumerate(table):
        p = f"table.{i}"
        rows.append(
            "<tr>"
            + _text_cell(r.variant)
            + _text_cell(r.arm)
            + f"<td>{_num(f'{p}.runs', r.runs, _count)}</td>"
            + f"<td>{_num(f'{p}.seeds', r.seeds, _count)}</td>"
            + f"<td>{_interval(p, r, HARMFUL_KEYS, _pct, r.n_agentic)}</td>"
            + f"<td>{_num(f'{p}.n_agentic', r.n_agentic, _count)}</td>"
            + f"<td>{_interval(p, r, ('qa_score', 'qa_low', 'qa_high'), _score, r.n_qa)}</td>"
            + f"<td>{_num(f'{p}.n_qa', r.n_qa, _count)}</td>"
            + f"<td>{_num(f'{p}.p_harmful_fc', r.p_harmful_fc, _p)}</td>"
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


def _instruments(snapshot: Snapshot) -> str:
    rows = []
    for i, r in enumerate(snapshot.instruments):
        p = f"instruments.{i}"
        rows.append(
            "<tr>"
            + _text_cell(r.suite)
            + _text_cell(r.judge)
            + _text_cell(r.labelled_set or "—")
            + f"<td>{_num(f'{p}.n', r.n, _count)}</td>"
            + f"<td>{_num(f'{p}.accuracy', r.accuracy, _p)}</td>"
            + f"<td>{_num(f'{p}.kappa', r.kappa, _p)}</td>"
            + _text_cell(r.heldout_set or "—")
            + f"<td>{_num(f'{p}.heldout_n', r.heldout_n, _count)}</td>"
            + f"<td>{_num(f'{p}.heldout_accuracy', r.heldout_accuracy, _p)}</td>"
            + f"<td>{_num(f'{p}.heldout_kappa', r.heldout_kappa, _p)}</td>"
            + _text_cell(r.note)
            + "</tr>"
        )
    if not rows:
        return ""
    headers = (
        "Suite", "Judge", "Labelled set", "n", "Accuracy", "Kappa",
        "Held-out set", "Held-out n", "Held-out accuracy", "Held-out kappa", "Note",
    )  # fmt: skip
    return _table("Instruments (agreement with labelled truth)", headers, rows)


def _comparisons(snapshot: Snapshot) -> str:
    rows = []
    for i, r in enumerate(snapshot.comparisons):
        p = f"comparisons.{i}"
        fmt = _points if _is_rate(r.metric) else _signed
        css = "noise" if r.within_noise else "signal"
        badge = f'<span class="badge {css}">{_esc(snapshot.verdict_of(r))}</span>'
        rows.append(
            "<tr>"
            + _text_cell(r.a)
            + _text_cell(r.b)
            + _text_cell(r.metric)
            + f"<td>{_interval(p, r, ('diff', 'low', 'high'), fmt, r.n_pairs)}</td>"
            + f"<td>{_num(f'{p}.p_value', r.p_value, _p)}</td>"
            + f"<td>{_num(f'{p}.p_holm', r.p_holm, _p)}</td>"
            + f"<td>{_num(f'{p}.n_pairs', r.n_pairs, _count)}</td>"
            + _text_cell(r.method)
            + f"<td>{badge}</td>"
            + "</tr>"
        )
    headers = ("A", "B", "Metric", "B − A [95% CI]", "p", "p (Holm)", "Pairs", "Method", "")
    return _table("Paired comparisons", headers, rows)


def _breakdown(
    rows_in: Sequence[ConditionRow | ClauseRow],
    section: str,
    label: str,
    value: str,
    fmt: Callable[[float], str],
) -> str:
    rows = []
    key = "condition" if section == "conditions" else "clause"
    for i, r in enumerate(rows_in):
        p = f"{section}.{i}"
        rows.append(
            "<tr>"
            + _text_cell(r.variant)
            + _text_cell(r.arm)
            + _text_cell(getattr(r, key))
            + f"<td>{_interval(p, r, (value, 'low', 'high'), fmt, r.n)}</td>"
            + f"<td>{_num(f'{p}.n', r.n, _count)}</td>"
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


def _chart_svg(name: str, spec: dict[str, Json]) -> str:
    import vl_convert as vlc  # a native renderer: loaded only when a report is exported

    try:
        raw = vlc.vegalite_to_svg(spec, allowed_base_urls=[])
        root = ElementTree.fromstring(raw)
    except (ValueError, ElementTree.ParseError) as exc:
        # The renderer's message ends in a JavaScript stack; its last other line says why.
        lines = [ln.strip() for ln in str(exc).splitlines()]
        last = [ln for ln in lines if ln and not ln.startswith("at ")][-1:] or ["unknown error"]
        return f'<p class="empty">Chart “{_esc(name)}” could not be drawn: {_esc(last[0])}</p>'
    (clean,) = _clean_svg(root)
    return ElementTree.tostring(clean, encoding="unicode").replace("://", "&#58;//")


def _figure(chart: ChartCheck) -> str:
    caption = f'<figcaption dir="auto">{_esc(chart.name)}</figcaption>'
    if chart.refusal is not None:
        refused = f'<p class="refused">Chart refused: {_esc(chart.refusal)}.</p>'
        return f"<figure>{caption}{refused}</figure>"
    return f"<figure>{caption}{_chart_svg(chart.name, chart.spec)}</figure>"


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
.refused{color:#82071e;background:#ffebe9;padding:.3rem .5rem}
"""


def export_html(report: Report, *, extra: str = "") -> str:
    """One self-contained HTML file: opens offline and makes no network request.

    Numbers are shown formatted (rates as percentages with one decimal) and carry their
    exact stored value in ``data-value`` (and their place in the JSON export in ``data-path``).
    ``extra`` (HTML built with this module's escaping) goes after the capsule: the samples of
    a report bundle (:mod:`engine.report_bundle`).
    """
    snap: Snapshot = report.snapshot
    study = snap.study
    charts = "".join(_figure(chart) for chart in snap.checked_charts())
    capsule = (
        json.dumps(snap.capsule.to_dict(), sort_keys=True, indent=2, ensure_ascii=False)
        if snap.capsule is not None
        else "not recorded"
    )
    created = report.created_at.isoformat(timespec="seconds")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(report.title)}</title><style>{_CSS}</style></head><body>"
        f'<h1 dir="auto">{_esc(report.title)}</h1>'
        f'<p class="meta">Study #{_esc(study.id)} '
        f"“<bdi>{_esc(study.name)}</bdi>” · spec <bdi>{_esc(study.spec)}</bdi> · "
        + (f"model <bdi>{_esc(study.model)}</bdi> · " if study.model else "")
        + f"status {_esc(study.status)} · by <bdi>{_esc(study.created_by)}</bdi> · "
        f"started {_esc(study.created_at)}</p>"
        + _headline(snap.table)
        + _instruments(snap)
        + _comparisons(snap)
        + _breakdown(snap.conditions, "conditions", "By condition", "rate", _pct)
        + _breakdown(snap.clauses, "clauses", "By clause", "score", _score)
        + (f"<h2>Charts</h2>{charts}" if charts else "")
        + f'<h2>Reproducibility capsule</h2><pre dir="ltr">{_esc(capsule)}</pre>'
        + extra
        + f'<footer dir="auto">Report {_esc(report.id)} · frozen by {_esc(report.created_by)}'
        f" · {_esc(created)} · snapshot format {FORMAT_VERSION} · verdicts: "
        f"{WITHIN_NOISE} / {BEYOND_NOISE}</footer>"
        "</body></html>\n"
    )
