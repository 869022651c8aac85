"""AppTest runs of the Studies and Run pages on a study trained for real (tiny model)."""

from __future__ import annotations

from pathlib import Path

from conftest import open_app
from test_training import _study

from engine.jobs.worker import Worker
from engine.service import Service


def test_studies_and_run_pages_show_a_trained_study(
    svc: Service,
    tiny_model_dir: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    # Guards the run page: DAG, stage table, loss curve, data previews, artifacts with sizes.
    monkeypatch.setenv("SPECLAB_MODEL_CACHE", str(svc.settings.models_dir))
    launched = svc.launch_study(svc.parse_study(_study(tiny_model_dir, "msm+aft"), "s.yaml"))
    Worker(svc.settings, svc.db, burst=True).run()
    study = svc.get_study(launched.study_id)
    assert study.status == "succeeded"
    run = study.runs[0]

    at = open_app("views/studies.py", study=str(study.id))
    texts = [t.value for t in at.text]
    assert any(f"run {run.id}: values × msm+aft" in t for t in texts)
    assert "succeeded" in texts

    at = open_app("views/run.py", run=str(run.id))
    stages = at.dataframe[0].value
    assert list(stages["stage"]) == ["gen_docs", "midtrain", "gen_demos", "aft"]
    assert set(stages["status"]) == {"succeeded"}
    assert len(at.get("graphviz_chart")) == 1
    assert len(at.get("arrow_vega_lite_chart")) + len(at.get("vega_lite_chart")) >= 1
    labels = [e.label for e in at.expander]
    assert any(lbl.startswith("msm\\_docs") or lbl.startswith("msm_docs") for lbl in labels)
    assert any("aft\\_demos" in lbl or "aft_demos" in lbl for lbl in labels)
    artifacts = at.dataframe[-1].value
    assert set(artifacts["role"]) >= {"docs", "adapter", "demos_cot", "demos_plain"}
    assert (artifacts["bytes"] > 0).all()


def test_run_page_without_a_run_points_to_studies(svc: Service) -> None:
    # Guards a bookmarked /run URL with a missing or bad id.
    at = open_app("views/run.py")
    assert any("Studies page" in i.value for i in at.info)
    at = open_app("views/run.py", run="12345")
    assert at.error and "no run" in at.error[0].value
