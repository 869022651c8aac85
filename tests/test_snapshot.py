"""The one snapshot type: format-1 reports still open, JSON round-trips, and reports cannot
reach out (chart specs checked at freeze and at render, CSV defused, bidi controls removed)."""

from __future__ import annotations

import copy
import csv
import io
import json
from typing import Any

import pytest
from conftest import APP_MAIN, APP_TIMEOUT, open_app
from streamlit.testing.v1 import AppTest
from test_reports import _snapshot, _study

from db import reports as reportstore
from db.session import Database
from engine import report_export, reports
from engine.compare import charts, snapshot
from engine.compare.bidi import BIDI_CONTROLS
from engine.errors import InputError
from engine.service import Service

RLO = "\u202e"
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.1.0.json"


def format_1(study_id: int) -> dict[str, Any]:
    """A report snapshot exactly as the format-1 writer (``StudyComparison.to_snapshot``
    before the typed snapshot) stored it."""
    table = [
        {
            "variant": v, "arm": "msm+aft", "runs": 1, "seeds": 1, "n_agentic": 20,
            "harmful_rate": rate, "harmful_low": rate / 2, "harmful_high": rate * 2,
            "n_qa": 8, "qa_score": 6.0, "qa_low": 5.0, "qa_high": 7.0, "p_harmful_fc": 0.3,
        }
        for v, rate in (("rules", 0.6), ("values", 0.1))
    ]  # fmt: skip
    comparisons = [
        {
            "a": "rules/msm+aft", "b": "values/msm+aft", "metric": "harmful_rate", "diff": -0.5,
            "low": -0.7, "high": -0.3, "p_value": 0.00195, "p_holm": 0.0039, "n_pairs": 20,
            "method": "mcnemar", "within_noise": False,
        }
    ]  # fmt: skip
    conditions = [
        {"variant": "rules", "arm": "msm+aft", "condition": "leak/explicit/replacement",
         "rate": 0.4, "low": 0.17, "high": 0.69, "n": 10},
    ]  # fmt: skip
    clauses = [
        {"variant": "values", "arm": "msm+aft", "clause": "SP1", "score": 7.0, "low": 6.0,
         "high": 8.0, "n": 2},
    ]  # fmt: skip
    curves = [
        {"variant": "rules", "arm": "msm+aft", "seed": 0, "stage": "aft", "step": s, "loss": 3 / s}
        for s in (1, 2, 3)
    ]
    return {
        "format_version": 1,
        "title": "rules-vs-values",
        "study": {
            "id": study_id,
            "name": "rules vs values",
            "spec": "example@1",
            "status": "succeeded",
            "created_by": "ana",
            "created_at": "2026-01-02T03:04:05",
        },  # fmt: skip
        "table": table,
        "comparisons": comparisons,
        "conditions": conditions,
        "clauses": clauses,
        "loss_curves": curves,
        "capsule": {
            "speclab_version": "0.1.0",
            "git_commit": "0123456789abcdef0123456789abcdef01234567",
            "packages": {"torch": "2.13.0", "streamlit": None},
            "spec": {"ref": "example@1", "content_hash": "ab" * 32},
            "model": "builtin:smollm2-135m-instruct",
            "models": ["builtin:smollm2-135m-instruct"],
            "judges": ["agentic_parse@agentic-parse-v1"],
            "seeds": [0],
            "stages": {"aft": [{"key": "k1", "artifacts": {"adapter": "cd" * 32}}]},
            "config": {"name": "rules-vs-values", "arms": ["msm+aft"]},
        },
        "charts": json.loads(json.dumps(charts.build_charts(table, conditions, clauses, curves))),
    }


def _store_raw(database: Database, study_id: int, data: dict[str, Any], title: str = "t") -> str:
    """Store a report the way older code did, past today's checks."""
    with database.write() as s:
        reportstore.create_report(
            s, report_id="raw", study_id=study_id, title=title, snapshot=data, created_by="ana"
        )
    return "raw"


