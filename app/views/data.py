"""Data: every stored document and demonstration set, one set's card, preview and provenance,
downloads (JSONL, a zipped Hugging Face datasets folder, Parquet) and an upload form.

User text (set names, rows, file names) is shown with ``st.text``/``st.code``/``st.dataframe``
or escaped with :func:`app.state.literal`; nothing is rendered as HTML.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
import streamlit as st

from app.auth import require_author
from app.state import literal, service
from engine.errors import SpecLabError

svc = service()
st.title("Data")
st.caption(
    "Document sets (MSM corpora) and demonstration sets (AFT), made by studies or imported. "
    "From a terminal: `speclab data list`, `speclab data export SHA --format hf -o folder`, "
    "`speclab data import file.jsonl --kind docs --spec example --variant rules`."
)
_SHA = re.compile(r"[0-9a-f]{64}")
_KINDS = {"demos": "Demonstrations (AFT)", "docs": "Documents (MSM)"}

if "data_flash" in st.session_state:
    st.success(literal(st.session_state.pop("data_flash")))

author = require_author("import datasets")
with st.expander("Import a set (JSONL or a zipped Hugging Face datasets folder)"):
    with st.form("data_import", clear_on_submit=True):
        upload = st.file_uploader("File", type=["jsonl", "zip"])
        kind = st.radio("Kind", list(_KINDS), format_func=_KINDS.__getitem__, horizontal=True)
        cols = st.columns(2)
        spec = cols[0].text_input(
            "Spec (documents)", help="NAME or NAME@VERSION the documents were written about"
        )
        variant = cols[1].text_input(
            "Variant (documents)", help="with the spec, computes the corpus card"
        )
        if st.form_submit_button("Import", disabled=author is None) and upload is not None:
            try:
                ds = svc.import_dataset(
                    upload.getvalue(),
                    upload.name,
                    kind=str(kind),
                    spec=spec.strip() or None,
                    variant=variant.strip() or None,
                    author=author,
                )
            except SpecLabError as exc:
                st.error(f"Nothing was imported. {literal(str(exc))}")
            else:
                st.session_state["data_flash"] = (
                    f"Stored {ds.name} ({ds.n_rows} rows) as {ds.artifact.sha256[:16]}"
                )
                st.query_params["dataset"] = ds.artifact.sha256
                st.rerun()

datasets = svc.list_datasets(limit=200)
if not datasets:
    st.info("No datasets yet: run a study with msm or aft arms, or import a set above.")
    st.stop()


studies = svc.dataset_studies(datasets)


def origin(sha: str, provenance: dict[str, Any]) -> str:
    """Which studies made a set, or that it was imported."""
    if sha in studies:
        return "; ".join(f"study {i}: {name}" for i, name in studies[sha])
    key = provenance.get("stage_key")
    return f"stage {key[:12]} (no study uses it now)" if isinstance(key, str) else "imported"


st.dataframe(
    pd.DataFrame(
        [
            {
                "hash": d.artifact.sha256[:16],
                "kind": d.kind,
                "name": d.name,
                "rows": d.n_rows,
                "created": d.created_at.strftime("%Y-%m-%d %H:%M"),
                "by": d.created_by,
                "from": origin(d.artifact.sha256, d.provenance),
            }
            for d in datasets
        ]
    ),
    hide_index=True,
    key="datasets_table",
)

by_sha = {d.artifact.sha256: d for d in reversed(datasets)}  # the newest row of each content
shas = list(dict.fromkeys(d.artifact.sha256 for d in datasets))
wanted = st.query_params.get("dataset", "")
if wanted and not _SHA.fullmatch(wanted):
    st.error("The address's 'dataset' value is not a dataset hash; it was ignored.")
    wanted = ""
sha = st.selectbox(
    "Set",
    shas,
    index=shas.index(wanted) if wanted in shas else 0,
    format_func=lambda h: f"{h[:16]} · {by_sha[h].kind} · {by_sha[h].name}",
)
st.query_params["dataset"] = sha
dataset = by_sha[sha]

st.subheader(literal(dataset.name))
st.caption(
    literal(
        f"{dataset.kind} · {dataset.n_rows} rows · {dataset.artifact.bytes:,} bytes · "
        f"by {dataset.created_by or 'unknown'} · {dataset.created_at:%Y-%m-%d %H:%M}"
    )
)
st.code(dataset.artifact.sha256, language=None)

buttons = st.columns(3)
for col, download in zip(buttons, svc.dataset_downloads(dataset), strict=False):
    col.download_button(
        download.label,
        data=download.build,  # built when clicked, not on every render
        file_name=download.filename,
        mime=download.media_type,
        key=f"download_{download.filename}",
    )

card = svc.dataset_card(dataset)
if card is not None:
    st.markdown("**Corpus card**")
    if isinstance(card, str):
        st.info(card)
    else:
        st.code("\n".join(card.lines()), language=None)


def cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


st.markdown(f"**First rows** ({len(dataset.preview)} of {dataset.n_rows})")
rows = [r for r in dataset.preview if isinstance(r, dict)]
if rows:
    st.dataframe(
        pd.DataFrame([{k: cell(v) for k, v in r.items()} for r in rows]),
        hide_index=True,
        key="dataset_preview",
    )
else:
    st.text("(no preview stored)")

st.markdown("**Provenance**")
if sha in studies:
    for study_id, name in studies[sha]:
        st.page_link(
            "views/study.py",
            label=literal(f"made by study {study_id}: {name}"),
            query_params={"study": str(study_id)},
        )
elif "stage_key" in dataset.provenance:
    st.text("made by a stage no study uses any more")
else:
    st.text(f"imported from {dataset.provenance.get('imported_from', dataset.name)}")
st.json({k: v for k, v in dataset.provenance.items() if k != "card"}, expanded=False)
