"""Who may do what: roles, the acting member, membership rules and the audit trail's export.

Roles are ordered ``viewer < editor < admin``. Viewers read; editors also edit specs, launch,
cancel, retry, freeze and share; admins also manage members, revoke any share link and read
the audit log. :class:`engine.service.Service` checks the role of its :class:`Actor` at the
start of every write (:func:`require`), so no page, forged request or future page can skip it.

Membership comes from two places, merged by :func:`resolve`:

- the deployment's configuration, a ``[members]`` section in ``.streamlit/secrets.toml`` next
  to the ``[auth]`` section (read by the dashboard and passed here as a mapping)::

      [members]
      admin = ["alice@example.org"]
      editor = ["@example.org"]          # every address of the domain
      viewer = ["bob@partner.example"]

- rows stored from the admin Members page (:mod:`db.members`).

The most specific rule wins: an address rule over a domain rule; at equal specificity the
configuration wins, so the operator's admins cannot be demoted (or locked out) from the page.
A signed-in user whom no rule names has no role and sees no page.

The CLI and the single-user dashboard (no ``[auth]`` section) act as the local operator, who
is an admin.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from db.audit import AuditEventEntity
from engine.errors import AccessDenied, InputError


class Role(enum.StrEnum):
    """A member's role; a higher role may do everything a lower one may."""

    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3}

ROLES: tuple[Role, ...] = (Role.VIEWER, Role.EDITOR, Role.ADMIN)

ACTIONS: dict[str, str] = {
    "database.init": "create or upgrade the database",
    "spec.import": "import specs",
    "spec.save": "edit specs",
    "variant.derive": "derive variants",
    "dataset.import": "import datasets",
    "study.launch": "launch studies",
    "study.cancel": "cancel studies",
    "job.cancel": "cancel jobs",
    "job.retry": "retry jobs",
    "report.freeze": "freeze reports",
    "report.share": "share reports",
    "share.revoke": "revoke share links",
    "share.revoke_any": "revoke other people's share links",
    "member.set": "assign roles",
    "member.remove": "remove members",
    "audit.read": "read the audit log",
    "sign_in": "sign in",
}
"""Every audited action, as ``noun.verb`` → what it lets someone do (used in messages)."""


@dataclass(frozen=True)
class Actor:
    """Who is acting, with which role, and from where (recorded with every write)."""

    name: str = field(metadata={"help": "e-mail address of the member, or the operator's name"})
    role: Role | None = field(metadata={"help": "the member's role; None: no role at all"})
    origin: str = field(
        default="cli", metadata={"help": "where the action comes from: 'cli', 'dashboard:/page'"}
    )
    local: bool = field(
        default=False,
        metadata={
            "help": "the person at this machine (CLI, single-user dashboard), who may be told "
            "about the server's files; never someone signed in from elsewhere"
        },
    )

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InputError("an actor needs a name", field="actor")

    def allows(self, role: Role) -> bool:
        """Whether this actor's role is ``role`` or higher."""
        return self.role is not None and self.role.rank >= role.rank

    def at(self, origin: str) -> Actor:
        """The same actor acting from ``origin``."""
        return replace(self, origin=origin)


def local_operator(name: str, origin: str = "cli") -> Actor:
    """The person at this machine (the CLI, the single-user dashboard): an admin."""
    return Actor(name=name or "local", role=Role.ADMIN, origin=origin, local=True)


def require(actor: Actor, role: Role, action: str) -> None:
    """Raise :class:`AccessDenied` unless ``actor`` has ``role`` or higher for ``action``."""
    if actor.allows(role):
        return
    what = ACTIONS.get(action, action)
    has = f"a {actor.role.value}" if actor.role is not None else "not a member"
    raise AccessDenied(
        "forbidden",
        f"{actor.name} is {has} here, and to {what} needs the {role.value} role. "
        "Ask an admin of this SpecLab for it.",
    )


# -- membership --------------------------------------------------------------------------

MAX_PATTERN_CHARS = 320
Source = Literal["config", "database"]


@dataclass(frozen=True)
class MemberRule:
    """One role assignment: an address or a whole domain, and where it was made."""

    pattern: str = field(metadata={"help": "'alice@example.org' or '@example.org' (lower case)"})
    role: Role = field(metadata={"help": "the role it gives"})
    source: Source = field(
        default="database", metadata={"help": "'config' (secrets.toml) or 'database' (page)"}
    )

    @property
    def is_domain(self) -> bool:
        return self.pattern.startswith("@")


def _domain_ok(domain: str) -> bool:
    labels = domain.split(".")
    return all(
        label and not label.startswith("-") and all(c.isalnum() or c == "-" for c in label)
        for label in labels
    ) and all(c.isascii() for c in domain)


