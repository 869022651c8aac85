"""Frozen reports, share links and exports, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import altair as alt
import pandas as pd
import pytest
from sqlalchemy import text

from db import reports as reportstore
from db import studies as studystore
from db.session import Database
from db.types import utcnow
from engine import report_export, reports
from engine.compare.snapshot import read_snapshot
from engine.errors import AccessDenied, InputError, NotFoundError

HOSTILE = "<script>alert(1)</script>"
LINK = "[x](http://evil)"
ARABIC = "مواصفات السلامة"
FORMULA = '=HYPERLINK("http://evil","click")'


def _study(database: Database) -> int:
    with database.write() as s:
        return studystore.create_study(
            s, name="rules vs values", spec_version_id=None, config={}, created_by="ana"
        )


def _table_row(variant: str, arm: str, rate: float | None, score: float | None) -> dict[str, Any]:
    return {
        "variant": variant,
        "arm": arm,
        "runs": 3,
        "seeds": 3,
        "n_agentic": 120,
        "harmful_rate": rate,
        "harmful_low": None if rate is None else rate - 0.0437,
        "harmful_high": None if rate is None else rate + 0.0621,
        "n_qa": 60,
        "qa_score": score,
        "qa_low": None if score is None else score - 0.51,
        "qa_high": None if score is None else score + 0.49,
        "p_harmful_fc": 0.000412 if rate else None,
    }


def _snapshot(study_id: int) -> dict[str, Any]:
    table = [
        _table_row("rules", "sft", 0.125, 7.416666666666667),
        _table_row(HOSTILE, ARABIC, 0.2083333333333333, None),
        _table_row(FORMULA, "-1+2", None, 6.05),
    ]
    bars = pd.DataFrame({"variant": [r["variant"] for r in table], "rate": [0.125, 0.208, 0.0]})
    curve = pd.DataFrame({"step": [0, 10, 20], "loss": [2.3, 1.7, 1.41], "variant": LINK})
    return {
        "format_version": 1,
        "title": f"Study {LINK}",
        "study": {
            "id": study_id,
            "name": f"rules vs values {ARABIC}",
            "spec": "example@2",
            "status": "succeeded",
            "created_by": "ana",
            "created_at": "2025-01-02T03:04:05+00:00",
        },
        "table": table,
        "comparisons": [
            {
                "a": "rules",
                "b": HOSTILE,
                "metric": "harmful_rate",
                "diff": 0.08333333333333331,
                "low": -0.0213,
                "high": 0.1875,
                "p_value": 0.1234,
                "p_holm": 0.2468,
                "n_pairs": 120,
                "method": "paired bootstrap",
                "within_noise": True,
            },
            {
                "a": "rules",
                "b": FORMULA,
                "metric": "qa_score",
                "diff": -1.3666666666666671,
                "low": -2.1,
                "high": -0.6,
                "p_value": 0.00021,
                "p_holm": 0.00042,
                "n_pairs": 60,
                "method": "@sign test",
                "within_noise": False,
            },
        ],
        "conditions": [
            {
                "variant": HOSTILE,
                "arm": "sft",
                "condition": "goal conflict",
                "rate": 0.3,
                "low": 0.15,
                "high": 0.5,
                "n": 20,
            }
        ],
        "clauses": [
            {
                "variant": "rules",
                "arm": "sft",
                "clause": f"SP1 {ARABIC}",
                "score": 0.875,
                "low": None,
                "high": None,
                "n": 8,
            }
        ],
        "loss_curves": [
            {"variant": "rules", "arm": "sft", "seed": 0, "stage": "sft", "step": s, "loss": v}
            for s, v in [(0, 2.3), (10, 1.7)]
        ],
        "charts": {
            f"Harmful rate {HOSTILE}": alt.Chart(bars)
            .mark_bar()
            .encode(x="variant:N", y="rate:Q")
            .to_dict(),
            "Training loss": alt.Chart(curve)
            .mark_line()
            .encode(x="step:Q", y="loss:Q", color="variant:N")
            .to_dict(),
        },
        "capsule": {"python": "3.11", "note": f"</pre>{HOSTILE}", "seeds": [0, 1, 2]},
    }


@pytest.fixture
def frozen(database: Database) -> reports.Report:
    study_id = _study(database)
    return reports.freeze(
        database, study_id=study_id, snapshot=_snapshot(study_id), title="", author="ana"
    )


class _Collect(HTMLParser):
    """Every start tag's attributes, unescaped, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs.append(dict(attrs))


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if part.isdigit() else data[part]
    return data


