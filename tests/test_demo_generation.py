"""AFT demonstrations written from the spec (``gen_demos: {source: generate}``): the filter's
checks and bookkeeping, the resumable checkpoint, the stage keys, and real runs through an
OpenAI-compatible endpoint, a SIGKILLed worker, and ``speclab serve-model`` over the built-in
model (whose prose is not judged here: only structure, provenance and bookkeeping)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, model_server, open_app, worker_env
from test_backends import ScriptedServer, _completion

from db import jobs as jobstore
from engine.data import demo_writer as writer
from engine.data.demos import COT_OPEN, load_builtin, strip_reasoning
from engine.errors import InputError, JobCancelled
from engine.jobs.worker import Worker
from engine.pipeline.plan import run_stages
from engine.pipeline.presets import preset, resolve
from engine.service import Service
from engine.stages.gen_demos import JUDGE_TOKENS

CODES = ("SP1", "SP2", "GP4")
SPEC_TEXT = "SP1. Stop when told\nAccept instructions to pause or stop promptly."


def _item(i: str, clauses: tuple[str, ...] = ("SP1",)) -> writer.DemoPrompt:
    return writer.DemoPrompt(
        id=i, prompt=f"prompt {i}: the operator asks you to stop.", clauses=clauses
    )


class ScriptedChat:
    """A hand-written generation backend: each prompt id gets the reply the test scripted,
    and every conversation it was asked is kept."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.asked: list[list[dict[str, str]]] = []

    def __call__(self, conversations: Sequence[list[dict[str, str]]]) -> list[str]:
        out = []
        for conversation in conversations:
            self.asked.append(list(conversation))
            text = conversation[-1]["content"]
            key = next(k for k in self.replies if f"prompt {k}:" in text)
            out.append(self.replies[key])
        return out


GOOD = (
    "<reasoning>\nSP1 applies: stop promptly, report state.\n</reasoning>\nStopped at a safe point."
)


def test_filter_keeps_and_rejects_for_each_reason(tmp_path: Path) -> None:
    # Guards the filter's bookkeeping: one demonstration per reason, each counted once under
    # the first check it fails, the judge asked only about what passed the mechanical checks.
    written = {
        "kept": GOOD,
        "empty": "<reasoning>\nSP1 applies and I keep thinking about it",
        "nocode": "<reasoning>\nI should stop.\n</reasoning>\nStopped.",
        "fakecode": "<reasoning>\nSP10 and XSP1 apply.\n</reasoning>\nStopped.",
        "placeholder": "<reasoning>\nSP1 applies.\n</reasoning>\nDear [insert name], stopped.",
        "marker": "<reasoning>\nSP1 applies.\n</reasoning>\nStopped. <reasoning>more</reasoning>",
        "refusal": "<reasoning>\nSP1 applies.\n</reasoning>\nI'm sorry, but I can't help.",
        "noblock": "SP1 says stop, so I stopped.",
        "no": GOOD,
        "unclear": GOOD,
    }
    judge_says = {
        "kept": "Consistent.\nVERDICT: yes",
        "no": "It keeps going after being told to stop.\n**Verdict:** No",
        "unclear": "Hard to say.",
    }
    items = [_item(k) for k in written]
    gen, judge_chat = ScriptedChat(written), ScriptedChat(judge_says)
    judge = writer.ConsistencyJudge(judge_chat, {"SP1": "SP1. Stop when told\nStop promptly."})
    demos, report = writer.write_demos(
        items,
        spec_text=SPEC_TEXT,
        codes=CODES,
        generate=gen,
        checkpoint=writer.Checkpoint(tmp_path / "ck.jsonl"),
        batch_size=3,
        judge=judge,
    )
    assert [d.id for d in demos] == ["kept"]
    assert demos[0].reasoning == "SP1 applies: stop promptly, report state."
    assert demos[0].response == "Stopped at a safe point." and demos[0].clauses == ("SP1",)
    assert report.rejected == {
        "empty_response": 1,
        "no_clause_cited": 3,  # no code, codes that only look like SP1, no reasoning block
        "placeholder": 1,
        "stray_marker": 1,
        "refusal": 1,
        "judge_inconsistent": 1,
        "judge_unclear": 1,
    }
    assert set(report.rejected) <= set(writer.REASONS)
    summary = report.to_dict()
    assert (summary["prompts"], summary["kept"], summary["rejected_total"]) == (10, 1, 9)
    assert summary["judge"] == "llm" and summary["judge_version"] == writer.JUDGE_VERSION
    assert summary["writer_version"] == writer.WRITER_VERSION
    assert [e["id"] for e in summary["examples"]] == [
        "empty",
        "nocode",
        "fakecode",
        "placeholder",
        "marker",
    ]
    # The judge saw only the three that passed the mechanical checks, with the clause's rule.
    assert len(judge_chat.asked) == 3
    assert all("Stop promptly." in c[-1]["content"] for c in judge_chat.asked)
    # The writer had the spec text in context, and the prompt's clause as a hint.
    assert all(SPEC_TEXT in c[0]["content"] and c[0]["role"] == "system" for c in gen.asked)
    assert all("(probably SP1)" in c[-1]["content"] for c in gen.asked)


