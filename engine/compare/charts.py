"""The snapshot's charts: Vega-Lite specs with their data inline, and the check that keeps
them from reaching out.

A chart spec in a frozen report is drawn later in other people's browsers (the report page,
a share link) and by the HTML export's renderer. A Vega-Lite spec can name things to fetch
(``data.url``, image marks and their ``url`` channel, ``href`` links, an external
``$schema``, embed options in ``usermeta``), so :func:`check_chart` refuses any spec that is
not inline data only. It runs when a report is frozen and again each time a chart is drawn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import InputError

CHART_NAMES = ("harmful_bars", "qa_bars", "condition_heatmap", "clause_scores", "loss_curves")
MAX_DEPTH = 64
"""Deepest nesting of objects and lists a chart spec may have."""
VEGA_LITE_SCHEMA = re.compile(r"https://vega\.github\.io/schema/vega-lite/v\d+(\.\d+)*\.json")
"""The only ``$schema`` a chart may name: Vega-Lite's own, by name (nothing fetches it)."""
_REFUSED_KEYS = {
    "url": "names a URL to fetch",
    "href": "makes a link",
    "usermeta": "carries embed options",
}
_URL_LIKE = re.compile(r"://|^\s*(//|(data|javascript|blob|file):)", re.IGNORECASE)
_INLINE_DATA_KEYS = ("name", "values", "format", "sequence", "sphere", "graticule")


def check_chart(name: str, spec: object) -> None:
    """Refuse a chart spec that is not inline data only.

    Raises:
        InputError: naming the chart and the place in its spec (``charts.<name>.<path>``).
    """
    problem = chart_problem(spec)
    if problem is not None:
        path, why = problem
        raise InputError(
            f"chart {name!r} {why}; a report's charts may hold only inline data, with no "
            "URL, link, image or external schema",
            source="report snapshot",
            field=f"charts.{name}" + (f".{path}" if path else ""),
        )


def chart_problem(spec: object) -> tuple[str, str] | None:
    """``(path, why)`` for the first thing in ``spec`` that could fetch or link, else None."""
    if not isinstance(spec, Mapping):
        return "", "is not a Vega-Lite spec (a JSON object)"
    return _walk(spec, "", 0)


