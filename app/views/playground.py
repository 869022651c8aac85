"""Playground: pick two or more runs (any variant × arm × seed × model), type or pick a prompt
— a built-in spec-QA question or an agentic scenario sample included — and read their replies
side by side, with the suite's verdict on each. A worker generates the replies in the
background through the same backends the evals use; everything shown is text."""

from __future__ import annotations

import streamlit as st

from app.state import literal, parse_id, service
from engine.errors import SpecLabError

REFRESH_SECONDS = 2
KINDS = {
    "Type a prompt": "text",
    "Agentic scenario sample": "agentic",
    "Spec-QA question": "spec_qa",
}

svc = service()
st.title("Playground")
st.caption(
    "Each run's final model (its base model plus the adapters its training stages wrote) "
    "answers the same prompt. Agentic samples are judged by the world rules and spec-QA "
    "questions by the default rubric judge; typed prompts have no judge."
)

studies = svc.list_studies(limit=100)
if not studies:
    st.info("No study yet: launch one on the New study page, then compare its runs here.")
    st.stop()
names = {s.id: f"#{s.id} {s.name}" for s in studies}
# `?runs=3,7` (the study page links here) preselects those runs and their studies.
wanted: list[int] = []
for raw in st.query_params.get("runs", "").split(",")[:6]:
    run_id = parse_id(raw.strip())
    if raw.strip() and run_id is None:
        st.error(literal(f"The address's run id {raw.strip()[:20]!r} is not a valid id; ignored."))
    elif run_id is not None:
        wanted.append(run_id)
wanted_studies = []
for run_id in wanted:
    try:
        wanted_studies.append(svc.get_run(run_id).study_id)
    except SpecLabError as exc:
        st.error(literal(str(exc)))
default_studies = [i for i in dict.fromkeys(wanted_studies) if i in names] or [studies[0].id]
chosen_studies = st.multiselect(
    "Studies", list(names), default=default_studies, format_func=lambda i: names[i]
)
runs = {
    r.id: f"#{r.id} {r.variant_name}/{r.arm} seed {r.seed} · {r.model} · {r.status}"
    for sid in chosen_studies
    for r in svc.get_study(sid).runs
}
picked = st.multiselect(
    "Runs (two or more)",
    list(runs),
    default=[r for r in wanted if r in runs],
    format_func=lambda i: runs[i],
    max_selections=6,
)

with st.form("ask"):
    kind = KINDS[st.radio("Prompt", list(KINDS), horizontal=True)]
    prompt: dict[str, object] = {"kind": kind}
    choices = svc.playground_choices()
    if kind == "text":
        prompt["system"] = st.text_input("System message (optional)", max_chars=8000)
        prompt["text"] = st.text_area("User message", max_chars=8000)
    elif kind == "agentic":
        c1, c2 = st.columns([3, 1])
        prompt["condition"] = c1.selectbox("Condition", choices.conditions)
        prompt["sample_index"] = int(c2.number_input("Sample", min_value=0, max_value=100_000))
    else:
        qid = st.selectbox(
            "Question",
            list(choices.questions),
            format_func=lambda q: f"{q}: {choices.questions[q][:90]}",
        )
        prompt["question_id"] = qid
    c1, c2, c3 = st.columns(3)
    max_new = int(c1.number_input("Max new tokens", min_value=1, max_value=1024, value=128))
    temperature = float(c2.number_input("Temperature", 0.0, 2.0, 0.0, step=0.1))
    seed = int(c3.number_input("Seed", min_value=0, value=0))
    if st.form_submit_button("Ask", type="primary"):
        try:
            asked = svc.ask_playground(
                picked, prompt, max_new_tokens=max_new, temperature=temperature, seed=seed
            )
        except SpecLabError as exc:
            st.error(literal(str(exc)))
        else:
            st.success(f"Queued as job {asked.job_id}; the replies appear below.")


@st.fragment(run_every=REFRESH_SECONDS)
def sessions() -> None:
    for i, session in enumerate(svc.playground_sessions(limit=10)):
        head = (
            f"job {session.job_id} · {session.prompt} · {len(session.runs)} runs · {session.state}"
        )
        with st.expander(literal(head), expanded=i == 0):
            if session.error:
                st.error(literal(session.error))
            if not session.replies:
                st.caption(literal(session.progress or "waiting for a worker"))
                continue
            if session.messages:
                st.caption("Prompt (last message)")
                st.code(
                    str(session.messages[-1].get("content", "")), language=None, wrap_lines=True
                )
            for col, reply in zip(st.columns(len(session.replies)), session.replies, strict=True):
                col.markdown(f"**{literal(reply.run)}**")
                col.caption(literal(f"{reply.verdict} · {reply.seconds:.1f} s"))
                col.code(reply.text or "(empty)", language=None, wrap_lines=True)
                if reply.reasons:
                    col.caption(literal(reply.reasons[:500]))


st.subheader("Replies")
sessions()
