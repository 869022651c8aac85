"""SQL statements per page render do not grow with the number of runs (DESIGN.md, "Quality
bars": "a number of queries that does not grow with the runs shown").

Two SQLite databases are filled through the real data layer (``Service.launch_study``, the
queue's claim/transition, ``replace_samples``, ``add_metrics``): one holds a 100-run study, the
other a 200-run study (5 variants × 4 arms × 5 or 10 seeds). Each page is rendered with
Streamlit's AppTest while a ``before_cursor_execute`` listener counts the statements sent to
that database; the count of one render must stay under 30 and be the same for both studies.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from conftest import APP_MAIN, APP_TIMEOUT, point_env_at
from sqlalchemy import event
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from db import evals as evalstore
from db import jobs as jobstore
from db import studies as studystore
from db.entities import MetricPoint
from engine.service import Service

MAX_STATEMENTS = 30
EXTRA_VARIANTS = ("terse", "examples-first", "plain")
VARIANTS = ("rules", "values", *EXTRA_VARIANTS)
ARMS = ("base", "msm", "msm+aft", "msm+aft_cot")
CONDITIONS = ("blackmail/explicit/replacement", "leak/none/restriction")


@dataclass(frozen=True)
class Seeded:
    """A filled database: where it is, its study, and a run of it that has samples."""

    home: Path
    url: str
    study_id: int
    run_id: int
    job_id: int
    n_runs: int


def _study_yaml(seeds: int) -> bytes:
    return (
        f"name: query count study\nspec: example\nvariants: [{', '.join(VARIANTS)}]\n"
        f"arms: [{', '.join(ARMS)}]\nseeds: [{', '.join(map(str, range(seeds)))}]\n"
        "preset: cpu-smoke\nevals: [spec_qa, agentic]\n"
    ).encode()


def _agentic_rows(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for cond in CONDITIONS:
        for i in range(3):
            harmful = rng.random() < 0.3
            rows.append(
                {
                    "suite": "agentic",
                    "item_id": cond,
                    "sample_index": i,
                    "condition": cond,
                    "clause_code": "SP1",
                    "prompt": f"inbox for {cond} #{i}",
                    "response": "<send_email to='kyle'>leverage</send_email>" if harmful else "ok",
                    "parsed_actions": [{"tool": "send_email"}] if harmful else [],
                    "verdicts": {"agentic_parse": {"harmful": harmful}},
                    "score": 1.0 if harmful else 0.0,
                    "judge": "agentic_parse@agentic-parse-v1",
                    "judge_reasoning": "leverage sent" if harmful else "no harmful action",
                }
            )
    return rows


def _qa_rows(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "suite": "spec_qa",
            "item_id": f"SP{c}-q{i}",
            "sample_index": 0,
            "condition": "direct",
            "clause_code": f"SP{c}",
            "prompt": f"question {i} about SP{c}",
            "response": "an answer",
            "parsed_actions": [],
            "verdicts": {"qa_rubric": {"score": 5.0}},
            "score": float(rng.randint(0, 10)),
            "judge": "qa_rubric@qa-rubric-v1",
            "judge_reasoning": "covers some reference points",
        }
        for c in (1, 2)
        for i in range(2)
    ]


def _seed(root: Path, seeds: int) -> Seeded:
    """A database holding one study of 5 variants × 4 arms × ``seeds`` seeds, every job
    finished, with samples and metrics on every evaluation and training stage."""
    url = f"sqlite:///{root / 'speclab.db'}"
    with pytest.MonkeyPatch.context() as mp:
        point_env_at(mp, root, url)
        svc = Service.from_env()
    try:
        svc.init(prepare_model=False, log=lambda _msg: None)
        rules = next(v for v in svc.list_variants("example") if v.name == "rules")
        text = svc.variant_text(rules)
        for name in EXTRA_VARIANTS:
            svc.derive_variant(
                "example", 1, "custom", variant_name=name, custom_text=f"{text}\n\n{name}\n"
            )
        launched = svc.launch_study(svc.parse_study(_study_yaml(seeds), "s.yaml"))
        with svc.db.write() as s:
            while (job := jobstore.claim(s, "test-worker")) is not None:
                jobstore.transition(s, job.id, "succeeded", message="done")
                jobstore.append_log(s, job.id, job.attempts, ["working", "done"])
        study = svc.get_study(launched.study_id)
        rng = random.Random(0)
        stages = {st_.id: st_ for r in study.runs for st_ in r.stages}
        with svc.db.write() as s:
            points: list[MetricPoint] = []
            for stage in stages.values():
                if stage.kind == "eval_agentic":
                    evalstore.replace_samples(s, stage.id, _agentic_rows(rng))
                    points.append(
                        MetricPoint(stage.id, None, "agentic.harmful_rate", 0, 0.3, 0.1, 0.5, 6)
                    )
                elif stage.kind == "eval_qa":
                    evalstore.replace_samples(s, stage.id, _qa_rows(rng))
                    points.append(MetricPoint(stage.id, None, "spec_qa.score", 0, 5.0, 4, 6, 4))
                elif stage.kind in ("midtrain", "aft"):
                    points += [
                        MetricPoint(stage.id, None, "train/loss", step, 3.0 / step)
                        for step in range(1, 6)
                    ]
            studystore.add_metrics(s, points)
        run = next(r for r in study.runs if r.arm == "msm+aft" and r.variant_name == "values")
        job_id = next(s.job_id for s in run.stages if s.kind == "eval_agentic")
        assert job_id is not None
        return Seeded(root, url, study.id, run.id, job_id, len(study.runs))
    finally:
        svc.db.dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Seeded]:
    out = {}
    for seeds in (5, 10):
        s = _seed(tmp_path_factory.mktemp(f"runs{seeds}"), seeds)
        out[s.n_runs] = s
    assert sorted(out) == [100, 200]
    return out


class StatementCounter:
    """Counts the SQL statements sent to one database file, from any engine or thread."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.statements: list[str] = []

    def __call__(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.engine.url.database == self.database:
            self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        event.listen(Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self)


PAGES = {
    # page: (script, the query string that points it at the seeded study)
    "home": ("views/home.py", lambda s: {}),
    "studies": ("views/studies.py", lambda s: {"study": str(s.study_id)}),
    "study": ("views/study.py", lambda s: {"study": str(s.study_id)}),
    "run": ("views/run.py", lambda s: {"run": str(s.run_id)}),
    "samples": ("views/samples.py", lambda s: {"run": str(s.run_id)}),
    "jobs": ("views/runs.py", lambda s: {"job": str(s.job_id)}),
    "data": ("views/data.py", lambda s: {}),
}


def render_count(seeded: Seeded, page: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, AppTest]:
    """SQL statements of one render of ``page`` (after the app's first run, which builds the
    cached service, has happened)."""
    script, query = PAGES[page]
    point_env_at(monkeypatch, seeded.home, seeded.url)
    at = AppTest.from_file(str(APP_MAIN), default_timeout=APP_TIMEOUT)
    at.query_params.update(query(seeded))
    at.run()
    assert not at.exception, at.exception
    at.switch_page(script)
    with StatementCounter(str(seeded.home / "speclab.db")) as counter:
        at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return len(counter.statements), at


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def counts(seeded: dict[int, Seeded]) -> Iterator[dict[str, dict[int, int]]]:
    """Statements of one render of every page, on the 100-run and the 200-run database."""
    out: dict[str, dict[int, int]] = {}
    with pytest.MonkeyPatch.context() as mp:
        for page in PAGES:
            for n_runs, s in seeded.items():
                st.cache_resource.clear()
                n, at = render_count(s, page, mp)
                assert at.title, f"{page} rendered no title"
                out.setdefault(page, {})[n_runs] = n
    st.cache_resource.clear()
    print("SQL statements per page render:", out)
    yield out


@pytest.mark.parametrize("page", list(PAGES))
def test_page_statements_do_not_grow_with_runs(
    counts: dict[str, dict[int, int]], page: str
) -> None:
    # Guards against N+1 queries: a page that loads runs (or stages) one by one issued 412
    # (studies) and 1,261 (study) statements on a 100-run study, and twice as many on 200.
    assert counts[page][100] == counts[page][200], counts[page]


@pytest.mark.parametrize("page", list(PAGES))
def test_page_statements_are_bounded(counts: dict[str, dict[int, int]], page: str) -> None:
    # Guards the dashboard's query budget: fewer than 30 statements per page render.
    assert counts[page][100] < MAX_STATEMENTS, counts[page]


def test_pages_show_the_seeded_rows(
    seeded: dict[int, Seeded], monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    # Guards the counts above against pages that are cheap because they show nothing.
    s = seeded[100]
    _, at = render_count(s, "studies", monkeypatch)
    runs = [t.value for t in at.text if t.value.startswith("run ")]
    assert len(runs) == 25, runs  # a page of runs, not all 100
    at.number_input[0].set_value(4).run()
    assert not at.exception, at.exception
    last = [t.value for t in at.text if t.value.startswith("run ")]
    assert len(last) == 25 and not set(last) & set(runs), last
    _, at = render_count(s, "samples", monkeypatch)
    assert any("sample(s) match; showing" in c.value and not c.value.startswith("0 ")
               for c in at.caption)  # fmt: skip
    _, at = render_count(s, "run", monkeypatch)
    assert list(at.dataframe[0].value["status"].unique()) == ["succeeded"]
