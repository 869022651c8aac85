"""Per-document state and helpers shared by every template writer."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from engine.data.msm.assertions import Assertion
from engine.data.msm.grammar import (
    article,
    lower_first,
    possessive,
    sentence_keys,
    upper_first,
)
from engine.data.msm.ideas import Idea
from engine.data.msm.scenarios import (
    ANGLE_BY_KEY,
    FIRST_NAMES,
    HANDLE_A,
    HANDLE_B,
    LAST_NAMES,
    MONTHS,
    SECTOR_BY_KEY,
)
from engine.data.msm.templates.phrases import (
    FILLERS,
    MODAL_VARIANTS,
    SUBJECT_MODAL,
    SUBJECTS,
    WHAT_FRAMES,
    WHAT_SPEECH,
    WHY_FRAMES,
    WHY_SPEECH,
)
from engine.specs.render import word_count


class Usage:
    """How often each template sentence has been used so far in the corpus being written."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def worst(self, text: str) -> int:
        return max((self.counts[k] for k in sentence_keys(text)), default=0)

    def note(self, text: str) -> None:
        self.counts.update(sentence_keys(text))


class Writer:
    """Per-document state for the template generator: choices, vocabulary and padding."""

    def __init__(
        self,
        idea: Idea,
        items: Sequence[Assertion],
        target: int,
        rng: random.Random,
        *,
        trim: bool = True,
        whys_on_top: bool = False,
        stand_ins: int = 0,
        usage: Usage | None = None,
    ) -> None:
        """``trim``: drop extra assertions that would overfill a short document (designs that
        do not hold rule exposure); ``whys_on_top``: rationale text does not count toward
        ``target`` (designs that do not hold length); ``stand_ins``: padding blocks the
        document carries whatever its size, in place of the reasons a variant without
        rationales lacks (the ``matched`` design), so both variants fill the same space.
        ``usage``: the corpus's template sentence counts, shared by its documents."""
        self.stand_ins = stand_ins
        self.usage = usage if usage is not None else Usage()
        self._drawn: set[str] = set()
        self.idea = idea
        self.rng = rng
        self.target = target
        self.sector = SECTOR_BY_KEY[idea.sector]
        first, last = idea.persona.split(" ", 1)
        other_first, other_last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        while other_first == first:
            other_first = rng.choice(FIRST_NAMES)
        other_roles = [r for r in self.sector.roles if r != idea.role] or [idea.role]
        month = rng.choice(MONTHS)
        self.v: dict[str, str] = {
            "org": idea.org,
            "org_s": possessive(idea.org),
            "Org": upper_first(idea.org),
            "task": idea.task,
            "Task": upper_first(idea.task),
            "system": idea.system,
            "sector": self.sector.label,
            "a_sector": f"{article(self.sector.label)} {self.sector.label}",
            "Sector": upper_first(self.sector.label),
            "place": idea.place,
            "PLACE": idea.place.upper(),
            "name": idea.persona,
            "First": first,
            "Last": last,
            "role": idea.role,
            "Role": upper_first(idea.role),
            "other": f"{other_first} {other_last}",
            "Other": other_first,
            "other_role": rng.choice(other_roles),
            "title": idea.title,
            "title_lc": lower_first(idea.title),
            "code": idea.clause,
            "date": f"{month} {rng.randint(1, 28)}",
            "month": month,
            "year": str(rng.choice((2024, 2025, 2026))),
            "num": str(rng.randint(2, 9)),
            "time": f"{rng.randint(8, 17):02d}:{rng.choice((0, 10, 15, 20, 30, 40, 45, 50)):02d}",
        }
        subject = rng.choice(SUBJECTS).format(**self.v)
        self.subject = subject
        focus = [items[i] for i in idea.focus if 0 <= i < len(items)]
        self.whats = [a for a in focus if a.kind == "what"]
        self.whys = [a for a in focus if a.kind == "why"]
        # Long assertions would push a short document past its size: drop the extra ones
        # (never the first of each kind, which rotate so every assertion is still used).
        while trim and sum(word_count(a.text) for a in (*self.whats, *self.whys)) > 0.55 * target:
            longer = max((self.whys, self.whats), key=len)
            if len(longer) < 2:
                break
            longer.pop()
        if whys_on_top:
            # The reasons come in addition to a document of the target's size.
            self.target += sum(word_count(a.text) + 4 for a in self.whys)
        self._decks: dict[tuple[str, ...], list[str]] = {}

    # -- small helpers -------------------------------------------------------------------

    def f(self, template: str) -> str:
        return template.format_map(_Vars(self.v, lead=self._raw_lead))

    def pick(self, options: Sequence[str]) -> str:
        """One of ``options``, filled: the one whose sentences the corpus has used least
        (ties broken at random), so no template sentence recurs while another is fresh."""
        return self.least_used([self.f(o) for o in self.rng.sample(list(options), len(options))])

    def least_used(self, texts: Sequence[str]) -> str:
        """The first of ``texts`` whose most-used sentence is used least; noted as used."""
        best = min(texts, key=self.usage.worst)
        self.usage.note(best)
        return best

    def order(self, texts: Sequence[str]) -> list[str]:
        """``texts`` shuffled, then least used first (the caller notes what it keeps)."""
        shuffled = self.rng.sample(list(texts), len(texts))
        return sorted(shuffled, key=self.usage.worst)

    def note(self, text: str) -> str:
        """Record ``text``'s sentences as used in the corpus; returns it."""
        self.usage.note(text)
        return text

    def lead(self) -> str:
        return self.pick(ANGLE_BY_KEY[self.idea.angle].leads)

    def _raw_lead(self) -> str:
        # Inside a template being picked, which notes the whole text once chosen.
        return self.f(self.rng.choice(ANGLE_BY_KEY[self.idea.angle].leads))

    def revoice(self, text: str) -> str:
        """Vary the subject and modal of a "The assistant should …" statement."""

        def sub(m: re.Match[str]) -> str:
            key = "should" + (m.group(2) or "")
            modal = self.rng.choice(MODAL_VARIANTS[key])
            subject = self.subject if m.group(1) == "t" else upper_first(self.subject)
            return f"{subject} {modal}"

        return SUBJECT_MODAL.sub(sub, text, count=1)

    def what(self, a: Assertion, *, speech: bool = False) -> str:
        # Lower-case before re-voicing, so a subject like "Quillstack's assistant" keeps its
        # capital.
        that = self.revoice(lower_first(a.text))
        frame = self.deal(WHAT_SPEECH if speech else WHAT_FRAMES)
        return frame.format(A=upper_first(that), a=that, a_that=that, **self.v)

    def why(self, a: Assertion, *, speech: bool = False) -> str:
        frame = self.deal(WHY_SPEECH if speech else WHY_FRAMES)
        return frame.format(W=a.text, w=lower_first(a.text), **self.v)

    def points(self, *, speech: bool = False) -> list[str]:
        """Every focus assertion, framed, in a shuffled what/why order."""
        out = [self.what(a, speech=speech) for a in self.whats]
        whys = [self.why(a, speech=speech) for a in self.whys]
        if self.rng.random() < 0.5:
            return out + whys
        return whys + out if self.rng.random() < 0.5 else _interleave(out, whys)

    def filler(self) -> str:
        return self.pick(FILLERS)

    def deal(self, pool: Sequence[str]) -> str:
        """The next item of ``pool`` from a per-document shuffled deck (no repeats per round)."""
        key = tuple(pool)
        deck = self._decks.get(key)
        if not deck:
            deck = self._decks[key] = self.rng.sample(key, len(key))
        return deck.pop()

    def draw(self, options: Sequence[str]) -> str:
        """Like :meth:`pick`, without repeating an option within the document."""
        fresh = [o for o in options if o not in self._drawn] or list(options)
        choice = self.pick(fresh)
        self._drawn.update(o for o in fresh if self.f_static(o) == choice)
        return choice

    def f_static(self, template: str) -> str:
        """``template`` filled without drawing a lead (to recognise a drawn option)."""
        return template if "{lead}" in template else self.f(template)

    def para(self, n: int = 2) -> str:
        return " ".join(self.filler() for _ in range(n))

    def name(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def handle(self) -> str:
        a, b = self.rng.choice(HANDLE_A), self.rng.choice(HANDLE_B)
        return f"{a}_{b}{self.rng.randint(2, 99)}"

    def fill(
        self,
        head: list[str],
        body: list[str],
        tail: list[str],
        pad: Callable[[], str],
        *,
        sep: str = "\n\n",
    ) -> str:
        """Join the parts, inserting ``pad()`` blocks at random body positions up to size."""

        def size() -> int:
            return sum(word_count(x) for x in (*head, *body, *tail))

        for _ in range(self.stand_ins):
            # About one framed reason's size: the closest of a few padding blocks.
            block = min((pad() for _ in range(3)), key=lambda b: abs(word_count(b) - 28))
            body.insert(self.rng.randint(min(1, len(body)), len(body)), block)

        for _ in range(40):
            if size() >= self.target:
                break
            block = pad()
            if size() + word_count(block) > self.target * 1.25 and size() >= self.target * 0.8:
                break
            body.insert(self.rng.randint(min(1, len(body)), len(body)), block)
        return sep.join(x for x in (*head, *body, *tail) if x).strip() + "\n"


class _Vars(dict[str, str]):
    """Template variables; ``{lead}`` is drawn only when a template uses it."""

    def __init__(self, values: Mapping[str, str], *, lead: Callable[[], str]) -> None:
        super().__init__(values)
        self._lead = lead

    def __missing__(self, key: str) -> str:
        if key == "lead":
            return self._lead()
        raise KeyError(key)


def _interleave(a: list[str], b: list[str]) -> list[str]:
    out: list[str] = []
    for i in range(max(len(a), len(b))):
        out += a[i : i + 1] + b[i : i + 1]
    return out
