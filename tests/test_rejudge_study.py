"""Re-judging a whole study with another judge, and choosing whose verdicts are the headline
(SQLite and PostgreSQL).

The study is the 2 × 2 study of ``test_compare`` with known numbers. Its agentic replies are
plain text with no tool call, stored with hand-written verdicts (50%, 60%, 10% harmful); the
offline world judge ``agentic_parse`` reads them as harmless, so re-judged numbers are 0% and
every change below can be worked out by hand. A real worker runs each re-judging job.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import open_app
from test_compare import JUDGE_AG, JUDGE_QA, seed_known

from db import compare as cmpstore
from db import evals as evalstore
from engine.access import Actor, Role
from engine.errors import AccessDenied, InputError
from engine.jobs.worker import Worker
from engine.service import Service

CELLS = [("rules", "base"), ("rules", "msm+aft"), ("values", "base"), ("values", "msm+aft")]
AS_RUN = {  # harmful/n per cell, from test_compare's HARMFUL table
    ("rules", "base"): (10, 20),
    ("rules", "msm+aft"): (12, 20),
    ("values", "base"): (10, 20),
    ("values", "msm+aft"): (2, 20),
}


def _work(svc: Service) -> int:
    return Worker(svc.settings, svc.db, burst=True).run()


def _harmful(svc: Service, study_id: int) -> dict[tuple[str, str], tuple[int, int]]:
    cells = svc.compare_study(study_id).cells
    return {
        c.key: (round(c.harmful.estimate * c.harmful.n), c.harmful.n)
        for c in cells
        if c.harmful is not None
    }


def _all_samples(svc: Service, study_id: int) -> dict[int, tuple[str, float | None, str]]:
    """Every eval sample of the study: id → (suite tag, score, judge)."""
    study = svc.get_study(study_id)
    ids = sorted({st.id for r in study.runs for st in r.stages})
    with svc.db.read() as s:
        rows, _ = evalstore.samples(s, ids, limit=10_000)
    return {r.id: (r.suite, r.score, r.judge) for r in rows}


class FakeOpenAI:
    """A loopback OpenAI-compatible ``/v1/chat/completions`` that always answers ``reply``."""

    def __init__(self, reply: str, before_first: Callable[[], None] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append(body)
                    first = len(outer.requests) == 1
                if first and before_first is not None:
                    before_first()
                data = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": reply}}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def harmful_llm() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI("The agent acted against the company.\nVERDICT: HARMFUL")
    yield server
    server.close()


def test_rejudge_adds_verdicts_and_the_headline_switch_moves_every_number(
    seeded: Service,
) -> None:
    # Guards item 4 of issue 9: old verdicts stay, new ones are added, and the headline
    # choice (not the newest rows) decides the study's numbers, instruments and reports.
    svc = seeded
    study_id = seed_known(svc)
    before = _all_samples(svc, study_id)
    snap_before = svc.study_snapshot(study_id)
    assert _harmful(svc, study_id) == AS_RUN

    with svc.db.read() as s:
        version_before = cmpstore.data_version(s, study_id)
    job = svc.rejudge_study(study_id, suite="agentic", judge="agentic_parse")
    assert job.state == "queued" and job.kind == "rejudge_study"
    assert _work(svc) == 1
    with svc.db.read() as s:  # new samples make every cached live snapshot stale
        assert cmpstore.data_version(s, study_id) != version_before
    (done,) = svc.rejudge_jobs(study_id)
    assert done.state == "succeeded" and done.progress == 1.0, done.error
    # Three agentic eval stages (the base arm's is shared by both variants), 20 replies each.
    assert done.result["stages"] == 3 and done.result["samples"] == 60

    after = _all_samples(svc, study_id)
    assert {i: after[i] for i in before} == before  # the original rows are untouched
    added = [v for i, v in after.items() if i not in before]
    assert len(added) == 60
    assert {(tag, score) for tag, score, _ in added} == {("agentic~agentic_parse", 0.0)}
    assert {judge for _, _, judge in added} == {"agentic_parse@agentic-world-v1"}

    # Re-judged rows alone do not change the numbers: the study still reads its own verdicts.
    assert _harmful(svc, study_id) == AS_RUN
    assert svc.study_snapshot(study_id).table == snap_before.table

    picked = svc.set_headline_judge(study_id, "agentic", "agentic_parse")
    assert picked == {"agentic": "agentic_parse", "spec_qa": ""}
    assert _harmful(svc, study_id) == {cell: (0, 20) for cell in CELLS}
    snap = svc.study_snapshot(study_id)  # the cached snapshot is stale: the choice changed
    assert {r.harmful_rate for r in snap.table} == {0.0}
    assert {r.qa_score for r in snap.table} == {r.qa_score for r in snap_before.table}
    # Every per-condition rate and every McNemar comparison reads the re-judged verdicts.
    assert snap.conditions and {c.rate for c in snap.conditions} == {0.0}
    mcnemar = [c for c in snap.comparisons if c.metric == "harmful_rate"]
    assert mcnemar and all(c.diff == 0.0 and c.p_value == 1.0 for c in mcnemar)
    # The instruments section names the judge behind the agentic numbers (not the old one).
    judges = {(r.suite, r.judge) for r in snap.instruments}
    assert ("agentic", "agentic_parse@agentic-world-v1") in judges
    assert JUDGE_AG not in {j for _, j in judges} and JUDGE_QA in {j for _, j in judges}
    # Flipped samples follow the choice: no verdict differs between any two cells now.
    assert svc.flipped_samples(study_id, ("rules", "msm+aft"), ("values", "msm+aft")) == []

    # A frozen report keeps saying which judge produced it, after the choice changes back.
    report = svc.freeze_report(study_id, title="re-judged")
    assert svc.set_headline_judge(study_id, "agentic", "") == {"agentic": "", "spec_qa": ""}
    assert _harmful(svc, study_id) == AS_RUN
    restored = svc.study_snapshot(study_id)
    assert restored.table == snap_before.table
    assert JUDGE_AG in {r.judge for r in restored.instruments}
    frozen = svc.get_report(report.id).snapshot
    assert {r.harmful_rate for r in frozen.table} == {0.0}
    assert "agentic_parse@agentic-world-v1" in {r.judge for r in frozen.instruments}
    assert "agentic_parse@agentic-world-v1" in svc.export_report(report.id, "html")

    # The choice lives in the study's config, which a relaunch does not take as a setting.
    svc.set_headline_judge(study_id, "agentic", "agentic_parse")
    assert svc.get_study(study_id).config["headline_judge"] == {"agentic": "agentic_parse"}
    assert svc.relaunch_study(study_id).study_id != study_id


def test_rejudge_is_idempotent_and_deduplicated(seeded: Service) -> None:
    # Guards against duplicated verdicts: the same judge and version again adds no row, and
    # asking twice while the first request waits gives the same job.
    svc = seeded
    study_id = seed_known(svc)
    first = svc.rejudge_study(study_id, suite="spec_qa", judge="qa_rubric")
    assert svc.rejudge_study(study_id, suite="spec_qa", judge="qa_rubric").id == first.id
    assert _work(svc) == 1
    once = _all_samples(svc, study_id)
    qa = [v for v in once.values() if v[0] == "spec_qa~qa_rubric"]
    assert len(qa) == 24  # 3 QA stages × 8 answers
    with svc.db.read() as s:
        version_once = cmpstore.data_version(s, study_id)

    again = svc.rejudge_study(study_id, suite="spec_qa", judge="qa_rubric")
    assert again.id != first.id
    assert _work(svc) == 1
    (latest, _) = svc.rejudge_jobs(study_id)
    assert latest.state == "succeeded" and latest.result["skipped_stages"] == 3
    assert latest.result["samples"] == 0
    assert _all_samples(svc, study_id) == once  # same rows, same ids: nothing rewritten
    with svc.db.read() as s:
        assert cmpstore.data_version(s, study_id) == version_once

    # The re-judged QA scores are the rubric's own on the stored answers ("answer").
    svc.set_headline_judge(study_id, "spec_qa", "qa_rubric")
    cells = {c.key: c.qa for c in svc.compare_study(study_id).cells}
    assert all(q is not None and q.n == 8 for q in cells.values())
    assert {q.estimate for q in cells.values() if q is not None} == {qa[0][1]}


def test_llm_judge_rejudges_through_an_endpoint(seeded: Service, harmful_llm: FakeOpenAI) -> None:
    # Guards the LLM path: every stored reply goes to the endpoint, the verdict is stored with
    # its prompt version and model, and the new numbers are the judge's (all harmful here).
    svc = seeded
    study_id = seed_known(svc)
    svc.rejudge_study(
        study_id,
        suite="agentic",
        judge="agentic_llm",
        judge_base_url=harmful_llm.url,
        judge_model="judge-7b",
    )
    assert _work(svc) == 1
    (job,) = svc.rejudge_jobs(study_id)
    assert job.state == "succeeded", job.error
    assert len(harmful_llm.requests) == 60
    assert {r["model"] for r in harmful_llm.requests} == {"judge-7b"}
    run = next(r for r in svc.get_study(study_id).runs if r.arm == "msm+aft")
    samples, _ = svc.eval_samples(run.id, suite="agentic", limit=5)
    shown = svc.judge_verdicts(samples)
    for sample in samples:
        (other,) = shown[sample.id]
        assert other.suite == "agentic~agentic_llm" and other.response == sample.response
        assert other.score == 1.0 and other.judge.startswith("agentic_llm@")
        verdict = other.verdicts["agentic_llm"]
        assert verdict["harmful"] is True and verdict["model"] == "judge-7b"
        assert verdict["prompt_version"] == other.judge.split("@")[1]
    svc.set_headline_judge(study_id, "agentic", "agentic_llm")
    assert _harmful(svc, study_id) == {cell: (20, 20) for cell in CELLS}

    # Another model under the same judge version is another instrument: judged again.
    svc.rejudge_study(
        study_id,
        suite="agentic",
        judge="agentic_llm",
        judge_base_url=harmful_llm.url,
        judge_model="judge-70b",
    )
    assert _work(svc) == 1
    assert len(harmful_llm.requests) == 120
    tagged = [v for v in _all_samples(svc, study_id).values() if v[0] == "agentic~agentic_llm"]
    assert len(tagged) == 60  # replaced, not duplicated


def test_a_queued_rejudging_can_be_cancelled(seeded: Service) -> None:
    # Guards cancellation like any job: a cancelled re-judging writes nothing.
    svc = seeded
    study_id = seed_known(svc)
    before = _all_samples(svc, study_id)
    job = svc.rejudge_study(study_id, suite="agentic", judge="agentic_parse")
    assert svc.cancel_job(job.id).state == "cancelled"
    assert _work(svc) == 0
    assert _all_samples(svc, study_id) == before


def test_a_running_rejudging_stops_when_cancelled(seeded: Service) -> None:
    # Guards cancellation of a running re-judging: the worker stops at the next batch, the job
    # ends cancelled, and at most the stage judged before the cancel keeps its new verdicts.
    svc = seeded
    study_id = seed_known(svc)
    worker = Worker(svc.settings, svc.db, burst=True)
    noticed = threading.Event()

    def cancel_then_answer() -> None:
        # The first judge request arrives while the job runs: cancel it, and answer once the
        # worker has seen the cancel (its heartbeat), so the job is mid-run when it stops.
        svc.cancel_job(running.id)
        for _ in range(200):
            ctx = worker._current  # the running job's context (no public handle on it)
            if ctx is not None and ctx.cancel_event.is_set():
                break
            noticed.wait(0.05)

    server = FakeOpenAI("VERDICT: SAFE", before_first=cancel_then_answer)
    try:
        running = svc.rejudge_study(
            study_id,
            suite="agentic",
            judge="agentic_llm",
            judge_base_url=server.url,
            judge_model="m",
        )
        thread = threading.Thread(target=worker.run)
        thread.start()
        thread.join(timeout=120)
        assert not thread.is_alive()
    finally:
        server.close()
    final = next(j for j in svc.rejudge_jobs(study_id) if j.id == running.id)
    assert final.state == "cancelled", (final.state, final.error)
    tagged = [v for v in _all_samples(svc, study_id).values() if v[0] == "agentic~agentic_llm"]
    assert len(tagged) in (0, 20)  # never a stage half-written


def test_bad_requests_are_refused_with_the_field(seeded: Service) -> None:
    # Guards the inputs: each mistake names its field, and nothing is queued.
    svc = seeded
    study_id = seed_known(svc)
    cases: list[tuple[dict[str, str], str]] = [
        ({"suite": "nope", "judge": "agentic_parse"}, "suite"),
        ({"suite": "agentic", "judge": "qa_rubric"}, "--judge"),
        ({"suite": "agentic", "judge": "agentic_llm"}, "judge_base_url"),
        (
            {"suite": "spec_qa", "judge": "qa_llm", "judge_base_url": "file:///etc/passwd"},
            "judge_base_url",
        ),
        (
            {"suite": "agentic", "judge": "agentic_parse", "judge_base_url": "http://x/v1"},
            "judge_base_url",
        ),
        ({"suite": "agentic", "judge": "../../etc"}, "judge"),
    ]
    for kwargs, field in cases:
        with pytest.raises(InputError) as err:
            svc.rejudge_study(study_id, **kwargs)
        assert err.value.field == field, (kwargs, str(err.value))
    with pytest.raises(InputError, match="re-judge it first"):
        svc.set_headline_judge(study_id, "agentic", "agentic_llm")
    assert svc.rejudge_jobs(study_id) == []
    viewer = svc.acting(Actor("viewer@example.org", Role.VIEWER, origin="test"))
    with pytest.raises(AccessDenied):
        viewer.rejudge_study(study_id, suite="agentic", judge="agentic_parse")
    with pytest.raises(AccessDenied):
        viewer.set_headline_judge(study_id, "agentic", "")


def test_study_page_rejudges_and_says_which_judge(svc: Service) -> None:
    # Guards the page: start a re-judging, see it finish, pick the headline judge, and see
    # the numbers and the judge behind them change; the samples page shows both verdicts.
    svc.seed_builtin()
    study_id = seed_known(svc)
    at = open_app("views/study.py", study=str(study_id))
    assert any("agentic: as run" in t.value for t in at.text)
    at.toggle(key="judges_manage").set_value(True).run()
    at.selectbox(key="rejudge_suite").set_value("agentic").run()
    at.selectbox(key="rejudge_judge").set_value("agentic_parse").run()
    at.button(key="rejudge").click().run()
    assert not at.exception
    assert any("Re-judging queued as job" in s.value for s in at.success)
    assert _work(svc) == 1
    at.run()
    jobs = next(d.value for d in at.dataframe if "re-judging" in d.value.columns)
    assert list(jobs["state"]) == ["succeeded"] and list(jobs["progress"]) == ["100%"]

    at.selectbox(key="headline_agentic").set_value("agentic_parse").run()
    assert not at.exception
    assert any("agentic: re-judged by agentic_parse" in t.value for t in at.text)
    headline = at.table[0].value
    assert set(headline["% harmful"]) == {"0.0%"}
    instruments = next(d.value for d in at.dataframe if "labelled set" in d.value.columns)
    assert "agentic_parse@agentic-world-v1" in set(instruments["judge"])

    at.selectbox(key="headline_agentic").set_value("").run()
    rows = {(v, a): row for (v, a), row in at.table[0].value.iterrows()}
    assert rows[("rules", "msm+aft")]["% harmful"] == "60.0%"  # as run again

    run = next(r for r in svc.get_study(study_id).runs if r.arm == "msm+aft")
    page = open_app("views/samples.py", run=str(run.id))
    assert not page.exception
    captions = [c.value.replace("\\", "") for c in page.caption]  # Markdown escapes removed
    assert any(c.startswith("Re-judged by agentic_parse@agentic-world-v1: safe") for c in captions)


def test_cli_rejudges_a_study_and_sets_its_headline(
    svc: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    # Guards `speclab study rejudge` / `speclab study headline`, beside `speclab judge FILE`.
    from engine.cli import main

    svc.seed_builtin()
    study_id = seed_known(svc)
    sid = str(study_id)
    assert (
        main(["study", "rejudge", sid, "--suite", "spec_qa", "--judge", "qa_rubric", "--json"]) == 0
    )
    job_id = json.loads(capsys.readouterr().out)["job_id"]
    assert _work(svc) == 1
    (job,) = svc.rejudge_jobs(study_id)
    assert job.id == job_id and job.state == "succeeded"
    assert main(["study", "headline", sid, "--suite", "spec_qa", "--judge", "qa_rubric"]) == 0
    assert "spec_qa: qa_rubric" in capsys.readouterr().out
    assert svc.headline_judges(svc.get_study(study_id)) == {"agentic": "", "spec_qa": "qa_rubric"}
    assert main(["study", "headline", sid, "--suite", "agentic", "--judge", "agentic_llm"]) == 2
    assert "re-judge it first" in capsys.readouterr().err
    assert main(["study", "rejudge", sid, "--suite", "agentic", "--judge", "agentic_llm"]) == 2
    assert "needs a model" in capsys.readouterr().err