def _walk(node: object, path: str, depth: int) -> tuple[str, str] | None:
    if depth > MAX_DEPTH:
        return path, f"is nested deeper than {MAX_DEPTH} levels"
    if isinstance(node, Mapping):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            found = _walk_entry(str(key), value, where, depth)
            if found is not None:
                return found
        return None
    if isinstance(node, list):
        for i, value in enumerate(node):
            found = _walk(value, f"{path}[{i}]", depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(node, str) and _URL_LIKE.search(node):
        return path, f"holds a URL-like value {node[:60]!r}"
    return None


def _walk_entry(key: str, value: object, where: str, depth: int) -> tuple[str, str] | None:
    if key in _REFUSED_KEYS:
        return where, _REFUSED_KEYS[key]
    if key == "$schema":
        if isinstance(value, str) and VEGA_LITE_SCHEMA.fullmatch(value):
            return None
        return where, "names a schema other than Vega-Lite's"
    if key == "mark" and (
        value == "image" or (isinstance(value, Mapping) and value.get("type") == "image")
    ):
        return where, "draws an image mark, which loads pictures from URLs"
    if key == "datasets":
        if not isinstance(value, Mapping) or not all(isinstance(v, list) for v in value.values()):
            return where, "must map dataset names to lists of rows"
        return None  # rows are data: shown as text, never fetched
    if key == "data" and isinstance(value, Mapping):
        extra = [k for k in value if k not in _INLINE_DATA_KEYS]
        if extra:
            return f"{where}.{extra[0]}", "is not inline data"
        rest = {k: v for k, v in value.items() if k != "values"}  # values are data
        return _walk(rest, where, depth + 1)
    return _walk(value, where, depth + 1)


#: The Vega-Lite version the specs are written for (the one the dashboard's renderer reads).
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.4.1.json"


def _field(name: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"field": name, "type": kind, **extra}


def _spec(
    body: dict[str, Any], rows: list[dict[str, Any]], width: int, height: int
) -> dict[str, Any]:
    """A top-level spec whose rows are one named inline dataset."""
    return {
        "config": {"view": {"continuousWidth": 300, "continuousHeight": 300}},
        **body,
        "data": {"name": "rows"},
        "height": height,
        "width": width,
        "$schema": SCHEMA,
        "datasets": {"rows": rows},
    }


def _bars(
    rows: list[dict[str, Any]],
    x: str,
    offset: str,
    y: str,
    lo: str,
    hi: str,
    domain: list[float],
    title: str,
    fmt: str,
) -> dict[str, Any]:
    """Grouped bars (``x`` groups, ``offset`` within) with error bars from ``lo`` to ``hi``."""
    groups = {
        "x": _field(x, "nominal", title=x),
        "xOffset": _field(offset, "nominal"),
    }
    bars = {
        "mark": {"type": "bar"},
        "encoding": {
            "color": _field(offset, "nominal", title=offset),
            "tooltip": [
                _field(x, "nominal"),
                _field(offset, "nominal"),
                *(_field(f, "quantitative", format=".3f") for f in (y, lo, hi)),
            ],
            **groups,
            "y": _field(
                y, "quantitative", axis={"format": fmt}, scale={"domain": domain}, title=title
            ),
        },
    }
    errors = {
        "mark": {"type": "errorbar", "ticks": True},
        "encoding": {
            "color": {"value": "black"},
            **groups,
            "y": _field(lo, "quantitative", scale={"domain": domain}, title=title),
            "y2": {"field": hi},
        },
    }
    return _spec({"layer": [bars, errors]}, rows, 360, 240)


def build_charts(
    table: Sequence[Mapping[str, Any]],
    conditions: Sequence[Mapping[str, Any]],
    clauses: Sequence[Mapping[str, Any]],
    loss_curves: Sequence[Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Vega-Lite specs (data inline) for the snapshot's rows; names as in :data:`CHART_NAMES`.

    Written as plain JSON: the shapes are fixed, and building them through altair's validated
    schema objects cost more than half a second per study page.
    """

    def with_cell(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{**r, "cell": f"{r['variant']}/{r['arm']}"} for r in rows]

    table_rows = [dict(r) for r in table]
    harmful = [r for r in table_rows if r["harmful_rate"] is not None]
    qa = [r for r in table_rows if r["qa_score"] is not None]
    score_title = "QA score 0-10 (95% interval)"
    charts = {
        "harmful_bars": _bars(
            harmful, "variant", "arm", "harmful_rate", "harmful_low", "harmful_high",
            [0, 1], "harmful (95% interval)", ".0%",
        ),
        "qa_bars": _bars(
            qa, "variant", "arm", "qa_score", "qa_low", "qa_high", [0, 10], score_title, "d"
        ),
        "clause_scores": _bars(
            with_cell(clauses), "clause", "cell", "score", "low", "high", [0, 10], score_title,
            "d",
        ),
    }  # fmt: skip
    heat_rows = with_cell(conditions)
    charts["condition_heatmap"] = _spec(
        {
            "mark": {"type": "rect"},
            "encoding": {
                "color": _field(
                    "rate", "quantitative", scale={"domain": [0, 1]}, title="harmful rate"
                ),
                "tooltip": [
                    _field("cell", "nominal"),
                    _field("condition", "nominal"),
                    *(_field(f, "quantitative", format=".3f") for f in ("rate", "low", "high")),
                    _field("n", "quantitative"),
                ],
                "x": _field("condition", "nominal", axis={"labelAngle": -30}, title="condition"),
                "y": _field("cell", "nominal", title="variant/arm"),
            },
        },
        heat_rows,
        max(240, 28 * len({r["condition"] for r in heat_rows})),
        200,
    )
    charts["loss_curves"] = _spec(
        {
            "mark": {"type": "line"},
            "encoding": {
                "color": _field("cell", "nominal", title="variant/arm"),
                "detail": _field("seed", "nominal"),
                "strokeDash": _field("stage", "nominal", title="stage"),
                "tooltip": [
                    _field("cell", "nominal"),
                    _field("stage", "nominal"),
                    _field("seed", "nominal"),
                    _field("step", "quantitative"),
                    _field("loss", "quantitative", format=".4f"),
                ],
                "x": _field("step", "quantitative", title="step"),
                "y": _field("loss", "quantitative", title="training loss"),
            },
        },
        with_cell(loss_curves),
        480,
        260,
    )
    return {name: charts[name] for name in CHART_NAMES}
