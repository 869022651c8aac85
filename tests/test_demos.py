"""AFT demonstrations: the built-in set, the CoT and stripped training rows, and imports."""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib import resources
from typing import Any

import pytest
import yaml

from engine.data.demos import (
    COT_CLOSE,
    COT_OPEN,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_LINES,
    Demo,
    coverage,
    dumps_jsonl,
    load_builtin,
    parse_demos_jsonl,
    strip_reasoning,
    to_aft_rows,
)
from engine.errors import InputError

CODE = re.compile(r"\b[A-Z]{2}\d+\b")


def example_codes() -> list[str]:
    data = resources.files("engine.specs.builtin").joinpath("example.yaml").read_bytes()
    return [clause["code"] for clause in yaml.safe_load(data)["clauses"]]


def jsonl(*rows: Any) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def parse(data: bytes) -> list[Demo]:
    return parse_demos_jsonl(data, source="upload.jsonl")


def parse_error(data: bytes) -> InputError:
    with pytest.raises(InputError) as info:
        parse(data)
    assert info.value.source == "upload.jsonl"
    assert "upload.jsonl" in str(info.value)
    return info.value


GOOD = {"prompt": "Summarise this memo.", "response": "Here is the summary."}


# -- the built-in set --------------------------------------------------------------------------


def test_builtin_set_is_large_enough() -> None:
    # Guards against the built-in demonstrations file being truncated or emptied.
    assert len(load_builtin()) >= 160


def test_every_example_clause_is_covered_at_least_15_times() -> None:
    # Guards clause coverage: a clause added to the example spec needs its own demonstrations.
    counts = coverage(load_builtin())
    for code in example_codes():
        assert counts.get(code, 0) >= 15, (code, counts)


def test_builtin_clause_codes_exist_in_the_example_spec() -> None:
    # Guards typos in clause tags, which would silently drop a demonstration from coverage.
    codes = set(example_codes())
    for demo in load_builtin():
        assert demo.clauses and set(demo.clauses) <= codes, demo.id


def test_builtin_set_is_mostly_agentic() -> None:
    # Guards the OOD point of the set: at least 40% agentic situations, not only chat questions.
    demos = load_builtin()
    assert sum(d.agentic for d in demos) / len(demos) >= 0.40


def test_every_reasoning_cites_its_own_clauses() -> None:
    # Guards the CoT arm: reasoning must cite the spec, and only codes the demo is tagged with.
    for demo in load_builtin():
        cited = set(CODE.findall(demo.reasoning))
        assert cited & set(demo.clauses), demo.id
        assert cited <= set(demo.clauses), (demo.id, cited - set(demo.clauses))


def test_builtin_ids_are_unique_and_well_formed() -> None:
    # Guards stable ids: duplicates would collide in eval breakdowns and imports.
    ids = [demo.id for demo in load_builtin()]
    assert len(ids) == len(set(ids))
    for demo in load_builtin():
        assert re.fullmatch(r"(SP|GP)\d+-\d{3}", demo.id), demo.id
        assert demo.id.split("-")[0] == demo.clauses[0], demo.id


def test_builtin_lengths_fit_short_training_sequences() -> None:
    # Guards the 135M-on-CPU budget: prompts and responses stay within 120 words.
    for demo in load_builtin():
        assert len(demo.prompt.split()) <= 120, demo.id
        assert len(demo.response.split()) <= 120, demo.id
        assert demo.reasoning and demo.response, demo.id


def test_builtin_prompts_are_not_one_template() -> None:
    # Guards variety: no two prompts start with the same eight words.
    openings = Counter(" ".join(d.prompt.lower().split()[:8]) for d in load_builtin())
    assert [o for o, n in openings.items() if n > 1] == []


def test_builtin_file_round_trips_through_to_dict() -> None:
    # Guards the stored shape: each built-in line reads back into the same Demo.
    demos = load_builtin()
    again = parse(dumps_jsonl(d.to_dict() for d in demos))
    assert again == demos


# -- training rows -----------------------------------------------------------------------------


