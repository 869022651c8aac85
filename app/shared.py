"""The read-only view behind a share link: one frozen report, or an access-denied page."""

from __future__ import annotations

import streamlit as st

from app.snapshot_view import render_snapshot
from app.state import service
from engine.errors import SpecLabError


def show_shared_report(token: str) -> None:
    try:
        report = service().open_shared(token)
    except SpecLabError as exc:
        st.title("Access denied")
        reason = getattr(exc, "reason", "invalid")
        st.error(f"This share link is {reason}. Ask the report's author for a new link.")
        return
    st.title("Shared report")
    st.text(
        f"{report.title}\nfrozen by {report.created_by} at {report.created_at:%Y-%m-%d %H:%M} UTC"
    )
    render_snapshot(report.snapshot, key="shared")