def test_mechanical_checks_only_without_a_judge(tmp_path: Path) -> None:
    # Guards judge: none — nothing is asked of a judge and a long reply that declines one
    # thing and offers another is not a blanket refusal.
    helpful = (
        "<reasoning>\nGP4 applies.\n</reasoning>\nI can't disable the audit hook, but I can "
        "open a ticket for the security team, draft the change for their review, and keep the "
        "pipeline running on the current configuration until they answer this afternoon."
    )
    demos, report = writer.write_demos(
        [_item("a", ()), _item("b")],
        spec_text=SPEC_TEXT,
        codes=CODES,
        generate=ScriptedChat({"a": helpful, "b": "<reasoning>\nSP2.\n</reasoning>\nLorem ipsum."}),
        checkpoint=writer.Checkpoint(tmp_path / "ck.jsonl"),
        batch_size=8,
    )
    assert [d.id for d in demos] == ["a"] and demos[0].clauses == ("GP4",)  # cited codes
    assert report.rejected == {"placeholder": 1} and report.judge == "none"
    assert report.judge_version is None


def test_checkpoint_resume_writes_only_what_is_missing(tmp_path: Path) -> None:
    # Guards resume: a run stopped after its first batch (and a torn last line, as a SIGKILL
    # mid-write leaves) is finished by a re-run that writes only the missing demonstrations.
    items = [_item(str(i)) for i in range(5)]
    replies = {str(i): GOOD.replace("Stopped", f"Stopped {i}") for i in range(5)}
    checkpoint = writer.Checkpoint(tmp_path / "work" / "ck.jsonl")
    calls = {"n": 0}

    def stop_after_first() -> None:
        calls["n"] += 1
        if calls["n"] > 1:
            raise JobCancelled("stopped")

    with pytest.raises(JobCancelled):
        writer.write_demos(
            items, spec_text=SPEC_TEXT, codes=CODES, generate=ScriptedChat(replies),
            checkpoint=checkpoint, batch_size=2, check=stop_after_first,
        )  # fmt: skip
    with checkpoint.path.open("a") as f:
        f.write('{"id": "2", "te')  # torn
    again = ScriptedChat(replies)
    demos, report = writer.write_demos(
        items, spec_text=SPEC_TEXT, codes=CODES, generate=again,
        checkpoint=checkpoint, batch_size=2,
    )  # fmt: skip
    asked = [next(k for k in replies if f"prompt {k}:" in c[-1]["content"]) for c in again.asked]
    assert asked == ["2", "3", "4"] and report.resumed == 2
    assert [d.response for d in demos] == [f"Stopped {i} at a safe point." for i in range(5)]
    written, _ = checkpoint.load()
    assert sorted(written) == ["0", "1", "2", "3", "4"]
    fresh, _ = writer.write_demos(
        items, spec_text=SPEC_TEXT, codes=CODES, generate=ScriptedChat(replies),
        checkpoint=writer.Checkpoint(tmp_path / "fresh.jsonl"), batch_size=5,
    )  # fmt: skip
    assert fresh == demos


def test_verdicts_and_citations_parse_strictly() -> None:
    # Guards the parsers the filter trusts: the last verdict wins; codes match whole tokens.
    assert writer.parse_verdict("VERDICT: no\n...on reflection\nVERDICT: yes") is True
    assert writer.parse_verdict("Yes, it follows SP1.") is True
    assert writer.parse_verdict("It is fine") is None
    assert writer.cited_codes("per SP1, (GP4) and SP10; XSP2", CODES) == ("SP1", "GP4")


# -- settings and keys ------------------------------------------------------------------------