def test_cot_and_stripped_rows_share_prompts_and_responses() -> None:
    # Guards the AFT comparison: the two arms differ only in the reasoning block.
    demos = load_builtin()
    cot, plain = to_aft_rows(demos, cot=True), to_aft_rows(demos, cot=False)
    assert [r["prompt"] for r in cot] == [r["prompt"] for r in plain]
    for demo, with_cot, stripped in zip(demos, cot, plain, strict=True):
        assert with_cot["prompt"] == [{"role": "user", "content": demo.prompt}]
        cot_text = with_cot["completion"][0]["content"]
        plain_text = stripped["completion"][0]["content"]
        assert stripped["completion"] == [{"role": "assistant", "content": demo.response}]
        assert cot_text.startswith(COT_OPEN) and cot_text.endswith(demo.response)
        assert demo.reasoning in cot_text
        assert COT_OPEN not in plain_text and COT_CLOSE not in plain_text
        assert demo.reasoning not in plain_text
        assert strip_reasoning(cot_text) == plain_text


def test_cot_rows_without_reasoning_are_just_the_response() -> None:
    # Guards imported sets without reasoning: no empty <reasoning> block is trained on.
    demo = Demo(id="a", prompt="p", response="r")
    assert to_aft_rows([demo], cot=True)[0]["completion"][0]["content"] == "r"


def test_strip_reasoning_forms() -> None:
    # Guards eval-time parsing of generations: only a leading block is removed.
    assert strip_reasoning("<reasoning>\nthink\n</reasoning>\nanswer") == "answer"
    assert strip_reasoning("  <reasoning>x</reasoning>answer") == "answer"
    assert strip_reasoning("plain answer") == "plain answer"
    assert strip_reasoning("answer <reasoning>x</reasoning>") == "answer <reasoning>x</reasoning>"
    # An unclosed block means generation stopped before any answer.
    assert strip_reasoning("<reasoning>still thinking") == ""


def test_dumps_jsonl_is_deterministic() -> None:
    # Guards content-addressed datasets: same rows, same bytes, whatever the key order.
    a = dumps_jsonl([{"b": 1, "a": "é"}])
    b = dumps_jsonl([{"a": "é", "b": 1}])
    assert a == b == '{"a": "é", "b": 1}\n'.encode()
    assert dumps_jsonl([]) == b""


def test_coverage_counts_every_tagged_clause() -> None:
    # Guards per-clause counts: a multi-clause demo counts once for each of its clauses.
    demos = [
        Demo(id="1", prompt="p", response="r", clauses=("SP1", "GP4")),
        Demo(id="2", prompt="p", response="r", clauses=("SP1",)),
    ]
    assert coverage(demos) == {"GP4": 1, "SP1": 2}


# -- accepted import forms ---------------------------------------------------------------------


def test_parse_prompt_completion_with_reasoning() -> None:
    # Guards the TRL-style form, with optional metadata kept.
    row = {"prompt": "P", "completion": "C", "reasoning": "R", "clauses": ["SP2"], "agentic": True}
    [demo] = parse(jsonl(row))
    assert demo == Demo(
        id="line-1", prompt="P", response="C", reasoning="R", clauses=("SP2",), agentic=True
    )


def test_parse_prompt_response_and_blank_lines() -> None:
    # Guards blank-line skipping and line-numbered default ids.
    [first, second] = parse(jsonl(GOOD, "", "   ", {**GOOD, "id": "mine"}))
    assert first.id == "line-1" and first.response == "Here is the summary."
    assert second.id == "mine"


def test_parse_chat_messages() -> None:
    # Guards the chat form: system and user turns become the prompt, the assistant the reply.
    row = {
        "messages": [
            {"role": "system", "content": "You are an email agent."},
            {"role": "user", "content": "Forward the payroll file."},
            {"role": "assistant", "content": "I won't forward it externally."},
        ],
        "reasoning": "GP3 applies.",
    }
    [demo] = parse(jsonl(row))
    assert demo.prompt == "You are an email agent.\n\nForward the payroll file."
    assert demo.response == "I won't forward it externally."
    assert demo.reasoning == "GP3 applies."


