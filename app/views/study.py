"""Study: grid status, the comparison with intervals and within-noise flags, flipped samples,
the reproducibility capsule, relaunch, and freezing a report."""

from __future__ import annotations

import streamlit as st

from app.auth import require_author
from app.snapshot_view import render_snapshot
from app.state import literal, query_int, service
from engine.errors import SpecLabError
from engine.pipeline.study import StudyConfig

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
st.text(f"{study.name} · {study.spec_ref} · by {study.created_by}")


@st.fragment(run_every=3)
def progress() -> None:
    live = svc.get_study(study_id)
    stages = {s.id: s for r in live.runs for s in r.stages}
    done = sum(1 for s in stages.values() if s.state == "succeeded")
    st.progress(done / max(len(stages), 1), text=f"{live.status}: {done}/{len(stages)} stages")
    for run in live.runs:
        c = st.columns([4, 2, 2])
        c[0].text(f"run {run.id}: {run.variant_name} × {run.arm} · seed {run.seed}")
        c[1].text(run.status)
        c[2].page_link("views/run.py", label="open run", query_params={"run": str(run.id)})


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
render_snapshot(snapshot, key="live")

st.subheader("Samples that flipped between two cells")
cells = [f"{r['variant']} × {r['arm']}" for r in snapshot.get("table", [])]
if len(cells) >= 2:
    c1, c2 = st.columns(2)
    a = c1.selectbox("A", cells, index=0, key="flip_a")
    b = c2.selectbox("B", cells, index=1, key="flip_b")
    pa, pb = tuple(a.split(" × ")), tuple(b.split(" × "))
    pairs = svc.flipped_samples(study_id, pa, pb, limit=10)
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
    config = StudyConfig.from_dict({k: v for k, v in study.config.items() if k != "resolved"})
    result = svc.launch_study(config, author=author)
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
