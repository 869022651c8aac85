"""Entry point of the dashboard: ``streamlit run app/main.py`` (``speclab serve`` does it)."""

from __future__ import annotations

import streamlit as st

from app.state import service
from engine.errors import SpecLabError

st.set_page_config(page_title="SpecLab", page_icon=":material/science:", layout="wide")

try:
    service().check_schema()
except SpecLabError as exc:
    st.error(str(exc))
    st.stop()

# A share link shows one report and nothing else: no navigation, no other page.
if "share" in st.query_params:
    from app.shared import show_shared_report

    show_shared_report(st.query_params["share"])
    st.stop()

pages = [
    st.Page("views/home.py", title="Home", icon=":material/home:", url_path="home", default=True),
    st.Page("views/specs.py", title="Specs", icon=":material/description:", url_path="specs"),
    st.Page("views/new_study.py", title="New study", icon=":material/add_circle:", url_path="new"),
    st.Page("views/studies.py", title="Studies", icon=":material/science:", url_path="studies"),
    st.Page("views/study.py", title="Study", icon=":material/compare:", url_path="study"),
    st.Page("views/report.py", title="Reports", icon=":material/summarize:", url_path="report"),
    st.Page("views/run.py", title="Run", icon=":material/timeline:", url_path="run"),
    st.Page("views/samples.py", title="Samples", icon=":material/list:", url_path="samples"),
    st.Page("views/runs.py", title="Jobs", icon=":material/play_circle:", url_path="runs"),
]
st.navigation(pages).run()
