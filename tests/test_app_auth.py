"""AppTest of team mode: sign-in guards every page, roles decide the controls, the service
refuses a forged write, admins manage members and read the audit log; URL ids are checked."""

from __future__ import annotations

import pytest
from conftest import APP_MAIN, APP_TIMEOUT, open_app
from streamlit.testing.v1 import AppTest
from test_reports import _snapshot, _study

from db.audit import AuditFilter
from engine import reports
from engine.service import Service

AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "speclab",
    "client_secret": "secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
MEMBERS = {"admin": ["ada@example.org"], "viewer": ["@example.org"]}
ADMIN = {"is_logged_in": True, "email": "ada@example.org", "sub": "ada"}
VIEWER = {"is_logged_in": True, "email": "vic@example.org", "sub": "vic"}
STRANGER = {"is_logged_in": True, "email": "sam@elsewhere.example", "sub": "sam"}
ANONYMOUS = {"is_logged_in": False}
PAGES = [
    "views/home.py",
    "views/specs.py",
    "views/new_study.py",
    "views/studies.py",
    "views/study.py",
    "views/report.py",
    "views/run.py",
    "views/samples.py",
    "views/runs.py",
    "views/members.py",
    "views/audit.py",
]


def _team_app(user: dict[str, object], **query: str) -> AppTest:
    at = AppTest.from_file(str(APP_MAIN), default_timeout=APP_TIMEOUT)
    at.secrets["auth"] = AUTH
    at.secrets["members"] = MEMBERS
    at.user = dict(user)
    at.query_params.update(query)
    return at.run()


