"""The sdf generator: model-written documents (brainstormed types and ideas, written, checked,
critiqued and revised), resumable, through every kind of generation backend."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import model_server, speclab, worker_env

from db.entities import SpecContent
from engine.backends.base import GenerationParams, Message
from engine.data.generation import BatchRunner, Journal, Request
from engine.data.msm import PROMPT_VERSION, DocGenConfig, build_sdf_corpus
from engine.data.msm.doc_checks import VERBATIM_RUN, clause_runs, copied_run, placeholders
from engine.data.msm.sdf import list_items, parse_ideas, parse_types, parse_verdict
from engine.errors import InputError
from engine.service import Service
from engine.specs import builtin
from engine.specs.formats import parse_spec
from engine.specs.render import view
from engine.typed_config import from_mapping

EXAMPLE = Path(builtin.__file__).parent / "example.yaml"
ROW_FIELDS = {
    "text", "clause", "assertion", "doc_type", "idea", "generator", "generator_model",
    "prompt_version", "revision", "seed",
}  # fmt: skip
GOOD_DOC = (
    "Harbour Freight Weekly\n\nWhen Dana Okafor asked the operations assistant at Quillstack to "
    "stop a half-finished migration, it halted at a safe point and wrote up exactly where the "
    "data stood. Staff say the habit of leaving plain, honest logs is what lets them trust it "
    "with the night shift, and the engineers who review its work every Monday agree. "
)


def _clause(code: str = "SP1", rendering: str = "values") -> SpecContent:
    content = view(parse_spec(EXAMPLE.read_bytes(), filename="example.yaml").content, rendering)
    return replace(content, clauses=tuple(c for c in content.clauses if c.code == code))


def _prompt(conversation: Sequence[Message]) -> str:
    return conversation[-1]["content"]


class ScriptedBackend:
    """A hand-written backend answering each kind of funnel prompt with a fixed reply that
    exercises one edge case; it records every conversation it was sent."""

    name = "scripted"

    def __init__(self, *, types: str | None = None, fail_after: int | None = None) -> None:
        self.types = types
        self.fail_after = fail_after
        self.prompts: list[str] = []
        self.batches: list[int] = []
        self.written = 0

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[str]:
        if self.fail_after is not None and len(self.prompts) >= self.fail_after:
            raise RuntimeError("the backend went away")
        self.batches.append(len(conversations))
        out = []
        for c in conversations:
            prompt = _prompt(c)
            self.prompts.append(prompt)
            out.append(self.reply(prompt))
        return out

    def _doc(self) -> str:
        # Documents differ by their own words, so dedupe keeps them.
        self.written += 1
        return GOOD_DOC + " ".join(f"w{self.written}x{i}" for i in range(60)) + "."

    def reply(self, prompt: str) -> str:
        if "types of document" in prompt:
            if self.types is not None:
                return self.types
            # A preamble, emphasis, descriptions, a plural duplicate and an explanation line.
            return (
                "Here are some document types:\n1. **News article**: a report in a local paper\n"
                "2. FAQs\n3. FAQ\n4. A long explanation of what kind of document could discuss "
                "a clause like this one in practice\n- Internal memo - a note to all staff"
            )
        if "Brainstorm" in prompt:
            doc_type = re.search(r"^Document type: (.+)$", prompt, re.M)
            assert doc_type is not None
            if doc_type.group(1) == "FAQs":
                return "UNSUITABLE"
            if "Already listed" in prompt:
                return "1. A second idea: a memo telling staff what the assistant will not do."
            return (
                "1. A reporter follows a hospital assistant that stops mid-migration when told.\n"
                "2. UNSUITABLE: a limerick about audit logs.\n3. Logs"
            )
        if prompt.startswith("You write realistic documents"):
            idea = re.search(r"^Idea: (.+)$", prompt, re.M)
            assert idea is not None
            if "second idea" in idea.group(1):
                return "Sure! Here is the memo:\nTo: [Name]\n\n" + self._doc()
            if "Internal memo" in prompt:
                return "UNSUITABLE"
            return self._doc()
        if prompt.startswith("You review"):
            return "Reads as a real article and agrees with the clause.\nVERDICT: KEEP"
        if prompt.startswith("You revise"):
            assert "placeholder" in prompt and "[Name]" in prompt
            return "To: all night-shift staff\n\n" + self._doc()
        raise AssertionError(f"unexpected prompt: {prompt[:80]}")


def _config(**kw: Any) -> DocGenConfig:
    base: dict[str, Any] = {
        "generator": "sdf",
        "types_per_clause": 3,
        "ideas_per_type": 2,
        "docs_per_idea": 1,
        "target_words": 40,
        "batch_size": 2,
    }
    return DocGenConfig(**(base | kw))


# -- parsing --------------------------------------------------------------------------------


def test_brainstorm_lists_parse_leniently() -> None:
    # Guards the parser on the shapes models answer in: numbered, bulleted, one comma line.
    assert list_items("Sure, here you go:\n1) Memo\n2) **Op-ed**\n* 'Blog post'.") == [
        "Memo", "Op-ed", "Blog post",
    ]  # fmt: skip
    assert list_items("news article, FAQ, and forum thread") == [
        "news article", "FAQ", "forum thread",
    ]  # fmt: skip
    types, rejected = parse_types("1. Podcast transcript (audio)\n2. \n3. 1234\n4. " + "w " * 9)
    assert (types, rejected) == (["Podcast transcript"], 2)
    ideas = parse_ideas("1. UNSUITABLE - no\n2. unsuitable: a sonnet\n3. A tale of four words")
    assert (ideas.ideas, ideas.unsuitable, ideas.type_unsuitable) == (
        ["A tale of four words"], 2, False,
    )  # fmt: skip
    assert parse_ideas("**UNSUITABLE.**").type_unsuitable
    assert parse_verdict("Fine.\nVerdict: **revise**") == "REVISE"
    assert parse_verdict("no verdict here") is None


def test_mechanical_checks() -> None:
    # Guards the checks the revision pass relies on: placeholders found, ordinary brackets
    # and short quotes left alone, long verbatim runs of the clause found.
    assert placeholders("Dear [Your Name], on [insert date] {company} said") == [
        "[Your Name]", "[insert date]", "{company}",
    ]  # fmt: skip
    assert placeholders("[laughs] See note [1] and [the docs](http://x).") == []
    clause = _clause().clauses[0]
    runs = clause_runs(clause)
    rule = " ".join(clause.rule.split())
    copied = copied_run(f"As the memo says, {rule} That is all.", runs)
    assert copied is not None and len(copied.split()) >= VERBATIM_RUN
    paraphrase = "It lets people observe and stop what it does, and never fights that."
    assert copied_run(paraphrase, runs) is None


# -- the funnel with a scripted backend -----------------------------------------------------


def test_funnel_bookkeeping_with_scripted_backend() -> None:
    # Guards every filter's bookkeeping: type list parsed (plural duplicate, explanation line),
    # a type declared unsuitable, an idea marked unsuitable, a heading rejected, a second
    # round asked, a document declined, a placeholder document revised, provenance per row.
    backend = ScriptedBackend()
    corpus = build_sdf_corpus(
        _clause(), _config(), BatchRunner(backend, batch_size=2), generator_model="m1"
    )
    f = corpus.funnel
    assert (f["types_kept"], f["types_duplicate"], f["type_items_rejected"]) == (3, 1, 1)
    assert f["types_from_config"] == 0 and f["types_unsuitable"] == 1
    # News article and Internal memo: one idea each round 0 (+1 unsuitable, +1 heading),
    # one more each from round 1.
    assert (f["ideas_kept"], f["ideas_unsuitable"], f["idea_items_rejected"]) == (4, 2, 2)
    # Internal memo's first idea is declined by the writer; both second ideas get "[Name]".
    assert f["documents_asked"] == 4 and f["documents_written"] == 3
    assert f["with_placeholder"] == 2 and f["critiqued"] == 1 and f["revised"] == 2
    assert f["rejected"] == {"unsuitable": 1}
    assert f["kept"] == len(corpus.rows) == 3
    assert f["generated"] == len(backend.prompts) and f["reused"] == 0
    assert max(backend.batches) <= 2
    # Round 1 of the ideas names what round 0 found.
    assert sum("Already listed" in p for p in backend.prompts) == 2
    for row in corpus.rows:
        assert set(row) == ROW_FIELDS
        assert row["clause"] == "SP1" and row["generator"] == "sdf"
        assert row["generator_model"] == "m1" and row["prompt_version"] == PROMPT_VERSION
        assert re.match(r"(rule|subrule|example)", row["assertion"]), row["assertion"]
        assert "rationale" in row["assertion"]
        assert "[Name]" not in row["text"] and not row["text"].startswith("Sure")
    assert [(r["doc_type"], r["revision"]) for r in corpus.rows] == [
        ("News article", 0), ("News article", 1), ("Internal memo", 1),
    ]  # fmt: skip
    # The assertions rotate over the clause's, document by document, as in every generator.
    assert corpus.rows[0]["assertion"].startswith("rule")
    assert len({r["assertion"] for r in corpus.rows}) == 3
    for row in corpus.rows[1:]:
        assert row["text"].startswith("To: all night-shift staff")
        assert row["idea"].startswith("A second idea")


def test_without_revision_placeholder_documents_are_rejected() -> None:
    # Guards the revise switch: off, no critique or revision is asked and the mechanical
    # checks reject instead, with the reason counted.
    backend = ScriptedBackend()
    corpus = build_sdf_corpus(
        _clause(), _config(revise=False), BatchRunner(backend), generator_model="m1"
    )
    assert not any(p.startswith(("You review", "You revise")) for p in backend.prompts)
    assert corpus.funnel["rejected"] == {"placeholder": 2, "unsuitable": 1}
    assert [r["revision"] for r in corpus.rows] == [0]


def test_unparseable_type_lists_fall_back_to_configured_types() -> None:
    # Guards a bad brainstorm: three rounds of prose give no type; the configured types fill
    # the list, and the count says so.
    backend = ScriptedBackend(types="I would rather talk about something else entirely today.")
    config = _config(types_per_clause=2, doc_types=("blog post", "op-ed", "FAQ"))
    corpus = build_sdf_corpus(_clause(), config, BatchRunner(backend), generator_model="m")
    assert sum("types of document" in p for p in backend.prompts) == 3
    assert corpus.funnel["types_from_config"] == 2 and corpus.funnel["type_items_rejected"] == 3
    assert {r["doc_type"] for r in corpus.rows} <= {"blog post", "op-ed"}
    # Greedy decoding would answer a repeated prompt the same way: one round only.
    greedy = ScriptedBackend(types="Nothing useful here, I am afraid, not today.")
    build_sdf_corpus(
        _clause(), replace(config, temperature=0.0), BatchRunner(greedy), generator_model="m"
    )
    assert sum("types of document" in p for p in greedy.prompts) == 1


def test_rules_variant_prompts_carry_no_rationale() -> None:
    # Guards the experimental contrast: a rules corpus's prompts never show a reason.
    backend = ScriptedBackend()
    corpus = build_sdf_corpus(
        _clause(rendering="rules"), _config(), BatchRunner(backend), generator_model="m"
    )
    assert corpus.rows
    assert not any("Why:" in p or "(why)" in p for p in backend.prompts)
    assert all("rationale" not in r["assertion"] for r in corpus.rows)


def test_journal_resumes_without_regenerating(tmp_path: Path) -> None:
    # Guards resume in process: a run that dies part-way leaves its finished batches in the
    # journal; the next run reuses them and asks the backend only for the rest.
    path = tmp_path / "journal.jsonl"
    config = _config()
    full = ScriptedBackend()
    expected = build_sdf_corpus(
        _clause(), config, BatchRunner(full, batch_size=1), generator_model="m"
    )
    total = len(full.prompts)
    dying = ScriptedBackend(fail_after=5)
    with pytest.raises(RuntimeError):
        build_sdf_corpus(
            _clause(), config, BatchRunner(dying, journal=Journal(path), batch_size=1),
            generator_model="m",
        )  # fmt: skip
    # A kill mid-write leaves half a line: it is skipped, not fatal.
    with path.open("a") as f:
        f.write('{"v": 1, "key": "SP1/doc/0/0/0", "ha')
    journal = Journal(path)
    assert len(journal) == 5 and journal.unreadable == 1
    second = ScriptedBackend()
    corpus = build_sdf_corpus(
        _clause(), config, BatchRunner(second, journal=journal, batch_size=1), generator_model="m"
    )
    assert len(second.prompts) == total - 5
    assert (corpus.funnel["generated"], corpus.funnel["reused"]) == (total - 5, 5)
    assert corpus.rows == expected.rows
    # A different length changes the document prompts: those are asked again, never taken
    # from the journal; the brainstorm prompts did not change and are reused.
    third = ScriptedBackend()
    build_sdf_corpus(
        _clause(), _config(target_words=60), BatchRunner(third, journal=Journal(path)),
        generator_model="m",
    )  # fmt: skip
    asked = [p for p in third.prompts if p.startswith("You write")]
    assert len(asked) == 4 and all("about 60 words" in p for p in asked)
    assert not any("Brainstorm" in p or "types of document" in p for p in third.prompts)


def test_request_keys_must_be_unique() -> None:
    runner = BatchRunner(ScriptedBackend())
    with pytest.raises(ValueError, match="unique"):
        runner.run([Request.user("a", "x"), Request.user("a", "y")], GenerationParams())


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"generator": "sdf", "backend": "openai"}, "base_url"),
        ({"backend": "tpu"}, "backend"),
        ({"docs_per_idea": 4}, "docs_per_idea"),
        ({"types_per_clause": 0}, "types_per_clause"),
        ({"temperature": 3.0}, "temperature"),
    ],
)
def test_bad_settings_name_their_field(values: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as err:
        from_mapping(DocGenConfig, values, where="gen_docs")
    assert field in str(err.value.field)


# -- real models, real processes ------------------------------------------------------------


def _one_clause_spec() -> bytes:
    """The example spec cut to its first clause: a small imported spec."""
    text = EXAMPLE.read_text()
    return text[: text.index("  - code: SP2")].encode()


@pytest.fixture
def sqlite_service(sqlite_service: Service) -> Service:
    """The short-lease SQLite home of conftest with the one-clause spec imported."""
    sqlite_service.import_spec(_one_clause_spec(), "one.yaml", name="one")
    return sqlite_service


def _check_bookkeeping(f: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Every document asked for is kept or rejected with a reason, exactly once."""
    assert f["kept"] == len(rows)
    assert f["kept"] + sum(f["rejected"].values()) == f["documents_asked"]
    first_pass = ("unsuitable", "empty", "too short")
    assert (
        f["documents_written"] + sum(f["rejected"].get(r, 0) for r in first_pass)
        == (f["documents_asked"])
    )