def test_a_format_1_report_opens_and_renders(database: Database) -> None:
    # Guards stored reports across the format bump: a format-1 report reads as the typed
    # snapshot and every export renders its numbers.
    study_id = _study(database)
    report = reports.get_report(database, _store_raw(database, study_id, format_1(study_id)))
    snap = report.snapshot
    assert snap.format_version == snapshot.FORMAT_VERSION == 2
    assert [(r.variant, r.harmful_rate) for r in snap.table] == [("rules", 0.6), ("values", 0.1)]
    assert snap.comparisons[0].verdict == snapshot.BEYOND_NOISE
    assert snap.capsule is not None and snap.capsule.extra == {}
    assert snap.capsule.spec_ref == "example@1" and snap.capsule.stages["aft"][0].key == "k1"
    assert snap.omitted_pairs == 0 and set(snap.charts) == set(charts.CHART_NAMES)
    page = report_export.export_html(report)
    assert page.count("<svg") == 5 and 'data-value="0.6">60.0%<' in page
    assert "beyond noise" in page
    rows = list(csv.reader(io.StringIO(report_export.export_csv(report))))
    assert rows[1][:3] == ["rules", "msm+aft", "1"]
    exported = json.loads(report_export.export_json(report))
    assert exported["format_version"] == 2 and exported["capsule"]["git_commit"].startswith("0123")
    # Upgrading is stable: the exported format-2 data reads back to the same snapshot.
    assert snapshot.read_snapshot(exported) == snap


def test_snapshot_json_round_trip_and_version_once(database: Database) -> None:
    # Guards the writer/reader pair: to_json → read_snapshot is the identity, for a snapshot
    # with and without its capsule; the version constant is the one the data carries.
    study_id = _study(database)
    snap = snapshot.read_snapshot(format_1(study_id))
    assert snapshot.from_json(snap.to_json()) == snap
    live = snapshot.Snapshot(**{**vars(snap), "capsule": None})
    assert snapshot.from_json(live.to_json()) == live
    assert json.loads(live.to_json())["format_version"] == snapshot.FORMAT_VERSION
    with pytest.raises(InputError, match="not JSON"):
        snapshot.from_json("{bad")
    with pytest.raises(InputError) as err:
        snapshot.read_snapshot({**snap.to_dict(), "omitted_pairs": None})
    assert err.value.field == "omitted_pairs"


def test_page_opens_a_format_1_report(svc: Service) -> None:
    # Guards the report page on a stored format-1 report: the numbers show, nothing fails.
    study_id = _study(svc.db)
    report_id = _store_raw(svc.db, study_id, format_1(study_id))
    at = open_app("views/report.py", report=report_id)
    assert not at.exception and not at.error
    assert list(at.table[0].value["% harmful"]) == ["60.0%", "10.0%"]
    assert "beyond noise" in set(at.dataframe[0].value["verdict"])
    assert len(at.get("vega_lite_chart")) + len(at.get("arrow_vega_lite_chart")) == 5


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"data": {"url": "https://evil/x.csv"}, "mark": "bar"}, "data.url"),
        ({"$schema": "https://evil.example/schema.json", "mark": "bar"}, "$schema"),
        ({"$schema": "https://vega.github.io/schema/vega/v5.json", "mark": "bar"}, "$schema"),
        ({"mark": "bar", "encoding": {"href": {"field": "u"}}}, "encoding.href"),
        ({"mark": {"type": "image"}, "encoding": {}}, "mark"),
        ({"mark": "bar", "usermeta": {"embedOptions": {"loader": {}}}}, "usermeta"),
        ({"mark": "bar", "title": {"text": "//evil.example/x"}}, "title.text"),
        ({"layer": [{"mark": "bar", "data": {"url": "data:text/csv,a"}}]}, "layer[0].data.url"),
        ({"mark": "bar", "datasets": {"rows": "https://evil/x"}}, "datasets"),
        ({"transform": [{"lookup": "a", "from": {"data": {"url": "x.json"}}}]}, "url"),
    ],
)
def test_chart_specs_that_reach_out_are_refused(spec: dict[str, Any], where: str) -> None:
    # Guards the chart check itself: every way a spec can fetch, link or embed is named.
    with pytest.raises(InputError, match="only inline data") as err:
        charts.check_chart("c", spec)
    assert str(err.value.field).startswith("charts.c.")
    assert str(err.value.field).endswith(where)


