"""The dashboard's handle on the service, shared by every page of one server process."""

from __future__ import annotations

import streamlit as st

from engine.service import Service


@st.cache_resource(show_spinner=False)
def service() -> Service:
    """One :class:`Service` per server process (it holds the database connection pool)."""
    return Service.from_env()


def ago(seconds: float) -> str:
    """A short human age: ``4s``, ``3m``, ``2h``."""
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