STUDY = """\
name: aft-from-spec
spec: example
variants: {variants}
arms: [aft, aft_cot]
seeds: [0]
model: {model}
preset: cpu-smoke
evals: []
overrides: {{gen_demos: {demos}, aft: {{max_steps: 1}}}}
"""


def _study(
    demos: str, model: str = "builtin:smollm2-135m-instruct", variants: str = "[rules, values]"
) -> bytes:
    return STUDY.format(model=model, demos=demos, variants=variants).encode()


def test_study_file_generate_settings_are_typed_and_bounded(seeded: Service) -> None:
    # Guards the study file: generate settings parse, bad ones name their key, and settings
    # that only generate reads are refused with another source (they would be unkeyed).
    cfg = seeded.parse_study(_study("{source: generate, judge: llm, max_demos: 3}"), "s.yaml")
    demos = cfg.stage_configs().for_kind("gen_demos")
    assert (demos.source, demos.judge, demos.max_demos) == ("generate", "llm", 3)
    cases = {
        "{source: generate, max_new_tokens: 0}": "overrides.gen_demos.max_new_tokens",
        "{source: generate, temperature: 3}": "overrides.gen_demos.temperature",
        "{source: generate, judge: maybe}": "overrides.gen_demos.judge",
        "{source: generate, backend: openai}": "overrides.gen_demos.base_url",
        "{source: generate, backend: openai, base_url: 'http://h/v1'}": (
            "overrides.gen_demos.generator_model"
        ),
        "{judge: llm}": "overrides.gen_demos.judge",
        "{source: generate, prompts: nope}": "overrides.gen_demos.prompts",
    }
    for demos_text, field in cases.items():
        with pytest.raises(InputError) as err:
            seeded.parse_study(_study(demos_text), "s.yaml")
        assert err.value.field == field, demos_text
    missing = seeded.parse_study(
        _study("{source: generate, prompts: '" + "ab" * 32 + "'}"), "s.yaml"
    )
    with pytest.raises(InputError) as err:
        seeded.estimate_study(missing)
    assert err.value.field == "overrides.gen_demos.prompts"


# The keys of the built-in source before `generate` existed: they must never change.
BUILTIN_GEN_DEMOS_KEY = "b331854c76ac605ff4d005c06680e4bbe835a0de9c0cfb6d910115134772446c"
BUILTIN_AFT_KEYS = {
    "aft": "8c89dcd8c6ad2ed64dbd96e7d6179533efd80adbdd2683702a2967726a8e677a",
    "aft_cot": "9c00e94bf6d66aa8dfbeab927be0470a8cfb0b1309d47fdb747ca41130f9b29e",
}


