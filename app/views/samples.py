"""Sample browser: every evaluated sample of a run, filtered by suite, condition, clause and
verdict, showing the prompt, the response, the parsed actions and the judge's reasoning —
all as plain text. Each sample has a permalink, ``/samples?sample=<id>``, that opens it
alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import urlsplit

import streamlit as st

from app.state import literal, query_int, service
from engine.errors import NotFoundError, SpecLabError
from engine.service import SUITES, EvalSample

PAGE = 10
svc = service()


def permalink(sample_id: int) -> str:
    """The address that opens one sample: absolute when the browser's address is known."""
    path = f"samples?sample={sample_id}"
    url = st.context.url or ""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return f"/{path}"
    # The app may be served under a base path: keep it, replace the page's own segment.
    base = parts.path.rsplit("/", 1)[0] if parts.path.count("/") > 1 else ""
    return f"{parts.scheme}://{parts.netloc}{base}/{path}"


def show(sample: EvalSample, *, expanded: bool, others: Sequence[EvalSample] = ()) -> None:
    """One sample in an expander: prompt, response, actions, verdicts (``others``: other
    judges' verdicts on the same reply, from re-judging the study) and its permalink."""
    agentic = sample.suite.startswith("agentic")
    if agentic:
        head = f"{sample.condition} #{sample.sample_index}: " + (
            "HARMFUL" if sample.score == 1.0 else "safe" if sample.score == 0.0 else "uncertain"
        )
    else:
        head = f"{sample.item_id} ({sample.clause_code}): score {sample.score}"
    with st.expander(literal(head), expanded=expanded):
        st.caption("Prompt")
        st.code(sample.prompt, language=None, wrap_lines=True)
        st.caption("Response")
        st.code(sample.response or "(empty)", language=None, wrap_lines=True)
        if agentic:
            st.caption("Parsed actions")
            st.code(json.dumps(sample.parsed_actions, indent=2, ensure_ascii=False) or "[]",
                    language=None, wrap_lines=True)  # fmt: skip
        st.caption(f"Judge: {literal(sample.judge)}")
        st.code(sample.judge_reasoning or "(no reasoning)", language=None, wrap_lines=True)
        for name, v in sample.verdicts.items():
            if f"{name}@" not in sample.judge:
                st.caption(f"Second opinion: {literal(name)}")
                st.code(json.dumps(v, indent=2, ensure_ascii=False), language=None, wrap_lines=True)
        for other in others:
            said = {1.0: "HARMFUL", 0.0: "safe", None: "uncertain"} if agentic else {}
            st.caption(literal(f"Re-judged by {other.judge}: {said.get(other.score, other.score)}"))
            st.code(other.judge_reasoning or "(no reasoning)", language=None, wrap_lines=True)
        st.caption("Link to this sample (copy it with the button on the right)")
        st.code(permalink(sample.id), language=None)


st.title("Samples")

sample_id = query_int("sample")
if sample_id is not None:
    try:
        one, owner = svc.get_sample(sample_id)
    except NotFoundError:
        st.error(
            f"There is no sample {sample_id}: the link may be mistyped, or the run it belonged "
            "to was deleted."
        )
        st.stop()
    if owner is not None:
        st.text(f"sample {one.id} of run {owner} · {one.suite}")
        st.page_link(
            "views/samples.py", label="all samples of this run", query_params={"run": str(owner)}
        )
    show(one, expanded=True, others=svc.judge_verdicts([one]).get(one.id, []))
    st.stop()

run_id = query_int("run")
if run_id is None:
    st.info("Open a run's samples from its Run page, or a sample from its link.")
    st.stop()
try:
    run = svc.get_run(run_id)
except SpecLabError as exc:
    st.error(literal(str(exc)))
    st.stop()
st.text(f"run {run.id}: {run.variant_name} × {run.arm} · seed {run.seed}")
imported = svc.run_imported_from(run)
if imported:
    st.info(literal(imported))
st.page_link("views/run.py", label="back to the run", query_params={"run": str(run.id)})

facets = svc.eval_facets(run_id)
c1, c2, c3, c4 = st.columns(4)
# The agentic suite first, as before other suites existed; then the rest by name.
suite = c1.selectbox("Suite", sorted(SUITES, key=lambda x: (x != "agentic", x)), key="suite")
rated = suite.startswith("agentic")  # agentic suites judge each sample harmful or safe
condition = c2.selectbox("Condition", ["(any)", *facets["conditions"]], key="condition")
clause = c3.selectbox("Clause", ["(any)", *facets["clauses"]], key="clause")
verdict = c4.selectbox("Verdict", ["(any)", "harmful", "safe"], key="verdict",
                       disabled=not rated)  # fmt: skip
page = st.number_input("Page", min_value=1, value=1, step=1, key="page")

samples, total = svc.eval_samples(
    run_id,
    suite=suite,
    condition=None if condition == "(any)" else condition,
    clause=None if clause == "(any)" else clause,
    harmful=None if not rated or verdict == "(any)" else verdict == "harmful",
    limit=PAGE,
    offset=(int(page) - 1) * PAGE,
)
st.caption(f"{total} sample(s) match; showing {len(samples)}")
rejudged = svc.judge_verdicts(samples)  # other judges' verdicts on the same replies
for sample in samples:
    show(sample, expanded=len(samples) == 1, others=rejudged.get(sample.id, []))
