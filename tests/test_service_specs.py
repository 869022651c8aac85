"""Spec use cases through the service: import, edit into versions, variants, diffs, export."""

from __future__ import annotations

import json

import pytest
import yaml

from db import jobs as jobstore
from engine.errors import ConflictError, InputError
from engine.service import Service


def _snapshot(svc: Service) -> tuple[object, ...]:
    """Everything a failed import or edit must leave untouched."""
    specs = svc.list_specs()
    versions = {s.name: [v.content_hash for v in svc.list_versions(s.name)] for s in specs}
    return (
        [(s.name, s.latest_version) for s in specs],
        versions,
        svc.job_counts(),
    )


def _clauses(svc: Service, name: str = "example") -> list[dict[str, object]]:
    return [c.to_dict() for c in svc.get_version(name).content.clauses]


def test_seed_is_idempotent_and_has_both_variants(seeded: Service) -> None:
    # Guards `speclab init` run twice: one example spec, rules + values, stored, no jobs.
    assert seeded.seed_builtin() == ()
    (spec,) = seeded.list_specs()
    assert spec.name == "example" and spec.n_clauses >= 8
    variants = {v.name: v for v in seeded.list_variants("example")}
    assert set(variants) == {"rules", "values"}
    assert variants["values"].word_count > variants["rules"].word_count
    assert all(v.artifact is not None for v in variants.values())
    assert seeded.job_counts().queued == 0


def test_rules_variant_drops_every_rationale(seeded: Service) -> None:
    # Guards the core manipulation of the science: `rules` text carries no value explanation.
    version = seeded.get_version("example")
    variants = {v.name: v for v in seeded.list_variants("example")}
    rules = seeded.variant_text(variants["rules"])
    values = seeded.variant_text(variants["values"])
    for clause in version.content.clauses:
        assert clause.rule in rules and clause.rule in values
        assert clause.rationale and clause.rationale not in rules
        assert clause.rationale in values


def test_edit_creates_child_version_and_diff(seeded: Service) -> None:
    # Guards immutability: an edit is a new version with its parent; v1 is unchanged.
    v1 = seeded.get_version("example")
    clauses = _clauses(seeded)
    clauses[0]["rule"] = str(clauses[0]["rule"]) + " Always."
    del clauses[1]
    clauses.append({"code": "GP9", "title": "New", "rule": "Be kind."})
    v2 = seeded.save_version(
        "example",
        title=v1.content.title,
        preamble=v1.content.preamble,
        clauses=clauses,
        parent_number=1,
        note="tighten SP1",
    )
    assert (v2.number, v2.parent_number, v2.author) == (2, 1, "tester")
    assert seeded.get_version("example", 1).content_hash == v1.content_hash
    d = seeded.diff_versions("example", 1, 2)
    first, second = v1.content.clauses[0].code, v1.content.clauses[1].code
    assert d.added == ["GP9"] and d.removed == [second] and d.changed == [first]
    rule_change = next(c for c in d.clauses if c.code == first).change("rule")
    assert rule_change is not None
    assert [op.text.strip() for op in rule_change.ops if op.op == "insert"] == ["Always."]
    # The new version got its own rules/values variants, stored at once.
    assert {v.name for v in seeded.list_variants("example", 2)} == {"rules", "values"}
    assert all(v.artifact is not None for v in seeded.list_variants("example", 2))


def test_unchanged_edit_is_refused(seeded: Service) -> None:
    # Guards against empty versions cluttering the history.
    v1 = seeded.get_version("example")
    with pytest.raises(ConflictError, match="nothing changed"):
        seeded.save_version(
            "example",
            title=v1.content.title,
            preamble=v1.content.preamble,
            clauses=_clauses(seeded),
            parent_number=1,
        )


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda cs: cs[1].update(code=cs[0]["code"]), "clauses[1].code"),
        (lambda cs: cs[0].update(rule="  "), "clauses[0].rule"),
        (lambda cs: cs[2].update(priority="high"), "clauses[2].priority"),
        (lambda cs: cs[0].update(code="bad code!"), "clauses[0].code"),
    ],
)
def test_bad_edit_names_field_and_stores_nothing(seeded: Service, mutate, field) -> None:  # type: ignore[no-untyped-def]
    # Guards validation of the editor's form: the field is named, nothing is written.
    before = _snapshot(seeded)
    clauses = _clauses(seeded)
    mutate(clauses)
    with pytest.raises(InputError) as err:
        seeded.save_version("example", title="t", preamble="p", clauses=clauses, parent_number=1)
    assert err.value.field == field
    assert _snapshot(seeded) == before


