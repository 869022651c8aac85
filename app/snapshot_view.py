"""Rendering a study comparison snapshot: the same code draws the live study page, a frozen
report and a shared report, so a teammate sees exactly what the author saw."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from app.state import literal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.service import Capsule, ClauseRow, ConditionRow, Snapshot

CHART_TITLES = {
    "harmful_bars": "Agentic misalignment: % harmful (95% interval)",
    "qa_bars": "Spec QA score 0–10 (95% interval)",
    "condition_heatmap": "Harmful rate per condition",
    "clause_scores": "Spec QA per clause",
    "loss_curves": "Training loss",
}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * float(x):.1f}%"


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{float(x):.{digits}f}"


def _ci(low: str, high: str, n: int, snapshot: Snapshot) -> str:
    return (
        f"n too small (< {snapshot.MIN_CELL_N})" if n < snapshot.MIN_CELL_N else f"{low} – {high}"
    )


def headline_table(snapshot: Snapshot) -> pd.DataFrame:
    """Variant × arm: harmful rate and QA score, each with its interval and n (an interval
    over fewer than ``MIN_CELL_N`` samples reads "n too small")."""
    rows = [
        {
            "variant": r.variant,
            "arm": r.arm,
            "runs": r.runs,
            "% harmful": _pct(r.harmful_rate),
            "harmful 95% CI": _ci(_pct(r.harmful_low), _pct(r.harmful_high), r.n_agentic, snapshot),
            "n agentic": r.n_agentic,
            "QA score": _num(r.qa_score),
            "QA 95% CI": _ci(_num(r.qa_low), _num(r.qa_high), r.n_qa, snapshot),
            "n QA": r.n_qa,
            "P(harmful) forced choice": _num(r.p_harmful_fc, 3),
        }
        for r in snapshot.table
    ]
    return pd.DataFrame(rows)


def comparisons_table(snapshot: Snapshot) -> pd.DataFrame:
    rows = [
        {
            "A": c.a,
            "B": c.b,
            "metric": c.metric,
            "B − A": _num(c.diff, 3),
            "95% CI": f"{_num(c.low, 3)} – {_num(c.high, 3)}",
            "p (Holm)": _num(c.p_holm, 4),
            "pairs": c.n_pairs,
            "detectable at this n": (
                f"{100 * snapshot.detectable(c):.0f} pp"
                if c.metric == "harmful_rate"
                else f"{snapshot.detectable(c):.1f}"
            ),
            "verdict": snapshot.verdict_of(c),
            "method": c.method,
        }
        for c in snapshot.comparisons
    ]
    return pd.DataFrame(rows)


def instruments_table(snapshot: Snapshot) -> pd.DataFrame:
    """Each judge behind the snapshot's numbers with its measured agreement."""
    return pd.DataFrame(
        [
            {
                "suite": r.suite,
                "judge": r.judge,
                "labelled set": r.labelled_set or "—",
                "n": r.n,
                "accuracy": _num(r.accuracy, 3),
                "kappa": _num(r.kappa, 3),
                "uncertain where meaning decides": _pct(r.uncertain_rate),
                # Beside the development figures: the same judge on an independent set.
                "held-out set": r.heldout_set or "—",
                "held-out n": r.heldout_n,
                "held-out accuracy": _num(r.heldout_accuracy, 3),
                "held-out kappa": _num(r.heldout_kappa, 3),
                "note": r.note,
            }
            for r in snapshot.instruments
        ]
    )


def breakdown_table(rows: Sequence[ConditionRow | ClauseRow], snapshot: Snapshot) -> pd.DataFrame:
    """Per-condition or per-clause numbers; intervals over too few samples are not shown."""
    out = []
    for r in rows:
        d = dict(vars(r))
        if r.n < snapshot.MIN_CELL_N:
            d["low"] = d["high"] = None
            d["note"] = f"n too small (< {snapshot.MIN_CELL_N})"
        else:
            d["note"] = ""
        out.append(d)
    return pd.DataFrame(out)


def render_capsule(capsule: Capsule) -> None:
    """The capsule as JSON text."""
    st.code(json.dumps(capsule.to_dict(), indent=2, ensure_ascii=False), language="json")


def render_snapshot(snapshot: Snapshot, *, key: str) -> None:
    """Draw every part of a snapshot. Texts from users go through dataframes/code only, and
    each chart spec is checked again before it is drawn."""
    study = snapshot.study
    st.text(f"Study {study.id} · spec {study.spec} · status {study.status}")
    st.subheader("Headline")
    table = headline_table(snapshot)
    if table.empty:
        st.info("No evaluation results yet.")
    else:
        # A static table (real HTML cells): what a browser, a screen reader or a test reads.
        st.table(table.set_index(["variant", "arm"]))
    if snapshot.instruments:
        st.caption(
            "Instruments behind these numbers, measured against labelled truth "
            "(`speclab judge validate`):"
        )
        st.dataframe(instruments_table(snapshot), hide_index=True, key=f"{key}_instruments")
    comparisons = comparisons_table(snapshot)
    st.subheader("Paired comparisons")
    if comparisons.empty:
        st.caption("Nothing to compare yet (a comparison needs two cells with shared items).")
    else:
        noise = sum(c.within_noise for c in snapshot.comparisons)
        weak = sum(snapshot.underpowered(c) for c in snapshot.comparisons)
        st.caption(
            f"{noise} of {len(comparisons)} differences are {snapshot.WITHIN_NOISE}: their 95% "
            "interval covers zero or their Holm-corrected p ≥ 0.05. "
            f"{weak} of them are underpowered: at their n the test could not have detected a "
            "20-point difference in harmful rate (or 2 points of QA score), so they show an "
            "absence of evidence, not evidence of no effect."
        )
        st.dataframe(comparisons, hide_index=True, key=f"{key}_comparisons")
    if snapshot.omitted_pairs:
        st.caption(
            f"{snapshot.omitted_pairs} more pair(s) left out of the default family to keep "
            "Holm's correction useful; choose pairs to compare them."
        )
    for chart in snapshot.checked_charts():
        st.subheader(literal(CHART_TITLES.get(chart.name, chart.name)))
        if chart.refusal is not None:
            st.error(literal(f"Chart refused: {chart.refusal}."))
            continue
        st.vega_lite_chart(chart.spec, width="stretch", key=f"{key}_chart_{chart.name}")
    with st.expander("Per condition and per clause numbers"):
        st.dataframe(breakdown_table(snapshot.conditions, snapshot), hide_index=True,
                     key=f"{key}_conditions")  # fmt: skip
        st.dataframe(breakdown_table(snapshot.clauses, snapshot), hide_index=True,
                     key=f"{key}_clauses")  # fmt: skip
    with st.expander("Reproducibility capsule"):
        if snapshot.capsule is None:
            st.caption(
                "The capsule (commit, package versions, stage keys and artifact hashes) is "
                "recorded when a report is frozen."
            )
        else:
            render_capsule(snapshot.capsule)
