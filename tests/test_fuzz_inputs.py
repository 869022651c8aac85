"""Fuzzing the user-file entry points: spec files (md/json/yaml), study files, demos JSONL.

A fixed-seed corpus of mutations of good files (truncations, byte flips, control characters,
huge numbers, deep nesting, aliases, wrong types, dropped and doubled lines) goes through the
service entry points (``import_spec``, ``parse_study``, ``import_demos``) on SQLite and
PostgreSQL. Each case must end in success or a :class:`SpecLabError` (never another
exception), within 2 s, and a refusal must leave every table's row count as it was. The
reproductions from issue 13 follow as named regression cases.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import pytest
from sqlalchemy import func, literal, select, union_all

from db.models import Base
from engine.errors import InputError, SpecLabError
from engine.service import Service

SEED = 20261127
CASES_PER_SEED_FILE = 80
PER_CASE_SECONDS = 2.0  # the bound issue 13 asks for; real cases take milliseconds

STUDY = b"""\
name: fuzz-study
spec: example
variants: [rules, values]
arms: [aft, msm+aft]
seeds: [0, 1]
preset: cpu-smoke
overrides: {midtrain: {max_steps: 5}, aft: {max_steps: 5}}
"""


def _row_counts(svc: Service) -> dict[str, int]:
    """Every table's row count, in one statement."""
    counts = [
        select(literal(t.name).label("name"), func.count().label("n")).select_from(t)
        for t in Base.metadata.sorted_tables
    ]
    with svc.db.read() as s:
        return {name: n for name, n in s.execute(union_all(*counts))}


@dataclass(frozen=True)
class Case:
    name: str
    entry: str  # spec | study | demos
    filename: str
    data: bytes


def _call(svc: Service, case: Case) -> None:
    if case.entry == "spec":
        svc.import_spec(case.data, case.filename, name="fuzz")
    elif case.entry == "study":
        svc.parse_study(case.data, case.filename)
    else:
        svc.import_demos(case.data, case.filename)


def _run(svc: Service, case: Case) -> BaseException | None:
    """Run one case; return its refusal (or None), failing on anything else."""
    before = _row_counts(svc)
    start = time.monotonic()
    refusal: BaseException | None = None
    try:
        _call(svc, case)
    except SpecLabError as exc:
        refusal = exc
    except Exception as exc:  # the point of the suite: report which case escaped, and how
        pytest.fail(f"{case.name}: uncaught {type(exc).__name__}: {str(exc)[:300]}")
    elapsed = time.monotonic() - start
    assert elapsed < PER_CASE_SECONDS, f"{case.name} took {elapsed:.2f} s"
    if refusal is not None:
        assert _row_counts(svc) == before, f"{case.name}: a refusal changed the database"
        message = str(refusal)
        assert message and "Traceback" not in message
    return refusal


# -- the corpus -------------------------------------------------------------------------------

_CONTROL = ["\x00", "\x01", "\x1b", "\x7f", "\u2028", "\u202e", "\ufeff", "\r", "\t"]
_WRONG_JSON = ["null", "[]", "{}", "true", "1e999", "-0", '"x"', "[[[]]]", "9" * 5000]


