"""Home: what is stored and what is running."""

from __future__ import annotations

import streamlit as st

from app.state import literal, report_links, service

svc = service()
st.title("SpecLab")
st.caption(
    "Write spec variants, train and evaluate them, compare the results honestly. "
    f"Database: {svc.database_label()}"
)

specs = svc.list_specs()
counts = svc.job_counts()
workers = svc.list_workers()
c1, c2, c3, c4 = st.columns(4)
c1.metric("Specs", len(specs))
c2.metric("Jobs queued", counts.queued)
c3.metric("Jobs running", counts.running)
c4.metric("Workers alive", sum(1 for w in workers if w.state in ("idle", "busy")))

st.subheader("Specs")
if not specs:
    st.info("No specs yet. Import one on the Specs page, or run `speclab init` for the example.")
for spec in specs:
    st.page_link(
        "views/specs.py",
        label=literal(f"{spec.name} — v{spec.latest_version}, {spec.n_clauses} clauses"),
        query_params={"spec": spec.name},
    )
st.page_link(
    "views/runs.py", label=f"Job queue — {counts.total} jobs", icon=":material/play_circle:"
)

st.subheader("Recent studies")
studies = svc.list_studies(limit=5)
if not studies:
    st.caption("No studies yet.")
for study in studies:
    st.page_link(
        "views/study.py",
        label=literal(f"{study.name} — {study.status}, {study.n_runs} runs, by {study.created_by}"),
        query_params={"study": str(study.id)},
    )
st.page_link("views/new_study.py", label="Launch a new study", icon=":material/add_circle:")

st.subheader("Recent reports")
reports = svc.list_reports(limit=5)
if not reports:
    st.caption("No reports yet.")
report_links(reports)
