"""The Playground: two or more runs' models answer one prompt on a worker, side by side, with
the suite's verdict on each (issue 12, item 6). Real tiny models trained for real; a real
worker; the page through AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import open_app
from test_training import _study

from engine.errors import InputError
from engine.jobs.worker import Worker
from engine.service import Service
from engine.tasks.playground import Request


@pytest.fixture
def trained(svc: Service, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A finished study on the tiny model: one untrained (base) run, one AFT-trained run."""
    monkeypatch.setenv("SPECLAB_MODEL_CACHE", str(svc.settings.models_dir))
    launched = svc.launch_study(svc.parse_study(_study(tiny_model_dir, "base, aft"), "s.yaml"))
    Worker(svc.settings, svc.db, burst=True).run()
    study = svc.get_study(launched.study_id)
    assert study.status == "succeeded"
    return [r.id for r in sorted(study.runs, key=lambda r: r.arm != "base")]


def test_replies_side_by_side_with_each_suites_verdict(svc: Service, trained: list[int]) -> None:
    # Guards the whole flow: queue, worker, each run's own model, verdicts per prompt kind.
    prompts = [
        {"kind": "agentic", "condition": "leak/explicit/replacement", "sample_index": 1},
        {"kind": "spec_qa", "question_id": "SP1-q1"},
        {"kind": "text", "text": "Say hello.", "system": "Be brief."},
    ]
    for prompt in prompts:
        svc.ask_playground(trained, prompt, max_new_tokens=8)
    assert Worker(svc.settings, svc.db, burst=True).run() == 3
    sessions = {s.prompt: s for s in svc.playground_sessions()}
    assert set(sessions) == {
        "agentic leak/explicit/replacement #1",
        "spec-QA SP1-q1",
        "typed prompt",
    }
    for session in sessions.values():
        assert session.state == "succeeded"
        assert [r.run_id for r in session.replies] == trained
        base, aft = session.replies
        assert "/base " in base.run and "/aft " in aft.run
    agentic = sessions["agentic leak/explicit/replacement #1"]
    assert all("agentic_parse" in r.verdict for r in agentic.replies)
    assert agentic.messages[0]["role"] == "system"
    qa = sessions["spec-QA SP1-q1"]
    assert all(r.verdict.startswith("score ") and "qa_rubric" in r.verdict for r in qa.replies)
    typed = sessions["typed prompt"]
    assert [m["content"] for m in typed.messages] == ["Be brief.", "Say hello."]
    assert all(r.verdict == "no judge for a typed prompt" for r in typed.replies)
    # The AFT run answers with its adapter applied, the base run with the base model alone.
    assert [r.adapters for r in typed.replies] == [0, 1]


def test_refuses_bad_requests_before_queueing(svc: Service, trained: list[int]) -> None:
    # Guards clear errors naming the field, and that nothing is queued on a refusal.
    cases = [
        ([trained[0]], {"kind": "text", "text": "hi"}, "runs"),
        (trained, {"kind": "text", "text": "  "}, "prompt.text"),
        (trained, {"kind": "agentic", "condition": "heist/none/none"}, "prompt.condition"),
        (trained, {"kind": "spec_qa", "question_id": "ZZ9-q1"}, "prompt.question_id"),
        (trained, {"kind": "poem"}, "prompt.kind"),
    ]
    for runs, prompt, field in cases:
        with pytest.raises(InputError) as err:
            svc.ask_playground(runs, prompt)
        assert err.value.field == field, (prompt, err.value)
    with pytest.raises(InputError) as err:
        svc.ask_playground(trained, {"kind": "text", "text": "hi"}, max_new_tokens=0)
    assert err.value.field == "max_new_tokens"
    assert svc.playground_sessions() == []


def test_untrained_run_is_refused(svc: Service, tiny_model_dir: Path) -> None:
    # Guards against answering with the base model when a run's training has not finished.
    launched = svc.launch_study(svc.parse_study(_study(tiny_model_dir, "base, aft"), "s.yaml"))
    runs = [r.id for r in svc.get_study(launched.study_id).runs]
    with pytest.raises(InputError, match="not trained yet"):
        svc.ask_playground(runs, {"kind": "text", "text": "hi"})


def test_payload_round_trip() -> None:
    # Guards the stored payload: what the worker reads is what the page asked.
    request = Request.from_payload(
        {"runs": [3, 1, 3], "prompt": {"kind": "spec_qa", "question_id": "SP1-q1"}}
    )
    assert request.runs == (3, 1)
    assert Request.from_payload(request.to_payload()) == request


def test_page_asks_and_shows_replies(svc: Service, trained: list[int]) -> None:
    # Guards the page: pick runs, ask, and read the replies as text once a worker answered.
    at = open_app("views/playground.py")
    assert not at.exception
    at.multiselect[1].set_value(trained).run()
    at.text_area[0].input("Say hello.")
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Queued as job" in s.value for s in at.success)
    assert Worker(svc.settings, svc.db, burst=True).run() == 1
    at = open_app("views/playground.py")
    assert any("typed prompt" in e.label and "succeeded" in e.label for e in at.expander)
    assert len(at.code) >= 3  # the prompt and one reply per run, as plain text


def test_page_preselects_runs_from_the_address(svc: Service, trained: list[int]) -> None:
    # Guards the study page's link: ?runs=a,b picks those runs; a bad id is named, not used.
    at = open_app("views/playground.py", runs=f"{trained[0]},{trained[1]},x9")
    assert not at.exception
    assert at.multiselect[1].value == trained
    assert any("x9" in e.value for e in at.error), [e.value for e in at.error]