def test_freeze_stores_an_immutable_copy(database: Database) -> None:
    # Guards report drift: editing the source dict (or the returned one) after freezing
    # must not change what the permalink shows.
    study_id = _study(database)
    source = _snapshot(study_id)
    original = copy.deepcopy(source)
    report = reports.freeze(
        database, study_id=study_id, snapshot=source, title="  Q3  ", author="ana"
    )
    source["table"][0]["harmful_rate"] = 0.99
    source["title"] = "changed"
    report.snapshot.charts.clear()  # the snapshot's one mutable part: a chart map
    stored = reports.get_report(database, report.id)
    assert stored.snapshot == read_snapshot(original)
    assert stored.snapshot.table[0].harmful_rate == 0.125 and stored.snapshot.charts
    assert stored.title == "Q3"
    assert stored.created_by == "ana"
    again = reports.freeze(
        database, study_id=study_id, snapshot=original, title="again", author="ana"
    )
    assert len(report.id) == 12 and again.id != report.id  # token_urlsafe(9): 72 random bits
    assert not any(name.startswith("update") for name in vars(reportstore))


def test_blank_title_takes_the_snapshot_title_and_listing_is_newest_first(
    database: Database,
) -> None:
    # Guards the reports list: newest first, titled, and without loading snapshots.
    study_id = _study(database)
    first = reports.freeze(
        database, study_id=study_id, snapshot=_snapshot(study_id), title="", author="ana"
    )
    second = reports.freeze(
        database, study_id=study_id, snapshot=_snapshot(study_id), title="later", author="bo"
    )
    listed = reports.list_reports(database)
    assert [r.id for r in listed] == [second.id, first.id]
    assert listed[1].title == f"Study {LINK}"
    assert not hasattr(listed[0], "snapshot")
    assert [r.id for r in reports.list_reports(database, limit=1, offset=1)] == [first.id]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s.pop("comparisons"), "comparisons"),
        (lambda s: s.update(format_version=3), "format_version"),
        (lambda s: s.update(format_version=True), "format_version"),
        (lambda s: s["table"][1].update(harmful_rate="12%"), "table[1].harmful_rate"),
        (lambda s: s["comparisons"][0].pop("within_noise"), "comparisons[0].within_noise"),
        (lambda s: s["study"].pop("name"), "study.name"),
        (lambda s: s.update(charts=[]), "charts"),
        (lambda s: s.update(capsule=None), "capsule"),
        (lambda s: s["loss_curves"][0].update(step=1.5), "loss_curves[0].step"),
        (
            lambda s: s["charts"]["Training loss"].update(data={"url": "x.csv"}),
            "charts.Training loss.data.url",
        ),
    ],
)
def test_invalid_snapshot_is_refused(database: Database, change: Any, field: str) -> None:
    # Guards the stored format: a snapshot the exports cannot read is refused, naming the field.
    study_id = _study(database)
    bad = _snapshot(study_id)
    change(bad)
    with pytest.raises(InputError) as err:
        reports.freeze(database, study_id=study_id, snapshot=bad, title="t", author="ana")
    assert err.value.field == field
    assert reports.list_reports(database) == []


def test_nan_is_refused(database: Database) -> None:
    # Guards PostgreSQL JSON (which rejects NaN): a clear message instead of a driver error.
    study_id = _study(database)
    bad = _snapshot(study_id)
    bad["table"][0]["qa_score"] = float("nan")
    with pytest.raises(InputError, match="null"):
        reports.freeze(database, study_id=study_id, snapshot=bad, title="t", author="ana")


def test_unknown_study_is_not_found(database: Database) -> None:
    # Guards the foreign key: freezing for a missing study says so instead of a driver error.
    with pytest.raises(NotFoundError, match="study"):
        reports.freeze(database, study_id=424242, snapshot=_snapshot(424242), title="t", author="")


