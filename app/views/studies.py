"""Studies: every study with its status, and the runs of the one chosen."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.state import literal, query_int, service
from engine.errors import SpecLabError

svc = service()
st.title("Studies")
st.caption("Launch a study from New study or with `speclab study launch study.yaml`.")

studies = svc.list_studies(limit=100)
if not studies:
    st.info("No studies yet.")
    st.stop()

st.dataframe(
    pd.DataFrame(
        [
            {
                "id": s.id,
                "name": s.name,
                "spec": s.spec_ref,
                "status": s.status,
                "runs": s.n_runs,
                "by": s.created_by,
                "created": s.created_at.strftime("%Y-%m-%d %H:%M"),
            }
            for s in studies
        ]
    ),
    hide_index=True,
    key="studies_table",
)

ids = [s.id for s in studies]
wanted = query_int("study")
study_id = st.selectbox(
    "Study",
    ids,
    index=ids.index(wanted) if wanted in ids else 0,
    format_func=lambda i: f"{i}: " + next(s.name for s in studies if s.id == i),
)
st.query_params["study"] = str(study_id)
st.page_link("views/study.py", label="Open the comparison", query_params={"study": str(study_id)})


RUNS_PAGE = 25
n_runs = next(s.n_runs for s in studies if s.id == study_id)
pages = max(1, -(-n_runs // RUNS_PAGE))
# Runs are shown a page at a time: a 200-run study would otherwise put 1,000 elements on the
# page, and the browser, not the database, would make the user wait.
runs_page = int(
    st.number_input(f"Runs page (of {pages})", min_value=1, max_value=pages, value=1, step=1)
    if pages > 1
    else 1
)


@st.fragment(run_every=3)
def live_study() -> None:
    try:
        study = svc.get_study(int(study_id))
    except SpecLabError as exc:
        st.error(literal(str(exc)))
        return
    stages = {st_.id: st_ for r in study.runs for st_ in r.stages}
    done = sum(1 for x in stages.values() if x.state == "succeeded")
    st.progress(done / max(len(stages), 1), text=f"{study.status}: {done}/{len(stages)} stages")
    first = (runs_page - 1) * RUNS_PAGE
    shown = study.runs[first : first + RUNS_PAGE]
    if len(study.runs) > len(shown):
        st.caption(f"runs {first + 1}–{first + len(shown)} of {len(study.runs)}")
    for run in shown:
        cols = st.columns([3, 2, 1, 2])
        cols[0].text(f"run {run.id}: {run.variant_name} × {run.arm} · seed {run.seed}")
        cols[1].text(run.status)
        cols[2].text(f"{sum(1 for x in run.stages if x.cached)} cached")
        cols[3].page_link("views/run.py", label="open run", query_params={"run": str(run.id)})


live_study()

st.subheader("Trend across studies")
st.caption(
    "One number per cell across the studies on one spec, each computed as its study page "
    "computes it (that study's headline judge, seeds pooled), oldest study first."
)
if st.toggle("Show the trend", key="trend_on"):
    specs = sorted({s.spec_ref.partition("@")[0] for s in studies})
    metrics = svc.trend_metrics()
    c1, c2 = st.columns(2)
    spec = c1.selectbox("Spec", specs, key="trend_spec")
    metric = c2.selectbox(
        "Number", list(metrics), format_func=lambda k: metrics[k], key="trend_metric"
    )
    points, chart = svc.spec_trend(spec, metric)
    if not any(p.value is not None for p in points):
        st.info("No study on this spec has this number yet.")
    else:
        st.vega_lite_chart(chart, width="stretch")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "study": f"#{p.study_id} {p.study}",
                        "cell": p.cell,
                        "value": None if p.value is None else round(p.value.estimate, 3),
                        "interval": p.interval,
                        "n": None if p.value is None else p.value.n,
                        "judge": p.judge,
                    }
                    for p in points
                ]
            ),
            hide_index=True,
            key="trend_table",
        )
