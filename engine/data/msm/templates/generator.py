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
from engine.data.msm.templates.writer import Writer

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
    idea: Idea, items: Sequence[Assertion], config: DocGenConfig, rng: random.Random
) -> str:
    """The template generator: one document for ``idea`` carrying its focus assertions.

    The document's size aims at ``config.target_words`` (jittered per document).
    """
    target = max(1, round(config.target_words * rng.uniform(0.85, 1.1)))
    return TEMPLATE_WRITERS[idea.doc_type](Writer(idea, items, target, rng))


class TemplateDocWriter:
    """The offline generator: :func:`write_document` with one seeded RNG per document."""

    name = "template"

    def write(
        self,
        clause: Clause,
        items: Sequence[Assertion],
        plan: Sequence[Idea],
        config: DocGenConfig,
    ) -> list[str | None]:
        return [
            write_document(
                idea, items, config, random.Random(f"{config.seed}:{clause.code}:doc:{idea.index}")
            )
            for idea in plan
        ]
