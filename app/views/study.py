"""Study: grid status, the comparison with intervals and within-noise flags, flipped samples,
the reproducibility capsule, relaunch, and freezing a report."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app.auth import require_author
from app.judges_panel import render_judges
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
imported = svc.imported_from(study.config)
if imported:
    st.info(literal(imported))
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

models = list(dict.fromkeys(r.model for r in study.runs))  # in the order of their first run
# A study of several base models is compared within one model at a time: cells never pool
# runs of different models. The across-models table below lines the models up.
model = (
    st.selectbox("Base model (variants are compared within it)", models, key="model")
    if len(models) > 1
    else None
)
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
snapshot = svc.study_snapshot(study_id, pairs=list(chosen) or None, model=model)
header.text(
    f"{snapshot.study.name} · {snapshot.study.spec} · by {snapshot.study.created_by}"
    + (f" · model {snapshot.study.model}" if snapshot.study.model else "")
)
# Variants are only comparable when their corpora held length and rule exposure equal.
for pair in svc.corpus_balance(study_id, study=study):
    for warning in pair.warnings:
        st.warning(literal(f"MSM corpora {pair.variant_a} vs {pair.variant_b}: {warning}"))
render_snapshot(snapshot, key="live")
render_judges(svc, study)  # which judge produced each number; re-judging

published = svc.published_rates(study_id, study=study)
if published:
    st.subheader("Published agentic-misalignment conditions (agentic_published)")

    def _rate(r) -> str:  # a service Rate, or None where nothing was judged
        if r is None:
            return "not judged"
        return f"{r.value * 100:.0f}% [{r.low * 100:.0f}, {r.high * 100:.0f}] n={r.n}"

    st.dataframe(
        pd.DataFrame(
            [
                {
                    "variant": c.variant,
                    "arm": c.arm,
                    "headline": c.headline,
                    **{name: _rate(rate) for name, rate in c.rates.items()},
                    **{f"agree {p}": _rate(a) for p, a in c.agreement.items()},
                }
                for c in published
            ]
        ),
        hide_index=True,
        key="published_rates",
    )
    st.caption(
        "harmful: world rules over the calls carried out; classifier_verdict: the LLM judge "
        "alone; parity: the published gates with the LLM judge. 'headline' is the verdict "
        "each cell's samples are scored by."
    )
    if all(c.rates.get("classifier_verdict") is None for c in published):
        st.info(
            "classifier_verdict and parity were not judged: no LLM judge was configured for "
            "this suite (eval_published: {classifier: published_classifier}). They are left "
            "empty, not estimated."
        )

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
    pairs = svc.flipped_samples(study_id, cell_keys[a], cell_keys[b], limit=10, model=model)
    run_of = {
        (r.variant_name, r.arm): r.id for r in study.runs if model is None or r.model == model
    }
    if cell_keys[a] in run_of and cell_keys[b] in run_of and a != b:
        st.page_link(
            "views/playground.py",
            label="Ask both cells' models a prompt of your own (Playground)",
            query_params={"runs": f"{run_of[cell_keys[a]]},{run_of[cell_keys[b]]}"},
        )
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

if len(models) > 1:
    st.subheader("Across models")
    st.caption(
        "Each comparison of this page in every base model (each model its own Holm family): "
        "does the effect hold across models?"
    )
    names, across = svc.across_models(study_id, pairs=list(chosen) or None)

    def _shown(r: Any) -> str:
        if r is None:
            return "not measured"
        word = snapshot.WITHIN_NOISE if r.within_noise else snapshot.BEYOND_NOISE
        return f"{r.diff:+.3f} [{r.low:+.3f}, {r.high:+.3f}] {word}"

    st.dataframe(
        pd.DataFrame(
            [
                {
                    "A": row.label_a,
                    "B": row.label_b,
                    "metric": row.metric,
                    **{name: _shown(result) for name, result in row.per_model},
                    "across models": row.verdict,
                }
                for row in across
            ]
        ),
        hide_index=True,
        key="across_models",
    )

st.subheader("Rates by scenario, goal and urgency")
if st.toggle("Group and filter the agentic rates", key="facets_on"):
    facet_suite = st.radio(
        "Suite", ["agentic", "agentic_published"], horizontal=True, key="facet_suite"
    )
    facet_values = svc.condition_facets(study_id, facet_suite)
    if not facet_values:
        st.caption("No agentic sample yet.")
    else:
        by = st.selectbox("Group by", list(facet_values), index=1, key="facet_by")
        filters = st.columns(len(facet_values) - 1)
        where = {
            facet: col.multiselect(facet, facet_values[facet], key=f"facet_{facet}")
            for col, facet in zip(
                filters, [f for f in facet_values if f != "condition"], strict=True
            )
        }
        rates = svc.condition_rates(study_id, by, where, model=model, suite=facet_suite)
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "variant": r.variant,
                        "arm": r.arm,
                        by: r.condition,
                        "% harmful": round(r.rate.estimate * 100, 1),
                        "interval": snapshot.TOO_SMALL
                        if r.rate.n < snapshot.MIN_CELL_N
                        else f"[{r.rate.low * 100:.1f}, {r.rate.high * 100:.1f}]",
                        "n": r.rate.n,
                    }
                    for r in rates
                ]
            ),
            hide_index=True,
            key="facet_rates",
        )

st.subheader("One item across cells")
st.caption(
    "The same scenario sample (or spec-QA question) in every run, with each judge's verdict."
)
if st.toggle("Show one item in every run", key="item_on"):
    suite = st.radio("Suite", ["agentic", "spec_qa"], horizontal=True, key="item_suite")
    c1, c2 = st.columns([3, 1])
    if suite == "agentic":
        conditions = svc.condition_facets(study_id).get("condition", [])
        condition = c1.selectbox("Condition", conditions, key="item_condition") or ""
        index = int(c2.number_input("Sample", min_value=0, value=0, key="item_index"))
        found = svc.item_across_runs(study_id, suite, condition=condition, sample_index=index)
    else:
        item = c1.text_input("Question id (e.g. SP1-q1)", key="item_id", max_chars=200)
        found = svc.item_across_runs(study_id, suite, item_id=item.strip()) if item.strip() else []
    wanted = st.multiselect("Cells", labels, default=labels[:2], key="item_cells") if labels else []
    shown = [(lab, samples) for lab, samples in found if f"{lab.variant} × {lab.arm}" in wanted]
    if not shown:
        st.caption("No sample of this item in the chosen cells.")
    for col, (lab, samples) in zip(st.columns(len(shown) or 1), shown, strict=False):
        col.markdown(f"**{literal(f'{lab.cell} · seed {lab.seed} · run {lab.run_id}')}**")
        for sample in samples:
            col.caption(literal(f"{sample.suite}: {sample.judge} → {sample.score}"))
        col.code(samples[0].response or "(empty)", language=None, wrap_lines=True)

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
    report = svc.freeze_report(
        study_id, title=title, author=author, pairs=list(chosen) or None, model=model
    )
    st.session_state["frozen"] = report.id
if "frozen" in st.session_state:
    # The report freezes the comparison family chosen above.
    rid = st.session_state["frozen"]
    st.success(f"Frozen as report {rid}")
    st.page_link("views/report.py", label="Open the report", query_params={"report": rid})