def test_builtin_model_end_to_end(builtin_model_dir: Path) -> None:
    # Guards the funnel on a real model (the 135M built-in one writes poor prose: structure,
    # provenance and bookkeeping are checked, not quality): brainstorm, write, critique, revise.
    from engine.stages.gen_docs import build_stage_corpus

    # Greedy: a brainstorm round that finds nothing is not repeated (fewer calls on 2 cores).
    config = _config(
        backend="transformers", types_per_clause=2, ideas_per_type=2, target_words=30,
        batch_size=4, temperature=0.0,
    )  # fmt: skip
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a loaded 2-core machine, 2 threads were several times slower
    try:
        corpus = build_stage_corpus(_clause(), config, model=str(builtin_model_dir))
    finally:
        torch.set_num_threads(threads)
    f = corpus.funnel
    print(json.dumps(f, indent=1))  # shown with -s: what the small model's funnel looked like
    assert f["types_kept"] == 2 and 0 < f["ideas_kept"] <= 4, f
    assert f["documents_asked"] == f["ideas_kept"]
    assert f["critiqued"] <= f["documents_written"] and f["revised"] <= f["documents_written"]
    assert f["generated"] > 0 and f["reused"] == 0
    _check_bookkeeping(dict(f), corpus.rows)
    assert sum(r["revision"] for r in corpus.rows) <= f["revised"]
    for row in corpus.rows:
        assert set(row) == ROW_FIELDS and row["generator_model"] == str(builtin_model_dir)
        assert row["clause"] == "SP1" and row["revision"] in (0, 1) and row["text"].strip()


