"""AppTest of the New-study page (form → estimate → launch) and of team-mode sign-in."""

from __future__ import annotations

from conftest import open_app
from streamlit.testing.v1 import AppTest

from engine.service import Service


def _metric(at: AppTest, label: str) -> str:
    return str(next(m.value for m in at.metric if m.label == label))


def test_new_study_estimates_and_launches(svc: Service) -> None:
    # Guards the browser launch path: the form's config, the estimate, the launched study.
    at = open_app("views/new_study.py")
    assert _metric(at, "Runs") == "4"
    # gen_demos, aft on base (shared by both variants), 2 × (gen_docs, midtrain, aft) and
    # evals: 2 for the shared aft runs + 4 for the msm+aft runs.
    assert _metric(at, "Stages") == "14"
    assert _metric(at, "Already computed") == "0"
    at.button(key="launch").click().run()
    assert not at.exception
    assert any("Launched study" in s.value for s in at.success)
    (study,) = svc.list_studies()
    assert study.n_runs == 4 and study.created_by == "tester"
    # The same form again: everything is queued already, so nothing new would be computed.
    at = open_app("views/new_study.py")
    table = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert set(table["status"]) == {"shared"}
    assert set(table["what happens"]) == {"queued or running for another run or study: shared"}


def test_new_study_shows_every_setting_with_its_help(svc: Service) -> None:
    # Guards the help texts every config field carries: the form shows them for the preset.
    at = open_app("views/new_study.py")
    settings = next(d.value for d in at.dataframe if "help" in d.value.columns)
    row = settings[(settings["stage"] == "aft") & (settings["setting"] == "max_steps")].iloc[0]
    assert row["value"] == "12" and "optimizer steps" in row["help"]
    assert set(settings["stage"]) == {
        "gen_docs", "midtrain", "gen_demos", "aft", "eval_qa", "eval_agentic", "eval_published",
    }  # fmt: skip


def test_new_study_explains_invalid_input(svc: Service) -> None:
    # Guards form validation: the bad field is named, nothing is launched.
    at = open_app("views/new_study.py")
    at.multiselect(key="arms").set_value([]).run()
    assert any("arms" in e.value for e in at.error)
    at.multiselect(key="arms").set_value(["aft"]).run()
    at.text_area(key="overrides").set_value("{aft: {max_stepz: 3}}").run()
    assert any("max_stepz" in e.value.replace("\\", "") for e in at.error)
    at.text_area(key="overrides").set_value("{aft: [").run()
    assert any("YAML" in e.value for e in at.error)
    assert svc.list_studies() == []


def test_new_study_says_what_the_sizes_can_detect(svc: Service) -> None:
    # Guards honest power: the cpu-smoke grid (8 agentic samples a cell) is flagged as only
    # able to see huge differences, and the sizes needed for a typed difference are shown.
    from engine.evals import power

    at = open_app("views/new_study.py")
    assert _metric(at, "Samples per cell") == "8 agentic"
    assert any("only very large differences" in w.value for w in at.warning)
    at.number_input(key="want_rate").set_value(20).run()
    est = svc.estimate_study(
        svc.parse_study(
            b"name: x\nspec: example\nvariants: [rules, values]\narms: [aft, msm+aft]\n",
            "x.yaml",
        )
    )
    need = power.rate_n_needed(0.2, baseline=0.5, level=est.power.level)
    assert any(f"{need:,} agentic samples" in c.value for c in at.caption)
