"""Step 1 of the funnel: the statements a clause's documents must convey.

"what" statements come from the rule, its sub-rules and examples (rephrased as "The
assistant should …"); "why" statements are taken only from the rationale, so a ``rules``
rendering, which has none, yields none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from db.entities import Clause
from engine.data.msm.grammar import lower_first, split_words, upper_first


@dataclass(frozen=True)
class Assertion:
    """One statement a document must convey.

    Attributes:
        kind: ``"what"`` (what the assistant does) or ``"why"`` (the value behind it).
        text: a declarative sentence; "why" texts are rationale sentences verbatim, a
            sentence that refers back ("such errors") kept with the one it refers to.
        source: where it came from: ``rule``, ``subrule 2``, ``example 1``, ``rationale 3``
            or ``rationale 3-4``.
    """

    kind: Literal["what", "why"]
    text: str
    source: str


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'“(A-Z0-9])")
_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?|\s+|[^A-Za-z\s]")


_MODALS = frozenset(
    split_words("can cannot could may might must shall should will would did had was is")
)
_PAST = frozenset(
    split_words(
        "took made did had said saw came went got gave knew thought found told left kept sent "
        "wrote read ran began brought bought felt held meant put set spent built chose"
    )
)
_ADVERBS = frozenset(split_words("also only never still really already always just actually then"))
_OBJECT_FOLLOWERS = frozenset(
    split_words(
        "and or but to with about for in on at from that if when as than the a an of by into "
        "over through down up out off away back"
    )
)
_SUBORDINATORS = frozenset(
    split_words(
        "when if before after while in within once unless where whenever during for on at as "
        "to even until outside except given"
    )
)
_DETERMINERS = frozenset(
    split_words(
        "the a an this that these those it its they their any all each every no our there "
        "assistants models ai"
    )
)
# Base forms that start the main clause of an imperative after a fronted "When …," phrase.
_VERBS = frozenset(
    split_words(
        "accept acknowledge act add admit apply ask assert assume avoid be bring check choose "
        "cite clarify collect comply confirm consider continue convey correct decline defer "
        "delete describe disclose document do ensure escalate explain express favour favor "
        "flag follow get give go halt handle help hold honour honor identify inform keep "
        "leave let limit look maintain make mention minimise minimize note notify obey offer "
        "pause point prefer present preserve prioritise prioritize protect provide pursue "
        "question raise read reason recognise recognize record refuse reject remain remember "
        "remove report request resist respect retain return reveal review run say seek send "
        "share show signal speak state stay stop store support surface take tell treat trust "
        "try use value verify wait warn weigh withhold work write"
    )
)


#: A rationale sentence that refers back to the one before it ("such errors", "this
#: position", "Because the stakes are this lopsided"): it is only stated together with it.
_BACK_REFERENCE = re.compile(
    r"^(?:It|They|This|That|These|Those|Such|So|But|And|Because|Thus|Hence)\b"
    r"|\b(?:such(?! as)|this|these|those)\b",
    re.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences (on ``.``, ``!`` or ``?`` followed by a capital)."""
    return [s.strip() for s in _SENTENCE_SPLIT.split(" ".join(text.split())) if s.strip()]


def _third_person(verb: str) -> str:
    low = verb.lower()
    irregular = {"are": "is", "were": "was", "have": "has", "do": "does", "go": "goes"}
    if low in irregular:
        return irregular[low]
    if low in _MODALS or low in _PAST or low.endswith("ed"):
        return verb
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _swap_pronouns(text: str) -> str:
    """Second person ("you", "your") to the assistant's third person ("it", "its")."""
    toks = _TOKEN.findall(text)
    out: list[str] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        low = tok.lower()
        cap = tok[:1].isupper()
        if low in ("yourself", "yourselves"):
            out.append("Itself" if cap else "itself")
        elif low == "yours":
            out.append("Its own" if cap else "its own")
        elif low == "your":
            out.append("Its" if cap else "its")
        elif low == "you":
            out.append("It" if cap else "it")
            # "you <verb>" is a subject: conjugate the verb (after any adverb) to agree.
            j = i + 1
            if j + 1 < len(toks) and toks[j].isspace():
                word = toks[j + 1]
                if word.isalpha() and word.lower() not in _OBJECT_FOLLOWERS:
                    k = j + 1
                    if word.lower() in _ADVERBS and k + 2 < len(toks) and toks[k + 2].isalpha():
                        out.extend(toks[i + 1 : k + 2])
                        k += 2
                    else:
                        out.append(toks[j])
                    out.append(_third_person(toks[k]))
                    i = k + 1
                    continue
        else:
            out.append(tok)
        i += 1
    return "".join(out)


