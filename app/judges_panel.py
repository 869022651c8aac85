"""The study page's "Instruments / judges" section: which judge's verdicts each suite's
numbers use, re-judging the whole study with another judge (a worker runs it; its progress
shows here), and choosing the headline judge per suite."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.auth import signed_in_user
from app.state import literal
from engine.errors import SpecLabError
from engine.service import Service, Study

SUITES = ("agentic", "spec_qa")
AS_RUN = ""


def _as_run_label(judge: str) -> str:
    return judge or "as run (the judges the study ran with)"


def render_judges(svc: Service, study: Study) -> None:
    """Draw the section for ``study``: the judge behind each suite's numbers (from the study
    already loaded), and, when asked for, the re-judging jobs and controls."""
    st.subheader("Instruments / judges")
    picked = svc.headline_judges(study)
    st.caption(
        "Which judge's verdicts produce each suite's numbers above (headline table, paired "
        "comparisons, breakdowns, instruments, reports and exports):"
    )
    for suite in SUITES:
        judge = picked.get(suite, AS_RUN)
        st.text(f"{suite}: {'re-judged by ' + judge if judge else _as_run_label(judge)}")
    # Behind a toggle: the page's default render sends no statement for this section.
    if st.toggle("Re-judge the study or choose the headline judge", key="judges_manage"):
        _jobs_and_headline(svc, study, picked)
        _start_form(svc, study)


def _jobs_and_headline(svc: Service, study: Study, picked: dict[str, str]) -> None:
    jobs = svc.rejudge_jobs(study.id)
    active = any(not j.is_finished for j in jobs)

    @st.fragment(run_every=3 if active else None)
    def live() -> None:
        current = svc.rejudge_jobs(study.id) if active else jobs
        if current:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "job": j.id,
                            "re-judging": j.label.split(": ", 1)[-1],
                            "state": j.state,
                            "progress": f"{j.progress:.0%}",
                            "message": j.error or j.progress_message,
                        }
                        for j in current
                    ]
                ),
                hide_index=True,
                key="rejudge_jobs",
            )
        if active and all(j.is_finished for j in current):
            st.rerun()  # a re-judging ended: its judge can now be the headline

    live()
    done = {
        (str(j.payload.get("suite")), str(j.payload.get("judge")))
        for j in jobs
        if j.state == "succeeded"
    }
    author = signed_in_user()
    cols = st.columns(len(SUITES))
    for col, suite in zip(cols, SUITES, strict=True):
        options = [AS_RUN, *sorted({judge for s, judge in done if s == suite})]
        if picked.get(suite, AS_RUN) not in options:
            options.append(picked[suite])
        choice = col.selectbox(
            f"Headline judge for {suite}",
            options,
            index=options.index(picked.get(suite, AS_RUN)),
            format_func=_as_run_label,
            key=f"headline_{suite}",
            disabled=author is None or len(options) < 2,
        )
        if choice != picked.get(suite, AS_RUN):
            try:
                svc.set_headline_judge(study.id, suite, choice)
            except SpecLabError as exc:
                col.error(literal(str(exc)))
            else:
                st.rerun()


def _start_form(svc: Service, study: Study) -> None:
    author = signed_in_user()
    with st.expander("Re-judge the whole study with another judge"):
        if author is None:
            st.caption("Sign in as an editor to re-judge a study.")
        c1, c2 = st.columns(2)
        suite = c1.selectbox("Suite", SUITES, key="rejudge_suite")
        choices = svc.judge_choices(suite)
        judge = c2.selectbox("Judge", list(choices), key="rejudge_judge")
        if judge:
            st.caption(literal(choices[judge]))
        needs = bool(judge) and svc.judge_needs_endpoint(judge)
        c3, c4 = st.columns(2)
        base_url = c3.text_input(
            "Judge endpoint (OpenAI-compatible base URL)",
            placeholder="http://127.0.0.1:8000/v1",
            disabled=not needs,
            key="rejudge_base_url",
            max_chars=500,
        )
        model = c4.text_input("Judge model", disabled=not needs, key="rejudge_model", max_chars=200)
        st.caption(
            "The verdicts the study ran with stay; the new ones are added. Re-judging with the "
            "same judge and version again changes nothing."
        )
        if st.button("Start re-judging", disabled=author is None or not judge, key="rejudge"):
            try:
                job = svc.rejudge_study(
                    study.id,
                    suite=suite,
                    judge=judge,
                    judge_base_url=base_url if needs else "",
                    judge_model=model if needs else "",
                )
            except SpecLabError as exc:
                st.error(literal(str(exc)))
            else:
                st.session_state["rejudge_queued"] = job.id
                st.rerun()
        if "rejudge_queued" in st.session_state:
            st.success(
                f"Re-judging queued as job {st.session_state['rejudge_queued']}; a worker runs it."
            )