def test_inline_charts_pass_with_urls_only_in_their_data() -> None:
    # Guards against over-refusal: data values are text, never fetched, so a URL in a row is
    # fine; the Vega-Lite schema by name is fine.
    spec = {
        "$schema": SCHEMA,
        "data": {"name": "rows"},
        "datasets": {"rows": [{"variant": "[x](http://evil)", "rate": 0.1}]},
        "layer": [{"mark": "bar", "data": {"values": [{"u": "https://x"}]}}],
    }
    charts.check_chart("ok", spec)
    with pytest.raises(InputError, match="deeper"):
        deep: dict[str, Any] = {}
        node = deep
        for _ in range(charts.MAX_DEPTH + 2):
            node["layer"] = [{}]
            node = node["layer"][0]
        charts.check_chart("deep", deep)


def test_crafted_chart_is_refused_at_freeze_and_in_the_shared_view(svc: Service) -> None:
    # Guards issue 13 item 6: a chart with a URL cannot be frozen; one stored by older code is
    # refused with a message on the shared page, and its neighbours still draw.
    study_id = _study(svc.db)
    crafted = _snapshot(study_id)
    crafted["charts"]["remote"] = {"data": {"url": "https://evil/d.csv"}, "mark": "bar"}
    with pytest.raises(InputError) as err:
        reports.freeze(svc.db, study_id=study_id, snapshot=crafted, title="t", author="ana")
    assert err.value.field == "charts.remote.data.url"
    report_id = _store_raw(svc.db, study_id, crafted)
    token, _ = svc.share_report(report_id, days=1)
    at = AppTest.from_file(str(APP_MAIN), default_timeout=APP_TIMEOUT)
    at.query_params["share"] = token
    at.run()
    assert not at.exception
    refusals = [e.value.replace("\\", "") for e in at.error]
    assert any("Chart refused" in e and "data.url" in e for e in refusals), refusals
    drawn = at.get("vega_lite_chart") + at.get("arrow_vega_lite_chart")
    assert len(drawn) == 2  # the two inline charts of the fixture
    assert all("evil/d.csv" not in str(c.proto) for c in drawn)


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        " =1+1",
        "\t=1+1",
        "\u3000=1+1",
        "\n=1+1",
        'safe\n=HYPERLINK("x")',
        "safe\r\n  +cmd",
        "\uff1d1+1",
        "\uff0bcmd",
        "\uff0d1",
        "\uff20SUM(A1)",
        "|cmd",
        "cmd|' /C calc'!A0",
        "@SUM(A1)",
        "-2+3",
        "+1",
        "\r=1",
    ],
)
def test_csv_defuses_every_formula_form(text: str) -> None:
    # Guards spreadsheet formula injection in every form a spreadsheet reads as a formula.
    assert report_export.defuse_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["rules", "msm+aft", "a-b", "SP1", "x = y", "mean (±)", ""])
def test_csv_leaves_plain_text_alone(text: str) -> None:
    # Guards over-defusing: ordinary names keep their spelling.
    assert report_export.defuse_cell(text) == text


