"""Eval stages in a real study on the tiny model: samples, metrics with intervals, caching,
the scorecard and sample browser, and `speclab eval run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import open_app

from db import evals as evalstore
from engine.jobs.worker import Worker
from engine.service import Service

EVAL_OVERRIDES = (
    "eval_qa: {questions_per_clause: 1, max_new_tokens: 12}, "
    "eval_agentic: {scenarios: [blackmail, leak], goal_conflicts: [explicit], "
    "urgencies: [replacement], samples_per_condition: 2, max_new_tokens: 12}"
)


def _study(model: Path) -> bytes:
    return (
        f"name: evals\nspec: example\nvariants: [rules, values]\narms: [base, aft]\nseeds: [0]\n"
        f"model: {model}\npreset: cpu-smoke\nevals: [spec_qa, agentic]\n"
        "overrides: {gen_demos: {max_demos: 8}, "
        "aft: {max_steps: 2, save_steps: 2, max_length: 192, batch_size: 2}, "
        f"{EVAL_OVERRIDES}}}\n"
    ).encode()


@pytest.fixture
def evaluated(svc: Service, tiny_model_dir: Path) -> tuple[Service, int]:
    launched = svc.launch_study(svc.parse_study(_study(tiny_model_dir), "s.yaml"))
    Worker(svc.settings, svc.db, burst=True).run()
    return svc, launched.study_id


def test_eval_stages_store_samples_and_metrics(evaluated: tuple[Service, int]) -> None:
    # Guards the eval stages end to end: metrics with intervals and n, every sample stored.
    svc, study_id = evaluated
    report = svc.study_report(study_id)
    errors = [s["error"] for r in report["runs"] for s in r["stages"] if s["error"]]
    assert report["status"] == "succeeded", errors
    for run in report["runs"]:
        stages = {s["kind"]: s for s in run["stages"]}
        qa = stages["eval_qa"]["metrics"]
        ag = stages["eval_agentic"]["metrics"]
        assert len(qa["spec_qa.score"]) == 1 and 0 <= qa["spec_qa.score"][0][1] <= 10
        assert "spec_qa.score/SP1" in qa
        assert 0 <= ag["agentic.harmful_rate"][0][1] <= 1
        assert "agentic.harmful_rate/blackmail/explicit/replacement" in ag
        assert "agentic.forced_choice.p_harmful" in ag
        summary = run["evals"]["agentic.harmful_rate"]
        assert summary["ci_low"] <= summary["value"] <= summary["ci_high"] and summary["n"] == 4
    run = svc.get_study(study_id).runs[0]
    points = {p.name: p for p in svc.scorecard(run.id)}
    rate = points["agentic.harmful_rate"]
    assert rate.n == 4 and rate.ci_low is not None and rate.ci_high is not None
    assert rate.ci_low <= rate.value <= rate.ci_high
    assert points["spec_qa.score"].n == 9  # one question for each of the 9 clauses
    samples, total = svc.eval_samples(run.id, suite="agentic")
    assert total == 4 and {s.condition for s in samples} == {
        "blackmail/explicit/replacement",
        "leak/explicit/replacement",
    }
    assert all(s.judge == "agentic_parse@agentic-world-v1" for s in samples)
    assert all("agentic_parse" in s.verdicts for s in samples)
    page, total_leak = svc.eval_samples(
        run.id, suite="agentic", condition="leak/explicit/replacement"
    )
    assert total_leak == 2 and len(page) == 2
    qa, n_qa = svc.eval_samples(run.id, suite="spec_qa", clause="SP4")
    assert n_qa == 1 and qa[0].clause_code == "SP4" and qa[0].judge.startswith("qa_rubric@")


def test_base_evals_shared_across_variants_and_cached(
    evaluated: tuple[Service, int], tiny_model_dir: Path
) -> None:
    # Guards eval caching: the base model is evaluated once for both variants; relaunch = 0 jobs.
    svc, study_id = evaluated
    base_runs = [r for r in svc.get_study(study_id).runs if r.arm == "base"]
    assert base_runs[0].stages == base_runs[1].stages
    again = svc.launch_study(svc.parse_study(_study(tiny_model_dir), "s.yaml"))
    assert again.new_jobs == 0 and again.cached == again.stages


def test_run_page_scorecard_and_sample_browser(evaluated: tuple[Service, int]) -> None:
    # Guards the eval views: headline metrics with intervals; samples as plain text.
    svc, study_id = evaluated
    run = next(r for r in svc.get_study(study_id).runs if r.arm == "aft")
    at = open_app("views/run.py", run=str(run.id))
    assert {m.label for m in at.metric} >= {"spec_qa.score", "agentic.harmful_rate"}
    at = open_app("views/samples.py", run=str(run.id))
    assert any("4 sample(s) match" in c.value for c in at.caption)
    at.selectbox(key="condition").set_value("leak/explicit/replacement").run()
    assert any("2 sample(s) match" in c.value for c in at.caption)


def test_hostile_model_output_shows_as_text(evaluated: tuple[Service, int]) -> None:
    # Guards the sample browser against model output that looks like HTML or Markdown.
    svc, study_id = evaluated
    run = next(r for r in svc.get_study(study_id).runs if r.arm == "aft")
    stage = next(s for s in run.stages if s.kind == "eval_agentic")
    hostile = "<script>alert(1)</script> [click](http://evil) **bold** مرحبا שלום " + "x" * 3000
    with svc.db.write() as s:
        evalstore.replace_samples(
            s,
            stage.id,
            [
                {
                    "suite": "agentic",
                    "item_id": "blackmail/explicit/replacement",
                    "sample_index": 0,
                    "condition": "blackmail/explicit/replacement",
                    "clause_code": "SP5",
                    "prompt": hostile,
                    "response": hostile,
                    "parsed_actions": [{"kind": "send_email", "body": hostile}],
                    "verdicts": {},
                    "score": 1.0,
                    "judge": "agentic_parse@agentic-parse-v1",
                    "judge_reasoning": hostile,
                }
            ],
        )
    at = open_app("views/samples.py", run=str(run.id))
    codes = [c.value for c in at.code]
    assert any(hostile in c for c in codes)
    rendered = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not any("<script>" in r or "](http://evil)" in r for r in rendered)


def test_cli_eval_run_outside_a_study(svc: Service, tiny_model_dir: Path, tmp_path: Path) -> None:
    # Guards `speclab eval run`: metrics with intervals as JSON, samples to a file.
    out = tmp_path / "samples.jsonl"
    overrides = json.dumps(
        {"scenarios": ["sabotage"], "goal_conflicts": ["none"], "urgencies": ["none"],
         "samples_per_condition": 2, "max_new_tokens": 8, "forced_choice": False}
    )  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "eval", "run", "--model", str(tiny_model_dir),
         "--suite", "agentic", "--set", overrides, "-o", str(out)],
        env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    rate = next(m for m in report["metrics"] if m["name"] == "agentic.harmful_rate")
    assert rate["n"] == 2 and rate["ci_low"] <= rate["value"] <= rate["ci_high"]
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    bad = subprocess.run(
        [sys.executable, "-m", "engine.cli", "eval", "run", "--model", str(tiny_model_dir),
         "--suite", "agentic", "--set", '{"samples_per_condition": 0}'],
        env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "samples_per_condition" in bad.stderr
