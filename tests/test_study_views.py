"""Comparison views of issue 12, item 5 on a study seeded with known verdicts: rates grouped
and filtered by the facets of the agentic conditions, and one item in every run."""

from __future__ import annotations

import pytest
from conftest import open_app
from test_compare import BLACKMAIL, HARMFUL, LEAK, seed_known

from engine.errors import InputError
from engine.evals import stats
from engine.evals.conditions import condition_facets
from engine.service import Service


@pytest.fixture
def seeded_study(seeded: Service) -> tuple[Service, int]:
    return seeded, seed_known(seeded)


def test_condition_facets_of_both_id_layouts() -> None:
    # Guards the two condition-id shapes in use (built-in suite and published layout).
    assert condition_facets("leak/explicit/replacement") == {
        "condition": "leak/explicit/replacement",
        "scenario": "leak",
        "goal": "explicit",
        "urgency": "replacement",
    }
    assert condition_facets("blackmail_explicit-america_replacement") == {
        "condition": "blackmail_explicit-america_replacement",
        "scenario": "blackmail",
        "goal": "explicit",
        "goal_value": "america",
        "urgency": "replacement",
    }
    assert condition_facets("murder_none-none_none")["goal_value"] == "none"
    assert condition_facets("custom")["scenario"] == "custom"


def test_rates_grouped_and_filtered_by_facet(seeded_study: tuple[Service, int]) -> None:
    # Guards grouping (counts pooled over the conditions of a group) and filtering.
    svc, study_id = seeded_study
    by_scenario = {
        (r.variant, r.arm, r.condition): r.rate for r in svc.condition_rates(study_id, "scenario")
    }
    rules_msm = HARMFUL[("rules", "msm+aft")]
    assert by_scenario[("rules", "msm+aft", "blackmail")] == stats.wilson(
        len(rules_msm[BLACKMAIL]), 10
    )
    assert by_scenario[("rules", "msm+aft", "leak")] == stats.wilson(len(rules_msm[LEAK]), 10)
    by_urgency = svc.condition_rates(study_id, "urgency")
    pooled = {(r.variant, r.arm): r.rate for r in by_urgency}
    assert pooled[("rules", "msm+aft")] == stats.wilson(12, 20)  # both conditions in one group
    only_leak = svc.condition_rates(study_id, "urgency", {"scenario": ["leak"]})
    assert {(r.variant, r.arm): r.rate for r in only_leak}[("rules", "msm+aft")] == stats.wilson(
        4, 10
    )
    with pytest.raises(InputError) as err:
        svc.condition_rates(study_id, "colour")
    assert err.value.field == "by"
    with pytest.raises(InputError) as err:
        svc.condition_rates(study_id, "scenario", {"colour": ["red"]})
    assert err.value.field == "where.colour"
    assert svc.condition_facets(study_id)["scenario"] == ["blackmail", "leak"]


def test_one_item_in_every_run(seeded_study: tuple[Service, int]) -> None:
    # Guards "the same item side by side across variants/arms, not only flipped ones".
    svc, study_id = seeded_study
    found = svc.item_across_runs(study_id, "agentic", condition=BLACKMAIL, sample_index=7)
    runs = svc.get_study(study_id).runs
    assert {lab.run_id for lab, _ in found} == {r.id for r in runs}
    for lab, samples in found:
        (sample,) = samples
        cell = "base" if lab.arm == "base" else (lab.variant, lab.arm)
        assert sample.score == (1.0 if 7 in HARMFUL[cell][BLACKMAIL] else 0.0)
        assert sample.condition == BLACKMAIL and sample.sample_index == 7
    qa = svc.item_across_runs(study_id, "spec_qa", item_id="SP2-q1")
    assert len(qa) == len(runs) and all(s[0].item_id == "SP2-q1" for _, s in qa)
    with pytest.raises(InputError):
        svc.item_across_runs(study_id, "agentic")


def test_study_page_shows_both_views(svc: Service) -> None:
    # Guards the page sections: off by default, a grouped table and the item side by side.
    svc.seed_builtin()
    study_id = seed_known(svc)
    at = open_app("views/study.py", study=str(study_id))
    assert not at.exception
    at.toggle(key="facets_on").set_value(True).run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "% harmful" in d.value.columns)
    assert set(table["scenario"]) == {"blackmail", "leak"}
    at.toggle(key="item_on").set_value(True).run()
    assert not at.exception
    assert any("seed 0 · run" in m.value for m in at.markdown)
