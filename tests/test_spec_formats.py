"""Import and export of specs: round trips, the built-in example, and hostile or broken files."""

from __future__ import annotations

import re
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest

from db.entities import Clause, SpecContent
from engine.errors import InputError
from engine.specs.formats import MAX_FILE_BYTES, ParsedSpec, export_spec, parse_spec
from engine.specs.render import render

FORMATS = ("md", "json", "yaml")
SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def example_bytes() -> bytes:
    return resources.files("engine.specs.builtin").joinpath("example.yaml").read_bytes()


def example() -> ParsedSpec:
    return parse_spec(example_bytes(), filename="example.yaml")


def parse_file(tmp_path: Path, name: str, data: bytes | str) -> ParsedSpec:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return parse_spec(path.read_bytes(), filename=path.name)


def raises_input(tmp_path: Path, name: str, data: bytes | str) -> InputError:
    with pytest.raises(InputError) as info:
        parse_file(tmp_path, name, data)
    assert info.value.source == name
    return info.value


LONG_LINE = "x" * 4000 + " " + "ب" * 1000

HOSTILE = SpecContent(
    title="<script>alert('title')</script> & [a link](https://example.com) #1",
    preamble=(
        "# Not the title\n"
        "## Not a clause\n"
        "Why: not a rationale\n"
        "\\ starts with a backslash\n"
        "---\n"
        "שלום עולם — مرحبا بالعالم\n\n"
        "Second paragraph with <b>markup</b> and [link](javascript:alert(1))."
    ),
    clauses=(
        Clause(
            code="SP1",
            title="Right-to-left: אל תשקר",
            rule=(
                "First paragraph of the rule.\n\nSecond paragraph.\nThis includes:\n- not a subrule"
            ),
            subrules=(
                "A subrule with <script>x</script>",
                "Two lines\n  the second indented\n\nand a second paragraph\n- with a dash",
                LONG_LINE,
            ),
            rationale=(
                "First paragraph of the rationale.\n\n"
                "Second paragraph, after a blank line.\n"
                "Examples:\n"
                "(Hard constraint: not really)\n"
                "Priority: not a number\n"
                "## SP9. Not a heading\n"
                "- a dash line\n"
                "    indented code\n\n\n"
                "Third paragraph after two blank lines: מסקנה."
            ),
            examples=("Example with [link](https://x.y) and `code`", "مثال"),
            authority="platform",
            priority=-7,
            hard_constraint=True,
        ),
        Clause(code="A.1.", title="", rule="Why: this rule starts like a rationale."),
        Clause(
            code="GP2",
            title="Emoji 🚀 and \u2028 line separator",
            rule="Rule: starts like a label\n- and holds a dash line",
            rationale="Rationale: also starts like a label.",
            authority="developer",
            priority=3,
        ),
        Clause(code="X", title="Long", rule=LONG_LINE, subrules=("1. looks numbered",)),
    ),
)


@pytest.mark.parametrize("fmt", FORMATS)
def test_example_round_trips_every_field(tmp_path: Path, fmt: str) -> None:
    # Guards: an export that drops or alters any field of the showcase spec.
    parsed = example()
    text = export_spec("example", parsed.description, parsed.content, fmt)
    again = parse_file(tmp_path, f"example.{fmt}", text)
    assert again == parsed
    assert again.content.content_hash() == parsed.content.content_hash()


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_spec_round_trips_every_field(tmp_path: Path, fmt: str) -> None:
    # Guards: markup, RTL text, marker-like lines and multi-paragraph text corrupting a round trip.
    description = "A <i>hostile</i> spec\nwith two lines — עברית"
    text = export_spec("hostile-spec", description, HOSTILE, fmt)
    again = parse_file(tmp_path, f"hostile.{fmt}", text)
    assert again.name == "hostile-spec"
    assert again.description == description
    for got, want in zip(again.content.clauses, HOSTILE.clauses, strict=True):
        assert got == want
    assert again.content == HOSTILE


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_without_title_or_name(tmp_path: Path, fmt: str) -> None:
    # Guards: a preamble line '# ...' being read back as the title when the spec has none.
    content = replace(HOSTILE, title="")
    again = parse_file(tmp_path, f"untitled.{fmt}", export_spec("", "", content, fmt))
    assert again.content == content
    assert again.name is None
    assert again.description == ""


