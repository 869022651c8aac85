"""Sign-in for shared deployments, with what Streamlit provides (``st.login`` / ``st.user``).

The embedded single-user default needs no sign-in: edits and launches are recorded under
``SPECLAB_USER``. When the dashboard is configured for a team — an ``[auth]`` section in
``.streamlit/secrets.toml`` (OpenID Connect: ``redirect_uri``, ``cookie_secret``,
``client_id``, ``client_secret``, ``server_metadata_url``) — launching, editing and freezing
require a signed-in user, who is recorded as the author.
"""

from __future__ import annotations

import streamlit as st

from app.state import service


def team_mode() -> bool:
    """Whether sign-in is configured (an ``[auth]`` section in Streamlit's secrets)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: the single-user default
        return False


def signed_in_user() -> str | None:
    """Who is acting: the signed-in user in team mode, ``SPECLAB_USER`` otherwise, or None
    when a team deployment has nobody signed in."""
    if not team_mode():
        return service().settings.user
    # AppTest (and older servers) may not set is_logged_in at all: treat that as signed out.
    if not st.user.get("is_logged_in", False):
        return None
    return str(st.user.get("email") or st.user.get("name") or "signed-in user")


def require_author(action: str) -> str | None:
    """The author for a write action; in team mode without sign-in, show a sign-in button
    instead and return None (the caller then disables the action)."""
    user = signed_in_user()
    if user is None:
        st.info(f"Sign in to {action}.")
        if st.button("Sign in", key=f"signin_{action}"):
            st.login()
    return user
