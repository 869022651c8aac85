"""Study files, run DAGs, stage keys and sharing: what a launch creates (no training here)."""

from __future__ import annotations

import pytest

from engine.errors import InputError
from engine.pipeline.plan import run_stages
from engine.pipeline.presets import resolve
from engine.pipeline.study import StudyConfig, parse_study_file
from engine.service import Service

STUDY = b"""\
name: rules-vs-values
spec: example
variants: [rules, values]
arms: [aft, msm+aft]
seeds: [0]
model: builtin:smollm2-135m-instruct
preset: cpu-smoke
evals: []
overrides: {midtrain: {max_steps: 5}, aft: {max_steps: 5}}
"""


def test_study_file_parses() -> None:
    # Guards the documented study-file format.
    cfg = parse_study_file(STUDY, filename="study.yaml")
    assert cfg.variants == ("rules", "values") and cfg.arms == ("aft", "msm+aft")
    assert cfg.n_runs == 4
    assert cfg.stage_configs().for_kind("midtrain").max_steps == 5


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (STUDY.replace(b"[aft, msm+aft]", b"[aft, msm+sft]"), 4, "arms[1]"),
        (STUDY + b"colour: blue\n", 10, "colour"),
        (
            STUDY.replace(b"max_steps: 5}, aft", b"max_stepz: 5}, aft"),
            9,
            "overrides.midtrain.max_stepz",
        ),
        (STUDY.replace(b"{aft: {max_steps: 5}}", b"{aft: {max_steps: 5}}"), None, None),
        (STUDY.replace(b"preset: cpu-smoke", b"preset: fast"), 7, "preset"),
        (STUDY.replace(b"seeds: [0]", b"seeds: [-1]"), 5, "seeds[0]"),
        (STUDY.replace(b"seeds: [0]", b"seeds: [9223372036854775808]"), 5, "seeds[0]"),
        (STUDY.replace(b"seeds: [0]", b"seeds: [[0]]"), 5, "seeds[0]"),
        (STUDY.replace(b"[rules, values]", b"[[rules]]"), 3, "variants[0]"),
        (STUDY.replace(b"model: builtin:smollm2-135m-instruct", b"model: null"), 6, "model"),
        (STUDY.replace(b"seeds: [0]", b"seeds: " + str(list(range(300))).encode()), 5, "seeds"),
        (STUDY.replace(b"{max_steps: 5}}\n", b"{max_steps: -1}}\n"), 9, "overrides.aft.max_steps"),
        (
            STUDY.replace(b"{max_steps: 5}}\n", b"{max_steps: 1e12}}\n"),
            9,
            "overrides.aft.max_steps",
        ),
        (
            STUDY.replace(b"{max_steps: 5}}\n", b"{max_steps: .inf}}\n"),
            9,
            "overrides.aft.max_steps",
        ),
        (
            STUDY.replace(b"{max_steps: 5}}\n", b"{batch_size: 100000000}}\n"),
            9,
            "overrides.aft.batch_size",
        ),
        (STUDY.replace(b"name: rules-vs-values", b'name: "a\\n"'), 1, "name"),
        (STUDY.replace(b"spec: example", b"spec: example@\xc2\xb2"), None, "spec"),
        (
            STUDY.replace(b"midtrain: {max_steps: 5}", b"midtrain: {learning_rate: 7}"),
            9,
            "overrides.midtrain.learning_rate",
        ),
    ],
)
def test_bad_study_files_name_the_key(text: bytes, line: int | None, field: str | None) -> None:
    # Guards study-file validation: the key and its line are named.
    if field is None:
        parse_study_file(text, filename="s.yaml")
        return
    with pytest.raises(InputError) as err:
        cfg = parse_study_file(text, filename="s.yaml")
        resolve(cfg.preset, {k: dict(v) for k, v in cfg.overrides.items()})
    assert err.value.field == field
    if line is not None and err.value.line is not None:
        assert err.value.line == line


