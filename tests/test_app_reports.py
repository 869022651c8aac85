"""AppTest of the report page, its share links, and the read-only shared view."""

from __future__ import annotations

from conftest import APP_MAIN, APP_TIMEOUT, open_app
from streamlit.testing.v1 import AppTest
from test_reports import _snapshot, _study

from engine import reports
from engine.service import Service


def _shared(token: str) -> AppTest:
    at = AppTest.from_file(str(APP_MAIN), default_timeout=APP_TIMEOUT)
    at.query_params["share"] = token
    return at.run()


def test_report_page_share_link_and_revocation(svc: Service) -> None:
    # Guards sharing: the link shows the frozen numbers and nothing else; revoked = denied.
    study_id = _study(svc.db)
    snapshot = _snapshot(study_id)
    report = reports.freeze(svc.db, study_id=study_id, snapshot=snapshot, title="t", author="ana")

    at = open_app("views/report.py", report=report.id)
    headline = at.table[0].value
    assert list(headline.index.get_level_values("variant")) == [
        r["variant"] for r in snapshot["table"]
    ]
    assert len(at.get("download_button")) == 4  # HTML, CSV, JSON and HTML with samples
    at.button(key="share").click().run()
    token_line = next(c.value for c in at.code if c.value.startswith("?share="))
    token = token_line.removeprefix("?share=")

    shared = _shared(token)
    assert not shared.exception
    assert [t.value for t in shared.title] == ["Shared report"]
    shown = shared.table[0].value
    expected = [f"{100 * r['harmful_rate']:.1f}%" if r["harmful_rate"] is not None else "–"
                for r in snapshot["table"]]  # fmt: skip
    assert list(shown["% harmful"]) == expected
    # A viewer sees no navigation and no write controls.
    assert not shared.button and not shared.text_input and not shared.text_area

    (link,) = svc.list_shares(report.id)
    svc.revoke_share(link.id)
    denied = _shared(token)
    assert [t.value for t in denied.title] == ["Access denied"]
    assert "revoked" in denied.error[0].value
    assert not denied.dataframe
    assert [t.value for t in _shared("not-a-token").title] == ["Access denied"]


def test_report_list_and_home_links(svc: Service) -> None:
    # Guards navigation: frozen reports are listed on the reports page and the home page.
    study_id = _study(svc.db)
    reports.freeze(
        svc.db, study_id=study_id, snapshot=_snapshot(study_id), title="weekly", author="ana"
    )
    at = open_app("views/report.py")
    assert any("weekly" in p.label for p in at.get("page_link"))
    at = open_app()
    assert any("weekly" in p.label for p in at.get("page_link"))


def test_hostile_report_title_shows_as_text(svc: Service) -> None:
    # Guards report pages against a title that looks like HTML, Markdown or RTL text.
    study_id = _study(svc.db)
    hostile = "<script>alert(1)</script> [x](http://evil) **b** مواصفات " + "y" * 400
    report = reports.freeze(
        svc.db, study_id=study_id, snapshot=_snapshot(study_id), title=hostile, author="ana"
    )
    token, _ = svc.share_report(report.id, days=1)
    for at in (open_app("views/report.py", report=report.id), _shared(token), open_app()):
        assert not at.exception
        texts = [t.value for t in at.text] + [p.label for p in at.get("page_link")]
        assert any(hostile in t or hostile.replace("[", "\\[") in t for t in texts) or any(
            "alert" in t for t in texts
        )
        rendered = [m.value for m in at.markdown] + [c.value for c in at.caption]
        assert not any("<script>" in r or "](http://evil)" in r for r in rendered)
