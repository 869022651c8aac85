"""A frozen report as one HTML file with its samples (issue 12, item 5: "a static bundle of a
frozen report that includes its samples"), on a study seeded with known verdicts."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from conftest import open_app
from sqlalchemy import text
from test_compare import HARMFUL, seed_known

from engine import report_bundle
from engine.service import Service


class _Rows(HTMLParser):
    """Sample rows (``<tr id="s-…">``), whether a script or an outside URL appears anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[str] = []
        self.tags: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name == "id" and value and value.startswith("s-"):
                self.rows.append(value)
            if name in ("href", "src") and value and not value.startswith("#"):
                self.urls.append(value)


def _parse(page: str) -> _Rows:
    parser = _Rows()
    parser.feed(page)
    return parser


@pytest.fixture
def frozen(svc: Service) -> tuple[Service, str, int]:
    svc.seed_builtin()
    study_id = seed_known(svc)
    return svc, svc.freeze_report(study_id, title="bundle").id, study_id


def test_bundle_holds_every_sample_of_every_run(frozen: tuple[Service, str, int]) -> None:
    # Guards completeness: one row per (run, sample) — a shared base stage under both runs —
    # and the harmful counts of each run equal the seeded ones.
    svc, report_id, study_id = frozen
    page = svc.export_report(report_id, "bundle")
    with svc.db.read() as s:
        expected = s.execute(
            text(
                "select count(*) from eval_samples es join run_stages rs on rs.stage_id ="
                " es.stage_id join runs r on r.id = rs.run_id where r.study_id = :s"
            ),
            {"s": study_id},
        ).scalar_one()
    parsed = _parse(page)
    assert len(parsed.rows) == expected > 0
    assert "script" not in parsed.tags and parsed.urls == []
    assert "Content-Security-Policy" in page
    for run in svc.get_study(study_id).runs:
        cell = "base" if run.arm == "base" else (run.variant_name, run.arm)
        assert f"run #{run.id} · <bdi>{run.variant_name}/{run.arm}</bdi>" in page
        shown = re.search(rf"run #{run.id} · .*? · (\d+) harmful of (\d+)</summary>", page)
        assert shown is not None and int(shown.group(1)) == sum(
            len(r) for r in HARMFUL[cell].values()
        )
    # The report part is the frozen one: the plain export's tables open the bundle (chart
    # SVGs carry per-drawing gradient ids, so they are left out of the comparison).
    plain = svc.export_report(report_id, "html")
    assert page.startswith(plain.split("<h2>Charts</h2>", 1)[0])
    # Each prompt is written once and linked from its samples.
    prompts = re.findall(r'<details id="p-(\d+)">', page)
    assert prompts and len(prompts) == len(set(prompts)) < len(parsed.rows)


def test_user_text_stays_text_and_the_cap_is_stated(
    frozen: tuple[Service, str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards escaping of model output and the cut of a large study.
    svc, report_id, _ = frozen
    with svc.db.write() as s:
        s.execute(
            text(
                "update eval_samples set response = :r"
                " where id = (select min(id) from eval_samples)"
            ),
            {"r": '<script>alert(1)</script><img src="https://x.example/a.png">'},
        )
    page = svc.export_report(report_id, "bundle")
    parsed = _parse(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags and parsed.urls == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    monkeypatch.setattr(report_bundle, "MAX_SAMPLES", 5)
    page = svc.export_report(report_id, "bundle")
    assert len(_parse(page).rows) == 5
    assert "the first 5 (by run) are written here" in page


def test_report_page_offers_the_bundle(frozen: tuple[Service, str, int]) -> None:
    # Guards the download on the report page.
    _svc, report_id, _ = frozen
    at = open_app("views/report.py", report=report_id)
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert "HTML with samples" in labels
