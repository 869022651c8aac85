"""New study: the same typed config as a study file, a cost estimate, then launch."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st
import yaml

from app.auth import require_author
from app.state import literal, service
from engine.errors import SpecLabError
from engine.pipeline.study import ARMS, PRESETS, SUITES, StudyConfig

svc = service()
st.title("New study")
st.caption(
    "Every variant × arm × seed becomes a run; stages already computed by earlier studies "
    "are reused. The same settings can be written as a study file for `speclab study launch`."
)

specs = svc.list_specs()
if not specs:
    st.info("Import a spec first (Specs page).")
    st.stop()

c1, c2 = st.columns(2)
name = c1.text_input("Study name", value="rules-vs-values", key="name")
spec_name = c2.selectbox("Spec", [s.name for s in specs], key="spec")
versions = svc.list_versions(spec_name)
number = c2.selectbox(
    "Version", [v.number for v in versions], format_func=lambda n: f"v{n}", key="version"
)
variant_names = [v.name for v in svc.list_variants(spec_name, number)]
variants = st.multiselect(
    "Variants",
    variant_names,
    default=[v for v in ("rules", "values") if v in variant_names],
    key="variants",
)
arms = st.multiselect("Arms", list(ARMS), default=["aft", "msm+aft"], key="arms")
c3, c4, c5 = st.columns(3)
seeds_text = c3.text_input("Seeds (comma-separated)", value="0", key="seeds")
model = c4.text_input("Base model", value="builtin:smollm2-135m-instruct", key="model")
preset = c5.selectbox("Preset", list(PRESETS), key="preset")
evals = st.multiselect("Evaluation suites", list(SUITES), default=list(SUITES), key="evals")
overrides_text = st.text_area(
    "Overrides (YAML or JSON: stage → settings)",
    value="{}",
    help="e.g. {midtrain: {max_steps: 5}, aft: {max_steps: 5}}",
    key="overrides",
)

config: StudyConfig | None = None
try:
    seeds = [int(x) for x in seeds_text.replace(" ", "").split(",") if x]
except ValueError:
    st.error("Seeds must be whole numbers separated by commas.")
    st.stop()
try:
    overrides = yaml.safe_load(overrides_text) or {}
    config = StudyConfig.from_dict(
        {
            "name": name,
            "spec": f"{spec_name}@{number}",
            "variants": variants,
            "arms": arms,
            "seeds": seeds,
            "model": model,
            "preset": preset,
            "evals": evals,
            "overrides": overrides,
        },
        source="form",
    )
    estimate = svc.estimate_study(config)
except yaml.YAMLError as exc:
    st.error(f"Overrides are not valid YAML: {literal(str(exc))}")
    st.stop()
except SpecLabError as exc:
    st.error(literal(str(exc)))
    st.stop()

st.subheader("Cost estimate")
m1, m2, m3, m4 = st.columns(4)
m1.metric("Runs", estimate.runs)
m2.metric("Stages", len(estimate.stages))
m3.metric("Already computed", estimate.cached)
m4.metric("Estimated time", f"{estimate.seconds / 60:.1f} min")
st.caption(
    f"{len(estimate.to_compute)} stage(s) to compute, ~{estimate.tokens:,} tokens; "
    + "; ".join(estimate.notes)
)
st.dataframe(
    pd.DataFrame(
        [
            {"stage": s.kind, "status": s.status, "tokens": s.tokens, "seconds": round(s.seconds)}
            for s in estimate.stages
        ]
    ),
    hide_index=True,
    key="estimate_table",
)
with st.expander("As a study file"):
    st.code(yaml.safe_dump(config.to_dict(), sort_keys=False), language="yaml")

author = require_author("launch studies")
if st.button("Launch", type="primary", disabled=author is None, key="launch"):
    try:
        result = svc.launch_study(config, author=author)
    except SpecLabError as exc:
        st.error(literal(str(exc)))
    else:
        st.session_state["launched"] = json.dumps(
            {"id": result.study_id, "new": result.new_jobs, "cached": result.cached}
        )
if "launched" in st.session_state:
    info = json.loads(st.session_state["launched"])
    st.success(
        f"Launched study {info['id']}: {info['new']} stage(s) queued, {info['cached']} cached."
    )
    st.page_link(
        "views/studies.py", label="Open the study", query_params={"study": str(info["id"])}
    )
