"""The dashboard's handle on the service, shared by every page of one server process, and
the checks on what the URL may carry."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from engine.service import Actor, Service

ACTOR_KEY = "_speclab_actor"
"""Session-state key of the :class:`Actor` that ``app/main.py`` resolves at the start of every
run, before any page runs (pages never set it)."""


@st.cache_resource(show_spinner=False)
def shared_service() -> Service:
    """One :class:`Service` per server process (it holds the database connection pool), acting
    as the local operator: only ``app/main.py`` and ``app/auth.py`` use it directly."""
    return Service.from_env()


@st.cache_resource(show_spinner=False)
def schema_checked() -> bool:
    """Check once per server process that the database schema is at the code's head (a
    failed check is not cached: every page keeps refusing until `speclab init` fixes it)."""
    shared_service().check_schema()
    return True


def team_mode() -> bool:
    """Whether sign-in is configured (an ``[auth]`` section in Streamlit's secrets)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all (Streamlit raises its own error types)
        return False


def service() -> Service:
    """The service acting as whoever uses this page: the signed-in member with their role in
    team mode, the local operator otherwise. Its writes check that role and are audited."""
    actor = st.session_state.get(ACTOR_KEY)
    base = shared_service()
    if isinstance(actor, Actor):
        return base.acting(actor)
    # Fail closed: in team mode, code that runs before app/main.py named the actor has none.
    return base.acting(Actor("anonymous", None, "dashboard")) if team_mode() else base


# CommonMark lets a backslash escape any ASCII punctuation character; escaping all of them also
# disarms Streamlit's own additions (``:color[...]``, ``:emoji:``, ``$math$``).
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def literal(text: str) -> str:
    """``text`` escaped so that a Markdown-rendering element shows it exactly as written.

    Widget and expander labels, captions and alerts render Markdown; user text that has to go
    into one of them (a clause title in an expander label, a file name in an error) goes
    through this. Everywhere else user text is shown with ``st.text``/``st.code``.
    """
    return _PUNCTUATION.sub(r"\\\1", text)


def ago(seconds: float) -> str:
    """A short human age: ``4s``, ``3m``, ``2h``."""
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


MAX_ID = 2**31 - 1
"""The largest row id: ids are 32-bit integer columns on PostgreSQL."""

ID_PARAMS = ("study", "run", "job")
"""URL parameters that carry a numeric id."""

_REPORT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def parse_id(raw: str) -> int | None:
    """``raw`` as a row id (ASCII digits, 1 to :data:`MAX_ID`), or None."""
    # str.isdigit accepts "²" and other digits that int() refuses; len first keeps int() cheap.
    if not raw or len(raw) > 10 or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def _bad_param(name: str) -> None:
    st.error(
        f"The address's {name!r} value is not a valid id (a whole number from 1 to {MAX_ID}); "
        "it was ignored."
    )


def check_query_params() -> None:
    """Drop URL parameters that cannot be ids, with one line saying so, before a page reads
    them (a typed or crafted URL never reaches the database or shows a traceback)."""
    for name in ID_PARAMS:
        raw = st.query_params.get(name)
        if raw is not None and raw != "" and parse_id(raw) is None:
            _bad_param(name)
            del st.query_params[name]
    report = st.query_params.get("report")
    if report and not _REPORT_ID.fullmatch(report):
        st.error("The address's 'report' value is not a report id; it was ignored.")
        del st.query_params["report"]


def query_int(name: str) -> int | None:
    """A row id from the URL's query string, or None if absent; a malformed value gets one
    line of explanation and reads as absent."""
    raw = st.query_params.get(name, "")
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        _bad_param(name)
    return value


def report_links(reports: list[Any], *, with_date: bool = False) -> None:
    """One page link per report (titles are user text: escaped)."""
    for r in reports:
        when = f", {r.created_at:%Y-%m-%d %H:%M}" if with_date else ""
        st.page_link(
            "views/report.py",
            label=literal(f"{r.title} — {r.created_by}{when}"),
            query_params={"report": r.id},
        )
