"""The study comparison's cost does not grow with the study: a bounded number of SQL
statements whatever the number of runs, and no ``git`` on a live study page."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import open_app
from sqlalchemy import event
from test_compare import BLACKMAIL, LEAK, _agentic_rows, _finish_all_jobs, _launch, _qa_rows

from db import evals as evalstore
from engine.compare import capsule
from engine.service import Service

MAX_STATEMENTS = 30


@contextmanager
def counting(svc: Service) -> Iterator[list[str]]:
    """Every SQL statement the service's engine sends while the block runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    engines = {id(e): e for e in (svc.db.engine, svc.db.read_engine)}.values()  # SQLite: two
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def _seed(svc: Service, name: str, seeds: int) -> int:
    """A rules/values × base/msm+aft study with ``seeds`` seeds, every eval stage scored."""
    study_id = _launch(
        svc, name, "rules, values", "base, msm+aft", ", ".join(map(str, range(seeds)))
    )
    _finish_all_jobs(svc)
    written: set[int] = set()
    with svc.db.write() as s:
        for run in svc.get_study(study_id).runs:
            for stage in run.stages:
                if stage.id in written:
                    continue
                written.add(stage.id)
                harmful = {BLACKMAIL: range(run.seed % 5 + 2), LEAK: range(3)}
                if stage.kind == "eval_agentic":
                    evalstore.replace_samples(s, stage.id, _agentic_rows(harmful, run.variant_name))
                elif stage.kind == "eval_qa":
                    evalstore.replace_samples(s, stage.id, _qa_rows(float(run.seed % 3)))
    return study_id


def test_comparison_statements_do_not_grow_with_runs(seeded: Service) -> None:
    # Guards the study page's N+1 (445 statements at 100 runs): the live comparison and its
    # snapshot issue the same, small number of statements for N and for 2N runs.
    small = _seed(seeded, "small", 2)
    large = _seed(seeded, "large", 4)
    counts = {}
    with counting(seeded) as seen:
        seeded.get_study(small)
    assert seen, "the counter sees the statements"
    for study_id in (small, large):
        with counting(seeded) as seen:
            snap = seeded.study_snapshot(study_id)
        assert len(snap.comparisons) == 8 and snap.capsule is None
        counts[study_id] = len(seen)
    runs = {sid: sum(r.runs for r in seeded.study_snapshot(sid).table) for sid in counts}
    assert runs == {small: 8, large: 16}
    print(f"statements: {counts[small]} at 8 runs, {counts[large]} at 16 runs")
    assert counts[large] <= counts[small] < MAX_STATEMENTS, counts
    # Choosing pairs does not add statements either (all pairs come from two queries).
    pairs = [(("rules", "base"), ("values", "msm+aft")), (("rules", "msm+aft"), ("values", "base"))]
    with counting(seeded) as seen:
        seeded.study_snapshot(large, pairs=pairs)
    assert len(seen) <= counts[large]


@pytest.fixture
def fake_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``git`` first on PATH that records each call and answers like ``git rev-parse``."""
    marker = tmp_path / "git-calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = bin_dir / "git"
    git.write_text(f'#!/bin/sh\necho "$@" >> "{marker}"\necho {"a" * 40}\n')
    git.chmod(git.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    capsule._environment.cache_clear()
    yield marker
    capsule._environment.cache_clear()


def test_live_study_page_never_runs_git(svc: Service, fake_git: Path) -> None:
    # Guards the capsule's cost: rendering and rerunning the study page asks git nothing; a
    # freeze does, once, and records the commit in the report.
    if not (Path(capsule.__file__).resolve().parents[2] / ".git").exists():
        pytest.skip("not a git checkout: the capsule records no commit here")
    svc.seed_builtin()
    study_id = _seed(svc, "page", 1)
    at = open_app("views/study.py", study=str(study_id))
    at.run()
    assert not fake_git.exists()
    at.button(key="freeze").click().run()
    assert not at.exception
    assert fake_git.read_text().split() == ["rev-parse", "HEAD"]
    (report,) = svc.list_reports()
    frozen = svc.get_report(report.id).snapshot.capsule
    assert frozen is not None and frozen.git_commit == "a" * 40
