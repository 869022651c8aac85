"""Per-document state and helpers shared by every template writer."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence

from engine.data.msm.assertions import Assertion
from engine.data.msm.grammar import article, lower_first, possessive, upper_first
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


class Writer:
    """Per-document state for the template generator: choices, vocabulary and padding."""

    def __init__(
        self,
        idea: Idea,
        items: Sequence[Assertion],
        target: int,
        rng: random.Random,
    ) -> None:
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
        while sum(word_count(a.text) for a in (*self.whats, *self.whys)) > 0.55 * target:
            longer = max((self.whys, self.whats), key=len)
            if len(longer) < 2:
                break
            longer.pop()
        self._decks: dict[tuple[str, ...], list[str]] = {}

    # -- small helpers -------------------------------------------------------------------

    def f(self, template: str) -> str:
        return template.format_map(_Vars(self.v, lead=self.lead))

    def pick(self, options: Sequence[str]) -> str:
        return self.f(self.rng.choice(options))

    def lead(self) -> str:
        return self.pick(ANGLE_BY_KEY[self.idea.angle].leads)

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
        return self.f(self.deal(FILLERS))

    def deal(self, pool: Sequence[str]) -> str:
        """The next item of ``pool`` from a per-document shuffled deck (no repeats per round)."""
        key = tuple(pool)
        deck = self._decks.get(key)
        if not deck:
            deck = self._decks[key] = self.rng.sample(key, len(key))
        return deck.pop()

    def draw(self, options: Sequence[str]) -> str:
        """Like :meth:`pick`, without repeating an option within the document."""
        return self.f(self.deal(options))

    def para(self, n: int = 2) -> str:
        return " ".join(self.filler() for _ in range(n))

    def name(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def handle(self) -> str:
        a, b = self.rng.choice(HANDLE_A), self.rng.choice(HANDLE_B)
        return f"{a}_{b}{self.rng.choice(('', str(self.rng.randint(2, 99))))}"

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
