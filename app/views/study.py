"""Study: grid status, the comparison with intervals and within-noise flags, flipped samples,
the reproducibility capsule, relaunch, and freezing a report."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.auth import require_author
from app.snapshot_view import render_capsule, render_snapshot
from app.state import literal, query_int, service
from engine.errors import SpecLabError

svc = service()
st.title("Study")

study_id = query_int("study")
if study_id is None:
    st.info("Open a study from the Studies page.")
    st.page_link("views/studies.py", label="Studies")
    st.stop()
try:
    study = svc.get_study(study_id)
except SpecLabError as exc:
    st.error(literal(str(exc)))
    st.stop()
header = st.empty()  # filled from the snapshot, whose text has bidi controls removed


@st.fragment(run_every=3 if study.status in ("queued", "running") else None)
def progress() -> None:
    live = svc.get_study(study_id)
    stages = {s.id: s for r in live.runs for s in r.stages}
    done = sum(1 for s in stages.values() if s.state == "succeeded")
    st.progress(done / max(len(stages), 1), text=f"{live.status}: {done}/{len(stages)} stages")
    # One table element however many runs (a row of widgets per run cost the browser seconds
    # at 100 runs); each run links to its page.
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "run": f"/run?run={run.id}",
                    "variant": run.variant_name,
                    "arm": run.arm,
                    "seed": run.seed,
                    "status": run.status,
                }
                for run in live.runs
            ]
        ),
        column_config={"run": st.column_config.LinkColumn("run", display_text=r"run=(\d+)")},
        hide_index=True,
        key="runs_table",
    )


with st.expander("Runs", expanded=study.status != "succeeded"):
    progress()

cells = [(r.variant_name, r.arm) for r in study.runs]
cells = list(dict.fromkeys(cells))
all_pairs = [(a, b) for i, a in enumerate(cells) for b in cells[i + 1 :]]
pair_label = {p: f"{p[0][0]}/{p[0][1]} vs {p[1][0]}/{p[1][1]}" for p in all_pairs}
chosen = st.multiselect(
    "Comparisons (the family Holm corrects over; empty = the default family)",
    all_pairs,
    format_func=lambda p: pair_label[p],
    key="pairs",
)
snapshot = svc.study_snapshot(study_id, pairs=list(chosen) or None)
header.text(f"{snapshot.study.name} · {snapshot.study.spec} · by {snapshot.study.created_by}")
# Variants are only comparable when their corpora held length and rule exposure equal.
for pair in svc.corpus_balance(study_id, study=study):
    for warning in pair.warnings:
        st.warning(literal(f"MSM corpora {pair.variant_a} vs {pair.variant_b}: {warning}"))
render_snapshot(snapshot, key="live")

if st.button("Compute the reproducibility capsule", key="capsule"):
    # On demand only: it asks git and the package metadata, which a rerun should not.
    render_capsule(svc.study_capsule(study_id))

st.subheader("Samples that flipped between two cells")
cell_keys = {f"{r.variant} × {r.arm}": (r.variant, r.arm) for r in snapshot.table}
labels = list(cell_keys)
if len(labels) >= 2:
    c1, c2 = st.columns(2)
    a = c1.selectbox("A", labels, index=0, key="flip_a")
    b = c2.selectbox("B", labels, index=1, key="flip_b")
    pairs = svc.flipped_samples(study_id, cell_keys[a], cell_keys[b], limit=10)
    st.caption(
        f"{len(pairs)} flipped sample(s) shown (same scenario and sample, different verdict)"
    )
    for left, right in pairs:
        with st.expander(literal(f"{left.condition or left.item_id} #{left.sample_index}")):
            l_col, r_col = st.columns(2)
            for col, s, label in ((l_col, left, a), (r_col, right, b)):
                col.caption(literal(f"{label}: {'HARMFUL' if s.score == 1.0 else s.score}"))
                col.code(s.response or "(empty)", language=None, wrap_lines=True)
                col.code(s.judge_reasoning or "", language=None, wrap_lines=True)
else:
    st.caption("Flipped samples need two variant × arm cells with results.")

st.subheader("Relaunch and freeze")
author = require_author("relaunch studies or freeze reports")
c1, c2 = st.columns(2)
if c1.button("Relaunch exactly", disabled=author is None, key="relaunch"):
    try:
        result = svc.relaunch_study(study_id, author=author)
    except SpecLabError as exc:
        st.error(literal(str(exc)))
    else:
        st.success(f"Relaunched as study {result.study_id}: {result.new_jobs} new stage(s)")
title = c2.text_input("Report title", value=f"{study.name} — report", key="report_title")
if c2.button("Freeze report", disabled=author is None, key="freeze"):
    report = svc.freeze_report(study_id, title=title, author=author, pairs=list(chosen) or None)
    st.session_state["frozen"] = report.id
if "frozen" in st.session_state:
    # The report freezes the comparison family chosen above.
    rid = st.session_state["frozen"]
    st.success(f"Frozen as report {rid}")
    st.page_link("views/report.py", label="Open the report", query_params={"report": rid})
