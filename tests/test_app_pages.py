"""AppTest runs of every dashboard page against a real SQLite database in ``tmp_path``.

The app builds its :class:`Service` from the environment and caches it with
``st.cache_resource``, so each test points the environment at its own database and clears
that cache before and after, so no test sees another test's database.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import APP_MAIN, APP_TIMEOUT, open_app, point_env_at
from streamlit.testing.v1 import AppTest

from db import jobs as jobstore
from engine.jobs.worker import Worker
from engine.service import Service

# Element types whose text Streamlit renders as Markdown: a user string must never reach one
# of these unescaped.
MARKDOWN_TYPES = {
    "markdown",
    "caption",
    "title",
    "header",
    "subheader",
    "error",
    "warning",
    "info",
    "success",
    "toast",
    "exception",
}


def by_label(widgets: Any, label: str) -> Any:
    found = [w for w in widgets if w.label == label]
    assert len(found) == 1, f"{len(found)} widgets labelled {label!r}"
    return found[0]


def table(at: AppTest, column: str) -> Any:
    """The one dataframe on the page that has ``column``."""
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(frames) == 1, f"{len(frames)} dataframes with a {column!r} column"
    return frames[0]


def shown(markdown: str) -> str:
    """What a reader sees of Markdown text that only uses backslash escapes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def errors(at: AppTest) -> list[str]:
    return [shown(e.value) for e in at.error]


