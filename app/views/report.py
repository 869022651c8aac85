"""Report: a frozen comparison (permalink ``?report=<id>``), its downloads and share links."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from app.auth import require_author
from app.snapshot_view import render_snapshot
from app.state import literal, report_links, service
from engine.errors import SpecLabError

svc = service()
report_id = st.query_params.get("report", "")
if not report_id:
    st.title("Reports")
    reports = svc.list_reports(limit=50)
    if not reports:
        st.info("No reports yet: freeze one from a study page.")
    report_links(reports, with_date=True)
    st.stop()

try:
    report = svc.get_report(report_id)
except SpecLabError as exc:
    st.error(literal(str(exc)))
    st.stop()
st.title("Report")
st.text(f"{report.title}\nfrozen by {report.created_by} at {report.created_at:%Y-%m-%d %H:%M} UTC")
st.caption("A report never changes: later runs do not alter these numbers.")
render_snapshot(report.snapshot, key="report")

st.subheader("Download")
c1, c2, c3, c4 = st.columns(4)
for col, fmt, mime in (
    (c1, "html", "text/html"),
    (c2, "csv", "text/csv"),
    (c3, "json", "application/json"),
):
    col.download_button(
        f"{fmt.upper()}", svc.export_report(report.id, fmt), file_name=f"report-{report.id}.{fmt}",
        mime=mime, key=f"dl_{fmt}",
    )  # fmt: skip
# Built only when asked for: it reads every sample of the study.
c4.download_button(
    "HTML with samples", lambda: svc.export_report(report.id, "bundle"),
    file_name=f"report-{report.id}-with-samples.html", mime="text/html", key="dl_bundle",
    help="One self-contained file: the report and every sample, opens from disk",
    on_click="ignore",
)  # fmt: skip

st.subheader("Share")
author = require_author("share reports")
days = st.number_input("Link expires after (days, 0 = never)", min_value=0, value=30, key="days")
if st.button("Create read-only link", disabled=author is None, key="share"):
    token, _link = svc.share_report(report.id, days=float(days) or None, author=author)
    st.session_state["share_token"] = token
if "share_token" in st.session_state:
    st.caption("Copy it now: the token is shown once and stored only as a hash.")
    st.code(f"?share={st.session_state['share_token']}", language=None)
now = datetime.now(UTC)
for link in svc.list_shares(report.id):
    c = st.columns([3, 2, 1])
    c[0].text(f"link {link.hash_prefix}… by {link.created_by}")
    c[1].text(link.status(now))
    if c[2].button("Revoke", disabled=author is None or link.status(now) != "active",
                   key=f"revoke_{link.id}"):  # fmt: skip
        svc.revoke_share(link.id)
        st.rerun()
