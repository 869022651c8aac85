"""Run: the stage DAG with live status, training curves, data previews and artifacts."""

from __future__ import annotations

import functools

import altair as alt
import pandas as pd
import streamlit as st

from app.state import literal, query_int, service
from engine.errors import SpecLabError
from engine.service import SUITES, Run, Stage

svc = service()
st.title("Run")

run_id = query_int("run")
if run_id is None:
    st.info("Open a run from the Studies page.")
    st.page_link("views/studies.py", label="Studies")
    st.stop()
try:
    run = svc.get_run(int(run_id))
except SpecLabError as exc:
    st.error(literal(str(exc)))
    st.stop()
imported = svc.run_imported_from(run)
if imported:
    st.info(literal(imported))

STATE_COLOURS = {
    "succeeded": "#c8e6c9",
    "running": "#bbdefb",
    "queued": "#eeeeee",
    "failed": "#ffcdd2",
    "cancelled": "#ffe0b2",
}


def dag(run: Run) -> str:
    """Graphviz source of the run's stages (labels are our own kind names, never user text)."""
    by_key = {s.key: s for s in run.stages}
    lines = ["digraph { rankdir=LR; node [shape=box, style=filled, fontname=sans];"]
    for s in run.stages:
        label = f"{s.kind}\\n{s.state}{' (cached)' if s.cached else ''}"
        lines.append(f'"{s.key}" [label="{label}", fillcolor="{STATE_COLOURS[s.state]}"];')
        for dep in svc.stage_spec(s).inputs.values():
            if dep in by_key:
                lines.append(f'"{dep}" -> "{s.key}";')
    lines.append("}")
    return "\n".join(lines)


def loss_chart(stages: list[Stage]) -> None:
    trained = [s for s in stages if s.kind in ("midtrain", "aft")]
    points = svc.stage_metrics([s.id for s in trained], ["train/loss"])
    if not points:
        st.caption("No training steps recorded yet.")
        return
    kinds = {s.id: s.kind for s in trained}
    df = pd.DataFrame(
        [{"stage": kinds[p.stage_id or 0], "step": p.step, "loss": p.value} for p in points]
    )
    chart = (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(x="step:Q", y=alt.Y("loss:Q", scale=alt.Scale(zero=False)), color="stage:N")
    )
    st.altair_chart(chart, use_container_width=True)


@st.fragment(run_every=2)
def live_run() -> None:
    try:
        run = svc.get_run(int(run_id))
    except SpecLabError as exc:
        st.error(literal(str(exc)))
        return
    st.text(f"{run.variant_name} × {run.arm} · seed {run.seed} · {run.model} · {run.status}")
    if not run.stages:
        st.info("This arm trains nothing: it evaluates the base model as it is.")
        return
    st.graphviz_chart(dag(run))
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "stage": s.kind,
                    "status": s.state,
                    "cached": s.cached,
                    "progress": s.progress,
                    "message": s.progress_message,
                    "job": s.job_id,
                    "key": s.key[:12],
                }
                for s in run.stages
            ]
        ),
        hide_index=True,
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)
        },
        key="stages_table",
    )
    for s in run.stages:
        if s.error:
            st.error(f"{s.kind} failed")
            st.code(s.error, language=None, wrap_lines=True)
    st.subheader("Training loss")
    loss_chart(list(run.stages))


live_run()

st.subheader("Scorecard")
points = svc.scorecard(run.id)
if not points:
    st.caption("No evaluation results yet.")
else:
    headline = [p for p in points if "/" not in p.name]
    cols = st.columns(max(len(headline), 1))
    for col, p in zip(cols, headline, strict=False):
        interval = (
            f"[{p.ci_low:.2f}, {p.ci_high:.2f}]"
            if p.ci_low is not None and p.ci_high is not None
            else ""
        )
        col.metric(p.name, f"{p.value:.2f}", help=f"95% interval {interval}, n={p.n}")
        col.caption(f"95% CI {interval} · n={p.n}")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "metric": p.name,
                    "value": p.value,
                    "ci_low": p.ci_low,
                    "ci_high": p.ci_high,
                    "n": p.n,
                }
                for p in points
            ]
        ),
        hide_index=True,
        key="scorecard_table",
    )
    st.page_link("views/samples.py", label="Browse samples", query_params={"run": str(run.id)})
    # Inspect eval logs, one per suite with results; built only when a button is clicked.
    suites = sorted({p.name.split(".", 1)[0] for p in points} & set(SUITES))
    for col, suite in zip(st.columns(max(len(suites), 1)), suites, strict=False):
        col.download_button(
            f"Inspect log: {suite}",
            data=functools.partial(svc.export_inspect, run.id, suite, "eval"),
            file_name=svc.inspect_file_name(run.id, suite, "eval"),
            mime="application/zip",
            key=f"inspect_{suite}",
            help="An Inspect eval log of this suite's samples and scores (opens in inspect view)",
        )
    # Any two runs side by side, e.g. an imported Inspect log beside a SpecLab run.
    other = st.number_input("Compare beside run (id)", min_value=0, value=0, step=1, key="beside")
    if other:
        try:
            beside = svc.rates_beside([run.id, int(other)])
        except SpecLabError as exc:
            st.error(literal(str(exc)))
        else:
            st.dataframe(
                pd.DataFrame(
                    [
                        {"run": r.label, "imported": r.imported, "metric": r.metric,
                         "value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n}
                        for r in beside
                    ]
                ),
                hide_index=True,
                key="beside_table",
            )  # fmt: skip

st.subheader("Data")
for s in run.stages:
    for a in s.artifacts:
        if a.role not in ("docs", "demos_cot", "demos_plain"):
            continue
        try:
            ds = svc.dataset(a.artifact.sha256)
        except SpecLabError:
            continue
        with st.expander(f"{ds.kind}: {literal(ds.name)} — {ds.n_rows} rows"):
            st.dataframe(pd.DataFrame(ds.preview), hide_index=True)
            # Demonstrations a model wrote: what the filter kept, and why it rejected the rest.
            demo_filter = ds.provenance.get("filter")
            if isinstance(demo_filter, dict):
                st.text(
                    f"Written from variant {ds.provenance.get('variant', '?')}: kept "
                    f"{demo_filter.get('kept')} of {demo_filter.get('prompts')} "
                    f"(judge: {demo_filter.get('judge')})"
                )
                reasons = demo_filter.get("reasons") or {}
                st.dataframe(
                    pd.DataFrame(
                        [
                            {"reason": r, "rejected": n, "meaning": reasons.get(r, "")}
                            for r, n in (demo_filter.get("rejected") or {}).items()
                        ],
                        columns=["reason", "rejected", "meaning"],
                    ),
                    hide_index=True,
                )

st.subheader("Artifacts")
rows = [
    {
        "stage": s.kind,
        "role": a.role,
        "kind": a.artifact.kind,
        "bytes": a.artifact.bytes,
        "MB": round(a.artifact.bytes / 1e6, 2),
        "sha256": a.artifact.sha256[:16],
        "path": svc.artifacts.location_of(a.artifact),
    }
    for s in run.stages
    for a in s.artifacts
]
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="artifacts_table")
else:
    st.caption("No artifacts yet.")