def walk(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def markdown_strings(at: AppTest) -> list[str]:
    """Every string on the page that Streamlit interprets as Markdown."""
    out = []
    for node in walk(at._tree):
        kind = getattr(node, "type", "")
        if kind in MARKDOWN_TYPES:
            out.append(str(node.value))
        for attr in ("label", "help"):
            value = getattr(node, attr, None) if kind != "unknown" else None
            if isinstance(value, str):
                out.append(value)
    return out


def plain_strings(at: AppTest) -> str:
    """Everything shown as literal text: st.text, st.code, text inputs and areas."""
    parts: list[Any] = [t.value for t in at.text] + [c.value for c in at.code]
    parts += [w.value for w in at.text_area] + [w.value for w in at.text_input]
    return "\n".join(str(p) for p in parts)


# -- home ------------------------------------------------------------------------------------


def test_home_lists_example_spec(svc: Service) -> None:
    # Guards the landing page: it opens on a fresh database and links the seeded spec.
    at = open_app()
    assert at.title[0].value == "SpecLab"
    links = [n.proto.label for n in walk(at._tree) if getattr(n, "type", "") == "page_link"]
    assert any(label.startswith("example — v1") for label in links), links
    specs = by_label(at.metric, "Specs")
    assert specs.value == "1"


# -- specs -----------------------------------------------------------------------------------


def test_specs_edit_save_then_diff(svc: Service) -> None:
    # Guards the edit → new version → diff flow, including the version switch after saving.
    v1 = svc.get_version("example")
    at = open_app("views/specs.py")
    assert "example" in by_label(at.selectbox, "Spec").options
    old_rule = v1.content.clauses[0].rule
    first, rest = old_rule.split(" ", 1)
    new_rule = f"{first} scrupulously {rest}"
    at.text_area(key=f"e{v1.id}_c0_rule").set_value(new_rule)
    by_label(at.button, "Save as new version").click().run()
    assert not at.exception, at.exception
    assert not at.error, errors(at)

    versions = svc.list_versions("example")
    assert [v.number for v in versions] == [2, 1]
    v2 = versions[0]
    assert v2.parent_number == 1
    assert v2.content.clauses[0].rule == new_rule
    assert v2.content.clauses[1:] == v1.content.clauses[1:]
    assert any(shown(m.value).startswith("Saved example") for m in at.success)

    by_label(at.selectbox, "Old").set_value(1)
    by_label(at.selectbox, "New").set_value(2)
    at.run()
    assert not at.exception, at.exception
    assert any("1 changed" in m.value for m in at.markdown), [m.value for m in at.markdown]
    diffs = [c.value for c in at.code if "{+" in c.value]
    assert any(re.search(r"\{\+[^+]*scrupulously[^+]*\+\}", d) for d in diffs), diffs


def test_specs_derive_variant_and_word_counts(svc: Service) -> None:
    # Guards the derive form and the side-by-side word counts of the Variants tab.
    at = open_app("views/specs.py")
    by_label(at.selectbox, "Rendering").set_value("general")
    by_label(at.button, "Derive").click().run()
    assert not at.exception, at.exception
    assert not at.error, errors(at)

    variants = {v.name: v for v in svc.list_variants("example")}
    assert set(variants) == {"rules", "values", "general"}
    shown = table(at, "variant")
    assert set(shown["variant"]) == set(variants)

    at.selectbox(key="var_left").set_value("rules")
    at.selectbox(key="var_right").set_value("values")
    at.run()
    assert not at.exception, at.exception
    words = [m.value for m in at.metric if m.label == "Words"]
    assert words == [str(variants["rules"].word_count), str(variants["values"].word_count)]
    assert variants["rules"].word_count < variants["values"].word_count


def test_specs_duplicate_clause_code_is_refused(svc: Service) -> None:
    # Guards edit validation: a duplicate code names the field and stores nothing.
    v1 = svc.get_version("example")
    at = open_app("views/specs.py")
    at.text_input(key=f"e{v1.id}_c1_code").set_value(v1.content.clauses[0].code)
    by_label(at.button, "Save as new version").click().run()
    assert not at.exception, at.exception
    assert any("Not saved" in e and "field 'clauses[1].code'" in e for e in errors(at)), errors(at)
    assert [v.number for v in svc.list_versions("example")] == [1]


@pytest.mark.parametrize(
    ("filename", "data", "expected"),
    [
        ("broken.yaml", b"name: broken\nclauses: [\n  - code: A1\n    rule: {unclosed\n", "broken"),
        (
            "dupes.json",
            b'{"name": "dupes", "clauses": [{"code": "A", "rule": "x"},'
            b' {"code": "A", "rule": "y"}]}',
            "clauses[1].code",
        ),
    ],
)
def test_specs_import_malformed_file_changes_nothing(
    svc: Service, filename: str, data: bytes, expected: str
) -> None:
    # Guards the import form: a bad upload shows what was wrong and writes nothing.
    before = (svc.list_specs(), svc.job_counts())
    at = open_app("views/specs.py")
    at.file_uploader[0].set_value((filename, data, "text/plain"))
    by_label(at.button, "Import").click().run()
    assert not at.exception, at.exception
    assert any("Nothing was imported" in e and expected in e for e in errors(at)), errors(at)
    assert (svc.list_specs(), svc.job_counts()) == before


# -- runs ------------------------------------------------------------------------------------


def _queue_steps(svc: Service, *labels: str) -> list[int]:
    """Queue cheap real jobs of the test plugin kind (the worker below loads it)."""
    with svc.db.write() as s:
        return [
            jobstore.enqueue(s, "test_steps", {"steps": 2, "step_seconds": 0}, label=label).id
            for label in labels
        ]


def test_runs_queue_worker_detail_cancel_retry(svc: Service) -> None:
    # Guards the Runs page: live states, job detail (events, log), and cancel/retry buttons.
    _queue_steps(svc, "first", "second")
    at = open_app("views/runs.py")
    jobs = table(at, "kind")
    assert list(jobs["kind"]) == ["test_steps", "test_steps"]
    assert set(jobs["state"]) == {"queued"}

    plugins = replace(svc.settings, plugins=("plugins.test_kinds",))
    assert Worker(plugins, svc.db, burst=True).run() == 2
    at.run()
    assert not at.exception, at.exception
    assert set(table(at, "kind")["state"]) == {"succeeded"}
    assert by_label(at.metric, "Succeeded").value == "2"

    done = svc.list_jobs()[0]
    at.number_input(key="job_id").set_value(done.id).run()
    assert not at.exception, at.exception
    events = table(at, "to")
    assert list(events["to"]) == ["queued", "running", "succeeded"]
    log = "\n".join(c.value for c in at.code)
    assert "finished 2 steps" in log
    assert at.button(key="cancel").disabled and at.button(key="retry").disabled

    (queued_id,) = _queue_steps(svc, "third")
    queued = svc.get_job(queued_id)
    at.number_input(key="job_id").set_value(queued.id).run()
    assert not at.exception, at.exception
    assert not at.button(key="cancel").disabled
    at.button(key="cancel").click().run()
    assert not at.exception, at.exception
    assert svc.get_job(queued.id).state == "cancelled"
    assert not at.button(key="retry").disabled
    at.button(key="retry").click().run()
    assert not at.exception, at.exception
    assert svc.get_job(queued.id).state == "queued"


def test_runs_survives_a_hand_edited_job_url(svc: Service) -> None:
    # Guards ?job= from the URL: junk is ignored, an unknown id shows an error, not a crash.
    at = open_app("views/runs.py", job="abc")
    assert at.number_input(key="job_id").value == 0
    at = open_app("views/runs.py", job="999")
    assert at.number_input(key="job_id").value == 999
    assert any("999" in e for e in errors(at)), errors(at)


# -- hostile text ----------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "[x](http://evil)",
    "**bold**",
    "مرحبا بالعالم",
    "שלום עולם",
]


