"""Clause-level and word-level differences between two spec versions or variants.

:func:`diff_specs` matches clauses by code and reports, field by field, what changed between
two :class:`SpecContent` values. :func:`diff_texts` is the word-level diff underneath it; it
also compares two rendered or hand-edited variant texts (:func:`diff_rendered`), which have no
clause structure. Every op sequence is lossless: the ``equal`` and ``delete`` texts joined give
the old text back exactly, and the ``equal`` and ``insert`` texts give the new one.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from difflib import SequenceMatcher
from typing import Literal

from db.entities import Clause, SpecContent
from engine.errors import InputError

__all__ = [
    "ClauseDiff",
    "ClauseStatus",
    "FieldChange",
    "SpecDiff",
    "WordOp",
    "WordOpKind",
    "diff_rendered",
    "diff_specs",
    "diff_texts",
]

WordOpKind = Literal["equal", "insert", "delete"]
ClauseStatus = Literal["added", "removed", "changed", "unchanged"]

# A token is a whitespace run, a word (contractions and hyphenated words kept whole) or one
# other character. Together the alternatives cover every character, so tokens join back into
# the input exactly.
_TOKEN_RE = re.compile(r"\s+|\w+(?:['’-]\w+)*|[^\w\s]")
# A sentence runs up to its end punctuation and the whitespace after it; the last one may
# lack both. Like tokens, sentences cover the text exactly.
_SENTENCE_RE = re.compile(r"[^.!?]*[.!?]+\s*|[^.!?]+\Z")
# Work allowed to align one stretch, in the units :func:`_opcodes` counts (1-10 ns each in
# CPython, depending on how repetitive the text is): a 5,000-word rewrite stays under a second.
_MATCH_BUDGET = 50_000_000

# Clause fields in the order a reader meets them in a rendering; ``code`` is the match key.
_COMPARED_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Clause) if f.name != "code")
_LIST_FIELDS = frozenset({"subrules", "examples"})


@dataclass(frozen=True)
class WordOp:
    """One run of a word-level diff.

    Attributes:
        op: ``equal`` (in both texts), ``insert`` (only in the new) or ``delete`` (only in
            the old).
        text: the run itself, whitespace and newlines included.
    """

    op: WordOpKind
    text: str


@dataclass(frozen=True)
class FieldChange:
    """A field whose value differs between the old and the new clause (or spec).

    Attributes:
        field: the field name (``rule``, ``subrules``, ``priority``, ``preamble``…).
        old: the old value as text; list fields are joined with newlines, other non-text
            fields go through ``str()``.
        new: the new value, as text in the same way.
        ops: the word-level diff from ``old`` to ``new``.
    """

    field: str
    old: str
    new: str
    ops: tuple[WordOp, ...]


@dataclass(frozen=True)
class ClauseDiff:
    """How one clause code fares between the old and the new spec.

    Attributes:
        code: the clause code both versions share (or the one that has it).
        status: ``added`` (only in new), ``removed`` (only in old), ``changed`` (some field
            differs) or ``unchanged``.
        old: the clause in the old spec, ``None`` when added.
        new: the clause in the new spec, ``None`` when removed.
        changes: one entry per differing field, in clause field order; empty unless changed.
        moved: the clause is in both specs but its position relative to the other shared
            clauses differs. Independent of ``status``: a clause can be unchanged and moved.
    """

    code: str
    status: ClauseStatus
    old: Clause | None
    new: Clause | None
    changes: tuple[FieldChange, ...] = ()
    moved: bool = False

    def change(self, field: str) -> FieldChange | None:
        """The change to ``field``, or ``None`` when that field is the same in both."""
        return next((c for c in self.changes if c.field == field), None)


@dataclass(frozen=True)
class SpecDiff:
    """The difference between two spec contents.

    Attributes:
        preamble: the preamble's change, ``None`` when the preamble is the same.
        title: the title's change, ``None`` when the title is the same.
        clauses: one entry per clause code in either spec, in the new spec's order, with each
            removed clause placed after the clause that preceded it in the old spec.
    """

    preamble: FieldChange | None
    title: FieldChange | None
    clauses: tuple[ClauseDiff, ...]

    def _codes(self, status: ClauseStatus) -> list[str]:
        return [c.code for c in self.clauses if c.status == status]

    @property
    def added(self) -> list[str]:
        return self._codes("added")

    @property
    def removed(self) -> list[str]:
        return self._codes("removed")

    @property
    def changed(self) -> list[str]:
        return self._codes("changed")

    @property
    def unchanged(self) -> list[str]:
        return self._codes("unchanged")

    @property
    def moved(self) -> list[str]:
        return [c.code for c in self.clauses if c.moved]

    @property
    def identical(self) -> bool:
        """True when nothing at all differs, clause order included."""
        return (
            self.preamble is None
            and self.title is None
            and not self.moved
            and all(c.status == "unchanged" for c in self.clauses)
        )

    def summary(self) -> str:
        """One line for a page header, e.g. ``2 added, 1 removed, 3 changed, 4 unchanged``."""
        parts = [
            f"{len(self.added)} added",
            f"{len(self.removed)} removed",
            f"{len(self.changed)} changed",
            f"{len(self.unchanged)} unchanged",
        ]
        if self.moved:
            parts.append(f"{len(self.moved)} moved")
        if self.title is not None:
            parts.append("title changed")
        if self.preamble is not None:
            parts.append("preamble changed")
        return ", ".join(parts)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _sentences(text: str) -> list[str]:
    return _SENTENCE_RE.findall(text)


def _words(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def _is_blank(segment: str) -> bool:
    # Blank lines and whitespace runs occur everywhere; as anchors they would pair unrelated
    # stretches and make the matcher quadratic. As junk they still extend real matches.
    return segment.isspace()


# Coarse to fine, the way ``git diff --word-diff`` narrows down: lines are nearly unique, so
# matching them is cheap; only the stretches that differ are split further. Word-level
# matching over a whole 5,000-word text would be quadratic in the commonest words.
_LEVELS: tuple[Callable[[str], list[str]], ...] = (_lines, _sentences, _words)


def _append(ops: list[WordOp], op: WordOpKind, text: str) -> None:
    if not text:
        return
    if ops and ops[-1].op == op:
        ops[-1] = WordOp(op, ops[-1].text + text)
    else:
        ops.append(WordOp(op, text))


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """``SequenceMatcher.get_opcodes`` with a bound on the work spent matching.

    The matcher's own recursion costs, per step, the length of the old range plus every
    occurrence in the new text of each old token in it; on a long stretch sharing only common
    words that adds up to seconds. Here the same steps run breadth first against a budget in
    those units, and ranges left when it runs out are reported as replaced. Typical edits
    never come near it; a wholesale rewrite gets a coarser but still exact diff.
    """
    # autojunk stays off: in long texts it would treat common words as junk.
    matcher = SequenceMatcher(_is_blank, a, b, autojunk=False)
    in_b: dict[str, int] = {}
    for token in b:
        in_b[token] = in_b.get(token, 0) + 1
    cost = [0]
    for token in a:
        cost.append(cost[-1] + 1 + in_b.get(token, 0))
    budget = _MATCH_BUDGET
    blocks: list[tuple[int, int, int]] = []
    todo: deque[tuple[int, int, int, int]] = deque([(0, len(a), 0, len(b))])
    while todo:
        alo, ahi, blo, bhi = todo.popleft()
        budget -= cost[ahi] - cost[alo]
        if budget < 0:
            break
        i, j, k = matcher.find_longest_match(alo, ahi, blo, bhi)
        if not k:
            continue
        blocks.append((i, j, k))
        if alo < i and blo < j:
            todo.append((alo, i, blo, j))
        if i + k < ahi and j + k < bhi:
            todo.append((i + k, ahi, j + k, bhi))
    blocks.sort()
    blocks.append((len(a), len(b), 0))
    out: list[tuple[str, int, int, int, int]] = []
    i = j = 0
    for ai, bj, size in blocks:
        if i < ai and j < bj:
            out.append(("replace", i, ai, j, bj))
        elif i < ai:
            out.append(("delete", i, ai, j, bj))
        elif j < bj:
            out.append(("insert", i, ai, j, bj))
        if size:
            out.append(("equal", ai, ai + size, bj, bj + size))
        i, j = ai + size, bj + size
    return out


def _diff_into(ops: list[WordOp], old: str, new: str, level: int) -> None:
    a, b = _LEVELS[level](old), _LEVELS[level](new)
    last = level == len(_LEVELS) - 1
    # A shared head and tail cost nothing to find and are the whole of most edits.
    head, limit = 0, min(len(a), len(b))
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a_mid, b_mid = a[head : len(a) - tail], b[head : len(b) - tail]
    _append(ops, "equal", "".join(a[:head]))
    for tag, i1, i2, j1, j2 in _opcodes(a_mid, b_mid):
        old_part, new_part = "".join(a_mid[i1:i2]), "".join(b_mid[j1:j2])
        if tag == "replace" and not last:
            _diff_into(ops, old_part, new_part, level + 1)
        elif tag == "equal":
            _append(ops, "equal", old_part)
        else:
            _append(ops, "delete", old_part)
            _append(ops, "insert", new_part)
    _append(ops, "equal", "".join(a[len(a) - tail :]))


def diff_texts(old: str, new: str) -> tuple[WordOp, ...]:
    """Word-level diff of two texts that keeps every character.

    Joining the ``equal`` and ``insert`` texts reproduces ``new`` exactly; joining ``equal``
    and ``delete`` reproduces ``old``. Adjacent runs of the same kind are merged and a replaced
    stretch reads as its ``delete`` followed by its ``insert``. Unchanged lines and sentences
    are matched first and only the stretches between them are compared word by word, so
    typical edits to a 5,000-word variant take milliseconds. Matching work is bounded, so a
    long stretch rewritten wholesale may come back in coarser delete and insert runs.
    """
    ops: list[WordOp] = []
    if old == new:
        _append(ops, "equal", old)
    else:
        _diff_into(ops, old, new, 0)
    return tuple(ops)


def diff_rendered(old_text: str, new_text: str) -> tuple[WordOp, ...]:
    """Word-level diff of two variant texts (renderings or hand-edited variants).

    Hand-edited variants have no clause structure, so variants are compared as plain text;
    this is :func:`diff_texts` under the name the variant pages use.
    """
    return diff_texts(old_text, new_text)


def _field_text(clause: Clause, field: str) -> str:
    value = getattr(clause, field)
    if field in _LIST_FIELDS:
        return "\n".join(value)
    return value if isinstance(value, str) else str(value)


def _field_change(field: str, old: str, new: str) -> FieldChange | None:
    if old == new:
        return None
    return FieldChange(field=field, old=old, new=new, ops=diff_texts(old, new))


def _clause_changes(old: Clause, new: Clause) -> tuple[FieldChange, ...]:
    changes = []
    for name in _COMPARED_FIELDS:
        # Compare the values themselves, not their text: ("a\nb",) and ("a", "b") join alike.
        if getattr(old, name) == getattr(new, name):
            continue
        old_text, new_text = _field_text(old, name), _field_text(new, name)
        changes.append(
            FieldChange(field=name, old=old_text, new=new_text, ops=diff_texts(old_text, new_text))
        )
    return tuple(changes)


def _by_code(content: SpecContent, which: str) -> dict[str, Clause]:
    out: dict[str, Clause] = {}
    for i, c in enumerate(content.clauses):
        if c.code in out:
            raise InputError(
                f"the {which} spec has clause code {c.code!r} more than once; "
                "codes must be unique within a version before it can be diffed",
                field=f"clauses[{i}].code",
            )
        out[c.code] = c
    return out


def _moved_codes(old_order: list[str], new_order: list[str]) -> set[str]:
    """Shared codes outside a longest common subsequence of the two orders.

    Inserting or removing a clause shifts every index after it, so indices cannot say what
    moved; the clauses that keep their relative order are the ones that stayed put. Codes are
    unique, so the subsequence is the longest increasing run of old positions taken in new
    order (patience sorting, n log n).
    """
    position = {code: i for i, code in enumerate(old_order)}
    seq = [position[code] for code in new_order]
    tails: list[int] = []  # tails[k]: index in seq ending the best run of length k + 1
    back: list[int | None] = [None] * len(seq)
    for idx, value in enumerate(seq):
        k = bisect_left(tails, value, key=seq.__getitem__)
        back[idx] = tails[k - 1] if k else None
        if k == len(tails):
            tails.append(idx)
        else:
            tails[k] = idx
    kept: set[str] = set()
    cursor = tails[-1] if tails else None
    while cursor is not None:
        kept.add(new_order[cursor])
        cursor = back[cursor]
    return set(new_order) - kept


def diff_specs(old: SpecContent, new: SpecContent) -> SpecDiff:
    """Compare two spec contents clause by clause, matching clauses by code.

    Raises:
        InputError: a spec uses the same clause code twice, so clauses cannot be matched.
    """
    old_by, new_by = _by_code(old, "old"), _by_code(new, "new")
    shared_old = [c.code for c in old.clauses if c.code in new_by]
    shared_new = [c.code for c in new.clauses if c.code in old_by]
    moved = _moved_codes(shared_old, shared_new)

    # Each removed clause follows the nearest earlier old clause that survives, so it shows up
    # where a reader of the old spec would look for it.
    after: dict[str | None, list[Clause]] = {}
    anchor: str | None = None
    for c in old.clauses:
        if c.code in new_by:
            anchor = c.code
        else:
            after.setdefault(anchor, []).append(c)

    def removed(code: str | None) -> list[ClauseDiff]:
        return [ClauseDiff(c.code, "removed", c, None) for c in after.get(code, [])]

    out = removed(None)
    for c in new.clauses:
        before = old_by.get(c.code)
        if before is None:
            out.append(ClauseDiff(c.code, "added", None, c))
        else:
            changes = _clause_changes(before, c)
            status: ClauseStatus = "changed" if changes else "unchanged"
            out.append(ClauseDiff(c.code, status, before, c, changes, moved=c.code in moved))
            out.extend(removed(c.code))
    return SpecDiff(
        preamble=_field_change("preamble", old.preamble, new.preamble),
        title=_field_change("title", old.title, new.title),
        clauses=tuple(out),
    )
