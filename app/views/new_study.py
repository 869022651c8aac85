"""New study: the same typed config as a study file, a cost estimate, then launch."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st
import yaml

from app.auth import require_author
from app.state import literal, service
from engine.errors import SpecLabError
from engine.service import ARMS, PRESETS, STATUS_HELP, SUITES, StudyConfig

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
arms = st.multiselect(
    "Arms",
    list(ARMS),
    default=["aft", "msm+aft"],
    key="arms",
    help="; ".join(f"{a.name}: {a.help}" for a in ARMS.values()),
)
c3, c4, c5 = st.columns(3)
seeds_text = c3.text_input("Seeds (comma-separated)", value="0", key="seeds")
model = c4.text_input(
    "Base model(s)",
    value="builtin:smollm2-135m-instruct",
    key="model",
    help="several, comma-separated: each model is its own set of runs, and variants are "
    "compared within each model",
)
models = [m.strip() for m in model.split(",") if m.strip()]
preset = c5.selectbox("Preset", list(PRESETS), key="preset")
# Preselected: the study file's default suites (agentic_published is opt-in: it is a long run).
default_evals = list(StudyConfig.__dataclass_fields__["evals"].default)
evals = st.multiselect("Evaluation suites", list(SUITES), default=default_evals, key="evals")
overrides_text = st.text_area(
    "Overrides (YAML or JSON: stage → settings)",
    value="{}",
    help="e.g. {midtrain: {max_steps: 5}, aft: {max_steps: 5}}; every setting is listed "
    "under 'Stage settings' below",
    key="overrides",
)
with st.expander("Stage settings of this preset (what Overrides can change)"):
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "stage": kind,
                    "setting": f.name,
                    "type": f.type,
                    "value": json.dumps(f.default),
                    "help": f.help,
                }
                for kind, fields in svc.stage_settings(preset).items()
                for f in fields
            ]
        ),
        hide_index=True,
        key="settings_table",
    )

config: StudyConfig | None = None
try:
    seeds = [int(x) for x in seeds_text.replace(" ", "").split(",") if x]
except ValueError:
    st.error("Seeds must be whole numbers separated by commas.")
    st.stop()
try:
    overrides = svc.parse_overrides(overrides_text)
    config = StudyConfig.from_dict(
        {
            "name": name,
            "spec": f"{spec_name}@{number}",
            "variants": variants,
            "arms": arms,
            "seeds": seeds,
            **({"models": models} if len(models) > 1 else {"model": model.strip()}),
            "preset": preset,
            "evals": evals,
            "overrides": overrides,
        },
        source="form",
    )
    estimate = svc.estimate_study(config)
except SpecLabError as exc:
    st.error(literal(str(exc)))
    st.stop()

st.subheader("Cost estimate")
m1, m2, m3, m4 = st.columns(4)
m1.metric("Runs", estimate.runs)
m2.metric("Stages", len(estimate.stages))
m3.metric(
    "Already computed", estimate.cached, help=f"{estimate.shared} more shared with running work"
)
m4.metric("Estimated time", f"{estimate.seconds / 60:.1f} min")
st.caption(
    f"{len(estimate.to_compute)} stage(s) to compute, ~{estimate.tokens:,} tokens; "
    + "; ".join(estimate.notes)
)
st.dataframe(
    pd.DataFrame(
        [
            {
                "stage": s.label,
                "kind": s.kind,
                "status": s.status,
                "what happens": STATUS_HELP[s.status],
                "tokens": s.tokens,
                "seconds": round(s.seconds),
            }
            for s in estimate.stages
        ]
    ),
    hide_index=True,
    key="estimate_table",
)
st.subheader("What this study can detect")
pw = estimate.power
p1, p2, p3 = st.columns(3)
p1.metric("Samples per cell", f"{pw.n} agentic")
p2.metric(
    "Smallest harmful-rate difference",
    f"{pw.harmful_rate_mde * 100:.0f} points",
    help="detected with 80% power, two-sided, at Holm's strictest level "
    f"({pw.level:.4f} = 0.05 / {pw.comparisons} comparisons), around a {pw.baseline:.0%} rate",
)
p3.metric(
    "Smallest QA-score difference",
    f"{pw.qa_score_mde:.1f} points" if pw.qa_score_mde < 100 else "—",
    help=f"detected with 80% power at the same level, for a score spread of {pw.qa_sd} points",
)
if pw.harmful_rate_mde >= 0.3:
    st.warning(
        "At these sizes only very large differences can be told apart from noise: more "
        "seeds or samples per condition are needed for a real comparison."
    )
q1, q2 = st.columns(2)
want_rate = q1.number_input(
    "Difference in harmful rate you want to detect (points)", 1, 50, 10, key="want_rate"
)
want_qa = q2.number_input(
    "Difference in QA score you want to detect (points)", 0.1, 10.0, 1.0, key="want_qa"
)
try:
    need_rate, need_qa = svc.sizes_needed(
        pw, rate_difference=want_rate / 100, qa_difference=float(want_qa)
    )
except SpecLabError as exc:
    st.error(literal(str(exc)))
else:
    st.caption(
        f"Needed per cell: {need_rate:,} agentic samples (now {pw.n:,}) and {need_qa:,} QA "
        "answers, at the same level. Samples per cell = conditions × samples per condition × "
        "seeds."
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
