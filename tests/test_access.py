"""Roles checked in the service, membership rules, and the audit log (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from db.audit import AuditFilter
from engine.access import (
    Actor,
    MemberRule,
    Role,
    export_audit,
    normalise_pattern,
    parse_members_config,
    resolve,
)
from engine.errors import AccessDenied, ConflictError, InputError
from engine.service import Service

VIEWER = Actor("vera@example.org", Role.VIEWER, "dashboard:/specs")
EDITOR = Actor("eddie@example.org", Role.EDITOR, "dashboard:/new")
ADMIN = Actor("ada@example.org", Role.ADMIN, "dashboard:/members")
OUTSIDER = Actor("ollie@elsewhere.example", None, "dashboard:/home")

SPEC_MD = b"# Tiny\n\n## SP1: Be honest\n\nRule: Never lie.\n"


def _events(service: Service, **filters: str) -> list[tuple[str, str, str]]:
    events, _ = service.audit_events(AuditFilter(**filters))  # type: ignore[arg-type]
    return [(e.actor, e.action, e.outcome) for e in reversed(events)]


def test_viewer_write_is_refused_and_audited(seeded: Service) -> None:
    # Guards "roles enforced where the data is": a viewer's write never reaches the database,
    # whatever page or forged request called the service, and the attempt is recorded.
    before = seeded.list_specs()
    viewer = seeded.acting(VIEWER)
    with pytest.raises(AccessDenied, match="needs the editor role") as err:
        viewer.import_spec(SPEC_MD, "tiny.md", name="tiny")
    assert err.value.reason == "forbidden"
    with pytest.raises(AccessDenied):
        viewer.derive_variant("example", 1, "rules", variant_name="mine")
    with pytest.raises(AccessDenied):
        viewer.cancel_study(1)
    assert seeded.list_specs() == before
    assert [v.name for v in seeded.list_variants("example")] == ["rules", "values"]
    assert _events(seeded, actor=VIEWER.name) == [
        (VIEWER.name, "spec.import", "denied"),
        (VIEWER.name, "variant.derive", "denied"),
        (VIEWER.name, "study.cancel", "denied"),
    ]
    # Reads stay open to a viewer.
    assert viewer.list_specs() == before


def test_outsider_cannot_write_and_editor_can(seeded: Service) -> None:
    # Guards the role order: no role < viewer < editor; the editor's write is audited with
    # who, what, where from.
    with pytest.raises(AccessDenied, match="not a member"):
        seeded.acting(OUTSIDER).import_spec(SPEC_MD, "tiny.md", name="tiny")
    version = seeded.acting(EDITOR).import_spec(SPEC_MD, "tiny.md", name="tiny")
    assert version.author == EDITOR.name  # the author defaults to the actor
    events, total = seeded.audit_events(AuditFilter(actor=EDITOR.name))
    assert total == 1
    (ev,) = events
    assert (ev.action, ev.target, ev.role, ev.origin, ev.outcome) == (
        "spec.import",
        version.ref,
        "editor",
        "dashboard:/new",
        "ok",
    )
    assert ev.detail == {"file": "tiny.md"}


def test_only_admins_manage_members_and_read_the_audit_log(seeded: Service) -> None:
    # Guards the admin-only powers: roles and the audit log.
    for actor in (VIEWER, EDITOR):
        with pytest.raises(AccessDenied, match="admin role"):
            seeded.acting(actor).set_member("@example.org", "editor")
        with pytest.raises(AccessDenied):
            seeded.acting(actor).audit_events()
        with pytest.raises(AccessDenied):
            seeded.acting(actor).export_audit("csv")
    admin = seeded.acting(ADMIN)
    admin.set_member("@Example.org", "editor")
    admin.set_member("vera@example.org", "viewer")
    rules = admin.member_rules()
    assert {(r.pattern, r.role) for r in rules} == {
        ("@example.org", Role.EDITOR),
        ("vera@example.org", Role.VIEWER),
    }
    assert admin.member_for("VERA@example.org") == MemberRule("vera@example.org", Role.VIEWER)
    assert admin.member_for("zoe@example.org") == MemberRule("@example.org", Role.EDITOR)
    assert admin.member_for("zoe@example.com") is None
    admin.remove_member("vera@example.org")
    assert admin.member_for("vera@example.org") == MemberRule("@example.org", Role.EDITOR)
    assert [a for _, a, o in _events(seeded, actor=ADMIN.name) if o == "ok"] == [
        "member.set",
        "member.set",
        "member.remove",
    ]


def test_configured_members_win_and_cannot_be_changed_on_the_page(seeded: Service) -> None:
    # Guards against locking the operator out: a configured admin stays admin.
    configured = parse_members_config({"admin": ["ada@example.org"], "viewer": "@example.org"})
    admin = seeded.acting(ADMIN)
    with pytest.raises(ConflictError, match="secrets.toml"):
        admin.set_member("ada@example.org", "viewer", configured)
    with pytest.raises(ConflictError):
        admin.set_member("@EXAMPLE.org", "editor", configured)
    admin.set_member("@example.org", "editor")  # stored before the configuration named it
    rule = admin.member_for("bob@example.org", configured)
    assert rule == MemberRule("@example.org", Role.VIEWER, "config")
    assert admin.member_for("ada@example.org", configured) == MemberRule(
        "ada@example.org", Role.ADMIN, "config"
    )


def test_editors_revoke_their_own_share_links_admins_any(seeded: Service) -> None:
    # Guards "admins revoke any share link": an editor may revoke only the links they made.
    from db import models as m

    with seeded.db.write() as s:
        s.add(m.Report(id="r1", title="t", snapshot={}, created_by="x"))
    _token, mine = seeded.acting(EDITOR).share_report("r1", days=1)
    _token, theirs = seeded.acting(ADMIN).share_report("r1", days=1)
    with pytest.raises(AccessDenied, match="revoke other people's share links"):
        seeded.acting(EDITOR).revoke_share(theirs.id)
    assert seeded.acting(EDITOR).revoke_share(mine.id).revoked_at is not None
    assert seeded.acting(ADMIN).revoke_share(mine.id).revoked_at is not None
    with pytest.raises(AccessDenied):
        seeded.acting(VIEWER).revoke_share(theirs.id)
    assert [link.status() for link in seeded.list_shares("r1")] == ["active", "revoked"]


def test_local_operator_is_admin_and_sign_ins_are_audited(seeded: Service) -> None:
    # Guards the CLI and single-user default: the operator acts as admin; sign-ins are logged.
    assert seeded.actor.role == Role.ADMIN and seeded.actor.name == "tester"
    assert seeded.database_label() == seeded.db.safe_url
    assert seeded.acting(VIEWER).database_label() in ("SQLite", "PostgreSQL")
    seeded.acting(EDITOR).record_sign_in(allowed=True)
    seeded.acting(OUTSIDER).record_sign_in(allowed=False, detail={"email_verified": True})
    signs = _events(seeded, action="sign_in")
    assert signs == [(EDITOR.name, "sign_in", "ok"), (OUTSIDER.name, "sign_in", "denied")]
    # `seed_builtin` ran as the operator and was recorded.
    assert ("tester", "spec.import", "ok") in _events(seeded, actor="tester")


def test_model_errors_do_not_reveal_server_paths_to_signed_in_members(
    seeded: Service, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # Guards against probing the server's filesystem through the Base model box: an existing
    # folder without config.json and a missing folder read the same to a dashboard member.
    from engine.pipeline.study import StudyConfig

    (tmp_path / "exists").mkdir()

    def config(model: str) -> StudyConfig:
        return StudyConfig.from_dict(
            {"name": "x", "spec": "example", "variants": ["rules"], "arms": ["base"],
             "model": model}
        )  # fmt: skip

    messages = set()
    for model in (str(tmp_path / "exists"), str(tmp_path / "missing")):
        with pytest.raises(InputError) as err:
            seeded.acting(EDITOR).estimate_study(config(model))
        messages.add(str(err.value))
        assert "config.json" not in str(err.value) and str(tmp_path) not in str(err.value)
    assert len(messages) == 1
    with pytest.raises(InputError, match="config.json"):  # the operator still gets the detail
        seeded.estimate_study(config(str(tmp_path / "exists")))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Alice@Example.org", "alice@example.org"), (" @example.org ", "@example.org")],
)
def test_patterns_are_normalised(text: str, expected: str) -> None:
    assert normalise_pattern(text) == expected


@pytest.mark.parametrize(
    "text", ["example.org", "a@b@c", "a b@example.org", "@", "x@exa_mple.org", "@-x.org", "a" * 400]
)
def test_malformed_patterns_are_refused(text: str) -> None:
    # Guards the Members page and the [members] section against patterns that match nothing.
    with pytest.raises(InputError, match="field 'pattern'"):
        normalise_pattern(text)


def test_members_config_errors_name_the_key() -> None:
    with pytest.raises(InputError, match=r"field 'owner'.*unknown role"):
        parse_members_config({"owner": ["a@b.org"]})
    with pytest.raises(InputError, match=r"field 'editor\[1\]'"):
        parse_members_config({"editor": ["a@b.org", "nope"]})
    with pytest.raises(InputError, match="two roles"):
        parse_members_config({"editor": ["a@b.org"], "viewer": ["A@b.org"]})


def test_address_beats_domain() -> None:
    rules = [MemberRule("@x.org", Role.ADMIN, "config"), MemberRule("bo@x.org", Role.VIEWER)]
    assert resolve("bo@x.org", rules) == rules[1]
    assert resolve("al@x.org", rules) == rules[0]
    assert resolve("al@sub.x.org", rules) is None
    assert resolve("not-an-address", rules) is None


def test_audit_export_defuses_formulas(seeded: Service) -> None:
    # Guards the CSV export: a spec named or filed by an attacker cannot run in a spreadsheet.
    hostile = Actor("=HYPERLINK(1)@x.org", Role.EDITOR, "dashboard:/specs")
    seeded.acting(hostile).import_spec(SPEC_MD, " =cmd|calc.md", name="tiny")
    events, _ = seeded.audit_events(AuditFilter(actor=hostile.name))
    rows = list(csv.reader(io.StringIO(export_audit(events, "csv"))))
    assert rows[0][:3] == ["id", "at", "actor"]
    assert rows[1][2] == "'=HYPERLINK(1)@x.org"
    assert json.loads(rows[1][8]) == {"file": " =cmd|calc.md"}
    assert rows[1][8].startswith("{")
    data = json.loads(seeded.export_audit("json", AuditFilter(actor=hostile.name)))
    assert data["events"][0]["actor"] == hostile.name
    with pytest.raises(InputError, match="field 'format'"):
        seeded.export_audit("xlsx")
