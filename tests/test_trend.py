"""One number across studies on the same spec (issue 12, item 5: "a trend view of one metric
across studies on the same spec"): each point equals the study page's number for that cell."""

from __future__ import annotations

import pytest
from conftest import open_app
from test_compare import seed_known

from engine import compare
from engine.errors import InputError
from engine.service import Service


def test_each_point_is_the_study_pages_number(svc: Service) -> None:
    # Guards agreement between the trend and every study's own comparison, in study order.
    svc.seed_builtin()
    first, second = seed_known(svc), seed_known(svc)
    for metric in ("harmful_rate", "qa_score"):
        points, chart = svc.spec_trend("example", metric)
        assert [p.study_id for p in points][:: len(points) // 2] == [first, second]
        for p in points:
            cell = compare.compare_study(svc.db, p.study_id).cell(p.variant, p.arm)
            assert cell is not None
            expected = cell.harmful if metric == "harmful_rate" else cell.qa
            assert p.value == expected
            assert p.judge == ("agentic" if metric == "harmful_rate" else "spec_qa")
        assert len(chart["data"]["values"]) == len(points)  # type: ignore[index]
    with pytest.raises(InputError) as err:
        svc.spec_trend("example", "loss")
    assert err.value.field == "metric"


def test_studies_page_draws_the_trend(svc: Service) -> None:
    # Guards the page: off by default (no extra queries), a chart and a table when asked.
    svc.seed_builtin()
    seed_known(svc)
    at = open_app("views/studies.py")
    assert not at.exception and len(at.get("arrow_vega_lite_chart")) == 0
    at.toggle(key="trend_on").set_value(True).run()
    assert not at.exception
    assert len(at.get("arrow_vega_lite_chart")) + len(at.get("vega_lite_chart")) == 1
    table = at.dataframe[-1].value
    assert set(table["cell"]) >= {"values/msm+aft", "rules/base"}
    assert set(table["judge"]) == {"agentic"}
