"""The `speclab` command as a user runs it: a real subprocess on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import build_parser

REPO = Path(__file__).resolve().parent.parent


def run(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SPECLAB_HOME=str(home))
    env.pop("SPECLAB_DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    run(h, "init", "--skip-model")
    return h


def _subcommands(parser, prefix=()):  # type: ignore[no-untyped-def]
    for action in parser._actions:
        if hasattr(action, "choices") and isinstance(action.choices, dict):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _subcommands(sub, (*prefix, name))


def test_every_command_has_help() -> None:
    # Guards `--help` on every command and a help text on every option.
    commands = list(_subcommands(build_parser()))
    assert ("spec", "import") in commands and ("jobs", "list") in commands
    for cmd in commands:
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args([*cmd, "--help"])
        assert exc.value.code == 0


def test_init_is_idempotent_and_seeds(home: Path) -> None:
    # Guards `speclab init` twice on the same home.
    out = run(home, "init", "--skip-model").stdout
    assert "nothing new" in out
    specs = json.loads(run(home, "spec", "list", "--json").stdout)
    assert [s["name"] for s in specs] == ["example"]
    assert (home / "speclab.db").exists()


def test_import_export_round_trip(home: Path, tmp_path: Path) -> None:
    # Guards the CLI's import/export contract: prints the name; JSON clause fields.
    exported = run(home, "spec", "export", "example", "--format", "json").stdout
    data = json.loads(exported)
    keys = {"code", "title", "rule", "subrules", "rationale", "examples"}
    assert data["clauses"] and all(keys <= set(c) for c in data["clauses"])
    data["name"] = "copy"
    f = tmp_path / "copy.json"
    f.write_text(json.dumps(data), encoding="utf-8")
    assert run(home, "spec", "import", str(f)).stdout.strip() == "copy"
    again = json.loads(run(home, "spec", "export", "copy", "--format", "json").stdout)
    assert again["clauses"] == data["clauses"]
    md = run(home, "spec", "export", "copy", "--format", "md", "--variant", "rules").stdout
    assert data["clauses"][0]["rule"] in md and data["clauses"][0]["rationale"] not in md


def test_bad_input_exits_2_naming_the_line(home: Path, tmp_path: Path) -> None:
    # Guards error reporting: file, line, and no traceback.
    f = tmp_path / "bad.yaml"
    f.write_text("name: bad\nclauses:\n  - code: A\n    rule: [oops\n", encoding="utf-8")
    proc = run(home, "spec", "import", str(f), check=False)
    assert proc.returncode == 2
    assert "bad.yaml" in proc.stderr and "line" in proc.stderr
    assert "Traceback" not in proc.stderr
    missing = run(home, "spec", "export", "nope", "--format", "md", check=False)
    assert missing.returncode == 1 and "no spec named 'nope'" in missing.stderr


def test_jobs_list_show_cancel_retry(home: Path, tmp_path: Path) -> None:
    # Guards the queue from the CLI: a study's two jobs; cancel both, retry one, run it.
    study = tmp_path / "msm.yaml"
    study.write_text(
        "name: cli-jobs\nspec: example\nvariants: [rules]\narms: [msm]\nevals: []\n",
        encoding="utf-8",
    )
    run(home, "study", "launch", str(study))
    jobs = {j["kind"]: str(j["id"]) for j in json.loads(run(home, "jobs", "list", "--json").stdout)}
    assert sorted(jobs) == ["gen_docs", "midtrain"]
    for kind in ("midtrain", "gen_docs"):
        assert "cancelled" in run(home, "jobs", "cancel", jobs[kind]).stdout
    assert "queued" in run(home, "jobs", "retry", jobs["gen_docs"]).stdout
    assert "finished 1 job" in run(home, "worker", "--burst").stdout
    states = {j["kind"]: j["state"] for j in json.loads(run(home, "jobs", "list", "--json").stdout)}
    assert states == {"gen_docs": "succeeded", "midtrain": "cancelled"}
    shown = json.loads(run(home, "jobs", "show", jobs["gen_docs"], "--json").stdout)
    assert [e["to_state"] for e in shown["events"]] == [
        "queued", "cancelled", "queued", "running", "succeeded",
    ]  # fmt: skip
    assert any("documents" in ln["line"] for ln in shown["log"])


def test_stage_table_and_settings_from_the_cli(home: Path) -> None:
    # Guards the one table of stage kinds and the help texts every setting carries.
    table = json.loads(run(home, "stages", "--json").stdout)
    assert [k["kind"] for k in table] == [
        "gen_docs", "midtrain", "gen_demos", "aft", "eval_qa", "eval_agentic", "eval_published",
    ]  # fmt: skip
    aft = next(k for k in table if k["kind"] == "aft")
    assert aft["inputs"] == {"demos": ["gen_demos"], "base": ["midtrain"]}
    assert aft["resources"]["gpus"] == 1 and aft["max_attempts"] >= 1
    settings = json.loads(run(home, "study", "settings", "--json", "aft").stdout)
    steps = next(f for f in settings["aft"] if f["name"] == "max_steps")
    assert steps["default"] == 12 and "optimizer steps" in steps["help"]  # cpu-smoke's value


def test_launch_wait_without_a_worker_says_how_to_start_one(home: Path, tmp_path: Path) -> None:
    # Guards `--wait` with no worker: it says so and exits instead of waiting forever.
    study = tmp_path / "s.yaml"
    study.write_text(
        "name: waits\nspec: example\nvariants: [rules]\narms: [msm]\nevals: []\n",
        encoding="utf-8",
    )
    proc = run(home, "study", "launch", str(study), "--wait", check=False)
    assert proc.returncode == 1
    assert "no worker is running" in proc.stderr and "speclab worker" in proc.stderr
    assert "--run-here" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("jobs", "show", "99999999999999999999999"),
        ("study", "show", "²"),
        ("serve-model", "m", "--port", "70000"),
    ],
)
def test_out_of_range_numbers_are_one_line_errors(home: Path, args: tuple[str, ...]) -> None:
    # Guards CLI ids above 2**63 and odd digits: argparse refuses them, no traceback.
    proc = run(home, *args, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "whole number" in proc.stderr or "port number" in proc.stderr


def test_eval_run_bad_set_and_output_folder(home: Path, tmp_path: Path) -> None:
    # Guards `eval run` input errors: bad JSON and a missing output folder named, no traceback.
    bad = run(
        home, "eval", "run", "--model", "x", "--suite", "agentic", "--set", "{bad", check=False
    )
    assert bad.returncode == 2 and "--set" in bad.stderr and "Traceback" not in bad.stderr
    missing = run(
        home, "eval", "run", "--model", "x", "--suite", "agentic",
        "-o", str(tmp_path / "nope" / "out.jsonl"), check=False,
    )  # fmt: skip
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_out_of_date_database_is_refused(tmp_path: Path) -> None:
    # Guards the schema check: commands name the fix instead of failing obscurely.
    home = tmp_path / "fresh"
    home.mkdir()
    proc = run(home, "spec", "list", check=False)
    assert proc.returncode == 1 and "speclab init" in proc.stderr