def test_markdown_export_escapes_only_ambiguous_lines() -> None:
    # Guards: escaping every line, which would make exported Markdown unreadable.
    text = export_spec("hostile-spec", "", HOSTILE, "md")
    assert "\\## Not a clause" in text
    assert "\\Examples:" in text
    assert "Rule: First paragraph of the rule." in text
    assert "Second paragraph with <b>markup</b>" in text
    assert "(Hard constraint: this holds regardless of instructions.)" in text
    assert "Priority: -7" in text


def test_markdown_export_refuses_multiline_titles() -> None:
    # Guards: a clause title with a newline silently splitting a Markdown heading.
    content = SpecContent("", "", (Clause(code="A", title="two\nlines", rule="r"),))
    with pytest.raises(InputError) as info:
        export_spec("x", "", content, "md")
    assert info.value.field == "clauses[0].title"
    assert export_spec("x", "", content, "json")


def test_unknown_export_format() -> None:
    # Guards: a typo in the export format producing an empty download.
    with pytest.raises(InputError, match="unknown export format"):
        export_spec("x", "", example().content, "docx")


@pytest.mark.parametrize("name", ["values", "rules", "specific", "general"])
def test_renderings_read_back(tmp_path: Path, name: str) -> None:
    # Guards: the grammar drifting away from what the variant renderings produce.
    content = example().content
    again = parse_file(tmp_path, f"{name}.md", render(content, name)).content
    assert again.title == content.title
    assert again.preamble == content.preamble
    for got, want in zip(again.clauses, content.clauses, strict=True):
        assert (got.code, got.title, got.rule, got.hard_constraint) == (
            want.code,
            want.title,
            want.rule,
            want.hard_constraint,
        )
        assert got.subrules in ((), want.subrules)
        assert got.rationale in ("", want.rationale)
        assert got.examples in ((), want.examples)
    values = parse_file(tmp_path, "v.md", render(content, "values")).content
    assert [c.rationale for c in values.clauses] == [c.rationale for c in content.clauses]
    assert [c.subrules for c in values.clauses] == [c.subrules for c in content.clauses]


def test_example_spec_is_substantial() -> None:
    # Guards: the showcase spec shrinking into bare rules with no value explanations.
    parsed = example()
    assert parsed.name == "example"
    clauses = parsed.content.clauses
    assert len(clauses) >= 9
    assert {c.code for c in clauses} >= {"SP1", "SP2", "SP3", "SP4", "SP5", "GP1", "GP2", "GP3"}
    assert parsed.content.preamble
    for c in clauses:
        assert c.rule, c.code
        assert len(c.subrules) >= 3, c.code
        assert len(SENTENCE_END.findall(c.rationale)) >= 4, c.code
        assert len(c.examples) >= 2, c.code
        assert c.authority == "platform", c.code
        assert c.priority > 0, c.code
    assert sum(c.hard_constraint for c in clauses) >= 3


def test_bad_yaml_reports_line(tmp_path: Path) -> None:
    # Guards: YAML syntax errors surfacing without a line number.
    text = "title: T\nclauses:\n  - code: SP1\n    rule: [unclosed, list\n  - code: SP2\n"
    err = raises_input(tmp_path, "bad.yaml", text)
    assert "not valid YAML" in str(err)
    assert err.line is not None and 4 <= err.line <= 5


def test_bad_json_reports_line(tmp_path: Path) -> None:
    # Guards: JSON syntax errors surfacing without a line number.
    text = '{\n  "title": "T",\n  "clauses": [\n    {"code": "SP1" "rule": "r"}\n  ]\n}\n'
    err = raises_input(tmp_path, "bad.json", text)
    assert "not valid JSON" in str(err)
    assert err.line == 4


def test_yaml_clause_missing_rule(tmp_path: Path) -> None:
    # Guards: a clause without a rule being accepted, or reported without its place.
    text = "clauses:\n  - code: SP1\n    rule: r\n  - code: SP2\n    title: No rule\n"
    err = raises_input(tmp_path, "spec.yaml", text)
    assert err.field == "clauses[1].rule"
    assert err.line == 4


def test_json_clause_missing_rule_has_line(tmp_path: Path) -> None:
    # Guards: JSON field errors losing the line of the clause at fault.
    text = '{\n  "clauses": [\n    {"code": "A", "rule": "r"},\n    {"code": "B"}\n  ]\n}\n'
    err = raises_input(tmp_path, "spec.json", text)
    assert err.field == "clauses[1].rule"
    assert err.line == 4


def test_markdown_clause_missing_rule(tmp_path: Path) -> None:
    # Guards: a heading with no rule text being imported as an empty clause.
    text = "# T\n\n## SP1. Fine\n\nA rule.\n\n## SP2. Empty\n\nThis includes:\n- a sub\n"
    err = raises_input(tmp_path, "spec.md", text)
    assert err.field == "clauses[1].rule"
    assert err.line == 7