def _mutations(rng: random.Random, text: str, fmt: str) -> Callable[[], str]:
    """One random mutation of ``text`` (chosen by ``rng``)."""
    lines = text.split("\n")

    def truncate() -> str:
        return text[: rng.randrange(0, len(text))]

    def flip() -> str:
        data = bytearray(text.encode())
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return data.decode("utf-8", errors="surrogateescape")

    def control() -> str:
        i = rng.randrange(len(text))
        return text[:i] + rng.choice(_CONTROL) * rng.randint(1, 3) + text[i:]

    def drop_line() -> str:
        i = rng.randrange(len(lines))
        return "\n".join(lines[:i] + lines[i + 1 :])

    def double_line() -> str:
        i = rng.randrange(len(lines))
        return "\n".join(lines[: i + 1] + lines[i:])

    def huge_number() -> str:
        digits = rng.choice(["99999999999999999999", "9" * 5000, "-" + "9" * 30, "1e308"])
        i = rng.randrange(len(lines))
        if fmt == "md":
            extra = f"Priority: {digits}"
        elif fmt == "json":
            return text.replace('"priority": 0', f'"priority": {digits}', 1)
        else:
            extra = f"{lines[i][: len(lines[i]) - len(lines[i].lstrip())]}priority: {digits}"
        return "\n".join([*lines[:i], extra, *lines[i:]])

    def deep() -> str:
        depth = rng.choice([70, 1_000, 50_000])
        nest = "[" * depth + "]" * depth
        if fmt == "md":
            return text + "\n" + "  " * min(depth, 3000) + "- x\n"
        if fmt == "json":
            return text.replace('"preamble": ', f'"preamble": {nest}, "x": ', 1)
        return text + f"\nextra: {nest}\n"

    def aliases() -> str:
        if fmt != "yaml":
            return text.replace("\n", "\n" * rng.randint(2, 4), rng.randint(1, 20))
        bomb = 'lol: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        for i in range(1, rng.randint(3, 9)):
            bomb += f"l{i}: &a{i} [" + ", ".join([f"*a{i - 1}" if i > 1 else "*a"] * 9) + "]\n"
        return bomb + text

    def wrong_type() -> str:
        if fmt == "json":
            value = rng.choice(_WRONG_JSON)
            key = rng.choice(['"rule": ', '"title": ', '"clauses": ', '"code": ', '"name": '])
            return text.replace(key, f"{key}{value}, {key}", 1)
        if fmt == "yaml":
            value = rng.choice(["[[x]]", "null", "{a: 1}", "2020-01-01", "!!binary aGk=", "1: 2"])
            i = rng.randrange(len(lines))
            line = lines[i]
            if ":" in line:
                head = line.split(":", 1)[0]
                return "\n".join([*lines[:i], f"{head}: {value}", *lines[i + 1 :]])
            return text + f"\n{value}\n"
        i = rng.randrange(len(lines))
        return "\n".join(
            [*lines[:i], rng.choice(["## ", "## 3x", "Rule:", "Why:", "---"]), *lines[i:]]
        )

    def long_field() -> str:
        filler = rng.choice(["x" * 600, " " * 60_000, "ab " * 8_000, "é" * 501])
        i = rng.randrange(len(text))
        return text[:i] + filler + text[i:]

    return rng.choice(
        [
            truncate,
            flip,
            control,
            drop_line,
            double_line,
            huge_number,
            deep,
            aliases,
            wrong_type,
            long_field,
        ]
    )


def _example_texts(svc: Service) -> dict[str, str]:
    return {fmt: svc.export_spec("example", fmt) for fmt in ("md", "json", "yaml")}


def _demo_text() -> str:
    lines = (
        resources.files("engine.data.builtin").joinpath("demos.jsonl").read_text("utf-8")
    ).splitlines()
    rows = [json.loads(line) for line in lines[:6]]
    rows[1] = {
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": rows[1]["prompt"]},
            {"role": "assistant", "content": rows[1]["response"]},
        ]
    }
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def corpus(svc: Service) -> list[Case]:
    rng = random.Random(SEED)
    seeds = [("spec", f"fuzz.{fmt}", fmt, text) for fmt, text in _example_texts(svc).items()]
    seeds += [("study", "study.yaml", "yaml", STUDY.decode())]
    seeds += [("demos", "demos.jsonl", "json", _demo_text())]
    cases = []
    for entry, filename, fmt, text in seeds:
        for i in range(CASES_PER_SEED_FILE):
            mutate = _mutations(rng, text, fmt)
            data = mutate().encode("utf-8", errors="surrogateescape")
            cases.append(Case(f"{filename}#{i}:{mutate.__name__}", entry, filename, data))
    return cases


def test_fuzz_corpus(seeded: Service) -> None:
    # Guards every user-file entry point: no traceback, no hang, no partial write on refusal.
    cases = corpus(seeded)
    assert len(cases) == 5 * CASES_PER_SEED_FILE
    refused = sum(_run(seeded, case) is not None for case in cases)
    # Most mutations break a file; a corpus that is all accepted would test nothing.
    assert refused > len(cases) // 2


# -- named regressions from issue 13 -------------------------------------------------------------

_LOL = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)
_ALIAS_SPEC = (
    "name: aliased\nclauses:\n- code: A\n  rule: &r "
    + "word " * 400
    + "\n  subrules: ["
    + ", ".join(["*r"] * 180)
    + "]\n"
)
_LONG_TITLE = json.dumps({"name": "t", "title": "T" * 501, "clauses": [{"code": "A", "rule": "r"}]})

ACCEPTED = "<accepted>"  # the input is fine; only its speed was the problem
REFUSED = ""  # refused, whichever field it names

