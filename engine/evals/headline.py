"""Which judge's verdicts a study's headline numbers use, per suite.

A study is judged by the judges it ran with; a re-judging (:mod:`engine.tasks.rejudge_study`)
adds another judge's verdicts on the same replies, stored as eval samples whose suite is
tagged ``<suite>~<judge>``. The study keeps its choice in ``studies.config`` under
:data:`HEADLINE_KEY` (``{"agentic": "agentic_llm"}``); a suite it does not name uses the
verdicts the study ran with. Every comparison, snapshot, report and export reads the tag
:func:`headline_tags` gives, so they all follow the choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Separates a suite from the judge in a re-judged suite tag (``agentic~agentic_llm``).
SEP = "~"
#: The ``studies.config`` key holding the headline judge per suite.
HEADLINE_KEY = "headline_judge"


def tag(suite: str, judge: str) -> str:
    """The suite tag of ``judge``'s re-judged verdicts on ``suite`` samples."""
    return f"{suite}{SEP}{judge}"


def chosen(config: Mapping[str, Any]) -> dict[str, str]:
    """Suite → headline judge as a study's config names them (absent: as run)."""
    value = config.get(HEADLINE_KEY)
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str) and v}


def headline_tags(config: Mapping[str, Any], suites: Iterable[str]) -> dict[str, str]:
    """Suite → the stored suite tag its headline numbers read (the suite itself: as run)."""
    picked = chosen(config)
    return {s: tag(s, picked[s]) if s in picked else s for s in suites}