BAD_FILES = [
    ("bad.yaml", b"name: x\nclauses:\n  - code: A1\n    rule: [unclosed\n", "line"),
    ("missing.yaml", b"name: x\nclauses:\n  - code: A1\n    title: no rule\n", "rule"),
    (
        "dup.json",
        json.dumps(
            {"name": "x", "clauses": [{"code": "A", "rule": "r"}, {"code": "A", "rule": "s"}]}
        ).encode(),
        "duplicate",
    ),
    ("empty.md", b"", "empty"),
    ("binary.json", b"\x00\x01\x02\xff\xfe" * 100, "UTF-8"),
    ("huge.yaml", b"a" * (50 * 1024 * 1024), "limit"),
]


@pytest.mark.parametrize(("filename", "data", "needle"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_malformed_import_leaves_db_unchanged(
    seeded: Service, filename: str, data: bytes, needle: str
) -> None:
    # Guards uploads: each malformed file gets a clear error and the DB is untouched.
    before = _snapshot(seeded)
    with pytest.raises(InputError) as err:
        seeded.import_spec(data, filename, name="example")
    assert needle.lower() in str(err.value).lower()
    assert filename in str(err.value)
    assert _snapshot(seeded) == before


def test_import_into_existing_spec_makes_a_version(seeded: Service) -> None:
    # Guards re-import: the same name gains a version whose parent is the latest.
    text = seeded.export_spec("example", "yaml")
    data = yaml.safe_load(text)
    data["clauses"][0]["title"] = "Renamed"
    v2 = seeded.import_spec(yaml.safe_dump(data).encode(), "example.yaml")
    assert (v2.number, v2.parent_number) == (2, 1)
    assert v2.content.clauses[0].title == "Renamed"


@pytest.mark.parametrize("fmt", ["md", "json", "yaml"])
def test_export_import_round_trip_preserves_content(seeded: Service, fmt: str) -> None:
    # Guards export → import: the content hash survives every format.
    original = seeded.get_version("example")
    text = seeded.export_spec("example", fmt)
    copy = seeded.import_spec(text.encode(), f"copy.{fmt}", name="copy")
    assert copy.content_hash == original.content_hash


def test_export_variant_views(seeded: Service) -> None:
    # Guards `spec export --variant`: the JSON of a rules variant has no rationales.
    rules = json.loads(seeded.export_spec("example", "json", variant="rules"))
    values = json.loads(seeded.export_spec("example", "json", variant="values"))
    assert all(c["rationale"] == "" for c in rules["clauses"])
    assert all(c["rationale"] for c in values["clauses"])
    md = seeded.export_spec("example", "md", variant="rules")
    assert md == seeded.variant_text(
        next(v for v in seeded.list_variants("example") if v.name == "rules")
    )


def test_custom_variant_and_text_diff(seeded: Service) -> None:
    # Guards hand-edited variants: stored text, word count, word-level diff against a rendering.
    rules = next(v for v in seeded.list_variants("example") if v.name == "rules")
    text = seeded.variant_text(rules).replace("Support", "Respect", 1)
    custom = seeded.derive_variant("example", 1, "custom", variant_name="hand", custom_text=text)
    assert custom.rendering == "custom" and custom.word_count == rules.word_count
    assert seeded.diff_variants(rules, custom) is None
    ops = seeded.diff_variant_texts(rules, custom)
    assert [o.text for o in ops if o.op == "delete"] == ["Support"]
    assert [o.text for o in ops if o.op == "insert"] == ["Respect"]
    with pytest.raises(ConflictError):
        seeded.derive_variant("example", 1, "custom", variant_name="hand", custom_text="x")
    with pytest.raises(InputError, match="unknown rendering"):
        seeded.derive_variant("example", 1, "poetic")


def test_variant_text_is_rendered_once_and_stored_at_save(seeded: Service) -> None:
    # Guards one rendering: saving a variant stores its text as a content-addressed artifact
    # right away (no job), and that artifact is exactly the text shown and hashed.
    seeded.derive_variant("example", 1, "custom", variant_name="hand", custom_text="Be kind.")
    for v in seeded.list_variants("example"):
        assert v.artifact is not None
        assert v.artifact.path == f"{v.artifact.sha256[:2]}/{v.artifact.sha256}"
        text = seeded.artifacts.read_bytes(v.artifact).decode()
        assert text == seeded.variant_text(v)
        assert v.text_hash == v.artifact.sha256
    with seeded.db.read() as s:
        assert jobstore.counts(s).queued == 0