def test_duplicate_code_markdown(tmp_path: Path) -> None:
    # Guards: two clauses sharing a code, reported at the second one.
    text = "## SP1. A\n\nRule a.\n\n## SP2. B\n\nRule b.\n\n## SP1. C\n\nRule c.\n"
    err = raises_input(tmp_path, "spec.md", text)
    assert err.field == "clauses[2].code"
    assert err.line == 9
    assert "duplicate" in str(err)


def test_duplicate_code_yaml(tmp_path: Path) -> None:
    # Guards: duplicate codes in YAML reported without the line of the duplicate.
    text = "clauses:\n- code: A\n  rule: r\n- code: A\n  rule: s\n"
    err = raises_input(tmp_path, "spec.yml", text)
    assert err.field == "clauses[1].code"
    assert err.line == 4


def test_unknown_fields(tmp_path: Path) -> None:
    # Guards: misspelt keys being silently dropped instead of reported with their line.
    err = raises_input(tmp_path, "a.yaml", "clauses:\n- code: A\n  rule: r\n  rulez: s\n")
    assert err.field == "clauses[0].rulez"
    assert err.line == 4
    err = raises_input(tmp_path, "b.json", '{"clauses": [{"code": "A", "rule": "r"}],\n "x": 1}')
    assert err.field == "x"
    assert err.line == 2
    err = raises_input(tmp_path, "c.md", "---\nname: a\nauthor: me\n---\n## A\n\nr\n")
    assert err.field == "author"


def test_non_text_keys_are_input_errors(tmp_path: Path) -> None:
    # Guards: YAML integer keys crashing validation with a TypeError.
    err = raises_input(tmp_path, "k.yaml", "clauses:\n- code: A\n  rule: r\n  1: x\n")
    assert err.field == "clauses[0]"


def test_bad_priority_in_markdown(tmp_path: Path) -> None:
    # Guards: a non-numeric priority line being ignored.
    err = raises_input(tmp_path, "p.md", "## A. T\n\nPriority: high\n\nRule.\n")
    assert err.field == "clauses[0].priority"
    assert err.line == 3


@pytest.mark.parametrize("data", [b"", b"  \n\n\t"])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    # Guards: an empty upload reaching the parsers and failing with a confusing message.
    err = raises_input(tmp_path, "empty.yaml", data)
    assert "file is empty" in str(err)


def test_binary_file_with_nul(tmp_path: Path) -> None:
    # Guards: binary uploads being parsed as text.
    err = raises_input(tmp_path, "spec.md", b"## A\n\nrule\n\x00\x01\x02binary")
    assert "not UTF-8 text" in str(err)
    assert "byte offset 11" in str(err)
    assert err.line == 4


def test_invalid_utf8(tmp_path: Path) -> None:
    # Guards: Latin-1 files failing with a raw UnicodeDecodeError.
    err = raises_input(tmp_path, "spec.json", b'{\n"title": "caf\xe9"}')
    assert "not UTF-8 text" in str(err)
    assert "byte offset 15" in str(err)
    assert err.line == 2


def test_huge_file_refused_before_parsing() -> None:
    # Guards: a 50 MB upload being decoded or parsed before its size is checked.
    data = b"\x00" * 50_000_000  # a NUL-byte error here would mean the bytes were scanned first
    with pytest.raises(InputError) as info:
        parse_spec(data, filename="big.yaml")
    message = str(info.value)
    assert "limit is 5 MB" in message
    assert "50,000,000 bytes" in message
    assert "UTF-8" not in message
    assert MAX_FILE_BYTES == 5_000_000


def test_unknown_extension(tmp_path: Path) -> None:
    # Guards: files of unknown type being guessed at instead of refused with their name.
    err = raises_input(tmp_path, "spec.docx", b"## A\n\nrule\n")
    assert "spec.docx" in str(err)
    assert ".yaml" in str(err)


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    # Guards: files saved by Windows editors failing to import.
    text = "\ufeff# T\r\n\r\n## A. One\r\n\r\nRule one.\r\n".encode()
    parsed = parse_file(tmp_path, "win.md", text)
    assert parsed.content.title == "T"
    assert parsed.content.clauses[0].rule == "Rule one."


