"""Entry point of the dashboard: ``streamlit run app/main.py`` (``speclab serve`` does it)."""

from __future__ import annotations

import streamlit as st

from app.state import service
from engine.errors import SpecLabError

st.set_page_config(page_title="SpecLab", page_icon="🧪", layout="wide")

try:
    service().check_schema()
except SpecLabError as exc:
    st.error(str(exc))
    st.stop()

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", url_path="home", default=True),
    st.Page("pages/specs.py", title="Specs", icon="📜", url_path="specs"),
    st.Page("pages/runs.py", title="Runs", icon="⚙️", url_path="runs"),
]
st.navigation(pages).run()
