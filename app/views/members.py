"""Members (admins only): roles by address or ``@domain``, on top of the deployment's own
``[members]`` configuration, which this page shows but cannot change."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.auth import configured_members
from app.state import literal, service
from engine.errors import SpecLabError
from engine.service import ROLES

svc = service()
st.title("Members")
st.caption(
    "Viewers read; editors also edit specs, launch, cancel, retry, freeze and share; admins "
    "also manage members, revoke any share link and read the audit log. An address rule beats "
    "a domain rule; the deployment's configuration (secrets.toml) beats this page."
)

configured = configured_members()
rules = svc.member_rules(configured)
if rules:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "address or @domain": r.pattern,
                    "role": r.role.value,
                    "set in": "configuration" if r.source == "config" else "this page",
                }
                for r in rules
            ]
        ),
        hide_index=True,
        key="members_table",
    )
else:
    st.info("No members yet.")

st.subheader("Give a role")
with st.form("member_form", clear_on_submit=True):
    c1, c2 = st.columns([3, 1])
    pattern = c1.text_input("Address or @domain", placeholder="alice@example.org or @example.org")
    role = c2.selectbox("Role", [r.value for r in ROLES], index=0)
    if st.form_submit_button("Save", type="primary"):
        try:
            saved = svc.set_member(pattern, role, configured)
        except SpecLabError as exc:
            st.error(literal(str(exc)))
        else:
            st.success(literal(f"{saved.pattern} is now {saved.role.value}."))
            st.rerun()

stored = [r.pattern for r in rules if r.source == "database"]
if stored:
    st.subheader("Remove a member")
    c1, c2 = st.columns([3, 1])
    gone = c1.selectbox("Address or @domain", stored, key="remove_pattern")
    if c2.button("Remove", key="remove_member"):
        try:
            svc.remove_member(gone)
        except SpecLabError as exc:
            st.error(literal(str(exc)))
        else:
            st.rerun()