def test_stage_keys_share_what_is_identical(seeded: Service) -> None:
    # Guards caching semantics: keys depend on content, not on which run asks.
    variants = {v.name: v for v in seeded.list_variants("example")}
    configs = resolve("cpu-smoke", {})
    model = "builtin:smollm2-135m-instruct"
    plan = {
        (name, arm, seed): {
            s.kind: s.key
            for s in run_stages(
                arm=arm, variant=variants[name], seed=seed, model=model, configs=configs
            )
        }
        for name in ("rules", "values")
        for arm in ("aft", "aft_cot", "msm+aft")
        for seed in (0, 1)
    }
    # AFT alone does not depend on the spec variant; msm+aft does.
    assert plan[("rules", "aft", 0)] == plan[("values", "aft", 0)]
    assert plan[("rules", "msm+aft", 0)]["aft"] != plan[("values", "msm+aft", 0)]["aft"]
    assert plan[("rules", "msm+aft", 0)]["gen_docs"] != plan[("values", "msm+aft", 0)]["gen_docs"]
    # CoT changes the AFT stage but not the demonstrations; seeds change training, not data.
    assert plan[("rules", "aft", 0)]["aft"] != plan[("rules", "aft_cot", 0)]["aft"]
    assert plan[("rules", "aft", 0)]["gen_demos"] == plan[("rules", "aft_cot", 0)]["gen_demos"]
    assert plan[("rules", "msm+aft", 0)]["gen_docs"] == plan[("rules", "msm+aft", 1)]["gen_docs"]
    assert plan[("rules", "msm+aft", 0)]["midtrain"] != plan[("rules", "msm+aft", 1)]["midtrain"]
    # Same inputs, same keys: deterministic.
    again = run_stages(
        arm="msm+aft", variant=variants["rules"], seed=0, model=model, configs=configs
    )
    assert {s.kind: s.key for s in again} == plan[("rules", "msm+aft", 0)]


def test_launch_creates_runs_and_shares_stages(seeded: Service) -> None:
    # Guards launch: one run per cell; shared stages queued once, with job dependencies.
    cfg = parse_study_file(STUDY, filename="study.yaml")
    result = seeded.launch_study(cfg)
    study = seeded.get_study(result.study_id)
    assert len(study.runs) == 4 and study.status == "queued"
    # gen_demos 1, aft-on-base 1, gen_docs 2, midtrain 2, aft-on-msm 2
    assert (result.stages, result.new_jobs, result.cached) == (8, 8, 0)
    aft_runs = [r for r in study.runs if r.arm == "aft"]
    assert aft_runs[0].stages == aft_runs[1].stages
    msm = next(r for r in study.runs if r.arm == "msm+aft")
    kinds = [s.kind for s in msm.stages]
    assert sorted(kinds) == ["aft", "gen_demos", "gen_docs", "midtrain"]
    aft_job = seeded.get_job(next(s.job_id for s in msm.stages if s.kind == "aft") or 0)
    dep_jobs = {seeded.get_job(j).kind for j in aft_job.depends_on}
    assert dep_jobs == {"midtrain", "gen_demos"}
    # A second launch while the first is queued shares every stage: no new jobs.
    again = seeded.launch_study(cfg)
    assert (again.new_jobs, again.shared) == (0, 8)
    assert seeded.job_counts().queued == 8  # one job per distinct stage, nothing else


def test_launch_rejects_unknown_spec_variant_and_model(seeded: Service) -> None:
    # Guards launch-time validation against what is stored.
    base = parse_study_file(STUDY, filename="study.yaml")
    cases = [
        (StudyConfig(**{**base.__dict__, "spec": "nope"}), "spec"),
        (StudyConfig(**{**base.__dict__, "spec": "example@9"}), "spec"),
        (StudyConfig(**{**base.__dict__, "variants": ("rules", "poetic")}), "variants[1]"),
        (StudyConfig(**{**base.__dict__, "model": "../../etc"}), "model"),
    ]
    for cfg, field in cases:
        with pytest.raises(InputError) as err:
            seeded.launch_study(cfg)
        assert err.value.field == field
    assert seeded.list_studies() == []


