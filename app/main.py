"""Entry point of the dashboard: ``streamlit run app/main.py`` (``speclab serve`` does it).

Everything is decided here, before any page runs: a share link shows its one report and
nothing else; in team mode an anonymous visitor sees only the sign-in page and a signed-in
user without a role only a page saying so, whatever the URL; members get the pages, bound to
their role (the service refuses what the role does not allow).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import streamlit as st

from app import auth
from app.state import ACTOR_KEY, check_query_params, literal, schema_checked
from engine.errors import SpecLabError, StoreError
from engine.service import Actor, Role

st.set_page_config(page_title="SpecLab", page_icon=":material/science:", layout="wide")

# (file, title, icon, URL path) of every page members may get.
_PAGES = [
    ("views/home.py", "Home", "home", "home"),
    ("views/specs.py", "Specs", "description", "specs"),
    ("views/data.py", "Data", "dataset", "data"),
    ("views/new_study.py", "New study", "add_circle", "new"),
    ("views/studies.py", "Studies", "science", "studies"),
    ("views/study.py", "Study", "compare", "study"),
    ("views/report.py", "Reports", "summarize", "report"),
    ("views/run.py", "Run", "timeline", "run"),
    ("views/samples.py", "Samples", "list", "samples"),
    ("views/playground.py", "Playground", "forum", "playground"),
    ("views/runs.py", "Jobs", "play_circle", "runs"),
]
_ADMIN_PAGES = [
    ("views/members.py", "Members", "group", "members"),
    ("views/audit.py", "Audit log", "policy", "audit"),
]
URL_PATHS = [u for *_, u in [*_PAGES, *_ADMIN_PAGES]]


def _page(file: str, title: str, icon: str, url: str) -> Any:
    return st.Page(
        file, title=title, icon=f":material/{icon}:", url_path=url, default=url == "home"
    )


def only(page: Callable[[], None], title: str) -> NoReturn:
    """Show ``page`` and nothing else at every URL the app knows (no navigation, no other
    page's code runs)."""
    st.navigation(
        [st.Page(page, title=title, url_path=u, default=u == "home") for u in URL_PATHS],
        position="hidden",
    ).run()
    st.stop()


try:
    schema_checked()
except SpecLabError as exc:
    # The message names the database URL: only the single-user default may see it.
    st.error(
        "SpecLab's database is not ready; the operator must run `speclab init` on the server."
        if auth.team_mode()
        else literal(str(exc))
    )
    st.stop()

# A share link shows one report and nothing else: no navigation, no other page.
if "share" in st.query_params:
    from app.shared import show_shared_report

    st.session_state[ACTOR_KEY] = Actor("share link visitor", None, "dashboard:/share")
    show_shared_report(st.query_params["share"])
    st.stop()

try:
    actor = auth.resolve_actor("dashboard")
except SpecLabError as exc:  # a malformed [members] section: the operator's to fix
    st.error(literal(str(exc)))
    st.stop()
st.session_state[ACTOR_KEY] = actor
if actor is None:
    only(auth.sign_in_page, "Sign in")
auth.record_sign_in(actor)
if actor.role is None:
    only(auth.not_a_member_page, "No access")

pages = [_page(*p) for p in _PAGES]
if actor.allows(Role.ADMIN):
    # Members only matter with sign-in; the single-user operator still gets the audit log.
    pages += [_page(*p) for p in _ADMIN_PAGES if auth.team_mode() or p[3] == "audit"]
page = st.navigation(pages)
st.session_state[ACTOR_KEY] = actor.at(f"dashboard:/{page.url_path or 'home'}")
auth.account_box(actor)
check_query_params()
try:
    page.run()
except StoreError as exc:
    # A driver error names the database: admins only.
    st.error(
        literal(str(exc))
        if actor.allows(Role.ADMIN)
        else "The database could not answer; try again, or tell an admin if it persists."
    )
except SpecLabError as exc:
    # What a page did not catch (a refused write, a vanished row) is one line, not a traceback.
    st.error(literal(str(exc)))