PLAIN_TEXT_SPEC = """\
House rules for the office assistant

These rules apply to every task.
They were written by the operations team.

1. Never share customer data outside the company.
This includes:
- Do not email customer lists to personal addresses.
- Do not paste customer records
  into external tools.

Customer data is entrusted to us. A leak harms people who never agreed to the risk.

2) Confirm before spending money
Ask a manager before any purchase over 100 euros.

Purchases are hard to undo.

It also keeps budgets predictable.

3. Keep a log
   of every action.

Record each action you take in the shared log.
Examples:
* Writing "moved invoices to archive" after a cleanup.
"""


def test_plain_text_spec_with_numbered_rules(tmp_path: Path) -> None:
    # Guards: hand-written plain-text specs (numbered rules, bullets, prose) importing wrongly.
    parsed = parse_file(tmp_path, "house.txt", PLAIN_TEXT_SPEC)
    content = parsed.content
    assert parsed.name is None
    assert content.title == ""
    assert content.preamble == (
        "House rules for the office assistant\n\n"
        "These rules apply to every task.\nThey were written by the operations team."
    )
    assert content.clauses == (
        Clause(
            code="R1",
            title="",
            rule="Never share customer data outside the company.",
            subrules=(
                "Do not email customer lists to personal addresses.",
                "Do not paste customer records\ninto external tools.",
            ),
            rationale=(
                "Customer data is entrusted to us. "
                "A leak harms people who never agreed to the risk."
            ),
        ),
        Clause(
            code="R2",
            title="Confirm before spending money",
            rule="Ask a manager before any purchase over 100 euros.",
            rationale="Purchases are hard to undo.\n\nIt also keeps budgets predictable.",
        ),
        Clause(
            code="R3",
            title="Keep a log of every action.",
            rule="Record each action you take in the shared log.",
            examples=('Writing "moved invoices to archive" after a cleanup.',),
        ),
    )


def test_markdown_heading_forms_and_labels(tmp_path: Path) -> None:
    # Guards: the documented heading and label variants not being recognised.
    text = """\
# Title

Intro.

## SP1: Colon form

(Hard constraint)
Authority: operator
Priority: 5

The rule.

This includes the following:
  - first
  - second

Rationale: because.

## A.1 Space form

Another rule.
More of the same rule.

An explanation paragraph.

Why: and a labelled one.

## 7. Numbered heading

Seventh rule.
"""
    content = parse_file(tmp_path, "forms.markdown", text).content
    sp1, a1, r7 = content.clauses
    assert (sp1.code, sp1.title, sp1.hard_constraint, sp1.authority, sp1.priority) == (
        "SP1",
        "Colon form",
        True,
        "operator",
        5,
    )
    assert sp1.subrules == ("first", "second")
    assert sp1.rationale == "because."
    assert (a1.code, a1.title, a1.rule) == (
        "A.1",
        "Space form",
        "Another rule.\nMore of the same rule.",
    )
    assert a1.rationale == "An explanation paragraph.\n\nand a labelled one."
    assert (r7.code, r7.title, r7.rule) == ("R7", "Numbered heading", "Seventh rule.")


def test_markdown_without_clauses(tmp_path: Path) -> None:
    # Guards: a prose file with no clause structure importing as an empty spec.
    err = raises_input(tmp_path, "prose.md", "# Just a title\n\nSome prose.\n")
    assert err.field == "clauses"
    assert "## CODE. Title" in str(err)


# -- bounds and truncation (issue 13) and names from file names (issue 8) ----------------------


def json_list(n: int) -> str:
    return "[" + ", ".join(['"x"'] * n) + "]"


def test_limits_fit_the_database_columns() -> None:
    # Guards: a limit above a PostgreSQL column width, which SQLite would silently store.
    from db import models
    from engine.specs.model import DEFAULT_LIMITS, SpecLimits

    columns = models.Clause.__table__.c
    assert DEFAULT_LIMITS.max_title <= columns.title.type.length
    assert DEFAULT_LIMITS.max_title <= models.SpecVersion.__table__.c.title.type.length
    assert DEFAULT_LIMITS.max_authority <= columns.authority.type.length
    assert columns.code.type.length == 50
    with pytest.raises(InputError):
        SpecLimits(max_title=501)


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("My House Rules v2.md", "my-house-rules-v2"),
        ("dir/Spec_ONE.yaml", "spec_one"),
        ("Règles été.txt", "regles-ete"),
        ("--x--.md", "x"),
        ("!!!.md", None),
        ("規則.md", None),
    ],
)
def test_name_from_filename(filename: str, name: str | None) -> None:
    # Guards issue 8: unnamed Markdown specs get a slug of their file name, or none.
    from engine.specs.model import name_from_filename

    assert name_from_filename(filename) == name