def test_eval_stages_attach_to_the_final_model(seeded: Service) -> None:
    # Guards where evals run: after aft, after midtrain (msm), on the base model (base).
    text = STUDY.replace(b"evals: []", b"evals: [spec_qa, agentic]").replace(
        b"arms: [aft, msm+aft]", b"arms: [base, msm, msm+aft]"
    )
    result = seeded.launch_study(parse_study_file(text, filename="s.yaml"))
    study = seeded.get_study(result.study_id)
    for run in study.runs:
        by_kind = {s.kind: s for s in run.stages}
        assert {"eval_qa", "eval_agentic"} <= set(by_kind)
        target = {"base": None, "msm": "midtrain", "msm+aft": "aft"}[run.arm]
        for kind in ("eval_qa", "eval_agentic"):
            inputs = seeded.stage_spec(by_kind[kind]).inputs
            assert inputs.get("model") == (by_kind[target].key if target else None)
    # The base model's evals do not depend on the variant: one shared pair of stages.
    base_runs = [r for r in study.runs if r.arm == "base"]
    assert base_runs[0].stages == base_runs[1].stages


def test_estimate_prices_exactly_what_launch_queues(seeded: Service) -> None:
    # Guards one planner: the estimate's stages and statuses are launch's, before and after.
    cfg = parse_study_file(STUDY, filename="study.yaml")
    before = seeded.estimate_study(cfg)
    assert {s.status for s in before.stages} == {"new"}
    result = seeded.launch_study(cfg)
    assert (len(before.stages), len(before.to_compute)) == (result.stages, result.new_jobs)
    study = seeded.get_study(result.study_id)
    launched = {st.key for r in study.runs for st in r.stages}
    assert {s.key for s in before.stages} == launched
    after = seeded.estimate_study(cfg)
    assert {s.status for s in after.stages} == {"shared"} and after.tokens == 0
    assert all(s.label for s in after.stages)


def test_stage_specs_are_typed_and_round_trip(seeded: Service) -> None:
    # Guards the typed stage spec: what the stage row stores reads back equal, key included.
    result = seeded.launch_study(parse_study_file(STUDY, filename="study.yaml"))
    for run in seeded.get_study(result.study_id).runs:
        for stage in run.stages:
            spec = seeded.stage_spec(stage)
            assert spec.key == stage.key
            assert type(spec.config).__name__ in ("DocGenConfig", "TrainConfig", "DemoConfig")
            if stage.kind == "gen_docs":
                assert spec.variant is not None and spec.variant.name == run.variant_name


def test_gen_docs_reads_structured_clauses_not_rendered_text(seeded: Service) -> None:
    # Guards one rendering: documents are written from the variant's clauses as its rendering
    # sees them; hand-edited text is the only text parsed, and must keep its structure.
    from engine.specs.render import view
    from engine.stages.gen_docs import variant_clauses

    version = seeded.get_version("example")
    variants = {v.name: v for v in seeded.list_variants("example")}
    assert variant_clauses(variants["values"], version) == view(version.content, "values")
    assert variant_clauses(variants["rules"], version) == view(version.content, "rules")
    text = seeded.variant_text(variants["rules"]).replace("## ", "## ", 1)
    hand = seeded.derive_variant(
        "example", version.number, "custom", variant_name="hand", custom_text=text
    )
    assert [c.code for c in variant_clauses(hand, version).clauses] == [
        c.code for c in version.content.clauses
    ]
    prose = seeded.derive_variant(
        "example", version.number, "custom", variant_name="prose", custom_text="Be kind."
    )
    with pytest.raises(InputError, match="CODE. Title"):
        variant_clauses(prose, version)