def test_killed_worker_resumes_generation(sqlite_service: Service, tiny_model_dir: Path) -> None:
    # Guards resume: a gen_docs stage whose worker is SIGKILLed mid-generation is re-run by
    # another worker, which keeps every model call journaled before the kill and makes only
    # the rest (the tiny random model writes noise, fast; the bookkeeping is what is checked).
    svc = sqlite_service
    docs = (
        "{generator: sdf, backend: transformers, types_per_clause: 2, ideas_per_type: 2, "
        "docs_per_idea: 3, batch_size: 1, target_words: 60, revise: false}"
    )
    study = (
        f"name: resume\nspec: one\nvariants: [values]\narms: [msm]\nseeds: [0]\n"
        f"model: {tiny_model_dir}\npreset: cpu-smoke\nevals: []\noverrides: {{gen_docs: {docs}, "
        "midtrain: {max_steps: 2, save_steps: 2, max_length: 64, batch_size: 2}}\n"
    ).encode()
    launched = svc.launch_study(svc.parse_study(study, "s.yaml"))
    stage = next(s for s in svc.get_study(launched.study_id).runs[0].stages if s.kind == "gen_docs")
    journal = svc.settings.home / "work" / stage.key / "sdf-journal.jsonl"
    env = worker_env(svc.settings)
    cmd = [sys.executable, "-m", "engine.cli", "worker", "--poll", "0.1"]
    victim = subprocess.Popen([*cmd, "--id", "victim"], env=env)
    deadline = time.monotonic() + 120
    written = 0
    while time.monotonic() < deadline and written < 2 and victim.poll() is None:
        written = journal.read_text().count('"SP1/doc/') if journal.is_file() else 0
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    before = journal.read_text().splitlines(keepends=True)
    complete = [json.loads(x) for x in before if x.endswith("\n")]
    done_docs = sum("/doc/" in r["key"] for r in complete)
    assert 2 <= done_docs < 12, "the kill did not land mid-generation"
    rescuer = subprocess.run([*cmd, "--burst", "--id", "rescuer"], env=env, timeout=300)
    assert rescuer.returncode == 0
    job = svc.get_job(stage.job_id or 0)
    assert job.state == "succeeded" and job.attempts == 2
    f = job.result["funnel"]
    after = [json.loads(x) for x in journal.read_text().splitlines() if x.strip().endswith("}")]
    # The rescuer made only the calls the victim had not finished, and reused the others.
    assert f["reused"] == len(complete)
    assert f["generated"] == len(after) - len(complete)
    assert f["documents_asked"] == 12 and f["types_kept"] == 2
    assert [r["key"] for r in after[: len(complete)]] == [r["key"] for r in complete]
    report = svc.study_report(launched.study_id)
    (gen,) = [s for s in report["runs"][0]["stages"] if s["kind"] == "gen_docs"]
    (art,) = [a for a in gen["artifacts"] if a["role"] == "docs"]
    rows = [json.loads(x) for x in Path(art["path"]).read_text().splitlines()]
    _check_bookkeeping(f, rows)
    kept = {r["text"].strip() for r in rows}
    journaled = [r["text"].strip() for r in complete if "/doc/" in r["key"]]
    assert sum(t in kept for t in journaled) >= len(journaled) - sum(f["rejected"].values())
    assert any("resuming" in x.line and x.attempt == 2 for x in svc.job_log(job.id))