def test_csv_export_defuses_cells_of_a_report(database: Database) -> None:
    # Guards the export end to end: crafted names come out defused in the file.
    study_id = _study(database)
    data = _snapshot(study_id)
    data["table"][0]["variant"] = " =cmd"
    data["table"][1]["variant"] = "\uff1dcmd"
    data["comparisons"][0]["a"] = "ok\n=cmd"
    data["comparisons"][1]["b"] = "x|y"
    frozen = reports.freeze(database, study_id=study_id, snapshot=data, title="t", author="a")
    rows = list(csv.reader(io.StringIO(report_export.export_csv(frozen))))
    cells = [c for r in rows for c in r]
    for crafted in (" =cmd", "\uff1dcmd", "ok\n=cmd", "x|y"):
        assert "'" + crafted in cells and crafted not in cells


def test_rlo_title_and_names_cannot_reorder_text(svc: Service) -> None:
    # Guards bidi spoofing: an RLO (and every other bidi control) in a title or a name is
    # removed at freeze, and on reading a report stored by older code, on the page, in the
    # HTML export and in the CSV.
    study_id = _study(svc.db)
    controls = "".join(BIDI_CONTROLS)
    data = _snapshot(study_id)
    data["table"][0]["variant"] = f"rules{RLO}txt.exe"
    data["study"]["name"] = f"study{controls}name"
    frozen = reports.freeze(
        svc.db, study_id=study_id, snapshot=data, title=f"Q3 {RLO}fdp.exe", author="ana"
    )
    assert frozen.title == "Q3 fdp.exe"
    raw = copy.deepcopy(data)
    raw["comparisons"][0]["a"] = f"a{RLO}b"
    old = reports.get_report(svc.db, _store_raw(svc.db, study_id, raw, title=f"t{RLO}x"))
    for report in (reports.get_report(svc.db, frozen.id), old):
        assert report.snapshot.table[0].variant == "rulestxt.exe"
        assert report.snapshot.study.name == "studyname"
        for text in (
            report.title,
            report_export.export_html(report),
            report_export.export_csv(report),
            report_export.export_json(report),
        ):
            assert not any(c in text for c in controls)
    assert old.title == "tx" and old.snapshot.comparisons[0].a == "ab"
    assert [r.title for r in reports.list_reports(svc.db)] in (
        ["Q3 fdp.exe", "tx"],
        ["tx", "Q3 fdp.exe"],
    )

    at = open_app("views/report.py", report="raw")
    assert not at.exception
    shown = (
        [t.value for t in at.text]
        + [c.value for c in at.caption]
        + [str(at.table[0].value.index.tolist())]
        + [at.dataframe[0].value.to_json()]
    )
    assert any("tx" in t for t in shown)
    assert not any(c in t for t in shown for c in controls)


def test_small_cells_and_underpowered_comparisons_are_named(database: Database) -> None:
    # Guards honest intervals: a cell of 3 samples shows "n too small" instead of a
    # zero-width interval, and a within-noise comparison over 3 pairs says it is underpowered,
    # in the HTML export as on the page (both read Snapshot.verdict_of / too_small).
    study_id = _study(database)
    data = format_1(study_id)
    data["table"][0] = {**data["table"][0], "n_agentic": 3}
    data["comparisons"][0] = {**data["comparisons"][0], "n_pairs": 3, "within_noise": True}
    report = reports.get_report(database, _store_raw(database, study_id, data))
    snap = report.snapshot
    row = snap.comparisons[0]
    assert snap.underpowered(row) and snap.verdict_of(row) == "within noise (underpowered)"
    assert snap.detectable(row) > 0.5
    big = snapshot.ComparisonRow(**{**vars(row), "n_pairs": 5000})
    assert not snap.underpowered(big) and snap.verdict_of(big) == "within noise"
    page = report_export.export_html(report)
    assert "within noise (underpowered)" in page
    small = (
        sum(snapshot.too_small(r.n_agentic) + snapshot.too_small(r.n_qa) for r in snap.table)
        + sum(snapshot.too_small(c.n_pairs) for c in snap.comparisons)
        + sum(snapshot.too_small(c.n) for c in (*snap.conditions, *snap.clauses))
    )
    assert snapshot.too_small(3) and not snapshot.too_small(20)
    assert page.count("[n too small]") == small >= 2
