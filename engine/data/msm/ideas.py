"""Step 3 of the funnel: a premise per document and the assertions it must carry."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from db.entities import Clause
from engine.data.msm.assertions import Assertion
from engine.data.msm.config import DocGenConfig
from engine.data.msm.grammar import article, possessive, upper_first
from engine.data.msm.scenarios import ANGLES, FIRST_NAMES, LAST_NAMES, PLACES, SECTORS


@dataclass(frozen=True)
class Idea:
    """A one-line premise for one document, with the concrete choices behind it.

    Attributes:
        clause: the clause code. title: the clause title.
        doc_type: one of :data:`DOC_TYPES`.
        sector/org/task/system/place: the setting.
        persona/role: the voice the document is written in or about.
        angle: the key of the :data:`ANGLES` entry.
        premise: the one-line premise, e.g. "a hospital internal memo by the IT operations
            manager about a near miss during …".
        focus: indices into the clause's :func:`assertions` the document must carry.
        index: the document's position among the clause's documents.
    """

    clause: str
    title: str
    doc_type: str
    sector: str
    org: str
    task: str
    system: str
    place: str
    persona: str
    role: str
    angle: str
    premise: str
    focus: tuple[int, ...]
    index: int


def pick_focus(
    items: Sequence[Assertion], position: int, n_what: int, n_why: int
) -> tuple[int, ...]:
    """Assertions for the document at ``position``: ``n_what`` "what" and ``n_why`` "why" ones.

    Each kind rotates from where the previous document stopped, so a clause's documents
    together carry every assertion; a document carrying more statements than the clause has
    assertions of a kind states some twice (in different words: frames and voice differ).
    """
    whats = [i for i, a in enumerate(items) if a.kind == "what"]
    whys = [i for i, a in enumerate(items) if a.kind == "why"]
    picked = [whats[(position * n_what + k) % len(whats)] for k in range(n_what)] if whats else []
    if whys:
        picked += [whys[(position * n_why + k) % len(whys)] for k in range(n_why)]
    return tuple(picked)


def statement_counts(items: Sequence[Assertion], config: DocGenConfig) -> tuple[int, int]:
    """(what, why) assertions per document of a clause under ``config``'s design.

    With exposure held, every variant states the rule ``rule_exposure`` times and a variant
    with rationales adds ``rationale_per_doc`` reasons; otherwise a variant without
    rationales fills the reasons' places with more rule statements.
    """
    n_rule, n_why = config.statements()
    has_why = any(a.kind == "why" for a in items)
    if has_why:
        return n_rule, n_why
    return (n_rule, 0) if config.holds_exposure else (n_rule + n_why, 0)


def ideas(
    clause: Clause,
    items: Sequence[Assertion],
    doc_type: str,
    rng: random.Random,
    *,
    n: int = 1,
    start: int = 0,
    counts: tuple[int, int] = (2, 1),
) -> list[Idea]:
    """``n`` premises for documents of ``doc_type`` about ``clause``.

    Settings and angles are drawn without replacement within one call, so the ideas differ.
    Idea ``k`` gets ``index = start + k`` and carries ``counts`` = (what, why) assertions
    chosen by rotating from that index, so a clause's documents together use every assertion.
    """
    sectors = rng.sample(SECTORS, len(SECTORS))
    angles = rng.sample(ANGLES, len(ANGLES))
    out: list[Idea] = []
    for k in range(n):
        sector = sectors[k % len(sectors)]
        angle = angles[k % len(angles)]
        org = rng.choice(sector.orgs)
        task = rng.choice(sector.tasks)
        system = rng.choice(sector.systems)
        role = rng.choice(sector.roles)
        persona = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        values = {
            "title": clause.title or clause.code,
            "task": task,
            "system": system,
            "org": org,
            "Org": upper_first(org),
            "org_s": possessive(org),
            "role": role,
            "sector": sector.label,
            "First": persona.split()[0],
        }
        premise = (
            f"{article(sector.label)} {sector.label} {doc_type} by {article(role)} {role} "
            f"about {angle.premise.format(**values)}"
        )
        out.append(
            Idea(
                clause=clause.code,
                title=clause.title or clause.code,
                doc_type=doc_type,
                sector=sector.key,
                org=org,
                task=task,
                system=system,
                place=rng.choice(PLACES),
                persona=persona,
                role=role,
                angle=angle.key,
                premise=premise,
                focus=pick_focus(items, start + k, *counts),
                index=start + k,
            )
        )
    return out
