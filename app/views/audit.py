"""Audit log (admins only): every write and every sign-in, filterable, exportable."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from app.state import service
from engine.service import AuditFilter

PAGE = 100
svc = service()
st.title("Audit log")
st.caption("Who did what, when, from which page or command. Newest first.")

facets = svc.audit_facets()
c1, c2, c3, c4 = st.columns(4)
actor = c1.selectbox("Who", ["", *facets["actor"]], format_func=lambda v: v or "anyone")
action = c2.selectbox("Action", ["", *facets["action"]], format_func=lambda v: v or "any")
outcome = c3.selectbox("Outcome", ["", *facets["outcome"]], format_func=lambda v: v or "any")
days = c4.date_input("Between (UTC)", value=[], key="audit_days")
since = until = None
if isinstance(days, tuple) and len(days) == 2:
    since = datetime.combine(days[0], time.min, UTC)
    until = datetime.combine(days[1], time.min, UTC) + timedelta(days=1)
where = AuditFilter(
    actor=actor or None, action=action or None, outcome=outcome or None, since=since, until=until
)

_probe, total = svc.audit_events(where, limit=0)
pages = max(1, -(-total // PAGE))
page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1)
events, total = svc.audit_events(where, limit=PAGE, offset=(int(page) - 1) * PAGE)
st.caption(f"{total} matching event(s)")
if events:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "when (UTC)": e.at.strftime("%Y-%m-%d %H:%M:%S"),
                    "who": e.actor,
                    "role": e.role,
                    "action": e.action,
                    "target": e.target,
                    "outcome": e.outcome,
                    "from": e.origin,
                    "detail": e.detail,
                }
                for e in events
            ]
        ),
        hide_index=True,
        key="audit_table",
    )

st.subheader("Export")
st.caption("The matching events, up to 10,000, newest first.")
d1, d2 = st.columns(2)
d1.download_button(
    "CSV", lambda: svc.export_audit("csv", where), file_name="speclab-audit.csv",
    mime="text/csv", key="audit_csv",
)  # fmt: skip
d2.download_button(
    "JSON", lambda: svc.export_audit("json", where), file_name="speclab-audit.json",
    mime="application/json", key="audit_json",
)  # fmt: skip
