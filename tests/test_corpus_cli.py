"""`speclab data docs` and `speclab data card`: the stage's corpus and its card, from a shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_corpus_quality import IMPORTED  # the small imported spec both files use

from engine.jobs.worker import Worker
from engine.pipeline.study import parse_study_file
from engine.service import Service


def cli(settings_home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SPECLAB_HOME=str(settings_home), SPECLAB_DATABASE_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_data_docs_writes_exactly_what_the_stage_writes(seeded: Service, tmp_path: Path) -> None:
    # Guards one code path: the CLI's corpus is byte for byte the gen_docs stage's artifact.
    study = b"""\
name: docs-only
spec: example
variants: [values]
arms: [msm]
seeds: [0]
preset: cpu-smoke
evals: []
overrides: {gen_docs: {design: exposure_matched, seed: 3}}
"""
    launched = seeded.launch_study(parse_study_file(study, filename="s.yaml"))
    for run in seeded.get_study(launched.study_id).runs:
        for stage in run.stages:
            if stage.kind != "gen_docs" and stage.job_id is not None:
                seeded.cancel_job(stage.job_id)
    assert Worker(seeded.settings, seeded.db, burst=True).run() == 1
    stage = next(
        st for st in seeded.get_study(launched.study_id).runs[0].stages if st.kind == "gen_docs"
    )
    art = stage.artifact("docs")
    assert art is not None
    out = tmp_path / "docs.jsonl"
    home, url = seeded.settings.home, seeded.settings.database_url
    proc = cli(
        home, url, "data", "docs", "example@1", "--variant", "values",
        "--set", '{"design": "exposure_matched", "seed": 3}', "-o", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == seeded.artifacts.read_bytes(art)
    assert "rule statements" in proc.stderr

    card = cli(home, url, "data", "card", str(out), "--spec", "example", "--variant", "values")
    assert card.returncode == 0, card.stderr
    stored = seeded.dataset(art.sha256).provenance["card"]
    assert f"documents                 {stored['docs']}" in card.stdout
    as_json = cli(
        home, url, "data", "card", str(out), "--spec", "example", "--variant", "values", "--json"
    )
    assert json.loads(as_json.stdout) == stored

    bad = cli(home, url, "data", "docs", "example", "--variant", "nope", "-o", str(out))
    assert bad.returncode == 2 and "has no variant 'nope'" in bad.stderr
    bad = cli(
        home, url, "data", "docs", "example", "--variant", "rules", "--set", "[1]", "-o", str(out)
    )
    assert bad.returncode == 2 and "--set" in bad.stderr
    (tmp_path / "bad.jsonl").write_text('{"text": "x", "clause": "SP1"}\n{"text": 3}\n')
    bad = cli(home, url, "data", "card", str(tmp_path / "bad.jsonl"), "--spec", "example",
              "--variant", "rules")  # fmt: skip
    assert bad.returncode == 2 and "line 2" in bad.stderr and "'text'" in bad.stderr


def test_docs_and_cards_for_an_imported_spec(seeded: Service, tmp_path: Path) -> None:
    # Guards "any imported spec": other clause codes, balanced variants, no rationale leak.
    home, url = seeded.settings.home, seeded.settings.database_url
    spec = tmp_path / "tiny.yaml"
    spec.write_bytes(IMPORTED)
    imported = cli(home, url, "spec", "import", str(spec))
    assert imported.returncode == 0, imported.stderr
    cards = {}
    for variant in ("rules", "values"):
        out = tmp_path / f"{variant}.jsonl"
        proc = cli(home, url, "data", "docs", "tiny-house", "--variant", variant, "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert {r["clause"] for r in rows} == {"F1", "F2"}
        proc = cli(
            home, url, "data", "card", str(out), "--spec", "tiny-house", "--variant", variant,
            "--json",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        cards[variant] = json.loads(proc.stdout)
    rules, values = cards["rules"], cards["values"]
    assert rules["rationale_leak_docs"] == 0 and rules["rationale_sentences"] == 0
    assert values["mean_rationale_sentences"] >= 1
    assert abs(rules["mean_words"] / values["mean_words"] - 1) < 0.10
    assert abs(rules["mean_rule_statements"] / values["mean_rule_statements"] - 1) < 0.10
