"""AppTest of the Study page on a study seeded with known numbers: the table, the paired
comparisons and their within-noise flags, flipped samples, freezing a report."""

from __future__ import annotations

from conftest import open_app
from test_compare import JUDGE_AG, JUDGE_QA, seed_known

from engine.compare import BEYOND_NOISE, WITHIN_NOISE
from engine.service import Service


def test_study_page_shows_the_known_numbers_and_flags(svc: Service) -> None:
    # Guards the compare flow: what the page shows equals the numbers written in the DB.
    svc.seed_builtin()
    study_id = seed_known(svc)
    at = open_app("views/study.py", study=str(study_id))
    headline = at.table[0].value
    rows = {(v, a): row for (v, a), row in headline.iterrows()}
    assert rows[("values", "msm+aft")]["% harmful"] == "10.0%"  # 2 / 20
    assert rows[("rules", "msm+aft")]["% harmful"] == "60.0%"  # 12 / 20
    assert rows[("rules", "base")]["% harmful"] == "50.0%"  # shared base stages: 10 / 20
    comparisons = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    comparison = svc.compare_study(study_id)
    snapshot = svc.study_snapshot(study_id)
    assert len(comparisons) == len(comparison.comparisons)
    for shown, real in zip(comparisons.to_dict("records"), comparison.comparisons, strict=True):
        base = WITHIN_NOISE if real.within_noise else BEYOND_NOISE
        row = next(c for c in snapshot.comparisons if (c.a, c.b, c.metric) == (
            shown["A"], shown["B"], shown["metric"]))  # fmt: skip
        assert shown["verdict"] == snapshot.verdict_of(row) and shown["verdict"].startswith(base)
        # Underpowered is said exactly when a 20-point (2-point QA) effect was undetectable.
        assert ("underpowered" in shown["verdict"]) == snapshot.underpowered(row)
        assert shown["p (Holm)"] == f"{real.p_holm:.4f}"
    assert BEYOND_NOISE in set(comparisons["verdict"])
    assert any(v.startswith(WITHIN_NOISE) for v in comparisons["verdict"])
    assert len(at.get("vega_lite_chart")) + len(at.get("arrow_vega_lite_chart")) >= 4

    # Flipped samples between rules × msm+aft and values × msm+aft: the discordant ones.
    at.selectbox(key="flip_a").set_value("rules × msm+aft").run()
    at.selectbox(key="flip_b").set_value("values × msm+aft").run()
    assert any("10 flipped sample(s)" in c.value for c in at.caption)

    at.button(key="freeze").click().run()
    assert not at.exception
    (report,) = svc.list_reports()
    frozen = svc.get_report(report.id).snapshot
    assert frozen.table == svc.study_snapshot(study_id).table
    assert frozen.capsule is not None and frozen.capsule.spec_ref == "example@1"

    # The capsule is asked for, not computed on every rerun.
    at.button(key="capsule").click().run()
    assert not at.exception
    assert any('"spec"' in c.value and "example@1" in c.value for c in at.code)


def test_study_page_compares_the_chosen_pairs(svc: Service) -> None:
    # Guards the chosen family: Holm corrects over exactly the pairs the researcher picked.
    svc.seed_builtin()
    study_id = seed_known(svc)
    at = open_app("views/study.py", study=str(study_id))
    pair = (("rules", "msm+aft"), ("values", "msm+aft"))
    at.multiselect(key="pairs").set_value([pair]).run()
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert list(shown["A"]) == ["rules/msm+aft", "rules/msm+aft"]
    assert list(shown["metric"]) == ["harmful_rate", "qa_score"]
    # One McNemar test on 20 pairs with 10 discordant, all one way: p = 2 × 0.5^10, Holm × 2.
    assert shown["p (Holm)"].iloc[0] == f"{min(1.0, 2 * 2 * 0.5**10):.4f}"
    assert shown["verdict"].iloc[0] == BEYOND_NOISE


def test_study_page_shows_what_each_instrument_is_worth(svc: Service) -> None:
    # Guards "every number says how far it can be trusted": the judges behind the study's
    # numbers are listed with their agreement on the built-in labelled sets, on the page and
    # in the frozen report's exports.
    from engine import report_export
    from engine.evals.instruments import measured

    svc.seed_builtin()
    study_id = seed_known(svc)
    snapshot = svc.study_snapshot(study_id)
    judges = {r.judge: r for r in snapshot.instruments}
    assert set(judges) == {JUDGE_AG, JUDGE_QA}
    for judge, row in judges.items():
        truth = measured(judge)
        assert (row.accuracy, row.kappa, row.n) == (truth.accuracy, truth.kappa, truth.n)
        assert row.n > 0 and row.accuracy is not None and row.labelled_set
    at = open_app("views/study.py", study=str(study_id))
    shown = next(d.value for d in at.dataframe if "kappa" in d.value.columns)
    assert set(shown["judge"]) == {JUDGE_AG, JUDGE_QA}
    report = svc.freeze_report(study_id, title="instruments")
    page = report_export.export_html(svc.get_report(report.id))
    assert "agreement with labelled truth" in page and JUDGE_QA in page
