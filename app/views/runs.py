"""Runs: the job queue with live status, progress, logs, cancel and retry, and worker health.

The live parts are fragments that rerun every few seconds; everything shown is read from the
database, so a browser reload or a dashboard restart loses nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from app.auth import signed_in_user
from app.state import ago, literal, service
from engine.errors import SpecLabError

STATES = ["queued", "running", "succeeded", "failed", "cancelled"]
PAGE_SIZE = 50
REFRESH_SECONDS = 2

svc = service()
author = signed_in_user()
st.title("Runs")
st.caption("Background jobs claimed by worker processes. This page refreshes itself.")

qp = st.query_params
state_filter = st.multiselect("States", STATES, default=[], placeholder="all states")
page = st.number_input("Page", min_value=1, value=1, step=1)


@st.fragment(run_every=REFRESH_SECONDS)
def live_queue() -> None:
    counts = svc.job_counts()
    cols = st.columns(len(STATES))
    for col, state in zip(cols, STATES, strict=True):
        col.metric(state.capitalize(), getattr(counts, state))

    now = datetime.now(UTC)
    workers = svc.list_workers()
    lease = svc.settings.lease_seconds
    st.subheader("Workers")
    if not workers:
        st.warning("No worker has ever connected. Start one with `speclab worker`.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "worker": w.id,
                        "state": w.state,
                        "health": "ok"
                        if w.state in ("idle", "busy")
                        and (now - w.heartbeat_at).total_seconds() < lease
                        else ("stopped" if w.state == "stopped" else "no heartbeat"),
                        "last heartbeat": f"{ago((now - w.heartbeat_at).total_seconds())} ago",
                        "job": w.current_job_id,
                        "executor": w.executor,
                        "pid": w.pid,
                    }
                    for w in workers
                ]
            ),
            hide_index=True,
            key="workers_table",
        )

    st.subheader("Jobs")
    jobs = svc.list_jobs(
        states=state_filter or None, limit=PAGE_SIZE, offset=(int(page) - 1) * PAGE_SIZE
    )
    if not jobs:
        st.info("No jobs match.")
        return
    nodes = svc.job_nodes([j.id for j in jobs])
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "id": j.id,
                    "kind": j.kind,
                    "label": j.label,
                    "state": j.state + (" (cancel requested)" if j.cancel_requested else ""),
                    "progress": j.progress,
                    "message": j.progress_message,
                    "attempt": f"{j.attempts}/{j.max_attempts}",
                    "waits on": ", ".join(map(str, j.depends_on)),
                    "worker": j.worker_id or "",
                    "node": nodes.get(j.id, ""),
                    "error": j.error,
                    "created": j.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                }
                for j in jobs
            ]
        ),
        hide_index=True,
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)
        },
        key="jobs_table",
    )


live_queue()


@st.fragment(run_every=REFRESH_SECONDS * 5)
def cluster_panel() -> None:
    view = svc.cluster()
    st.subheader("Cluster")
    if view.problem:
        st.warning(literal(view.problem))
    if view.executor == "ray" and view.gpus_total == 0:
        st.info("No GPU in the cluster: stages that declare a GPU wait until a GPU node joins.")
    if view.nodes:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "node": n.name,
                        "alive": n.alive,
                        "CPUs": "" if n.cpus is None else f"{n.cpus_used:g} / {n.cpus:g} in use",
                        "GPUs": "" if n.gpus is None else f"{n.gpus_used:g} / {n.gpus:g} in use",
                        "memory GB": "" if n.memory_gb is None else n.memory_gb,
                        "running jobs": ", ".join(map(str, n.jobs)),
                    }
                    for n in view.nodes
                ]
            ),
            hide_index=True,
            key="cluster_table",
        )
    else:
        st.caption(f"No job is running on any node (executor: {view.executor}).")
    if view.waiting:
        st.caption("Claimed jobs waiting for a node with the resources they declare:")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "job": w.job_id,
                        "job kind": w.kind,
                        "needs": f"{w.needs.cpus:g} CPU, {w.needs.gpus:g} GPU, "
                        f"{w.needs.memory_gb:g} GB",
                        "message": w.message,
                    }
                    for w in view.waiting
                ]
            ),
            hide_index=True,
            key="waiting_table",
        )


cluster_panel()

st.subheader("Job detail")
# The job id comes from the URL, where anyone can type anything.
try:
    default_job = max(0, int(qp.get("job", "0") or 0))
except ValueError:
    default_job = 0
job_id = st.number_input("Job id", min_value=0, value=default_job, step=1, key="job_id")
if job_id:
    st.query_params["job"] = str(int(job_id))
    try:
        job = svc.get_job(int(job_id))
    except SpecLabError as exc:
        st.error(literal(str(exc)))
        st.stop()
    c1, c2, c3 = st.columns([3, 1, 1])
    c1.markdown(f"**Job {job.id}** · `{job.kind}` · **{job.state}** · attempt {job.attempts}")
    c1.text(job.label)
    # Rerun only after a success: a rerun would wipe the error before anyone could read it.
    if c2.button(
        "Cancel", disabled=author is None or job.state not in ("queued", "running"), key="cancel"
    ):
        try:
            svc.cancel_job(job.id, by=author)
        except SpecLabError as exc:
            st.error(literal(str(exc)))
        else:
            st.toast(f"Cancel sent to job {job.id}")
            st.rerun()
    if c3.button(
        "Retry", disabled=author is None or job.state not in ("failed", "cancelled"), key="retry"
    ):
        try:
            svc.retry_job(job.id, by=author)
        except SpecLabError as exc:
            st.error(literal(str(exc)))
        else:
            st.toast(f"Job {job.id} re-queued")
            st.rerun()

    @st.fragment(run_every=REFRESH_SECONDS)
    def live_job() -> None:
        j = svc.get_job(int(job_id))
        st.progress(j.progress, text=literal(j.progress_message or j.state))
        if j.error:
            # Errors hold tracebacks and user text: shown verbatim, not as Markdown.
            st.error("The last attempt failed:")
            st.code(j.error, language=None)
        events = svc.job_events(j.id)
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "at": ev.at.strftime("%H:%M:%S"),
                        "from": ev.from_state or "",
                        "to": ev.to_state,
                        "attempt": ev.attempt,
                        "worker": ev.worker_id or "",
                        "node": ev.node,
                        "message": ev.message,
                    }
                    for ev in events
                ]
            ),
            hide_index=True,
            key="events_table",
        )
        lines = svc.job_log(j.id, tail=200)
        st.caption("Log tail")
        st.code(
            "\n".join(f"[{ln.attempt}] {ln.line}" for ln in lines) or "(no log lines)",
            language=None,
        )

    live_job()