def normalise_pattern(text: str, *, source: str | None = None, field: str = "pattern") -> str:
    """An address (``alice@example.org``) or a domain (``@example.org``), lower-cased.

    Raises:
        InputError: anything else (no ``@``, spaces or control characters, a malformed domain,
            more than 320 characters), naming ``field``.
    """
    if not isinstance(text, str):
        raise InputError("expected text: an address or an @domain", source=source, field=field)
    p = text.strip().lower()
    hint = "write an address (alice@example.org) or a domain with its @ (@example.org)"
    if not p or len(p) > MAX_PATTERN_CHARS:
        raise InputError(
            f"{hint}; at most {MAX_PATTERN_CHARS} characters", source=source, field=field
        )
    if any(c.isspace() or not c.isprintable() for c in p) or p.count("@") != 1:
        raise InputError(hint, source=source, field=field)
    _, domain = p.split("@")
    if not _domain_ok(domain):
        raise InputError(f"{domain!r} is not a domain name; {hint}", source=source, field=field)
    return p


def _parse_role(value: Any, *, source: str | None, field: str) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        known = ", ".join(r.value for r in ROLES)
        raise InputError(
            f"unknown role {value!r} (known: {known})", source=source, field=field
        ) from None


def parse_role(value: Any, *, field: str = "role") -> Role:
    """A role from its name (``viewer``, ``editor``, ``admin``); :class:`InputError` otherwise."""
    return _parse_role(value, source=None, field=field)


def parse_members_config(
    raw: Mapping[str, Any], *, source: str = "secrets.toml [members]"
) -> tuple[MemberRule, ...]:
    """The rules in a ``[members]`` section: ``role = [address or @domain, ...]``.

    Raises:
        InputError: an unknown role key, a value that is not a list of text, a malformed
            pattern, or one pattern given two roles — each naming the key.
    """
    rules: dict[str, MemberRule] = {}
    for key, value in raw.items():
        role = _parse_role(key, source=source, field=str(key))
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise InputError(
                "expected a list of addresses and @domains", source=source, field=str(key)
            )
        for i, item in enumerate(items):
            pattern = normalise_pattern(item, source=source, field=f"{key}[{i}]")
            if pattern in rules and rules[pattern].role != role:
                raise InputError(
                    f"{pattern} is given two roles ({rules[pattern].role.value} and {role.value})",
                    source=source,
                    field=f"{key}[{i}]",
                )
            rules[pattern] = MemberRule(pattern, role, "config")
    return tuple(rules.values())


def candidate_patterns(email: str) -> list[str]:
    """The patterns that could name ``email``: the address itself and its ``@domain``."""
    e = email.strip().lower()
    if e.count("@") != 1 or not e.split("@")[1]:
        return []
    return [e, "@" + e.split("@")[1]]


def resolve(email: str, rules: Iterable[MemberRule]) -> MemberRule | None:
    """The rule that gives ``email`` its role, or None when no rule names it.

    An address rule beats a domain rule; at equal specificity a configured rule beats a
    stored one.
    """
    wanted = candidate_patterns(email)
    if not wanted:
        return None
    matching = [r for r in rules if r.pattern in wanted]
    matching.sort(key=lambda r: (r.is_domain, r.source != "config"))
    return matching[0] if matching else None


# -- the audit trail's export --------------------------------------------------------------

AUDIT_FIELDS = ("id", "at", "actor", "role", "origin", "action", "target", "outcome", "detail")

# A spreadsheet reads a cell starting with one of these (after any leading whitespace) as a
# formula; full-width forms count too.
_FORMULA_START = set("=+-@|%\uff1d\uff0b\uff0d\uff20\uff5c")


def _csv_cell(value: str) -> str:
    stripped = value.lstrip()
    if (stripped and stripped[0] in _FORMULA_START) or (value and value[0] in "\t\r\n"):
        return "'" + value
    return value


def _row(event: AuditEventEntity) -> dict[str, Any]:
    row = asdict(event)
    row["at"] = event.at.isoformat()
    return row


def export_audit(events: Sequence[AuditEventEntity], fmt: str) -> str:
    """Audit events as CSV (cells a spreadsheet could run as formulas are defused) or JSON."""
    if fmt == "json":
        return json.dumps(
            {"format_version": 1, "events": [_row(e) for e in events]},
            ensure_ascii=False,
            indent=1,
        )
    if fmt != "csv":
        raise InputError(f"unknown format {fmt!r}; use csv or json", field="format")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(AUDIT_FIELDS)
    for e in events:
        row = _row(e)
        row["detail"] = json.dumps(e.detail, ensure_ascii=False, sort_keys=True)
        writer.writerow([_csv_cell(str(row[f])) for f in AUDIT_FIELDS])
    return out.getvalue()