def test_parsed_spec_name_prefers_explicit_then_file_then_file_name(tmp_path: Path) -> None:
    # Guards the order in which an import picks the stored name.
    parsed = parse_file(tmp_path, "Some Rules.md", "## A. One\n\nBe kind.\n")
    assert parsed.name is None and parsed.spec_name() == "some-rules"
    assert parsed.spec_name("chosen") == "chosen"
    with pytest.raises(InputError, match="--name"):
        parsed.spec_name("a\n")
    named = parse_file(tmp_path, "x.md", "---\nname: inner\n---\n## A. One\n\nBe kind.\n")
    assert named.spec_name() == "inner"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("## A. One\n\nrule\n\nThis includes:\n", 5, "no '- ' items"),
        ("## A. One\n\nrule\n\nExamples:\n\n## B\n\nrule b\n", 5, "no '- ' items"),
        ("## A. One\n\nrule\n\nWhy:\n\n## B\n\nrule b\n", 5, "'Why:' has no text"),
        ("## A. One\n\nrule\n\n## B. Two\n", 5, "required"),
    ],
)
def test_markdown_that_ends_early_is_refused(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    # Guards issue 13: truncated Markdown (an empty section, a heading with no body) being
    # stored as a shorter spec.
    err = raises_input(tmp_path, "cut.md", text)
    assert err.line == line and words in err.detail


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("clauses:\n- code: A\n  rule: r\n  rationale:\n", "clauses[0].rationale"),
        ("title:\nclauses:\n- code: A\n  rule: r\n", "title"),
    ],
)
def test_yaml_key_without_value_is_refused(tmp_path: Path, text: str, field: str) -> None:
    # Guards issue 13: a YAML file cut after a key reading as an empty field.
    err = raises_input(tmp_path, "cut.yaml", text)
    assert err.field == field and "cut short" in err.detail


@pytest.mark.parametrize(
    ("name", "text", "field"),
    [
        (
            "t.json",
            '{"title": "' + "T" * 501 + '", "clauses": [{"code": "A", "rule": "r"}]}',
            "title",
        ),
        ("a.md", "## A\nAuthority: " + "a" * 101 + "\n\nrule\n", "clauses[0].authority"),
        ("p.md", "## A\nPriority: 99999999999999999999\n\nrule\n", "clauses[0].priority"),
        ("p.yaml", "clauses:\n- {code: A, rule: r, priority: 1000001}\n", "clauses[0].priority"),
        (
            "s.json",
            '{"clauses": [{"code": "A", "rule": "r", "subrules": ' + json_list(201) + "}]}",
            "clauses[0].subrules",
        ),
        ("n.json", '{"clauses": [{"code": "A", "rule": "a\\u0000b"}]}', "clauses[0].rule"),
        ("c.yaml", "clauses:\n" + "- {code: A, rule: r}\n" * 501, "clauses"),
    ],
)
def test_field_limits_name_the_field(tmp_path: Path, name: str, text: str, field: str) -> None:
    # Guards issue 13: values the PostgreSQL columns (or Python's int) cannot hold passing
    # validation and failing later with a raw database error.
    err = raises_input(tmp_path, name, text)
    assert err.field == field


def test_lone_surrogate_in_json_is_refused(tmp_path: Path) -> None:
    # Guards issue 13: "\ud800" decoding to text that no database can store.
    err = raises_input(tmp_path, "s.json", '{"clauses": [{"code": "A", "rule": "\\ud800"}]}')
    assert "surrogate" in err.detail and err.field == "clauses[0].rule"


def test_markdown_lines_of_blanks_read_as_before(tmp_path: Path) -> None:
    # Guards the regex-free reader on the inputs that made the old patterns backtrack
    # (issue 13: '##' and 60,000 spaces took 21.8 s): same meaning, any length.
    blanks = " " * 60_000
    parsed = parse_file(
        tmp_path,
        "b.md",
        f"#{blanks}Title{blanks}\n\n## A.{blanks}One{blanks}\n"
        f"Authority:{blanks}op{blanks}\n\nrule{blanks}\n",
    )
    assert parsed.content.title == "Title"
    (a,) = parsed.content.clauses
    assert (a.code, a.title, a.authority, a.rule) == ("A", "One", "op", "rule")
    err = raises_input(tmp_path, "h.md", f"##{blanks}\nrule\n")
    assert err.field == "clauses[0].code"
    assert len(str(err)) < 300
