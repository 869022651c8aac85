"""The dashboard's handle on the service, shared by every page of one server process."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from engine.service import Service


@st.cache_resource(show_spinner=False)
def service() -> Service:
    """One :class:`Service` per server process (it holds the database connection pool)."""
    return Service.from_env()


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


def query_int(name: str) -> int | None:
    """A positive integer from the URL's query string, or None if absent or malformed."""
    raw = st.query_params.get(name, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def report_links(reports: list[Any], *, with_date: bool = False) -> None:
    """One page link per report (titles are user text: escaped)."""
    for r in reports:
        when = f", {r.created_at:%Y-%m-%d %H:%M}" if with_date else ""
        st.page_link(
            "views/report.py",
            label=literal(f"{r.title} — {r.created_by}{when}"),
            query_params={"report": r.id},
        )