def _hostile_spec(extra: str) -> bytes:
    text = " ".join(HOSTILE)
    clause = {
        "code": "H1",
        "title": f"Title {text}",
        "rule": f"Rule {text} {extra}",
        "subrules": [f"Sub {text}"],
        "rationale": f"Why {text}",
        "examples": [f"Example {text}"],
    }
    spec = {
        "name": "hostile",
        "title": f"Spec {text}",
        "preamble": f"Preamble {text}",
        "clauses": [clause, {**clause, "code": "H2"}],
    }
    return json.dumps(spec, ensure_ascii=False).encode("utf-8")


def test_hostile_text_is_never_rendered_as_markdown(svc: Service) -> None:
    # Guards against markup injection: user text reaches the page only as literal text.
    svc.import_spec(_hostile_spec(""), "hostile.json")
    svc.import_spec(_hostile_spec("changed"), "hostile.json")
    at = open_app("views/specs.py")
    by_label(at.selectbox, "Spec").set_value("hostile").run()
    assert not at.exception, at.exception
    rule = at.text_area(key=f"e{svc.get_version('hostile').id}_c0_rule").value
    assert rule is not None and rule.startswith("Rule")

    as_text = plain_strings(at)
    for s in HOSTILE:
        assert s in as_text, f"{s!r} is not shown as text"
    # A rejected upload whose file name is hostile: the error quotes the name.
    at.file_uploader[0].set_value((f"{' '.join(HOSTILE[:3])}.json", b"{", "application/json"))
    by_label(at.button, "Import").click().run()
    assert not at.exception, at.exception
    assert any(HOSTILE[1] in e for e in errors(at)), errors(at)

    interpreted = markdown_strings(at)
    for s in ["<script>", "[x](http://evil)", "**bold**"]:
        leaks = [m for m in interpreted if s in m]
        assert not leaks, f"{s!r} reached Markdown: {leaks}"


# -- out-of-date database ----------------------------------------------------------------------


def test_empty_database_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_cache: None
) -> None:
    # Guards the startup schema check: an unmigrated database stops the app with the fix.
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    point_env_at(monkeypatch, tmp_path, f"sqlite:///{path}")
    at = AppTest.from_file(str(APP_MAIN), default_timeout=APP_TIMEOUT).run()
    assert not at.exception, at.exception
    assert any("speclab init" in e for e in errors(at)), errors(at)
    assert not at.title