def _modal_phrase(clause_text: str) -> str:
    """``"do not take X"`` → ``"should not take X"``; ``"prefer X"`` → ``"should prefer X"``."""
    low = clause_text.lower()
    leads = {
        "do not ": "should not ",
        "don't ": "should not ",
        "never ": "should never ",
        "always ": "should always ",
        "only ": "should only ",
    }
    lead = next((x for x in leads if low.startswith(x)), None)
    if lead is None:
        modal, rest = "should ", lower_first(clause_text)
    else:
        modal, rest = leads[lead], clause_text[len(lead) :]
    # "should prefer X, and do not take Y" reads as "should prefer X, and not take Y".
    rest = re.sub(r"\b(and|or|but) (?:do not|don't) ", r"\1 not ", rest)
    return modal + rest


def _declarative(sentence: str) -> str:
    """Rephrase one imperative spec sentence as a statement about the assistant."""
    s = " ".join(sentence.split()).strip()
    if not s:
        return s
    if s[-1] not in ".!?":
        s += "."
    first = s.split()[0].lower().strip(",")
    if first == "you":
        # "You may state …" → "The assistant may state …"
        return "The assistant" + _swap_pronouns(s)[2:]
    s = _swap_pronouns(s)
    if first in ("do", "don't", "never", "always", "only") or (
        first not in _SUBORDINATORS and first not in _DETERMINERS
    ):
        if first == "the" and s.lower().startswith(("the assistant", "the model", "the ai")):
            return s
        if first not in _DETERMINERS:
            return "The assistant " + _modal_phrase(s)
    if first in _SUBORDINATORS:
        # "When X is unclear, choose Y" → "When X is unclear, the assistant should choose Y".
        for m in re.finditer(r", (\w+)", s):
            word = m.group(1).lower()
            if word in _VERBS or word in ("do", "don't", "never", "always", "only"):
                head, main = s[: m.start()], s[m.start() + 2 :]
                return f"{head}, the assistant {_modal_phrase(main)}"
    return f"Under this clause, {lower_first(s)}"


def _rule_statements(text: str) -> list[str]:
    """A rule's sentences (and ``;``-joined imperatives) as declarative statements."""
    out: list[str] = []
    for sentence in split_sentences(text):
        parts = [p.strip() for p in sentence.split("; ")]
        merged: list[str] = [parts[0]]
        for p in parts[1:]:
            lead = p.split()[0].lower() if p.split() else ""
            imperative = lead in _SUBORDINATORS or lead in _VERBS or lead in ("do", "never")
            if imperative:
                merged.append(upper_first(p))
            else:
                merged[-1] += "; " + p
        out.extend(_declarative(m) for m in merged)
    return out


def assertions(clause: Clause) -> list[Assertion]:
    """The statements documents about ``clause`` convey, in a fixed order.

    "what": the rule, each sub-rule and each example (whatever the rendering kept). "why":
    one per rationale sentence (or run of sentences that refer back), verbatim; none when the
    rendering dropped the rationale.
    """
    out: list[Assertion] = []
    rule = _rule_statements(clause.rule)
    if rule:
        out.append(Assertion("what", " ".join(rule), "rule"))
    for i, sub in enumerate(clause.subrules, 1):
        text = " ".join(_rule_statements(sub))
        if text:
            out.append(Assertion("what", text, f"subrule {i}"))
    for i, ex in enumerate(clause.examples, 1):
        text = " ".join(ex.split())
        if text:
            out.append(Assertion("what", text if text[-1] in ".!?" else text + ".", f"example {i}"))
    units: list[tuple[int, list[str]]] = []
    for i, sentence in enumerate(split_sentences(clause.rationale), 1):
        if units and _BACK_REFERENCE.search(sentence):
            units[-1][1].append(sentence)  # keep "such errors" with the errors it means
        else:
            units.append((i, [sentence]))
    for i, unit in units:
        source = f"rationale {i}" if len(unit) == 1 else f"rationale {i}-{i + len(unit) - 1}"
        out.append(Assertion("why", " ".join(unit), source))
    return out
