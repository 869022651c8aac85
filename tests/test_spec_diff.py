"""Clause-level and word-level spec diffs (engine/specs/diff.py)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from db.entities import Clause, SpecContent
from engine.errors import InputError
from engine.specs import diff as specdiff
from engine.specs.diff import WordOp, diff_rendered, diff_specs, diff_texts
from engine.specs.render import render


def clause(code: str, rule: str = "", **kw: Any) -> Clause:
    return Clause(code=code, title=f"Title {code}", rule=rule or f"Rule {code}.", **kw)


def spec(*clauses: Clause, title: str = "Spec", preamble: str = "Preamble.") -> SpecContent:
    return SpecContent(title=title, preamble=preamble, clauses=tuple(clauses))


def rebuilt(ops: tuple[WordOp, ...]) -> tuple[str, str]:
    old = "".join(o.text for o in ops if o.op != "insert")
    new = "".join(o.text for o in ops if o.op != "delete")
    return old, new


def changed_words(ops: tuple[WordOp, ...]) -> tuple[list[str], list[str]]:
    deleted = [o.text for o in ops if o.op == "delete"]
    inserted = [o.text for o in ops if o.op == "insert"]
    return deleted, inserted


def test_added_removed_changed_unchanged_are_detected() -> None:
    # Guards the basic classification: every code lands in exactly one status, counted right.
    old = spec(clause("A"), clause("B"), clause("C"), clause("D"))
    new = spec(clause("A"), clause("C", "Rule C, revised."), clause("D"), clause("E"))
    d = diff_specs(old, new)
    assert d.added == ["E"]
    assert d.removed == ["B"]
    assert d.changed == ["C"]
    assert d.unchanged == ["A", "D"]
    assert d.summary() == "1 added, 1 removed, 1 changed, 2 unchanged"
    by_code = {c.code: c for c in d.clauses}
    assert by_code["E"].old is None and by_code["E"].new == new.clauses[3]
    assert by_code["B"].new is None and by_code["B"].old == old.clauses[1]
    assert not d.identical


def test_output_follows_new_order_with_removed_clauses_where_they_were() -> None:
    # Guards the reading order: new spec's order, each removed clause after its old predecessor.
    old = spec(clause("X"), clause("A"), clause("B"), clause("C"), clause("Y"))
    new = spec(clause("N"), clause("A"), clause("C"))
    d = diff_specs(old, new)
    assert [c.code for c in d.clauses] == ["X", "N", "A", "B", "C", "Y"]
    assert [c.status for c in d.clauses] == [
        "removed",
        "added",
        "unchanged",
        "removed",
        "unchanged",
        "removed",
    ]


def test_word_change_inside_rule_gives_exactly_the_changed_words() -> None:
    # Guards word granularity: a one-word edit must not be reported as a whole-rule rewrite.
    old = spec(clause("A", "The assistant must refuse clearly harmful requests."))
    new = spec(clause("A", "The assistant should decline clearly harmful requests."))
    (c,) = diff_specs(old, new).clauses
    assert c.status == "changed"
    (change,) = c.changes
    assert change.field == "rule"
    assert change.old == "The assistant must refuse clearly harmful requests."
    assert change.new == "The assistant should decline clearly harmful requests."
    assert changed_words(change.ops) == (["must refuse"], ["should decline"])
    assert change.ops[0] == WordOp("equal", "The assistant ")
    assert change.ops[-1] == WordOp("equal", " clearly harmful requests.")


def test_scattered_word_changes_are_separate_runs() -> None:
    # Guards that unchanged words between two edits stay "equal" instead of being swallowed.
    ops = diff_texts("one two three four five", "one 2 three four 5")
    assert changed_words(ops) == (["two", "five"], ["2", "5"])
    assert [o.op for o in ops] == ["equal", "delete", "insert", "equal", "delete", "insert"]


RECONSTRUCTION_CASES = [
    ("", ""),
    ("", "only new\n"),
    ("only old\n", ""),
    ("same text", "same text"),
    ("a  b   c", "a b    c"),
    ("line one\n\n\nline two\n", "line one\nline two\n\n"),
    ("\ttabbed\r\nwindows line\r\n", "\ttabbed\nwindows  line\r\n"),
    ("naïve café — déjà vu", "naïve cafe — deja vu!"),
    ("e\u0301clair combining", "éclair combining"),
    ("emoji 👩‍🔬 test 🎉", "emoji 🎉 test 👩‍🔬"),
    ("中文没有空格的句子。第二句。", "中文没有空格的句子。第三句！"),
    ("המודל חייב לסרב לבקשות מזיקות.", "המודל צריך לסרב  לבקשות\nמזיקות בבירור."),
    ("يجب على النموذج أن يرفض", "يجب على النموذج ألا يرفض أبدا"),
    ("mixed עברית and English", "mixed English and עברית"),
    ("   leading and trailing   ", "leading and trailing"),
    ("don't over-refuse", "do not over-refuse, ever"),
]


@pytest.mark.parametrize(("old", "new"), RECONSTRUCTION_CASES)
def test_ops_rebuild_old_and_new_exactly(old: str, new: str) -> None:
    # Guards losslessness: dropped or duplicated whitespace/characters would corrupt the view.
    ops = diff_texts(old, new)
    assert rebuilt(ops) == (old, new)
    assert all(o.text for o in ops)
    # Adjacent runs of one kind are merged, so a page never shows a run split in two.
    assert all(a.op != b.op for a, b in zip(ops, ops[1:], strict=False))


def test_long_texts_rebuild_exactly_after_many_edits() -> None:
    # Guards the line/sentence/word narrowing on variant-sized texts: no text lost between levels.
    rng = random.Random(7)
    vocab = ["the", "model", "must", "not", "should", "user", "refuse", "harmful", "help", "of"]
    lines = []
    for i in range(120):
        text = " ".join(rng.choice(vocab) for _ in range(30))
        lines += [f"## C{i}. Title", "", f"{text}. {text}!", "", f"- {text}"]
    old = "\n".join(lines)
    words = old.split(" ")
    for _ in range(200):
        i = rng.randrange(len(words))
        words[i : i + 1] = rng.choice([[], ["NEW", words[i]], ["CHANGED"]])
    new = " ".join(words)
    ops = diff_rendered(old, new)
    assert rebuilt(ops) == (old, new)
    assert sum(len(o.text) for o in ops if o.op == "equal") > 0.8 * len(new)


def test_rewrite_over_the_match_budget_is_still_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards the bounded matcher: running out of budget must coarsen the diff, never corrupt it.
    monkeypatch.setattr(specdiff, "_MATCH_BUDGET", 50)
    old = " ".join(f"w{i % 17} common" for i in range(300))
    new = " ".join(f"w{i % 13} common" for i in range(280))
    ops = diff_texts(old, new)
    assert rebuilt(ops) == (old, new)
    assert {o.op for o in ops} >= {"delete", "insert"}


def test_rendered_variants_diff_shows_only_the_added_rationales() -> None:
    # Guards diff_rendered on real renderings: "values" only adds the rationales to "rules".
    content = spec(
        clause("A", "Refuse weapons uplift.", rationale="Mass harm outweighs helpfulness."),
        clause("B", "Be honest.", rationale="Trust depends on it."),
    )
    old, new = render(content, "rules"), render(content, "values")
    ops = diff_rendered(old, new)
    assert rebuilt(ops) == (old, new)
    deleted, inserted = changed_words(ops)
    assert deleted == []
    assert len(inserted) == 2
    assert "Mass harm outweighs helpfulness." in inserted[0]
    assert "Trust depends on it." in inserted[1]
    assert not any("Refuse weapons uplift." in text for text in inserted)


def test_subrule_list_change_is_a_subrules_field_change() -> None:
    # Guards list fields: items joined with newlines and diffed, not reported as a rule change.
    old = spec(clause("A", subrules=("no synthesis routes", "no acquisition advice")))
    new = spec(
        clause("A", subrules=("no synthesis routes", "no acquisition advice", "no evasion tips"))
    )
    (c,) = diff_specs(old, new).clauses
    assert c.status == "changed"
    assert [ch.field for ch in c.changes] == ["subrules"]
    change = c.change("subrules")
    assert change is not None
    assert change.old == "no synthesis routes\nno acquisition advice"
    assert change.new == "no synthesis routes\nno acquisition advice\nno evasion tips"
    assert changed_words(change.ops) == ([], ["\nno evasion tips"])
    assert c.change("rule") is None


def test_priority_and_hard_constraint_changes_are_reported() -> None:
    # Guards non-text fields: a flipped hard constraint or new priority must not read as unchanged.
    old = spec(clause("A", priority=1, hard_constraint=False, authority="platform"))
    new = spec(clause("A", priority=5, hard_constraint=True, authority="platform"))
    (c,) = diff_specs(old, new).clauses
    assert c.status == "changed"
    assert [(ch.field, ch.old, ch.new) for ch in c.changes] == [
        ("priority", "1", "5"),
        ("hard_constraint", "False", "True"),
    ]
    hard = c.change("hard_constraint")
    assert hard is not None
    assert changed_words(hard.ops) == (["False"], ["True"])


def test_identical_specs_are_all_unchanged() -> None:
    # Guards the no-op case: comparing a version with itself must report nothing at all.
    content = spec(clause("A"), clause("B", subrules=("x",)), clause("C", priority=3))
    d = diff_specs(content, content)
    assert d.identical
    assert d.title is None and d.preamble is None
    assert all(c.status == "unchanged" and not c.changes and not c.moved for c in d.clauses)
    assert d.summary() == "0 added, 0 removed, 0 changed, 3 unchanged"


def test_title_and_preamble_changes_are_reported() -> None:
    # Guards spec-level fields: an edited preamble alone must not make the diff look empty.
    d = diff_specs(
        spec(clause("A"), title="Old", preamble="Be kind."),
        spec(clause("A"), title="New", preamble="Be very kind."),
    )
    assert d.title is not None and changed_words(d.title.ops) == (["Old"], ["New"])
    assert d.preamble is not None and changed_words(d.preamble.ops) == ([], ["very "])
    assert not d.identical
    assert d.summary().endswith("title changed, preamble changed")


def test_moved_clause_is_flagged_and_only_it() -> None:
    # Guards move detection: one clause moving must not flag every clause whose index shifted.
    old = spec(clause("A"), clause("B"), clause("C"), clause("D"), clause("E"))
    new = spec(clause("N"), clause("B"), clause("C"), clause("D"), clause("A"), clause("E"))
    d = diff_specs(old, new)
    assert d.moved == ["A"]
    by_code = {c.code: c for c in d.clauses}
    assert by_code["A"].status == "unchanged" and by_code["A"].moved
    assert not by_code["B"].moved and not by_code["N"].moved
    assert not d.identical
    assert d.summary() == "1 added, 0 removed, 0 changed, 5 unchanged, 1 moved"


def test_insertion_alone_flags_nothing_as_moved() -> None:
    # Guards against index-based move detection: shifting positions is not moving.
    old = spec(clause("A"), clause("B"), clause("C"))
    new = spec(clause("Z"), clause("A"), clause("B"), clause("C"))
    assert diff_specs(old, new).moved == []


def test_duplicate_codes_raise_input_error_naming_the_clause() -> None:
    # Guards matching by code: a duplicate would silently hide one clause from the diff.
    bad = spec(clause("A"), clause("A"))
    with pytest.raises(InputError) as info:
        diff_specs(spec(clause("A")), bad)
    assert info.value.field == "clauses[1].code"
    assert "'A'" in str(info.value)