def _only_sign_in(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["SpecLab"]
    assert [b.key for b in at.button] == ["signin"]
    assert not at.dataframe and not at.text and not at.table and not at.text_input
    assert not at.get("download_button")


def test_anonymous_sees_only_sign_in_on_every_page_url(svc: Service) -> None:
    # Guards "team mode guards reads": whatever URL an anonymous visitor opens (pages, a
    # report permalink without a share token), only the sign-in page runs.
    study_id = _study(svc.db)
    report = reports.freeze(
        svc.db, study_id=study_id, snapshot=_snapshot(study_id), title="t", author="ana"
    )
    at = _team_app(ADMIN)  # registers the pages so that switch_page can open their URLs
    for page in PAGES:
        at.user = dict(ADMIN)
        at.run()  # the admin's navigation again, so that its pages can be switched to
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        at.user = dict(ANONYMOUS)
        at.run()
        _only_sign_in(at)
    _only_sign_in(_team_app(ANONYMOUS, report=report.id))
    _only_sign_in(_team_app(ANONYMOUS, study=str(study_id)))


def test_share_link_shows_its_report_and_nothing_else_in_team_mode(svc: Service) -> None:
    # Guards the one way in without sign-in: a share link opens its report, no navigation.
    study_id = _study(svc.db)
    report = reports.freeze(
        svc.db, study_id=study_id, snapshot=_snapshot(study_id), title="t", author="ana"
    )
    token, _link = svc.share_report(report.id, days=1)
    at = _team_app(ANONYMOUS, share=token)
    assert not at.exception
    assert [t.value for t in at.title] == ["Shared report"]
    assert not at.button and not at.text_input and not at.sidebar.get("page_link")
    denied = _team_app(ANONYMOUS, share=token[:-2])
    assert [t.value for t in denied.title] == ["Access denied"]


def test_signed_in_stranger_gets_no_page_and_is_audited(svc: Service) -> None:
    # Guards membership: signing in is not enough; the refused sign-in is in the audit log.
    signed_in = {**STRANGER, "iat": 1_800_000_000}
    at = _team_app(signed_in)
    assert not at.exception
    _team_app(signed_in)  # another page load of the same sign-in: not a second sign-in
    assert "no role" in at.warning[0].value
    assert [b.key for b in at.button] == ["signout"]
    assert not at.text and not at.dataframe
    events, _ = svc.audit_events(AuditFilter(action="sign_in"))
    assert [(e.actor, e.outcome) for e in events] == [("sam@elsewhere.example", "denied")]


def test_viewer_reads_sees_no_write_controls_and_a_forged_click_is_refused(svc: Service) -> None:
    # Guards roles end to end: the page disables Launch for a viewer, and a click forged past
    # the disabled button is refused by the service (nothing launched, the attempt audited).
    at = _team_app(VIEWER)
    assert not at.exception
    assert any(m.label == "Specs" for m in at.metric)
    # No database URL for a non-admin (its kind only).
    assert any(c.value.endswith("Database: SQLite") for c in at.caption)
    assert all("sqlite:" not in c.value for c in at.caption)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/members.py")  # not in a viewer's navigation
    at.switch_page("views/new_study.py").run()
    assert not at.exception
    assert at.button(key="launch").disabled
    assert any("viewer" in i.value and "launch studies" in i.value for i in at.info)
    # A forged click on the disabled button: Streamlit discards it server-side.
    launch = at.button(key="launch")
    launch.proto.disabled = False  # what a hand-crafted websocket message would claim
    launch.click().run()
    assert not at.exception
    assert svc.list_studies() == []
    at.switch_page("views/specs.py").run()
    assert not at.exception
    assert any("may read but not edit specs" in i.value for i in at.info)
    events, _ = svc.audit_events(AuditFilter(actor="vic@example.org"))
    assert [(e.action, e.outcome, e.origin) for e in reversed(events)] == [
        ("sign_in", "ok", "dashboard"),
    ]


def _careless_page() -> None:
    # A page that forgets to disable its write button for viewers (any future page might).
    import streamlit as st

    from app import auth
    from app.state import ACTOR_KEY, service
    from engine.errors import SpecLabError

    st.session_state[ACTOR_KEY] = auth.resolve_actor("dashboard:/careless")
    if st.button("Import anyway", key="go"):
        try:
            service().import_spec(b"# T\n\n## SP1: X\n\nRule: Y.\n", "t.md", name="t")
        except SpecLabError as exc:
            st.error(str(exc))
        else:
            st.success("imported")


def test_a_page_that_forgets_the_role_still_cannot_write(svc: Service) -> None:
    # Guards "no page, forged request or future page can bypass it": the service refuses the
    # viewer's click on an enabled button, and the attempt is in the audit log.
    at = AppTest.from_function(_careless_page, default_timeout=APP_TIMEOUT)
    at.secrets["auth"] = AUTH
    at.secrets["members"] = MEMBERS
    at.user = dict(VIEWER)
    at.run()
    at.button(key="go").click().run()
    assert not at.exception
    assert not at.success
    assert "vic@example.org is a viewer here" in at.error[0].value
    assert "needs the editor role" in at.error[0].value
    assert [s.name for s in svc.list_specs()] == ["example"]
    events, _ = svc.audit_events(AuditFilter(actor="vic@example.org"))
    assert [(e.action, e.outcome, e.origin) for e in events] == [
        ("spec.import", "denied", "dashboard:/careless")
    ]
    at.user = dict(ADMIN)
    at.run()
    at.button(key="go").click().run()
    assert [s.value for s in at.success] == ["imported"]


def test_viewer_cannot_open_admin_pages(svc: Service) -> None:
    # Guards the admin pages: not in a viewer's navigation, and their URLs run the default page.
    at = _team_app(VIEWER)
    at.user = dict(ADMIN)
    at.run()
    at.switch_page("views/audit.py").run()
    assert [t.value for t in at.title] == ["Audit log"]
    at.user = dict(VIEWER)
    at.run()
    assert not at.exception
    assert "Audit log" not in [t.value for t in at.title]
    assert not at.get("download_button")


def test_admin_assigns_roles_and_reads_the_audit_log(svc: Service) -> None:
    # Guards the admin pages: a role given on Members takes effect; the log shows it.
    at = _team_app(ADMIN)
    at.switch_page("views/members.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["address or @domain"]) == {"ada@example.org", "@example.org"}
    at.text_input[0].set_value("ed@example.org")
    at.selectbox[0].set_value("editor")
    at.button[0].click().run()
    assert not at.exception
    assert svc.member_for("ed@example.org") is not None
    # A configured pattern cannot be changed from the page.
    at.text_input[0].set_value("ada@example.org")
    at.selectbox[0].set_value("viewer")
    at.button[0].click().run()
    assert any("secrets.toml" in e.value.replace("\\", "") for e in at.error)

    editor = _team_app({"is_logged_in": True, "email": "ed@example.org"})
    editor.switch_page("views/new_study.py").run()
    assert not editor.button(key="launch").disabled

    at.switch_page("views/audit.py").run()
    assert not at.exception
    log = at.dataframe[0].value
    assert {"member.set", "sign_in"} <= set(log["action"])
    # `speclab init` (the operator, "tester") and the two members who signed in.
    assert set(log["who"]) == {"tester", "ada@example.org", "ed@example.org"}


@pytest.mark.parametrize("value", ["²", "12345678901234567890123", "-1", "0", "1e3", "٣"])
@pytest.mark.parametrize(
    ("page", "name"),
    [
        ("views/study.py", "study"),
        ("views/run.py", "run"),
        ("views/samples.py", "run"),
        ("views/studies.py", "study"),
        ("views/runs.py", "job"),
    ],
)
def test_malformed_url_ids_are_one_line_messages(
    svc: Service, page: str, name: str, value: str
) -> None:
    # Guards query parameters: `?study=²` or a 23-digit id is a sentence, never a traceback.
    at = open_app()
    at.switch_page(page)
    at.query_params[name] = value  # as if the page's URL was opened with it
    at.run()
    assert not at.exception
    assert any(f"'{name}' value is not a valid id" in e.value for e in at.error)


def test_single_user_default_acts_as_admin_with_the_audit_page(svc: Service) -> None:
    # Guards the embedded default: no sign-in, full rights, the database URL on Home.
    at = open_app()
    assert any(svc.db.safe_url in c.value for c in at.caption)
    at.switch_page("views/audit.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Audit log"]
