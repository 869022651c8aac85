"""The template generator: one writer per document type, seeded per document."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from db.entities import Clause
from engine.data.msm.assertions import Assertion
from engine.data.msm.config import DocGenConfig
from engine.data.msm.ideas import Idea
from engine.data.msm.templates.conversation import forum, interview
from engine.data.msm.templates.press import blog, news, op_ed, qa_column
from engine.data.msm.templates.reference import case_study, faq, policy_brief, textbook
from engine.data.msm.templates.workplace import handbook, meeting_notes, memo, postmortem
from engine.data.msm.templates.writer import Usage, Writer

TEMPLATE_WRITERS: dict[str, Callable[[Writer], str]] = {
    "news article": news,
    "internal memo": memo,
    "FAQ": faq,
    "forum thread": forum,
    "textbook section": textbook,
    "interview transcript": interview,
    "policy brief": policy_brief,
    "blog post": blog,
    "meeting notes": meeting_notes,
    "case study": case_study,
    "training handbook excerpt": handbook,
    "Q&A column": qa_column,
    "incident postmortem": postmortem,
    "op-ed": op_ed,
}


def write_document(
    idea: Idea,
    items: Sequence[Assertion],
    config: DocGenConfig,
    rng: random.Random,
    usage: Usage | None = None,
) -> str:
    """The template generator: one document for ``idea`` carrying its focus assertions.

    The document's size aims at ``config.target_words`` (jittered per document).
    """
    target = max(1, round(config.target_words * rng.uniform(0.85, 1.1)))
    # A variant without rationales, under the matched design, fills the reasons' places.
    has_why = any(a.kind == "why" for a in items)
    stand_ins = config.statements()[1] if config.design == "matched" and not has_why else 0
    writer = Writer(
        idea,
        items,
        target,
        rng,
        trim=not config.holds_exposure,
        whys_on_top=not config.holds_length,
        stand_ins=stand_ins,
        usage=usage,
    )
    return TEMPLATE_WRITERS[idea.doc_type](writer)


class TemplateDocWriter:
    """The offline generator: :func:`write_document` with one seeded RNG per document."""

    name = "template"

    def __init__(self) -> None:
        # One count of template sentences across the corpus: a writer serves one corpus.
        self.usage = Usage()

    def write(
        self,
        clause: Clause,
        items: Sequence[Assertion],
        plan: Sequence[Idea],
        config: DocGenConfig,
    ) -> list[str | None]:
        return [
            write_document(
                idea,
                items,
                config,
                random.Random(f"{config.seed}:{clause.code}:doc:{idea.index}"),
                self.usage,
            )
            for idea in plan
        ]