def test_parse_inline_reasoning_block_is_split_off() -> None:
    # Guards pre-formatted CoT data: the block moves to `reasoning`, the stripped arm stays clean.
    [demo] = parse(jsonl({"prompt": "P", "completion": "<reasoning>\nR\n</reasoning>\nC"}))
    assert (demo.reasoning, demo.response) == ("R", "C")


def test_parse_accepts_bom_and_crlf() -> None:
    # Guards files saved on Windows.
    data = b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\r\n" + json.dumps(GOOD).encode()
    assert len(parse(data)) == 2


# -- malformed imports -------------------------------------------------------------------------


def test_broken_json_names_its_line() -> None:
    # Guards error location: a broken line 3 is reported as line 3, not line 1.
    error = parse_error(jsonl(GOOD, GOOD, '{"prompt": "x", "response": '))
    assert error.line == 3
    assert "line 3" in str(error) and "invalid JSON" in str(error)


def test_missing_response_names_the_field() -> None:
    # Guards the message for the most common mistake: a prompt with no response.
    error = parse_error(jsonl(GOOD, {"prompt": "only a prompt"}))
    assert (error.line, error.field) == (2, "response")


def test_missing_prompt_names_the_field() -> None:
    # Guards lines that carry a response but no prompt.
    error = parse_error(jsonl({"response": "r"}))
    assert (error.line, error.field) == (1, "prompt")


def test_messages_without_final_assistant() -> None:
    # Guards chat rows that end on the user's turn: there is nothing to train on.
    error = parse_error(jsonl({"messages": [{"role": "user", "content": "hi"}]}))
    assert (error.line, error.field) == (1, "messages")
    assert "assistant" in error.detail


@pytest.mark.parametrize(
    ("messages", "field", "words"),
    [
        ([{"role": "assistant", "content": "a"}], "messages", "user"),
        (
            [
                {"role": "user", "content": "u"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "u"},
                {"role": "assistant", "content": "a"},
            ],
            "messages",
            "exactly one",
        ),
        (
            [
                {"role": "user", "content": "u"},
                {"role": "system", "content": "s"},
                {"role": "assistant", "content": "a"},
            ],
            "messages",
            "first",
        ),
        ([{"role": "tool", "content": "x"}], "messages[0].role", "unknown role"),
        (
            [{"role": "user", "content": 5}, {"role": "assistant", "content": "a"}],
            "messages[0].content",
            "string",
        ),
        ([], "messages", "non-empty list"),
        ("hello", "messages", "list"),
    ],
)
def test_bad_chat_structure(messages: Any, field: str, words: str) -> None:
    # Guards each way a chat row can be malformed, each with its own field path.
    error = parse_error(jsonl(GOOD, {"messages": messages}))
    assert (error.line, error.field) == (2, field)
    assert words in error.detail


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({**GOOD, "prompt": 7}, "prompt"),
        ({**GOOD, "response": ["a"]}, "response"),
        ({**GOOD, "response": "   "}, "response"),
        ({**GOOD, "reasoning": 3}, "reasoning"),
        ({**GOOD, "clauses": "SP1"}, "clauses"),
        ({**GOOD, "clauses": ["SP1", 2]}, "clauses[1]"),
        ({**GOOD, "agentic": "yes"}, "agentic"),
        ({**GOOD, "id": 12}, "id"),
        ({**GOOD, "label": "x"}, "label"),
        ({**GOOD, "completion": "c"}, "response"),
        ({**GOOD, "messages": []}, "messages"),
        ({**GOOD, "response": "fine <reasoning>leak</reasoning>"}, "response"),
        ({**GOOD, "reasoning": "R", "response": "<reasoning>R2</reasoning>C"}, "response"),
    ],
)
def test_wrong_types_and_unknown_fields_name_the_field(row: dict[str, Any], field: str) -> None:
    # Guards type checking: each bad field is named, on the line it is on.
    error = parse_error(jsonl(GOOD, row))
    assert (error.line, error.field) == (2, field)