def test_share_link_round_trip(database: Database, frozen: reports.Report) -> None:
    # Guards the teammate's view: a share token opens exactly the frozen report.
    token, link = reports.create_share_link(database, frozen.id, author="ana")
    opened = reports.open_shared(database, token)
    assert opened == reports.get_report(database, frozen.id)
    assert opened.snapshot == frozen.snapshot
    assert link.status() == "active"
    assert link.expires_at is not None
    assert timedelta(days=29) < link.expires_at - utcnow() <= reports.DEFAULT_SHARE_LIFETIME
    assert [s.id for s in reports.list_shares(database, frozen.id)] == [link.id]
    with pytest.raises(NotFoundError):
        reports.create_share_link(database, "no-such-report", author="ana")


def test_revoked_link_is_denied(database: Database, frozen: reports.Report) -> None:
    # Guards revocation: a revoked link stops working at once and says it was revoked.
    token, link = reports.create_share_link(database, frozen.id, author="ana", expires_in=None)
    other, _ = reports.create_share_link(database, frozen.id, author="ana")
    revoked = reports.revoke(database, link.id)
    assert revoked.revoked_at is not None and revoked.status() == "revoked"
    assert reports.revoke(database, link.id).revoked_at == revoked.revoked_at
    with pytest.raises(AccessDenied, match="revoked") as err:
        reports.open_shared(database, token)
    assert err.value.reason == "revoked"
    assert reports.open_shared(database, other).id == frozen.id
    with pytest.raises(NotFoundError):
        reports.revoke(database, 999_999)


def test_expired_link_is_denied(database: Database, frozen: reports.Report) -> None:
    # Guards expiry: a link stops working after its lifetime, and cannot be born expired.
    token, link = reports.create_share_link(
        database, frozen.id, author="ana", expires_in=timedelta(hours=1)
    )
    assert reports.open_shared(database, token, now=utcnow() + timedelta(minutes=59)).id
    later = utcnow() + timedelta(hours=1, seconds=1)
    with pytest.raises(AccessDenied, match="expired") as err:
        reports.open_shared(database, token, now=later)
    assert err.value.reason == "expired"
    assert link.status(later) == "expired"
    with pytest.raises(InputError, match="positive"):
        reports.create_share_link(database, frozen.id, author="a", expires_in=timedelta(hours=-1))


@pytest.mark.parametrize("token", ["", "   ", "x" * 10_000, "not-a-token"])
def test_wrong_token_is_denied_without_saying_more(
    database: Database, frozen: reports.Report, token: str
) -> None:
    # Guards token guessing: malformed and unknown tokens give one and the same answer.
    real, _ = reports.create_share_link(database, frozen.id, author="ana")
    for attempt in (token, real[:-1], real.upper()):
        with pytest.raises(AccessDenied) as err:
            reports.open_shared(database, attempt)
        assert err.value.reason == "invalid"
        assert str(err.value) == str(AccessDenied("invalid"))


def test_only_the_token_hash_is_stored(database: Database, frozen: reports.Report) -> None:
    # Guards a leaked database: it must not contain working share tokens.
    token, link = reports.create_share_link(database, frozen.id, author="ana")
    with database.read() as s:
        rows = s.execute(text("SELECT * FROM share_links")).mappings().all()
    assert len(rows) == 1
    assert token not in json.dumps([dict(r) for r in rows], default=str)
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert link.hash_prefix == rows[0]["token_hash"][:8]
    assert token not in repr(link) and not hasattr(link, "token_hash")


def test_html_export_is_offline_and_escaped(frozen: reports.Report) -> None:
    # Guards the shared HTML file: no network request, no script, user text shown as text.
    page = report_export.export_html(frozen)
    lower = page.lower()
    for banned in ("http://", "https://", "<script", "<link", "src=", "<img", "<iframe", "@import"):
        assert banned not in lower, banned
    assert not re.search(r"url\((?!#)", lower)
    assert page.count("<svg") == len(frozen.snapshot.charts) == 2
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "[x](http&#58;//evil)" in page
    assert ARABIC in page
    assert "&lt;/pre&gt;" in page  # the capsule cannot close its <pre>
    assert "within noise" in page and "beyond noise" in page
    assert frozen.id in page and "frozen by ana" in page