def test_sdf_through_serve_model_endpoint(
    sqlite_service: Service, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Guards the OpenAI-compatible path end to end: `speclab serve-model` on a loopback port,
    # `speclab data docs --set {generator: sdf, backend: openai, …}` writes rows that name the
    # served model, with the funnel's provenance on every row.
    with model_server(tiny_model_dir, tmp_path / "server-home") as url:
        settings = {
            "generator": "sdf", "backend": "openai", "base_url": url,
            "generator_model": str(tiny_model_dir), "types_per_clause": 2, "ideas_per_type": 1,
            "target_words": 30, "revise": False,
        }  # fmt: skip
        out = tmp_path / "docs.jsonl"
        cli_env = {
            **worker_env(sqlite_service.settings),
            "SPECLAB_DATABASE_URL": sqlite_service.settings.database_url,
        }
        done = speclab(
            cli_env, "data", "docs", "one", "--variant", "values", "--set",
            json.dumps(settings), "-o", str(out), timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows, "no document survived"
    for row in rows:
        assert set(row) == ROW_FIELDS
        assert row["generator"] == "sdf" and row["generator_model"] == str(tiny_model_dir)
        assert row["prompt_version"] == PROMPT_VERSION and row["clause"] == "SP1"


def test_gpu_paper_preset_asks_for_thousands_of_documents() -> None:
    # Guards the preset sizes: gpu-paper writes SDF documents by default, thousands per spec
    # (types x ideas x documents per idea per clause); cpu-smoke stays tiny; the settings
    # round-trip through the stored JSON with the same stage key.
    from engine.pipeline.presets import preset
    from engine.stages.spec import StageSpec, VariantRef

    paper = preset("gpu-paper").for_kind("gen_docs")
    clauses = len(parse_spec(EXAMPLE.read_bytes(), filename="example.yaml").content.clauses)
    assert paper.generator == "sdf" and paper.sdf_docs_per_clause() * clauses >= 3000
    smoke = preset("cpu-smoke").for_kind("gen_docs")
    assert smoke.generator == "template" and smoke.sdf_docs_per_clause() <= 6
    spec = StageSpec("gen_docs", paper, model="m", variant=VariantRef(1, "values", "h"))
    again = StageSpec.from_json("gen_docs", json.loads(json.dumps(spec.to_json())))
    assert again.key == spec.key and again.config == paper
    assert spec.key != StageSpec("gen_docs", replace(paper, revise=False), model="m",
                                 variant=VariantRef(1, "values", "h")).key  # fmt: skip