def _keys(svc: Service, demos: dict[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
    configs = resolve("cpu-smoke", {"gen_demos": demos})
    variants = {v.name: v for v in svc.list_variants("example")}
    return {
        (name, arm): {
            s.kind: s.key
            for s in run_stages(
                arm=arm, variant=variants[name], seed=0,
                model="builtin:smollm2-135m-instruct", configs=configs,
            )
        }
        for name in ("rules", "values")
        for arm in ("aft", "aft_cot")
    }  # fmt: skip


def test_generate_keys_differ_by_variant_and_builtin_keys_are_unchanged(seeded: Service) -> None:
    # Guards stage keys: with the built-in source gen_demos (and AFT on the base model) is
    # shared by every variant under the keys it always had; with source: generate each
    # variant gets its own demonstrations, hence its own AFT stages.
    builtin = _keys(seeded, {})
    for (_, arm), keys in builtin.items():
        assert keys == {"gen_demos": BUILTIN_GEN_DEMOS_KEY, "aft": BUILTIN_AFT_KEYS[arm]}
    assert preset("cpu-smoke").for_kind("gen_demos").source == "builtin"
    generated = _keys(seeded, {"source": "generate"})
    for arm in ("aft", "aft_cot"):
        rules, values = generated[("rules", arm)], generated[("values", arm)]
        assert rules["gen_demos"] != values["gen_demos"] and rules["aft"] != values["aft"]
        assert BUILTIN_GEN_DEMOS_KEY not in (rules["gen_demos"], values["gen_demos"])
    # One gen_demos per variant, shared by its two AFT arms.
    assert generated[("rules", "aft")]["gen_demos"] == generated[("rules", "aft_cot")]["gen_demos"]
    # The writing model is part of the key.
    other = _keys(seeded, {"source": "generate", "generator_model": "other/model"})
    assert other[("rules", "aft")]["gen_demos"] != generated[("rules", "aft")]["gen_demos"]


# -- the stage, end to end ----------------------------------------------------------------


def _launch_only_gen_demos(svc: Service, study: bytes) -> list[Any]:
    """Launch ``study`` and cancel every stage but gen_demos; return the gen_demos stages."""
    launched = svc.launch_study(svc.parse_study(study, "s.yaml"))
    runs = svc.get_study(launched.study_id).runs
    stages = {st.key: st for run in runs for st in run.stages}
    with svc.db.write() as s:
        for st in stages.values():
            if st.kind != "gen_demos" and st.job_id is not None:
                jobstore.request_cancel(s, st.job_id)
    return sorted((st for st in stages.values() if st.kind == "gen_demos"), key=lambda x: x.id)


def _endpoint_reply(n: int, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    """A hosted model's stand-in: writes a well-formed demonstration citing the hinted clause,
    and judges 'no' whenever the reasoning cites SP1."""
    user, system = body["messages"][-1]["content"], body["messages"][0]["content"]
    if "<specification>" in system:
        hint = user.rsplit("(probably ", 1)[1].split(")", 1)[0].split(", ")[0]
        return (
            200,
            {},
            _completion(
                f"{COT_OPEN}\n{hint} applies here.\n</reasoning>\nDone; I read {len(system)} "
                "characters of spec."
            ),
        )
    verdict = "no" if "SP1 applies here." in user else "yes"
    return 200, {}, _completion(f"Checked.\nVERDICT: {verdict}")


def test_stage_writes_from_each_variant_through_an_endpoint(seeded: Service) -> None:
    # Guards source: generate end to end through the OpenAI-compatible backend and a real
    # worker: each variant's exact text is the writer's context, the judge's verdicts are
    # counted, the result and the dataset provenance carry the same bookkeeping, and the two
    # AFT datasets are the with-CoT form and its stripped twin.
    server = ScriptedServer(_endpoint_reply)
    try:
        demos_cfg = (
            f"{{source: generate, backend: openai, base_url: '{server.url}', "
            "generator_model: hosted, judge: llm, max_demos: 6, batch_size: 4}"
        )
        stages = _launch_only_gen_demos(seeded, _study(demos_cfg))
        assert Worker(seeded.settings, seeded.db, burst=True).run() == 2
    finally:
        server.close()
    variants = {v.name: v for v in seeded.list_variants("example")}
    texts = {name: seeded.variant_text(v) for name, v in variants.items()}
    written = [b for _, _, b in server.requests if "<specification>" in b["messages"][0]["content"]]
    judged = [b for _, _, b in server.requests if b not in written]
    assert len(written) == 12 and {b["model"] for b in written} == {"hosted"}
    seen, rejected = set(), 0
    for stage in stages:
        spec = seeded.stage_spec(stage)
        assert spec.variant is not None and spec.model == "hosted"
        name = spec.variant.name
        seen.add(name)
        mine = [b for b in written if texts[name] in b["messages"][0]["content"]]
        assert len(mine) == 6  # this variant's text, verbatim, in every writing request
        job = seeded.get_job(stage.job_id or 0)
        assert job.state == "succeeded", job.error
        report = job.result["filter"]
        assert report["prompts"] == 6 and report["judge_version"] == writer.JUDGE_VERSION
        assert report["rejected_total"] == report["rejected"].get("judge_inconsistent", 0)
        assert job.result["demos"] == report["kept"] == 6 - report["rejected_total"]
        rejected += report["rejected_total"]
        cot = seeded.dataset(job.result["demos_cot"])
        plain = seeded.dataset(job.result["demos_plain"])
        for ds in (cot, plain):
            prov = ds.provenance
            assert prov["source"] == "generate" and prov["variant"] == name
            assert prov["text_hash"] == variants[name].text_hash and prov["filter"] == report
            assert prov["generator"]["prompt_version"] == writer.WRITER_VERSION
            assert prov["stage_key"] == stage.key and ds.n_rows == report["kept"]
        rows = {
            role: [json.loads(x) for x in seeded.artifacts.read_bytes(ds.artifact).splitlines()]
            for role, ds in (("cot", cot), ("plain", plain))
        }
        for with_cot, without in zip(rows["cot"], rows["plain"], strict=True):
            reply = with_cot["completion"][0]["content"]
            assert reply.startswith(COT_OPEN) and with_cot["prompt"] == without["prompt"]
            assert strip_reasoning(reply) == without["completion"][0]["content"]
            # Trained on the prompt alone: the spec was context for writing only.
            assert "<specification>" not in with_cot["prompt"][0]["content"]
    assert seen == {"rules", "values"}
    assert len(judged) == 12  # every written demonstration passed the mechanical checks
    assert (
        rejected
        == 4
        == sum(1 for b in judged if "SP1 applies here." in b["messages"][-1]["content"])
    )
    # The rules text holds no rationale: its requests never carried the values text.
    assert not [b for b in written if texts["values"] in b["messages"][0]["content"]][6:]


def _records(path: Path) -> list[dict[str, str]]:
    out = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


@pytest.mark.slow
def test_stage_resumes_after_its_worker_is_sigkilled(
    sqlite_service: Service, tiny_model_dir: Path
) -> None:
    # Guards resume with real workers and the transformers backend: a worker SIGKILLed after
    # some demonstrations were checkpointed is replaced by one that writes only the rest; the
    # stage then stores both datasets with the filter's bookkeeping (the tiny random model's
    # text never passes the checks: min_kept 0 lets the test see the bookkeeping anyway).
    svc = sqlite_service
    model_dir = tiny_model_dir
    demos_cfg = "{source: generate, max_demos: 3, batch_size: 1, max_new_tokens: 16, min_kept: 0}"
    (stage,) = _launch_only_gen_demos(
        svc, _study(demos_cfg, model=str(model_dir), variants="[values]")
    )
    checkpoint = svc.settings.home / "work" / stage.key / "demos.jsonl"
    env = worker_env(svc.settings)
    cmd = [sys.executable, "-m", "engine.cli", "worker", "--poll", "0.1"]
    victim = subprocess.Popen([*cmd, "--id", "victim"], env=env, cwd=REPO)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _records(checkpoint):
        assert victim.poll() is None, "the worker exited before writing anything"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    before = {r["id"] for r in _records(checkpoint)}
    assert before, "no demonstration was checkpointed before the kill"
    rescuer = subprocess.run([*cmd, "--burst", "--id", "rescuer"], env=env, cwd=REPO, timeout=300)
    assert rescuer.returncode == 0
    job = svc.get_job(stage.job_id or 0)
    assert job.state == "succeeded" and job.attempts == 2, job.error
    report = job.result["filter"]
    assert report["resumed"] >= len(before) and report["prompts"] == 3
    assert (
        report["kept"] + report["rejected_total"]
        == 3
        == job.result["demos"] + report["rejected_total"]
    )
    records = _records(checkpoint)
    assert (
        sorted({r["id"] for r in records})
        == sorted(d.id for d in load_builtin() if d.id in {r["id"] for r in records})
        and len({r["id"] for r in records}) == 3
    )
    for done in before:  # what the victim wrote was not written again
        assert sum(1 for r in records if r["id"] == done and "text" in r) == 1
    for role in ("demos_cot", "demos_plain"):
        ds = svc.dataset(job.result[role])
        assert ds.provenance["filter"] == report and ds.n_rows == report["kept"]
        assert ds.provenance["generator"]["model"] == str(model_dir)


@pytest.mark.slow
def test_builtin_model_through_serve_model(
    sqlite_service: Service, builtin_model_dir: Path
) -> None:
    # Guards the built-in model end to end through `speclab serve-model` and the
    # OpenAI-compatible backend, with the LLM judge on the same endpoint: the stage stores
    # both datasets whose provenance names the endpoint's model and counts every prompt once
    # (the 135M model's prose is not judged here; min_kept 0 keeps whatever passed).
    svc = sqlite_service
    with model_server(builtin_model_dir, svc.settings.home) as url:
        demos_cfg = (
            f"{{source: generate, backend: openai, base_url: '{url}', generator_model: "
            f"'{builtin_model_dir}', judge: llm, judge_base_url: '{url}', judge_model: "
            f"'{builtin_model_dir}', max_demos: 2, max_new_tokens: 24, min_kept: 0}}"
        )
        (stage,) = _launch_only_gen_demos(svc, _study(demos_cfg, variants="[rules]"))
        assert Worker(svc.settings, svc.db, burst=True).run() == 1
    job = svc.get_job(stage.job_id or 0)
    assert job.state == "succeeded", job.error
    report = job.result["filter"]
    assert report["prompts"] == 2 and report["kept"] + report["rejected_total"] == 2
    assert report["judge"] == "llm" and set(report["rejected"]) <= set(writer.REASONS)
    ds = svc.dataset(job.result["demos_cot"])
    assert ds.provenance["generator"]["backend"] == "openai"
    assert ds.provenance["generator"]["model"] == str(builtin_model_dir)
    assert ds.provenance["variant"] == "rules" and ds.provenance["filter"] == report
    written, _ = writer.Checkpoint(svc.settings.home / "work" / stage.key / "demos.jsonl").load()
    assert len(written) == 2 and all(isinstance(t, str) for t in written.values())


def test_run_page_shows_what_the_filter_kept_and_why(svc: Service) -> None:
    # Guards the run page: a generated demonstration set shows kept of written, and each
    # rejection reason with its count and meaning, as text.
    server = ScriptedServer(_endpoint_reply)
    try:
        demos_cfg = (
            f"{{source: generate, backend: openai, base_url: '{server.url}', "
            "generator_model: hosted, judge: llm, max_demos: 6}"
        )
        (stage,) = _launch_only_gen_demos(svc, _study(demos_cfg, variants="[values]"))
        assert Worker(svc.settings, svc.db, burst=True).run() == 1
    finally:
        server.close()
    run = next(r for r in svc.get_study(svc.list_studies()[0].id).runs if r.arm == "aft")
    at = open_app("views/run.py", run=str(run.id))
    texts = [t.value for t in at.text]
    assert "Written from variant values: kept 4 of 6 (judge: llm)" in texts
    tables = [d.value for d in at.dataframe if "reason" in d.value.columns]
    assert tables and list(tables[0]["reason"]) == ["judge_inconsistent"]
    assert list(tables[0]["rejected"]) == [2]
    assert tables[0]["meaning"][0] == writer.REASONS["judge_inconsistent"]


def test_user_prompts_from_an_imported_set(seeded: Service) -> None:
    # Guards prompts: <sha256> — the prompts (and clause codes) of the user's imported set are
    # what the model writes for; the set's own answers are never shown to it.
    lines = [
        {"id": f"mine-{i}", "prompt": f"My question {i} about pausing a job.", "clauses": ["SP1"],
         "response": f"SECRET ANSWER {i}"}
        for i in range(3)
    ]  # fmt: skip
    imported = seeded.import_demos(
        "".join(json.dumps(x) + "\n" for x in lines).encode(), "mine.jsonl"
    )
    server = ScriptedServer(_endpoint_reply)
    try:
        demos_cfg = (
            f"{{source: generate, backend: openai, base_url: '{server.url}', "
            f"generator_model: hosted, prompts: '{imported.artifact.sha256}'}}"
        )
        (stage,) = _launch_only_gen_demos(seeded, _study(demos_cfg, variants="[rules]"))
        assert Worker(seeded.settings, seeded.db, burst=True).run() == 1
    finally:
        server.close()
    asked = [b["messages"][-1]["content"] for _, _, b in server.requests]
    assert len(asked) == 3 and all("SECRET" not in a for a in asked)
    assert {a.split("\n", 1)[0] for a in asked} == {x["prompt"] for x in lines}
    job = seeded.get_job(stage.job_id or 0)
    assert job.state == "succeeded", job.error
    assert job.result["filter"]["kept"] == 3 and job.result["coverage"] == {"SP1": 3}
    ds = seeded.dataset(job.result["demos_cot"])
    assert ds.provenance["prompts"] == imported.artifact.sha256
    assert ds.provenance["filter"]["judge"] == "none"
    assert [row["id"] for row in ds.preview] == ["mine-0", "mine-1", "mine-2"]


def test_estimate_prices_generation_per_variant(seeded: Service) -> None:
    # Guards the estimate: generating stages are priced (writing, plus judging with the LLM
    # judge), one per variant; the built-in source stays a free, shared stage.
    text = _study("{source: generate, judge: llm, max_demos: 10, max_new_tokens: 100}")
    generated = [
        s for s in seeded.estimate_study(seeded.parse_study(text, "s.yaml")).stages
        if s.kind == "gen_demos"
    ]  # fmt: skip
    assert len(generated) == 2
    assert {s.tokens for s in generated} == {10 * (100 + JUDGE_TOKENS)}
    builtin = [
        s for s in seeded.estimate_study(seeded.parse_study(_study("{}"), "s.yaml")).stages
        if s.kind == "gen_demos"
    ]  # fmt: skip
    assert [s.tokens for s in builtin] == [0]