REGRESSIONS: list[tuple[str, str, str, bytes, str]] = [
    # (id, entry, filename, data, the field the refusal names, or REFUSED, or ACCEPTED)
    (
        "md-heading-60k-spaces",
        "spec",
        "s.md",
        ("## " + " " * 60_000 + "\nrule\n").encode(),
        "clauses[0].code",
    ),
    (
        "md-h1-60k-spaces",
        "spec",
        "s.md",
        ("#" + " " * 60_000 + "x\n## A\nrule\n").encode(),
        ACCEPTED,
    ),
    (
        "md-authority-60k-spaces",
        "spec",
        "s.md",
        ("## A\nAuthority:" + " " * 60_000 + "x\nrule\n").encode(),
        ACCEPTED,
    ),
    ("md-numbered-60k-spaces", "spec", "s.txt", ("1." + " " * 60_000 + "\n").encode(), "clauses"),
    ("yaml-alias-spec-1848x", "spec", "s.yaml", _ALIAS_SPEC.encode(), REFUSED),
    ("yaml-billion-laughs-spec", "spec", "s.yaml", (_LOL + "clauses: []\n").encode(), REFUSED),
    (
        "yaml-billion-laughs-study-overrides",
        "study",
        "study.yaml",
        (STUDY.decode() + _LOL.replace("a: &a", "x: &a")).encode(),
        REFUSED,
    ),
    ("yaml-recursive-alias", "spec", "s.yaml", b"clauses: &c [*c]\n", REFUSED),
    ("title-over-500", "spec", "s.json", _LONG_TITLE.encode(), "title"),
    (
        "clause-title-over-500",
        "spec",
        "s.md",
        ("## A. " + "t" * 501 + "\n\nrule\n").encode(),
        "clauses[0].title",
    ),
    (
        "authority-over-100",
        "spec",
        "s.md",
        ("## A\nAuthority: " + "a" * 101 + "\n\nrule\n").encode(),
        "clauses[0].authority",
    ),
    (
        "priority-20-digits-md",
        "spec",
        "s.md",
        b"## A\nPriority: 99999999999999999999\n\nrule\n",
        "clauses[0].priority",
    ),
    (
        "priority-20-digits-yaml",
        "spec",
        "s.yaml",
        b"clauses:\n- code: A\n  rule: r\n  priority: 99999999999999999999\n",
        "clauses[0].priority",
    ),
    (
        "number-5000-digits-json",
        "spec",
        "s.json",
        ('{"clauses": [{"code": "A", "rule": "r", "priority": ' + "9" * 5000 + "}]}").encode(),
        REFUSED,
    ),
    (
        "number-5000-digits-yaml",
        "spec",
        "s.yaml",
        ("clauses:\n- code: A\n  rule: r\n  priority: " + "9" * 5000 + "\n").encode(),
        REFUSED,
    ),
    (
        "number-5000-digits-study",
        "study",
        "study.yaml",
        (STUDY.decode().replace("seeds: [0, 1]", "seeds: [" + "9" * 5000 + "]")).encode(),
        REFUSED,
    ),
    (
        "json-lone-surrogate",
        "spec",
        "s.json",
        b'{"clauses": [{"code": "A", "rule": "\\ud800"}]}',
        REFUSED,
    ),
    (
        "json-nul-escape",
        "spec",
        "s.json",
        b'{"clauses": [{"code": "A", "rule": "a\\u0000b"}]}',
        "clauses[0].rule",
    ),
    (
        "demos-lone-surrogate",
        "demos",
        "d.jsonl",
        b'{"prompt": "\\udfff", "response": "r"}\n',
        REFUSED,
    ),
    (
        "demos-nul-escape",
        "demos",
        "d.jsonl",
        b'{"prompt": "p\\u0000", "response": "r"}\n',
        "prompt",
    ),
    (
        "demos-5000-digit-number",
        "demos",
        "d.jsonl",
        ('{"prompt": "p", "response": "r", "agentic": ' + "9" * 5000 + "}\n").encode(),
        REFUSED,
    ),
    (
        "demos-deep-json",
        "demos",
        "d.jsonl",
        ('{"prompt": "p", "response": "r", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n").encode(),
        REFUSED,
    ),
    (
        "demos-long-prompt",
        "demos",
        "d.jsonl",
        json.dumps({"prompt": "p" * 100_001, "response": "r"}).encode(),
        "prompt",
    ),
    ("study-yaml-integer-key", "study", "study.yaml", STUDY + b"1: x\n", REFUSED),
    (
        "study-nested-variants",
        "study",
        "study.yaml",
        STUDY.replace(b"[rules, values]", b"[[rules]]"),
        REFUSED,
    ),
    ("study-model-null", "study", "study.yaml", STUDY + b"model: null\n", REFUSED),
    (
        "study-seed-2-63",
        "study",
        "study.yaml",
        STUDY.replace(b"[0, 1]", b"[9223372036854775808]"),
        REFUSED,
    ),
    ("study-not-utf8", "study", "study.yaml", b"name: \xff\xfe\n", REFUSED),
    (
        "truncated-yaml-unclosed-list",
        "spec",
        "s.yaml",
        b"clauses: [{code: A, rule: r}, {code: B, ru",
        REFUSED,
    ),
    (
        "truncated-yaml-key-without-value",
        "spec",
        "s.yaml",
        b"clauses:\n- code: A\n  rule: r\n  rationale:",
        "clauses[0].rationale",
    ),
    (
        "truncated-yaml-clause-without-rule",
        "spec",
        "s.yaml",
        b"clauses:\n- code: A\n  rule: r\n- code: B\n",
        "clauses[1].rule",
    ),
    (
        "truncated-md-heading-without-body",
        "spec",
        "s.md",
        b"## A. One\n\nrule\n\n## B. Two\n",
        "clauses[1].rule",
    ),
    (
        "truncated-md-includes-without-items",
        "spec",
        "s.md",
        b"## A. One\n\nrule\n\nThis includes:\n",
        REFUSED,
    ),
    (
        "truncated-md-why-without-text",
        "spec",
        "s.md",
        b"## A. One\n\nrule\n\nWhy:",
        "clauses[0].rationale",
    ),
    ("truncated-json", "spec", "s.json", b'{"clauses": [{"code": "A", "rule": "r"}', REFUSED),
    ("truncated-front-matter", "spec", "s.md", b"---\nname: x\n", REFUSED),
    (
        "yaml-duplicate-key",
        "spec",
        "s.yaml",
        b"clauses:\n- code: A\n  rule: r\n  rule: s\n",
        "clauses[0]",
    ),
    (
        "yaml-deep-block",
        "spec",
        "s.yaml",
        "".join("  " * i + "- \n" for i in range(200)).encode(),
        REFUSED,
    ),
    ("yaml-binary-tag", "spec", "s.yaml", b"clauses:\n- code: A\n  rule: !!binary aGk=\n", REFUSED),
]


@pytest.mark.parametrize(
    ("entry", "filename", "data", "field"),
    [r[1:] for r in REGRESSIONS],
    ids=[r[0] for r in REGRESSIONS],
)
def test_issue_13_reproductions(
    service: Service, entry: str, filename: str, data: bytes, field: str
) -> None:
    # Guards each reproduction of issue 13 for user files: refused with a sentence naming the
    # file (and the field), within the bound, and nothing stored.
    refusal = _run(service, Case(filename, entry, filename, data))
    if field == ACCEPTED:
        assert refusal is None
        return
    assert isinstance(refusal, InputError), f"accepted: {filename}"
    assert refusal.source == filename
    if field:
        assert refusal.field == field


def test_markdown_without_name_is_named_after_its_file(service: Service) -> None:
    # Guards issue 8: an unnamed Markdown spec failing with "spec name '' must be…".
    version = service.import_spec(b"## A. One\n\nBe kind.\n", "My House Rules v2.md")
    assert version.spec_name == "my-house-rules-v2"


def test_unnameable_file_asks_for_name(service: Service) -> None:
    # Guards issue 8: when no name can be made, the error says how to give one.
    before = _row_counts(service)
    with pytest.raises(InputError) as info:
        service.import_spec(b"## A. One\n\nBe kind.\n", "!!!.md")
    assert "--name" in str(info.value) and info.value.field == "name"
    assert _row_counts(service) == before


@pytest.mark.parametrize("bad", ["a\n", "a\r", "A", "a b", "a\x00", "x" * 101, "é"])
def test_spec_names_refuse_control_characters_and_non_slugs(service: Service, bad: str) -> None:
    # Guards issue 13: the name 'a\n' was accepted (a '$' anchor matches before a newline).
    before = _row_counts(service)
    with pytest.raises(InputError) as info:
        service.import_spec(b"## A. One\n\nBe kind.\n", "ok.md", name=bad)
    assert "--name" in str(info.value)
    assert _row_counts(service) == before
