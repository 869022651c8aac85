"""Sign-in for shared deployments, with what Streamlit provides (``st.login`` / ``st.user``).

The embedded single-user default needs no sign-in: whoever opens the dashboard acts as the
local operator (an admin, recorded as ``SPECLAB_USER``). A team deployment adds to
``.streamlit/secrets.toml``:

- an ``[auth]`` section (OpenID Connect: ``redirect_uri``, ``cookie_secret``, ``client_id``,
  ``client_secret``, ``server_metadata_url``): every page then needs a signed-in member;
- a ``[members]`` section giving roles by address or ``@domain`` (see :mod:`engine.access`);
  admins add more on the Members page.

A signed-in user whom no rule names, or whose provider says the address is not verified,
gets no role and sees only a page saying so. Roles are enforced by the service; this module
only decides who is acting and disables what their role cannot do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from app.state import ACTOR_KEY, literal, shared_service, team_mode
from engine.service import Actor, MemberRule, Role

_SIGNED_IN_KEY = "_speclab_signed_in"


def configured_members() -> tuple[MemberRule, ...]:
    """The ``[members]`` section of the secrets (empty without one).

    Raises:
        InputError: the section is malformed (naming the key).
    """
    raw: Any = st.secrets.get("members", {}) if team_mode() else {}
    return shared_service().members_config(dict(raw))


def _claim(name: str) -> Any:
    return st.user.get(name)


def resolve_actor(origin: str) -> Actor | None:
    """Who uses this session, acting from ``origin``: the local operator without sign-in;
    None for an anonymous visitor of a team deployment; otherwise the signed-in user with
    the role their membership gives (``role=None`` when they are no member)."""
    if not team_mode():
        return shared_service().local_actor(origin)
    # AppTest (and older servers) may not set is_logged_in at all: treat that as signed out.
    if not _claim("is_logged_in"):
        return None
    email = str(_claim("email") or "").strip().lower()
    name = email or str(_claim("sub") or _claim("name") or "unnamed user")
    if not email or _claim("email_verified") is False:
        return Actor(name=name, role=None, origin=origin)
    rule = shared_service().member_for(email, configured_members())
    return Actor(name=email, role=rule.role if rule else None, origin=origin)


def current_actor() -> Actor | None:
    """The actor ``app/main.py`` resolved for this run (None: nobody signed in)."""
    actor = st.session_state.get(ACTOR_KEY)
    return actor if isinstance(actor, Actor) else None


def record_sign_in(actor: Actor) -> None:
    """Audit a sign-in once per browser session (members and refused non-members alike)."""
    if not team_mode() or st.session_state.get(_SIGNED_IN_KEY) == actor.name:
        return
    st.session_state[_SIGNED_IN_KEY] = actor.name
    # The identity token's issue time tells one sign-in from the next; every page load of the
    # same sign-in is a new Streamlit session and must not count again.
    issued = _claim("iat")
    token = ""
    if isinstance(issued, int | float) and 0 < issued < 2**40:
        token = f"(token issued {datetime.fromtimestamp(issued, UTC):%Y-%m-%d %H:%M:%S} UTC)"
    detail = {"subject": str(_claim("sub") or "")[:200], "issuer": str(_claim("iss") or "")[:200]}
    shared_service().acting(actor).record_sign_in(
        allowed=actor.role is not None, token=token, detail=detail
    )


def sign_in_page() -> None:
    """All an anonymous visitor of a team deployment sees, whatever the URL."""
    st.title("SpecLab")
    st.write("This SpecLab is private to its team. Sign in to continue.")
    if st.button("Sign in", type="primary", key="signin"):
        st.login()


def not_a_member_page() -> None:
    """What a signed-in user without a role sees, whatever the URL."""
    actor = current_actor()
    st.title("SpecLab")
    who = actor.name if actor else "this account"
    st.warning(
        literal(f"You are signed in as {who}, which has no role in this SpecLab.")
        + " Ask one of its admins to add you, then sign in again."
    )
    if st.button("Sign out", key="signout"):
        st.logout()


def account_box(actor: Actor) -> None:
    """Who is signed in, with which role, and a sign-out button (team mode only)."""
    if not team_mode():
        return
    with st.sidebar:
        st.caption(literal(f"Signed in as {actor.name} ({actor.role or 'no role'})"))
        if st.button("Sign out", key="signout"):
            st.logout()


def signed_in_user() -> str | None:
    """The author name for a write when the acting member may write (an editor or admin, or
    the local operator); None otherwise, so pages disable their write controls."""
    actor = current_actor()
    if actor is None:
        # A page run outside app/main.py (never in the product): act as main.py would.
        actor = resolve_actor("dashboard")
    return actor.name if actor is not None and actor.allows(Role.EDITOR) else None


def require_author(action: str) -> str | None:
    """The author for a write action, or None (the caller then disables the action) with a
    line saying why: nobody signed in, or a role that may only read."""
    user = signed_in_user()
    if user is not None:
        return user
    actor = current_actor()
    if actor is None or actor.role is None:
        st.info(f"Sign in to {action}.")
        if st.button("Sign in", key=f"signin_{action}"):
            st.login()
    else:
        st.info(
            f"Your role ({actor.role.value}) may read but not {action}. "
            "Ask an admin for the editor role."
        )
    return None
