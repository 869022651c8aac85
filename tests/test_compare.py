"""The study comparison on a study seeded with known numbers (SQLite and PostgreSQL).

The study is launched for real (variants rules/values × arms base/msm+aft, one seed); instead
of training, every stage job is claimed and marked succeeded and the eval samples and metrics
are written straight into the eval stages, so every number below can be worked out by hand.
``msm+aft`` is used rather than ``aft`` because an ``aft`` run on the built-in demonstrations
has the same stages for every variant (its inputs do not depend on the spec text).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest

from db import compare as cmpstore
from db import evals as evalstore
from db import jobs as jobstore
from db import studies as studystore
from db.entities import MetricPoint
from engine import compare
from engine.compare.capsule import study_capsule
from engine.errors import InputError, NotFoundError
from engine.evals import stats
from engine.service import Service

BLACKMAIL = "blackmail/explicit/replacement"
LEAK = "leak/explicit/replacement"
JUDGE_AG = "agentic_parse@agentic-parse-v1"
JUDGE_QA = "qa_rubric@qa-rubric-v1"
QA_ITEMS = [f"SP{c}-q{q}" for c in range(1, 5) for q in (1, 2)]
BASE_QA = [1.0, 3.0, 5.0, 7.0, 1.0, 3.0, 5.0, 7.0]  # clause means SP1 2, SP2 6, SP3 2, SP4 6

# Harmful sample indices (of 10 per condition) per cell; base evals are shared by both variants.
HARMFUL = {
    "base": {BLACKMAIL: range(0, 6), LEAK: range(0, 4)},  # 10/20
    ("rules", "msm+aft"): {BLACKMAIL: range(0, 8), LEAK: range(0, 4)},  # 12/20
    ("values", "msm+aft"): {BLACKMAIL: range(0, 2), LEAK: range(0)},  # 2/20, ⊂ both above
}
QA_SHIFT = {"base": 0.0, ("rules", "msm+aft"): 2.0, ("values", "msm+aft"): 3.0}
FC = {"base": (0.4, 0.5), ("rules", "msm+aft"): (0.2, 0.4), ("values", "msm+aft"): (0.1, 0.1)}

CELLS_MSM = (("rules", "msm+aft"), ("values", "msm+aft"))

# Family order: within base (rules→values), within msm+aft, within rules (base→msm+aft),
# within values; agentic then spec_qa for each pair.
P_VALUES = [1.0, 1.0, 2 * 0.5**10, 2 / 2**8, 2 * 0.5**2, 2 / 2**8, 2 * 0.5**8, 2 / 2**8]
P_HOLM = [1.0, 1.0, 8 * 2 * 0.5**10, 7 * 2 / 2**8, 1.0, 7 * 2 / 2**8, 7 * 2 / 2**8, 7 * 2 / 2**8]


def _agentic_rows(harmful: dict[str, Iterable[int]], tag: str) -> list[dict[str, object]]:
    rows = []
    for condition in (c for c in (BLACKMAIL, LEAK) if c in harmful):
        bad = set(harmful[condition])
        for i in range(10):
            rows.append(
                {
                    "suite": "agentic",
                    "item_id": condition,
                    "sample_index": i,
                    "condition": condition,
                    "clause_code": "SP5",
                    "prompt": f"{condition} #{i}",
                    "response": f"{tag} {condition} #{i}",
                    "parsed_actions": [],
                    "verdicts": {},
                    "score": 1.0 if i in bad else 0.0,
                    "judge": JUDGE_AG,
                    "judge_reasoning": "",
                }
            )
    return rows


def _qa_rows(shift: float) -> list[dict[str, object]]:
    return [
        {
            "suite": "spec_qa",
            "item_id": item,
            "sample_index": 0,
            "condition": "direct",
            "clause_code": item.split("-")[0],
            "prompt": f"question {item}",
            "response": "answer",
            "parsed_actions": [],
            "verdicts": {},
            "score": score + shift,
            "judge": JUDGE_QA,
            "judge_reasoning": "",
        }
        for item, score in zip(QA_ITEMS, BASE_QA, strict=True)
    ]


def _forced_choice_metrics(stage_id: int, blackmail: float, leak: float) -> list[MetricPoint]:
    fc = compare.FC_METRIC
    return [
        MetricPoint(stage_id, None, fc, 0, (blackmail + leak) / 2, 0.0, 1.0, 2),
        MetricPoint(stage_id, None, f"{fc}/{BLACKMAIL}", 0, blackmail, n=1),
        MetricPoint(stage_id, None, f"{fc}/{LEAK}", 0, leak, n=1),
    ]


def _finish_all_jobs(svc: Service) -> None:
    while True:
        with svc.db.write() as s:
            job = jobstore.claim(s, "test-worker")
            if job is None:
                return
            jobstore.transition(s, job.id, "succeeded")


def _launch(svc: Service, name: str, variants: str, arms: str, seeds: str) -> int:
    text = (
        f"name: {name}\nspec: example\nvariants: [{variants}]\narms: [{arms}]\n"
        f"seeds: [{seeds}]\nevals: [spec_qa, agentic]\n"
    )
    return svc.launch_study(svc.parse_study(text.encode(), "s.yaml")).study_id


@pytest.fixture
def known(seeded: Service) -> tuple[Service, int]:
    """The 2 × 2 study with the numbers above written into its eval stages."""
    return seeded, seed_known(seeded)


def seed_known(svc: Service) -> int:
    """Launch the 2 × 2 study and write the numbers above into its eval stages."""
    study_id = _launch(svc, "known", "rules, values", "base, msm+aft", "0")
    _finish_all_jobs(svc)
    study = svc.get_study(study_id)
    written: set[int] = set()
    with svc.db.write() as s:
        for run in study.runs:
            cell = "base" if run.arm == "base" else (run.variant_name, run.arm)
            for stage in run.stages:
                if stage.id in written:
                    continue  # the base arm's eval stages are shared by both variants
                written.add(stage.id)
                if stage.kind == "eval_agentic":
                    evalstore.replace_samples(
                        s, stage.id, _agentic_rows(HARMFUL[cell], f"{run.variant_name}")
                    )
                    studystore.add_metrics(s, _forced_choice_metrics(stage.id, *FC[cell]))
                elif stage.kind == "eval_qa":
                    evalstore.replace_samples(s, stage.id, _qa_rows(QA_SHIFT[cell]))
                elif stage.kind in ("aft", "midtrain"):
                    studystore.add_metrics(
                        s,
                        [
                            MetricPoint(stage.id, None, "train/loss", step, 3.0 / step)
                            for step in (1, 2, 3)
                        ],
                    )
    return study_id


def test_table_pools_cells_with_wilson_and_bootstrap(known: tuple[Service, int]) -> None:
    # Guards the headline table: counts per cell, Wilson intervals, QA means, forced choice.
    svc, study_id = known
    result = compare.compare_study(svc.db, study_id)
    assert [c.key for c in result.cells] == [
        ("rules", "base"),
        ("rules", "msm+aft"),
        ("values", "base"),
        ("values", "msm+aft"),
    ]
    expected = {
        ("rules", "base"): (10, 4.0, 0.45),
        ("values", "base"): (10, 4.0, 0.45),  # the shared base eval stages count for both
        ("rules", "msm+aft"): (12, 6.0, 0.3),
        ("values", "msm+aft"): (2, 7.0, 0.1),
    }
    for cell in result.cells:
        harmful, qa, fc = expected[cell.key]
        assert cell.runs == 1 and cell.seeds == (0,)
        assert cell.harmful == stats.wilson(harmful, 20)
        assert cell.qa is not None and cell.qa.method == "bootstrap" and cell.qa.n == 8
        assert cell.qa.estimate == pytest.approx(qa)
        assert cell.qa.low < qa < cell.qa.high
        assert cell.p_harmful_fc is not None and cell.p_harmful_fc.estimate == pytest.approx(fc)
        assert cell.harmful_soft is None
    values_msm = result.cell("values", "msm+aft")
    assert values_msm is not None and values_msm.harmful is not None
    assert values_msm.harmful.estimate == 0.1
    assert values_msm.harmful.low == pytest.approx(0.027866, abs=1e-6)
    assert values_msm.harmful.high == pytest.approx(0.301034, abs=1e-6)
    assert result.study.status == "succeeded" and result.study.spec == "example@1"


def test_comparisons_mcnemar_holm_and_noise_flags(known: tuple[Service, int]) -> None:
    # Guards the paired tests: matching, McNemar/sign-flip p-values, Holm over the family,
    # and "within noise" recomputed after Holm (three unadjusted p < 0.05 fail after it).
    svc, study_id = known
    result = compare.compare_study(svc.db, study_id)
    got = [(c.label_a, c.label_b, c.metric) for c in result.comparisons]
    assert got == [
        ("rules/base", "values/base", "harmful_rate"),
        ("rules/base", "values/base", "qa_score"),
        ("rules/msm+aft", "values/msm+aft", "harmful_rate"),
        ("rules/msm+aft", "values/msm+aft", "qa_score"),
        ("rules/base", "rules/msm+aft", "harmful_rate"),
        ("rules/base", "rules/msm+aft", "qa_score"),
        ("values/base", "values/msm+aft", "harmful_rate"),
        ("values/base", "values/msm+aft", "qa_score"),
    ]
    assert [c.p_value for c in result.comparisons] == pytest.approx(P_VALUES)
    assert [c.p_holm for c in result.comparisons] == pytest.approx(P_HOLM)
    assert [c.within_noise for c in result.comparisons] == [
        True, True, False, True, True, True, True, True,
    ]  # fmt: skip
    assert [c.diff for c in result.comparisons] == pytest.approx(
        [0.0, 0.0, -0.5, 1.0, 0.1, 2.0, -0.4, 3.0]
    )
    assert [c.n_pairs for c in result.comparisons] == [20, 8] * 4
    headline = result.comparisons[2]
    assert headline.high < 0  # values × msm+aft is less harmful, and the interval says so


def test_explicit_pairs_and_unknown_cell(known: tuple[Service, int]) -> None:
    # Guards chosen pairs: one pair gives a family of two; a missing cell is named, not skipped.
    svc, study_id = known
    result = compare.compare_study(
        svc.db, study_id, pairs=[(("rules", "msm+aft"), ("values", "msm+aft"))]
    )
    assert [c.p_holm for c in result.comparisons] == pytest.approx([2 * 2 * 0.5**10, 2 / 2**8])
    with pytest.raises(InputError, match="no cell rules/aft"):
        compare.compare_study(svc.db, study_id, pairs=[(("rules", "aft"), ("values", "base"))])
    with pytest.raises(NotFoundError):
        compare.compare_study(svc.db, study_id + 99)


def test_breakdowns_per_condition_and_clause(known: tuple[Service, int]) -> None:
    # Guards the per-condition rates (Wilson) and per-clause means, shared base stages included.
    svc, study_id = known
    result = compare.compare_study(svc.db, study_id)
    rates = {(c.variant, c.arm, c.condition): c.rate for c in result.conditions}
    assert len(rates) == 8
    assert rates[("values", "base", BLACKMAIL)] == stats.wilson(6, 10)
    assert rates[("rules", "msm+aft", BLACKMAIL)] == stats.wilson(8, 10)
    assert rates[("values", "msm+aft", LEAK)] == stats.wilson(0, 10)
    scores = {(c.variant, c.arm, c.clause): c.score for c in result.clauses}
    assert len(scores) == 16
    assert scores[("rules", "base", "SP1")].estimate == pytest.approx(2.0)
    assert scores[("values", "msm+aft", "SP4")].estimate == pytest.approx(9.0)
    assert scores[("values", "msm+aft", "SP4")].n == 2
    with svc.db.read() as s:
        sums = {
            (r.run_id, r.clause): (r.n, r.total)
            for r in cmpstore.clause_sums(s, study_id, suite=compare.SPEC_QA)
        }
        runs = {
            r.run_id: r
            for r in cmpstore.run_summaries(
                s,
                study_id,
                agentic=compare.AGENTIC,
                spec_qa=compare.SPEC_QA,
                harmful_at=compare.HARMFUL_AT,
            )  # fmt: skip
        }
    assert all(r.qa_items is None for r in runs.values())  # per-item scores only when asked
    assert len(sums) == 4 * 4  # both base runs see the shared base stage's answers
    base_totals = {"SP1": 4.0, "SP2": 12.0, "SP3": 4.0, "SP4": 12.0}
    for (run_id, clause), (n, total) in sums.items():
        run = runs[run_id]
        shift = QA_SHIFT["base" if run.arm == "base" else (run.variant, run.arm)]
        assert n == 2 and total == pytest.approx(base_totals[clause] + 2 * shift)


def test_flipped_samples_are_exactly_the_discordant_ones(known: tuple[Service, int]) -> None:
    # Guards the side-by-side view: only samples whose verdict differs, matched and limited.
    svc, study_id = known
    pairs = compare.flipped_samples(svc.db, study_id, *CELLS_MSM)
    assert [(a.condition, a.sample_index) for a, _ in pairs] == [
        *[(BLACKMAIL, i) for i in range(2, 8)],
        *[(LEAK, i) for i in range(4)],
    ]
    assert all(a.score == 1.0 and b.score == 0.0 for a, b in pairs)
    assert all((a.condition, a.sample_index) == (b.condition, b.sample_index) for a, b in pairs)
    assert all(a.response.startswith("rules") and b.response.startswith("values") for a, b in pairs)
    few = compare.flipped_samples(svc.db, study_id, *CELLS_MSM, limit=3)
    assert [(a.id, b.id) for a, b in few] == [(a.id, b.id) for a, b in pairs[:3]]
    assert compare.flipped_samples(svc.db, study_id, ("rules", "base"), ("values", "base")) == []


def test_snapshot_round_trips_with_charts_and_capsule(known: tuple[Service, int]) -> None:
    # Guards the frozen report format: exact keys, JSON round-trip, NaN-free, charts, capsule.
    svc, study_id = known
    comparison = compare.compare_study(svc.db, study_id)
    typed = comparison.to_snapshot("Known numbers", capsule=study_capsule(svc.db, study_id))
    snapshot = typed.to_dict()
    assert json.loads(json.dumps(snapshot, allow_nan=False)) == snapshot
    assert compare.read_snapshot(json.loads(typed.to_json())) == typed
    assert list(snapshot) == [
        "format_version", "title", "study", "table", "comparisons", "conditions", "clauses",
        "loss_curves", "omitted_pairs", "instruments", "capsule", "charts",
    ]  # fmt: skip
    assert snapshot["format_version"] == 2 and snapshot["title"] == "Known numbers"
    assert set(snapshot["study"]) == {
        "id", "name", "spec", "status", "created_by", "created_at", "model",
    }  # fmt: skip
    assert snapshot["study"]["model"] == ""  # one model: none named
    row = next(r for r in typed.table if (r.variant, r.arm) == ("values", "msm+aft"))
    assert row.n_agentic == 20 and row.harmful_rate == 0.1 and row.seeds == 1
    assert row.n_qa == 8 and row.qa_score == pytest.approx(7.0)
    assert row.p_harmful_fc == pytest.approx(0.1)
    assert set(snapshot["comparisons"][0]) == {
        "a", "b", "metric", "diff", "low", "high", "p_value", "p_holm", "n_pairs", "method",
        "within_noise",
    }  # fmt: skip
    assert [c.verdict for c in typed.comparisons] == [
        compare.verdict(c.within_noise) for c in comparison.comparisons
    ]
    assert set(snapshot["charts"]) == set(compare.CHART_NAMES)
    assert all("$schema" in spec for spec in snapshot["charts"].values())
    for name, spec in typed.charts.items():
        compare.check_chart(name, spec)  # what the writer makes passes the freeze check
    # Loss curves: midtrain + aft of each msm+aft run, three steps each.
    assert len(typed.loss_curves) == 2 * 2 * 3
    assert {p.stage for p in typed.loss_curves} == {"midtrain", "aft"}
    capsule = typed.capsule
    assert capsule is not None
    assert capsule.spec_ref == "example@1" and len(capsule.spec_hash) == 64
    assert capsule.judges == (JUDGE_AG, JUDGE_QA)
    assert capsule.seeds == (0,) and capsule.config["arms"] == ["base", "msm+aft"]
    assert capsule.speclab_version and "sqlalchemy" in capsule.packages
    assert {"eval_qa", "eval_agentic", "aft", "midtrain", "gen_docs"} <= set(capsule.stages)
    assert len(capsule.stages["eval_agentic"]) == 3  # base (shared), rules, values
    assert snapshot["capsule"]["spec"] == {"ref": "example@1", "content_hash": capsule.spec_hash}
    # A live snapshot carries no capsule: the study page never asks git.
    assert comparison.to_snapshot("live").capsule is None


def test_several_seeds_use_clustered_bootstrap(seeded: Service) -> None:
    # Guards seed pooling: the mean of per-seed rates with a clustered interval, not pooled counts.
    svc = seeded
    study_id = _launch(svc, "seeds", "rules", "base", "0, 1")
    _finish_all_jobs(svc)
    runs = sorted(svc.get_study(study_id).runs, key=lambda r: r.seed)
    with svc.db.write() as s:
        harmful_by_seed = ({BLACKMAIL: range(1)}, {BLACKMAIL: range(10), LEAK: range(5)})
        for run, harmful in zip(runs, harmful_by_seed, strict=True):
            stage = next(st for st in run.stages if st.kind == "eval_agentic")
            evalstore.replace_samples(s, stage.id, _agentic_rows(harmful, "r"))
    cell = compare.compare_study(svc.db, study_id).cells[0]
    assert cell.seeds == (0, 1) and cell.runs == 2 and cell.qa is None
    assert cell.harmful is not None and cell.harmful.method == "clustered-bootstrap"
    assert cell.harmful.estimate == pytest.approx((0.1 + 0.75) / 2)  # pooled would be 16/30
    assert cell.harmful.n == 30
    # Same two-stage scheme as the stats module (computed from counts): intervals agree.
    reference = stats.clustered_bootstrap_mean(
        {"0": [1.0] * 1 + [0.0] * 9, "1": [1.0] * 15 + [0.0] * 5}, seed=0
    )
    assert cell.harmful.low == pytest.approx(reference.low, abs=0.05)
    assert cell.harmful.high == pytest.approx(reference.high, abs=0.05)
    assert compare.compare_study(svc.db, study_id).cells[0] == cell  # seeded: reproducible
    assert compare.pooled_rate({0: (0, 10), 1: (0, 20)}) == stats.Interval(
        0.0, 0.0, 0.0, 30, "clustered-bootstrap"
    )


def test_runs_page_across_studies(known: tuple[Service, int]) -> None:
    # Guards the runs list: newest first, paged, total over all studies, status from jobs.
    svc, study_id = known
    other = _launch(svc, "queued one", "values", "base, msm+aft", "7")
    page = compare.runs_page(svc.db, limit=3)
    assert page.total == 6 and len(page.rows) == 3
    assert [r.id for r in page.rows] == sorted((r.id for r in page.rows), reverse=True)
    newest = page.rows[0]
    assert newest.study_id == other and newest.study_name == "queued one"
    assert (newest.variant, newest.arm, newest.seed) == ("values", "msm+aft", 7)
    assert newest.status == "queued"
    rest = compare.runs_page(svc.db, limit=3, offset=3)
    assert {r.study_id for r in rest.rows} == {study_id}
    assert {r.status for r in rest.rows} == {"succeeded"}
    with pytest.raises(InputError):
        compare.runs_page(svc.db, limit=0)


def test_default_family_is_capped() -> None:
    # Guards the size of the default family: within-arm pairs first, then cut at the cap.
    cells = [(v, a) for v in "abcdef" for a in ("base", "aft", "msm+aft")]
    pairs, omitted = compare.default_pairs(cells, n_suites=2)
    assert len(pairs) == 15 and omitted == 3 * 15 + 6 * 3 - 15
    assert pairs[0] == (("a", "base"), ("b", "base"))
    assert all(a[1] == b[1] for a, b in pairs)  # the cap keeps the variant comparisons
    assert len(pairs) * 2 == compare.MAX_COMPARISONS


def test_study_without_results_yet(seeded: Service) -> None:
    # Guards the study page while jobs are queued: empty cells, no tests, a valid snapshot.
    study_id = _launch(seeded, "fresh", "rules, values", "base", "0")
    result = compare.compare_study(seeded.db, study_id)
    assert [c.key for c in result.cells] == [("rules", "base"), ("values", "base")]
    assert all(c.harmful is None and c.qa is None and c.p_harmful_fc is None for c in result.cells)
    assert result.comparisons == () and result.conditions == () and result.study.status == "queued"
    snapshot = result.to_snapshot("empty")
    data = snapshot.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert compare.read_snapshot(data) == snapshot
    assert snapshot.table[0].harmful_rate is None and snapshot.table[0].n_agentic == 0
    assert set(snapshot.charts) == set(compare.CHART_NAMES)
