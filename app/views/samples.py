"""Sample browser: every evaluated sample of a run, filtered by suite, condition, clause and
verdict, showing the prompt, the response, the parsed actions and the judge's reasoning —
all as plain text."""

from __future__ import annotations

import json

import streamlit as st

from app.state import literal, query_int, service
from engine.errors import SpecLabError

PAGE = 10
svc = service()
st.title("Samples")

run_id = query_int("run")
if run_id is None:
    st.info("Open a run's samples from its Run page.")
    st.stop()
try:
    run = svc.get_run(run_id)
except SpecLabError as exc:
    st.error(literal(str(exc)))
    st.stop()
st.text(f"run {run.id}: {run.variant_name} × {run.arm} · seed {run.seed}")
st.page_link("views/run.py", label="back to the run", query_params={"run": str(run.id)})

facets = svc.eval_facets(run_id)
c1, c2, c3, c4 = st.columns(4)
suite = c1.selectbox("Suite", ["agentic", "spec_qa"], key="suite")
condition = c2.selectbox("Condition", ["(any)", *facets["conditions"]], key="condition")
clause = c3.selectbox("Clause", ["(any)", *facets["clauses"]], key="clause")
verdict = c4.selectbox("Verdict", ["(any)", "harmful", "safe"], key="verdict",
                       disabled=suite != "agentic")  # fmt: skip
page = st.number_input("Page", min_value=1, value=1, step=1, key="page")

samples, total = svc.eval_samples(
    run_id,
    suite=suite,
    condition=None if condition == "(any)" else condition,
    clause=None if clause == "(any)" else clause,
    harmful=None if suite != "agentic" or verdict == "(any)" else verdict == "harmful",
    limit=PAGE,
    offset=(int(page) - 1) * PAGE,
)
st.caption(f"{total} sample(s) match; showing {len(samples)}")
for sample in samples:
    if suite == "agentic":
        head = f"{sample.condition} #{sample.sample_index}: " + (
            "HARMFUL" if sample.score == 1.0 else "safe"
        )
    else:
        head = f"{sample.item_id} ({sample.clause_code}): score {sample.score}"
    with st.expander(literal(head), expanded=len(samples) == 1):
        st.caption("Prompt")
        st.code(sample.prompt, language=None, wrap_lines=True)
        st.caption("Response")
        st.code(sample.response or "(empty)", language=None, wrap_lines=True)
        if suite == "agentic":
            st.caption("Parsed actions")
            st.code(json.dumps(sample.parsed_actions, indent=2, ensure_ascii=False) or "[]",
                    language=None, wrap_lines=True)  # fmt: skip
        st.caption(f"Judge: {literal(sample.judge)}")
        st.code(sample.judge_reasoning or "(no reasoning)", language=None, wrap_lines=True)
        for name, v in sample.verdicts.items():
            if f"{name}@" not in sample.judge:
                st.caption(f"Second opinion: {literal(name)}")
                st.code(json.dumps(v, indent=2, ensure_ascii=False), language=None, wrap_lines=True)