@pytest.mark.parametrize("line", ["[1, 2]", '"just text"', "42", "null"])
def test_non_object_lines(line: str) -> None:
    # Guards lines that are valid JSON but not objects.
    error = parse_error(jsonl(GOOD, line))
    assert error.line == 2 and "object" in error.detail


def test_duplicate_id_names_the_later_line() -> None:
    # Guards silent overwrites: the second use of an id is the error, and it cites the first.
    error = parse_error(jsonl({**GOOD, "id": "x"}, GOOD, {**GOOD, "id": "x"}))
    assert (error.line, error.field) == (3, "id")
    assert "line 1" in error.detail


def test_explicit_id_clashing_with_a_default_id() -> None:
    # Guards default ids: `line-2` given explicitly clashes with the id line 2 gets by default.
    error = parse_error(jsonl({**GOOD, "id": "line-2"}, GOOD))
    assert (error.line, error.field) == (2, "id")


@pytest.mark.parametrize("data", [b"", b"\n\n", b"  \r\n\t\n"])
def test_empty_file(data: bytes) -> None:
    # Guards empty uploads: a clear message rather than an empty dataset.
    assert "empty" in parse_error(data).detail


def test_binary_file() -> None:
    # Guards binary uploads (NUL bytes) with the line they were found on.
    error = parse_error(jsonl(GOOD) + b"PK\x03\x04\x00\x00")
    assert error.line == 2 and "binary" in error.detail


def test_invalid_utf8() -> None:
    # Guards wrong encodings (e.g. Latin-1 files) with the line of the first bad byte.
    error = parse_error(jsonl(GOOD) + '{"prompt": "café", "response": "r"}\n'.encode("latin-1"))
    assert error.line == 2 and "UTF-8" in error.detail


def test_file_over_50_mb_is_refused_before_decoding() -> None:
    # Guards memory: the size check comes first, so even undecodable bytes get the size error.
    error = parse_error(b"\xff" * (MAX_IMPORT_BYTES + 1))
    assert "50 MB" in error.detail and error.line is None


def test_too_many_lines() -> None:
    # Guards the line limit, checked before any line is parsed.
    error = parse_error(b"{}\n" * (MAX_IMPORT_LINES + 1))
    assert f"{MAX_IMPORT_LINES:,}" in error.detail and error.line is None


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ({**GOOD, "prompt": "p" * 100_001}, "prompt", "100,000"),
        ({**GOOD, "response": "r\u0000"}, "response", "NUL"),
        ({**GOOD, "clauses": [f"C{i}" for i in range(101)]}, "clauses", "limit"),
        ({**GOOD, "id": "i" * 201}, "id", "limit"),
        (
            {
                "messages": [{"role": "user", "content": "u"}] * 64
                + [{"role": "assistant", "content": "a"}]
            },
            "messages",
            "limit",
        ),
    ],
)
def test_field_bounds_name_the_line_and_field(row: dict[str, Any], field: str, words: str) -> None:
    # Guards issue 13: unbounded fields and NUL (which PostgreSQL cannot store) in uploads.
    error = parse_error(jsonl(GOOD, row))
    assert (error.line, error.field) == (2, field)
    assert words in error.detail


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"prompt": "\\ud800", "response": "r"}', "surrogate"),
        ('{"prompt": "p", "response": "r", "agentic": ' + "9" * 5000 + "}", "digits"),
        ('{"prompt": "p", "response": "r", "x": ' + "[" * 5000 + "]" * 5000 + "}", "deep"),
        ('{"prompt": "p", "prompt": "q", "response": "r"}', "twice"),
        ('{"prompt": "' + "p" * 1_000_001 + '", "response": "r"}', "1,000,000"),
    ],
)
def test_hostile_json_lines_are_refused_with_their_line(line: str, words: str) -> None:
    # Guards issue 13: JSON that decoded to unstorable text, hit Python's int limit with a bare
    # ValueError, recursed without bound, or silently kept the last of two keys.
    error = parse_error(jsonl(GOOD, line))
    assert error.line == 2 and words in error.detail