def test_html_numbers_equal_the_json_export(frozen: reports.Report) -> None:
    # Guards "a teammate sees the same numbers": each shown number is the JSON export's value.
    exported = json.loads(report_export.export_json(frozen))
    assert exported["report"]["id"] == frozen.id
    assert exported["report"]["created_at"] == frozen.created_at.isoformat()
    parser = _Collect()
    parser.feed(report_export.export_html(frozen))
    cells = [a for a in parser.attrs if "data-value" in a]
    paths = {str(a["data-path"]) for a in cells}
    for section in ("table", "comparisons", "conditions", "clauses"):
        assert any(p.startswith(f"{section}.") for p in paths), section
    assert len(paths) == len(cells) == 11 * 3 + 6 * 2 + 4 + 4
    for a in cells:
        assert json.loads(str(a["data-value"])) == _at(exported, str(a["data-path"]))
    page = report_export.export_html(frozen)
    assert 'data-path="table.0.harmful_rate" data-value="0.125">12.5%<' in page
    assert 'data-path="comparisons.0.diff" data-value="0.08333333333333331">+8.3 pp<' in page


def test_csv_defuses_formulas_and_has_the_tables(frozen: reports.Report) -> None:
    # Guards spreadsheet formula injection and the CSV's shape (table, blank line,
    # comparisons, blank line, instruments).
    rows = list(csv.reader(io.StringIO(report_export.export_csv(frozen))))
    blank = rows.index([])
    second = rows.index([], blank + 1)
    table, comparisons = rows[:blank], rows[blank + 1 : second]
    assert rows[second + 1][:2] == ["suite", "judge"]
    assert table[0][:3] == ["variant", "arm", "runs"]
    assert [r[0] for r in table[1:]] == ["rules", HOSTILE, "'" + FORMULA]
    assert table[3][1] == "'-1+2"
    assert table[1][table[0].index("harmful_rate")] == "0.125"
    assert table[3][table[0].index("harmful_rate")] == ""
    assert comparisons[0][:3] == ["a", "b", "metric"]
    assert len(comparisons) == 3
    assert comparisons[2][comparisons[0].index("diff")] == "-1.3666666666666671"  # numbers kept
    assert comparisons[2][comparisons[0].index("method")] == "'@sign test"
    assert comparisons[1][comparisons[0].index("within_noise")] == "true"
    assert comparisons[1][comparisons[0].index("verdict")] == "within noise"
    assert comparisons[2][comparisons[0].index("verdict")] == "beyond noise"
    cells = [c for r in rows for c in r]
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


def test_chart_links_and_images_are_refused_at_freeze_and_at_render(database: Database) -> None:
    # Guards hostile chart specs: a link, an image or external data is refused when frozen,
    # and a stored one (frozen by older code) is refused, not drawn, in the HTML export.
    study_id = _study(database)
    data = pd.DataFrame({"a": ["x"], "b": [1], "u": ["http://evil/x"], "img": ["https://e/i.png"]})
    base = alt.Chart(data)
    hostile = {
        "linked": alt.layer(
            base.mark_bar().encode(x="a:N", y="b:Q", href="u:N"),
            base.mark_image(width=9, height=9).encode(x="a:N", url="img:N"),
        ).to_dict(),
        "remote": {"data": {"url": "https://evil/data.csv"}, "mark": "bar"},
    }
    for name, spec in hostile.items():
        snap = _snapshot(study_id)
        snap["charts"] = {name: spec}
        with pytest.raises(InputError, match="inline data") as err:
            reports.freeze(database, study_id=study_id, snapshot=snap, title="t", author="ana")
        assert str(err.value.field).startswith(f"charts.{name}.")
    assert reports.list_reports(database) == []

    stored = _snapshot(study_id)
    stored["charts"] = {"fine": stored["charts"]["Training loss"], **hostile}
    with database.write() as s:
        reportstore.create_report(
            s, report_id="old", study_id=study_id, title="t", snapshot=stored, created_by="x"
        )
    page = report_export.export_html(reports.get_report(database, "old"))
    assert page.count("<svg") == 1
    assert page.count('class="refused"') == 2 and "only inline data" in page
    lower = page.lower()
    assert "<a " not in lower and "<image" not in lower and "href=" not in lower
    assert "http://" not in lower and "https://" not in lower
