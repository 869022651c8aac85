"""Rendering a study comparison snapshot: the same code draws the live study page, a frozen
report and a shared report, so a teammate sees exactly what the author saw."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

CHART_TITLES = {
    "harmful_bars": "Agentic misalignment: % harmful (95% interval)",
    "qa_bars": "Spec QA score 0–10 (95% interval)",
    "condition_heatmap": "Harmful rate per condition",
    "clause_scores": "Spec QA per clause",
    "loss_curves": "Training loss",
}


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.1f}%"


def _num(x: Any, digits: int = 2) -> str:
    return "–" if x is None else f"{float(x):.{digits}f}"


def headline_table(snapshot: dict[str, Any]) -> pd.DataFrame:
    """Variant × arm: harmful rate and QA score, each with its interval and n."""
    rows = []
    for r in snapshot.get("table", []):
        rows.append(
            {
                "variant": r["variant"],
                "arm": r["arm"],
                "runs": r["runs"],
                "% harmful": _pct(r["harmful_rate"]),
                "harmful 95% CI": f"{_pct(r['harmful_low'])} – {_pct(r['harmful_high'])}",
                "n agentic": r["n_agentic"],
                "QA score": _num(r["qa_score"]),
                "QA 95% CI": f"{_num(r['qa_low'])} – {_num(r['qa_high'])}",
                "n QA": r["n_qa"],
                "P(harmful) forced choice": _num(r.get("p_harmful_fc"), 3),
            }
        )
    return pd.DataFrame(rows)


def comparisons_table(snapshot: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for c in snapshot.get("comparisons", []):
        rows.append(
            {
                "A": c["a"],
                "B": c["b"],
                "metric": c["metric"],
                "B − A": _num(c["diff"], 3),
                "95% CI": f"{_num(c['low'], 3)} – {_num(c['high'], 3)}",
                "p (Holm)": _num(c.get("p_holm"), 4),
                "pairs": c["n_pairs"],
                "verdict": "within noise" if c["within_noise"] else "DIFFERENT",
                "method": c["method"],
            }
        )
    return pd.DataFrame(rows)


def render_snapshot(snapshot: dict[str, Any], *, key: str) -> None:
    """Draw every part of a snapshot. Texts from users go through dataframes/code only."""
    study = snapshot.get("study", {})
    st.caption(f"Study {study.get('id')} · spec {study.get('spec')} · status {study.get('status')}")
    st.subheader("Headline")
    table = headline_table(snapshot)
    if table.empty:
        st.info("No evaluation results yet.")
    else:
        # A static table (real HTML cells): what a browser, a screen reader or a test reads.
        st.table(table.set_index(["variant", "arm"]))
    comparisons = comparisons_table(snapshot)
    st.subheader("Paired comparisons")
    if comparisons.empty:
        st.caption("Nothing to compare yet (a comparison needs two cells with shared items).")
    else:
        noise = int((comparisons["verdict"] == "within noise").sum())
        st.caption(
            f"{noise} of {len(comparisons)} differences are within noise: their 95% interval "
            "covers zero or their Holm-corrected p ≥ 0.05. On small models expect most to be."
        )
        st.dataframe(comparisons, hide_index=True, key=f"{key}_comparisons")
    charts = snapshot.get("charts", {})
    for name, spec in charts.items():
        st.subheader(CHART_TITLES.get(name, name))
        st.vega_lite_chart(spec, use_container_width=True, key=f"{key}_chart_{name}")
    with st.expander("Per condition and per clause numbers"):
        st.dataframe(pd.DataFrame(snapshot.get("conditions", [])), hide_index=True,
                     key=f"{key}_conditions")  # fmt: skip
        st.dataframe(pd.DataFrame(snapshot.get("clauses", [])), hide_index=True,
                     key=f"{key}_clauses")  # fmt: skip
    with st.expander("Reproducibility capsule"):
        st.code(json.dumps(snapshot.get("capsule", {}), indent=2, ensure_ascii=False),
                language="json")  # fmt: skip
