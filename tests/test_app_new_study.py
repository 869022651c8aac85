"""AppTest of the New-study page (form → estimate → launch) and of team-mode sign-in."""

from __future__ import annotations

from conftest import APP_MAIN, APP_TIMEOUT, open_app
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
    table = at.dataframe[0].value
    assert set(table["status"]) == {"shared"}


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


def test_team_mode_requires_sign_in_for_writes(svc: Service) -> None:
    # Guards shared deployments: with [auth] configured, launching and editing need sign-in.
    at = AppTest.from_file(str(APP_MAIN), default_timeout=APP_TIMEOUT)
    at.secrets["auth"] = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "speclab",
        "client_secret": "secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
    at.run()
    at.switch_page("views/new_study.py").run()
    assert not at.exception
    assert at.button(key="launch").disabled
    assert any("Sign in" in i.value for i in at.info)
    at.switch_page("views/specs.py").run()
    assert not at.exception
    assert any("Sign in to edit specs" in i.value for i in at.info)
