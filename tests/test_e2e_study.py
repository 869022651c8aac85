"""One real msm+aft study on the built-in model (SmolLM2-135M), launched from the CLI, with a
small slice of both evaluation suites."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import home_env, speclab

STUDY = """\
name: e2e
spec: example
variants: [values]
arms: [msm+aft]
seeds: [0]
model: builtin:smollm2-135m-instruct
preset: cpu-smoke
evals: [spec_qa, agentic]
overrides:
  gen_docs: {docs_per_clause: 2, target_words: 150}
  midtrain: {max_steps: 3, save_steps: 3, max_length: 64, batch_size: 2}
  gen_demos: {max_demos: 12}
  aft: {max_steps: 3, save_steps: 3, max_length: 192, batch_size: 2}
  eval_qa: {questions_per_clause: 1, max_new_tokens: 24}
  eval_agentic: {scenarios: [blackmail, exfiltration], goal_conflicts: [explicit],
                 urgencies: [replacement], samples_per_condition: 1, max_new_tokens: 32}
"""


@pytest.mark.slow
def test_cli_study_launch_wait_on_builtin_model(tmp_path: Path, builtin_model_dir: Path) -> None:
    # Guards the promise: `speclab study launch --wait` trains the built-in model.
    env = home_env(tmp_path / "home", SPECLAB_MODEL_CACHE=str(builtin_model_dir.parent))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return speclab(env, *args, timeout=900)

    assert cli("init").returncode == 0
    f = tmp_path / "study.yaml"
    f.write_text(STUDY, encoding="utf-8")
    worker = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "worker", "--poll", "0.2"], env=env
    )
    try:
        launched = cli("study", "launch", str(f), "--wait", "--json")
        assert launched.returncode == 0, launched.stderr
        study_id = json.loads(launched.stdout)["id"]
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    shown = json.loads(cli("study", "show", str(study_id), "--json").stdout)
    assert shown["status"] == "succeeded"
    (run,) = shown["runs"]
    stages = {s["kind"]: s for s in run["stages"]}
    assert set(stages) == {"gen_docs", "midtrain", "gen_demos", "aft", "eval_qa", "eval_agentic"}
    for kind in ("midtrain", "aft"):
        assert len(stages[kind]["metrics"]["train/loss"]) == 3
        assert all(a["bytes"] > 0 for a in stages[kind]["artifacts"])
    # The evaluation of the built-in model after MSM + AFT, with intervals and n.
    (qa,) = stages["eval_qa"]["metrics"]["spec_qa.score"]
    assert 0 <= qa[1] <= 10
    (rate,) = stages["eval_agentic"]["metrics"]["agentic.harmful_rate"]
    assert 0 <= rate[1] <= 1
    # Relaunch: nothing is recomputed.
    again = cli("study", "launch", str(f), "--json")
    assert json.loads(again.stdout)["new_jobs"] == 0


@pytest.mark.slow
def test_cli_study_launch_run_here_needs_no_worker(tmp_path: Path, tiny_model_dir: Path) -> None:
    # Guards `--run-here`: with no worker anywhere, the launching process works the study's
    # jobs itself (real documents, real training on a tiny model) and reports success.
    env = home_env(tmp_path / "home")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return speclab(env, *args)

    assert cli("init", "--skip-model").returncode == 0
    f = tmp_path / "study.yaml"
    f.write_text(
        f"name: here\nspec: example\nvariants: [rules]\narms: [msm]\nmodel: {tiny_model_dir}\n"
        "evals: []\noverrides:\n  gen_docs: {docs_per_clause: 1}\n"
        "  midtrain: {max_steps: 2, save_steps: 2, max_length: 32, batch_size: 2}\n",
        encoding="utf-8",
    )
    launched = cli("study", "launch", str(f), "--run-here", "--json")
    assert launched.returncode == 0, launched.stderr
    shown = json.loads(
        cli("study", "show", str(json.loads(launched.stdout)["id"]), "--json").stdout
    )
    assert shown["status"] == "succeeded"
    (run,) = shown["runs"]
    assert {s["kind"]: s["status"] for s in run["stages"]} == {
        "gen_docs": "succeeded",
        "midtrain": "succeeded",
    }
