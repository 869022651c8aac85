"""Studies across several base models (issue 12, item 6): each model is its own set of runs,
variants are compared within each model, and the across-models view says whether an effect
holds. Verdicts are written with known numbers into a launched two-model study."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_compare import BLACKMAIL, LEAK, _agentic_rows, _finish_all_jobs, _qa_rows

from db import evals as evalstore
from engine.compare import across
from engine.errors import InputError
from engine.evals import stats
from engine.pipeline.study import StudyConfig, parse_study_file
from engine.service import Service

# Harmful sample indices (of 10 per condition) per model and arm; base is shared by variants.
HARMFUL = {
    ("a", "base"): {BLACKMAIL: range(0, 6), LEAK: range(0, 4)},
    ("a", "rules"): {BLACKMAIL: range(0, 8), LEAK: range(0, 4)},  # 12/20
    ("a", "values"): {BLACKMAIL: range(0, 2), LEAK: range(0)},  # 2/20
    ("b", "base"): {BLACKMAIL: range(0, 3), LEAK: range(0, 3)},
    ("b", "rules"): {BLACKMAIL: range(0, 2), LEAK: range(0)},  # 2/20
    ("b", "values"): {BLACKMAIL: range(0, 8), LEAK: range(0, 4)},  # 12/20: the other way
}


def _study(models: list[Path]) -> bytes:
    listed = ", ".join(str(m) for m in models)
    return (
        "name: two-models\nspec: example\nvariants: [rules, values]\narms: [base, msm+aft]\n"
        f"seeds: [0]\nmodels: [{listed}]\nevals: [spec_qa, agentic]\n"
    ).encode()


@pytest.fixture
def two_models(tiny_model_dir: Path, tmp_path: Path) -> list[Path]:
    other = tmp_path / "tiny-b"
    shutil.copytree(tiny_model_dir, other)
    return [tiny_model_dir, other]


def test_study_file_takes_models(two_models: list[Path]) -> None:
    # Guards the study-file format: `models:` lists several, `model:` still works, not both.
    cfg = parse_study_file(_study(two_models), filename="s.yaml")
    assert cfg.models == tuple(str(m) for m in two_models) and cfg.model == str(two_models[0])
    assert cfg.n_runs == 2 * 2 * 2
    assert StudyConfig.from_dict(cfg.to_dict()) == cfg  # the stored record reads back
    one = parse_study_file(_study(two_models[:1]).replace(b"models: [", b"model: ").replace(
        b"]\nevals", b"\nevals"), filename="s.yaml")  # fmt: skip
    assert one.models == (str(two_models[0]),) and "models" not in one.to_dict()
    both = _study(two_models) + b"model: builtin:smollm2-135m-instruct\n"
    with pytest.raises(InputError) as err:
        parse_study_file(both, filename="s.yaml")
    assert err.value.field == "models" and err.value.line == 6
    dup = _study([two_models[0], two_models[0]])
    with pytest.raises(InputError) as err:
        parse_study_file(dup, filename="s.yaml")
    assert err.value.field == "models"


@pytest.fixture
def launched(seeded: Service, two_models: list[Path]) -> tuple[Service, int, list[str]]:
    svc = seeded
    study_id = svc.launch_study(svc.parse_study(_study(two_models), "s.yaml")).study_id
    _finish_all_jobs(svc)
    models = svc.study_models(study_id)
    name = {models[0]: "a", models[1]: "b"}
    written: set[int] = set()
    with svc.db.write() as s:
        for run in svc.get_study(study_id).runs:
            key = (name[run.model], "base" if run.arm == "base" else run.variant_name)
            for stage in run.stages:
                if stage.id in written:
                    continue
                written.add(stage.id)
                if stage.kind == "eval_agentic":
                    evalstore.replace_samples(s, stage.id, _agentic_rows(HARMFUL[key], "x"))
                elif stage.kind == "eval_qa":
                    evalstore.replace_samples(s, stage.id, _qa_rows(0.0))
    return svc, study_id, models


def test_runs_per_model_and_comparisons_within_each(
    launched: tuple[Service, int, list[str]],
) -> None:
    # Guards that cells never pool models: each model's numbers are its own runs'.
    svc, study_id, models = launched
    study = svc.get_study(study_id)
    assert len(study.runs) == 8 and {r.model for r in study.runs} == set(models)
    for model, name in zip(models, ("a", "b"), strict=True):
        comparison = svc.compare_study(study_id, model=model)
        assert comparison.model == model and comparison.models == tuple(models)
        for variant in ("rules", "values"):
            cell = comparison.cell(variant, "msm+aft")
            k = sum(len(r) for r in HARMFUL[(name, variant)].values())
            assert cell is not None and cell.harmful == stats.wilson(k, 20)
            assert cell.runs == 1
        snapshot = svc.study_snapshot(study_id, model=model)
        assert snapshot.study.model == model
    assert svc.compare_study(study_id).model == models[0]  # the default: the first model
    with pytest.raises(InputError) as err:
        svc.compare_study(study_id, model="nope")
    assert err.value.field == "model"
    report = svc.freeze_report(study_id, title="model b", model=models[1])
    assert svc.get_report(report.id).snapshot.study.model == models[1]
    assert f"model <bdi>{models[1]}" in svc.export_report(report.id, "html")


def test_across_models_says_whether_an_effect_holds(
    launched: tuple[Service, int, list[str]],
) -> None:
    # Guards the across-models verdicts: opposite directions in the two models is flagged,
    # identical base cells are within noise in both.
    svc, study_id, models = launched
    names, rows = svc.across_models(study_id)
    assert names == tuple(models)
    by = {(r.label_a, r.label_b, r.metric): r for r in rows}
    msm = by[("rules/msm+aft", "values/msm+aft", "harmful_rate")]
    a, b = (result for _, result in msm.per_model)
    assert a is not None and b is not None and a.diff == -0.5 and b.diff == 0.5
    assert msm.verdict == across.OPPOSITE
    base = by[("rules/base", "values/base", "harmful_rate")]
    assert base.verdict == across.NONE


def test_verdict_words() -> None:
    # Guards each verdict rule on hand-made results.
    def r(diff: float, noise: bool) -> stats.PairedComparison:
        return stats.PairedComparison(
            "a", "b", "m", diff, diff - 0.1, diff + 0.1, 0.5, 10, "t", noise
        )

    assert across.verdict([r(0.3, False), r(0.2, False)]) == across.HOLDS
    assert across.verdict([r(0.3, True), r(-0.2, True)]) == across.NONE
    assert across.verdict([r(0.3, False), r(-0.2, False)]) == across.OPPOSITE
    assert across.verdict([r(0.3, False), r(0.2, True)]) == across.SOME
    assert across.verdict([r(0.3, False), None]) == across.MISSING


def test_study_page_compares_within_a_chosen_model(svc: Service, two_models: list[Path]) -> None:
    # Guards the page: a model picker, numbers of the picked model, the across-models table.
    from conftest import open_app

    svc.seed_builtin()
    study_id = svc.launch_study(svc.parse_study(_study(two_models), "s.yaml")).study_id
    _finish_all_jobs(svc)
    models = svc.study_models(study_id)
    with svc.db.write() as s:
        for run in svc.get_study(study_id).runs:
            key = (
                "a" if run.model == models[0] else "b",
                "base" if run.arm == "base" else run.variant_name,
            )
            for stage in run.stages:
                if stage.kind == "eval_agentic":
                    evalstore.replace_samples(s, stage.id, _agentic_rows(HARMFUL[key], "x"))
    at = open_app("views/study.py", study=str(study_id))
    assert not at.exception
    assert at.selectbox(key="model").options == models
    rows = {(v, a): r for (v, a), r in at.table[0].value.iterrows()}
    assert rows[("values", "msm+aft")]["% harmful"] == "10.0%"  # model a: 2/20
    at.selectbox(key="model").set_value(models[1]).run()
    rows = {(v, a): r for (v, a), r in at.table[0].value.iterrows()}
    assert rows[("values", "msm+aft")]["% harmful"] == "60.0%"  # model b: 12/20
    across_table = next(d.value for d in at.dataframe if "across models" in d.value.columns)
    assert across.OPPOSITE in set(across_table["across models"])


def test_new_study_form_takes_several_models(svc: Service, two_models: list[Path]) -> None:
    # Guards the form: comma-separated models make each its own set of runs.
    from conftest import open_app

    at = open_app("views/new_study.py")
    one = int(next(m.value for m in at.metric if m.label == "Runs"))
    at.text_input(key="model").set_value(", ".join(str(m) for m in two_models)).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert int(next(m.value for m in at.metric if m.label == "Runs")) == 2 * one
