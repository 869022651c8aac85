"""Specs: list, edit (a save makes a new immutable version), variants, diffs, history,
import and export. Every user text is shown as text (``st.text``/``st.code``), never as HTML;
where it has to sit in a label, caption or alert (which render Markdown) it goes through
:func:`app.state.literal` first.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.auth import require_author
from app.state import literal, service
from engine.errors import SpecLabError
from engine.service import CUSTOM, RENDERING_HELP, Clause, SpecDiff, SpecVersion, WordOp

svc = service()
st.title("Specs")
author = require_author("edit specs")


def flash(message: str) -> None:
    """Show ``message`` after the ``st.rerun()`` that follows a change (a rerun clears the page)."""
    st.session_state["flash"] = message


def word_diff(ops: tuple[WordOp, ...]) -> str:
    """Git-style word diff as plain text: ``[-deleted-]{+inserted+}``."""
    out = []
    for op in ops:
        if op.op == "equal":
            out.append(op.text)
        elif op.op == "delete":
            out.append(f"[-{op.text}-]")
        else:
            out.append(f"{{+{op.text}+}}")
    return "".join(out)


def show_diff(d: SpecDiff) -> None:
    st.markdown(f"**{d.summary()}**")
    for field in (d.title, d.preamble):
        if field is not None:
            st.caption(field.field)
            st.code(word_diff(field.ops), language=None, wrap_lines=True)
    for c in d.clauses:
        if c.status == "unchanged" and not c.moved:
            continue
        label = f"{c.status.upper()} {literal(c.code)}" + (" (moved)" if c.moved else "")
        with st.expander(label, expanded=c.status != "unchanged"):
            if c.status in ("added", "removed"):
                clause = c.new if c.status == "added" else c.old
                assert clause is not None
                st.text(clause.rule)
            for ch in c.changes:
                st.caption(ch.field)
                st.code(word_diff(ch.ops), language=None, wrap_lines=True)


# -- pick a spec ---------------------------------------------------------------------------

specs = svc.list_specs()
with st.expander("Import a spec (Markdown, plain text, JSON or YAML)", expanded=not specs):
    with st.form("import_form", clear_on_submit=True):
        upload = st.file_uploader(
            "Spec file", type=["md", "markdown", "txt", "json", "yaml", "yml"]
        )
        import_name = st.text_input(
            "Name", help="lowercase slug; leave empty to use the file's own 'name' field"
        )
        if st.form_submit_button("Import", disabled=author is None) and upload is not None:
            try:
                v = svc.import_spec(
                    upload.getvalue(), upload.name, name=import_name or None, author=author
                )
                flash(f"Imported {v.ref} with {len(v.content.clauses)} clauses")
                st.query_params["spec"] = v.spec_name
                st.rerun()
            except SpecLabError as exc:
                st.error(f"Nothing was imported. {literal(str(exc))}")

if not specs:
    st.stop()

names = [s.name for s in specs]
wanted = st.query_params.get("spec", names[0])
spec_name = st.selectbox("Spec", names, index=names.index(wanted) if wanted in names else 0)
st.query_params["spec"] = spec_name
versions = svc.list_versions(spec_name)
numbers = [v.number for v in versions]
version_key = f"version_{spec_name}"
# A widget's state can only be set before the widget exists in a run, so a save leaves the
# version to show under another key and it is applied here, on the rerun.
if "show_version" in st.session_state:
    st.session_state[version_key] = st.session_state.pop("show_version")
number = st.selectbox(
    "Version",
    numbers,
    format_func=lambda n: f"v{n}" + (" (latest)" if n == numbers[0] else ""),
    key=version_key,
)
version: SpecVersion = next(v for v in versions if v.number == number)
st.caption(
    literal(
        f"{version.ref} · hash {version.content_hash[:12]} · by {version.author or 'unknown'} · "
        f"{version.created_at:%Y-%m-%d %H:%M} · parent "
        + (f"v{version.parent_number}" if version.parent_number else "none")
    )
)
if "flash" in st.session_state:
    st.success(literal(st.session_state.pop("flash")))

studies_on_spec = svc.studies_on_spec(spec_name)
if studies_on_spec:
    with st.expander(f"Studies on this spec ({len(studies_on_spec)})"):
        for s in studies_on_spec[:20]:
            st.page_link(
                "views/study.py",
                label=literal(f"{s.name} ({s.spec_ref}, {s.status})"),
                query_params={"study": str(s.id)},
            )

tab_edit, tab_variants, tab_diff, tab_history, tab_export = st.tabs(
    ["Edit", "Variants", "Diff", "History", "Export"]
)

# -- edit ----------------------------------------------------------------------------------


def clause_fields(prefix: str, c: Clause | None) -> dict[str, object]:
    cols = st.columns([1, 3, 1, 1])
    code = cols[0].text_input("Code", value=c.code if c else "", key=f"{prefix}code")
    title = cols[1].text_input("Title", value=c.title if c else "", key=f"{prefix}title")
    authority = cols[2].text_input(
        "Authority", value=c.authority if c else "", key=f"{prefix}authority"
    )
    priority = cols[3].number_input(
        "Priority", value=c.priority if c else 0, step=1, key=f"{prefix}priority"
    )
    hard = st.checkbox(
        "Hard constraint", value=c.hard_constraint if c else False, key=f"{prefix}hard"
    )
    rule = st.text_area("Rule", value=c.rule if c else "", key=f"{prefix}rule")
    subrules = st.text_area(
        "Sub-rules (this includes…), one per line",
        value="\n".join(c.subrules) if c else "",
        key=f"{prefix}subrules",
    )
    rationale = st.text_area(
        "Rationale (the value explanation)",
        value=c.rationale if c else "",
        key=f"{prefix}rationale",
        height=150,
    )
    examples = st.text_area(
        "Examples, one per line", value="\n".join(c.examples) if c else "", key=f"{prefix}examples"
    )
    return {
        "code": code,
        "title": title,
        "authority": authority,
        "priority": int(priority),
        "hard_constraint": hard,
        "rule": rule,
        "subrules": [s for s in subrules.splitlines() if s.strip()],
        "rationale": rationale,
        "examples": [x for x in examples.splitlines() if x.strip()],
    }


with tab_edit:
    st.caption(
        "Saving creates a new immutable version whose parent is the version shown; "
        "`rules` and `values` variants are derived for it and rendered in the background."
    )
    with st.form(f"edit_{version.id}"):
        k = f"e{version.id}_"
        title = st.text_input("Title", value=version.content.title, key=f"{k}title")
        preamble = st.text_area("Preamble", value=version.content.preamble, key=f"{k}preamble")
        edited: list[dict[str, object]] = []
        for i, clause in enumerate(version.content.clauses):
            with st.expander(literal(f"{clause.code} — {clause.title}")):
                fields = clause_fields(f"{k}c{i}_", clause)
                if not st.checkbox("Remove this clause", key=f"{k}c{i}_remove"):
                    edited.append(fields)
        with st.expander("Add a clause"):
            new = clause_fields(f"{k}new_", None)
        note = st.text_input("Note for this version", key=f"{k}note")
        if st.form_submit_button("Save as new version", type="primary", disabled=author is None):
            if str(new["code"]).strip() or str(new["rule"]).strip():
                edited.append(new)
            try:
                saved = svc.save_version(
                    spec_name,
                    title=title,
                    preamble=preamble,
                    clauses=edited,
                    parent_number=version.number,
                    note=note,
                    author=author,
                )
                flash(f"Saved {saved.ref} (from v{version.number})")
                st.session_state["show_version"] = saved.number
                st.rerun()
            except SpecLabError as exc:
                st.error(f"Not saved. {literal(str(exc))}")

# -- variants ------------------------------------------------------------------------------

with tab_variants:
    variants = svc.list_variants(spec_name, version.number)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "variant": v.name,
                    "rendering": v.rendering,
                    "words": v.word_count,
                    "artifact": v.artifact.sha256[:12] if v.artifact else "render pending",
                    "bytes": v.artifact.bytes if v.artifact else None,
                    "note": v.note,
                }
                for v in variants
            ]
        ),
        hide_index=True,
        key="variants_table",
    )
    if len(variants) >= 1:
        by_name = {v.name: v for v in variants}
        c1, c2 = st.columns(2)
        left = c1.selectbox("Left", list(by_name), index=0, key="var_left")
        right = c2.selectbox(
            "Right", list(by_name), index=min(1, len(by_name) - 1), key="var_right"
        )
        lv, rv = by_name[left], by_name[right]
        c1.metric("Words", lv.word_count)
        c2.metric("Words", rv.word_count, delta=rv.word_count - lv.word_count)
        c1.code(svc.variant_text(lv), language=None, wrap_lines=True)
        c2.code(svc.variant_text(rv), language=None, wrap_lines=True)

    with st.form(f"derive_{version.id}"):
        st.markdown("**Derive a variant**")
        options = [*RENDERING_HELP, CUSTOM]
        rendering = st.selectbox(
            "Rendering",
            options,
            format_func=lambda r: f"{r} — {RENDERING_HELP.get(r, 'hand-edited text')}",
        )
        vname = st.text_input("Variant name", help="default: the rendering's name")
        base = variants[0] if variants else None
        custom = st.text_area(
            "Text (hand-edited variants only)",
            value=svc.variant_text(base) if base else "",
            height=200,
        )
        vnote = st.text_input("Note")
        if st.form_submit_button("Derive", disabled=author is None):
            try:
                made = svc.derive_variant(
                    spec_name,
                    version.number,
                    rendering,
                    variant_name=vname or None,
                    custom_text=custom if rendering == CUSTOM else None,
                    note=vnote,
                    author=author,
                )
                flash(f"Added variant {made.name} ({made.word_count} words)")
                st.rerun()
            except SpecLabError as exc:
                st.error(f"Not added. {literal(str(exc))}")

# -- diff ----------------------------------------------------------------------------------

with tab_diff:
    mode = st.radio("Compare", ["two versions", "two variants of this version"], horizontal=True)
    if mode == "two versions":
        c1, c2 = st.columns(2)
        old_n = c1.selectbox(
            "Old", numbers, index=min(1, len(numbers) - 1), format_func=lambda n: f"v{n}"
        )
        new_n = c2.selectbox("New", numbers, index=0, format_func=lambda n: f"v{n}")
        show_diff(svc.diff_versions(spec_name, old_n, new_n))
    else:
        variants = svc.list_variants(spec_name, version.number)
        by_name = {v.name: v for v in variants}
        c1, c2 = st.columns(2)
        a = c1.selectbox("Old variant", list(by_name), index=0, key="diff_a")
        b = c2.selectbox("New variant", list(by_name), index=min(1, len(by_name) - 1), key="diff_b")
        structured = svc.diff_variants(by_name[a], by_name[b])
        if structured is not None:
            show_diff(structured)
        else:
            st.caption("A hand-edited variant has no clauses: word-level diff of the texts.")
            st.code(
                word_diff(svc.diff_variant_texts(by_name[a], by_name[b])),
                language=None,
                wrap_lines=True,
            )

# -- history -------------------------------------------------------------------------------

with tab_history:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "version": f"v{v.number}",
                    "hash": v.content_hash[:12],
                    "parent": f"v{v.parent_number}" if v.parent_number else "",
                    "clauses": len(v.content.clauses),
                    "author": v.author,
                    "note": v.note,
                    "created": v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                }
                for v in versions
            ]
        ),
        hide_index=True,
        key="history_table",
    )

# -- export --------------------------------------------------------------------------------

with tab_export:
    fmt = st.selectbox("Format", ["md", "json", "yaml"], key="export_fmt")
    names_for_export = ["(whole spec)", *[v.name for v in svc.list_variants(spec_name, number)]]
    which = st.selectbox("What", names_for_export, key="export_what")
    try:
        exported = svc.export_spec(
            spec_name,
            fmt,
            version=number,
            variant=None if which == "(whole spec)" else which,
        )
        suffix = "" if which == "(whole spec)" else f"-{which}"
        st.download_button(
            "Download",
            exported,
            file_name=f"{spec_name}-v{number}{suffix}.{fmt}",
            mime="text/plain",
        )
        st.code(exported[:20000], language=None, wrap_lines=True)
    except SpecLabError as exc:
        st.error(literal(str(exc)))
