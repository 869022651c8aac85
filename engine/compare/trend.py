"""One number across studies: how a cell's harmful rate or spec-QA score moved from study to
study on the same spec (a researcher iterating on a spec wants the line, not fifty tables).

Each point is computed exactly as the study page computes that cell's headline number — the
study's own headline judge, seeds pooled with a Wilson interval (one seed) or a clustered
bootstrap (several) — so a point on the trend and the number on its study page agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from db import compare as store
from db.session import Database
from engine.compare.cells import AGENTIC, HARMFUL_AT, SPEC_QA, pooled_mean, pooled_rate
from engine.compare.snapshot import TOO_SMALL, too_small
from engine.errors import InputError
from engine.evals.headline import headline_tags
from engine.evals.stats import Interval

METRICS: Final = {"harmful_rate": "% harmful (agentic)", "qa_score": "spec-QA score (0–10)"}
MAX_STUDIES: Final = 50


@dataclass(frozen=True)
class TrendPoint:
    """One cell of one study.

    Attributes:
        study_id, study, created_at: the study (its name and launch time).
        variant, arm: the cell.
        model: the cell's base model ("" when its study has only one: cells of a study of
            several models never pool runs of different models).
        value: the cell's headline number with its interval; ``None`` when the study has no
            sample of that suite in this cell.
        judge: the suite tag the number was read from (``agentic`` = as run, ``agentic~X`` =
            re-judged by X).
    """

    study_id: int
    study: str
    created_at: datetime
    variant: str
    arm: str
    value: Interval | None
    judge: str
    model: str = ""

    @property
    def cell(self) -> str:
        return f"{self.variant}/{self.arm}" + (f" · {self.model}" if self.model else "")

    @property
    def interval(self) -> str:
        """``[low, high]``, or the study page's words when too few samples back it."""
        if self.value is None:
            return ""
        if too_small(self.value.n):
            return TOO_SMALL
        return f"[{self.value.low:.3f}, {self.value.high:.3f}]"


def trend(db: Database, study_ids: Sequence[int], metric: str, seed: int = 0) -> list[TrendPoint]:
    """``metric`` (a key of :data:`METRICS`) per cell of each study, oldest study first.

    Raises:
        InputError: an unknown metric, or more than :data:`MAX_STUDIES` studies.
    """
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; use {' or '.join(METRICS)}", field="metric")
    if len(study_ids) > MAX_STUDIES:
        raise InputError(
            f"a trend shows at most {MAX_STUDIES} studies ({len(study_ids)} asked)",
            field="studies",
        )
    points: list[TrendPoint] = []
    with db.read() as s:
        for study_id in study_ids:
            header = store.study_header(s, study_id)
            tags = headline_tags(header.config, (AGENTIC, SPEC_QA))
            runs = store.run_summaries(
                s,
                study_id,
                agentic=tags[AGENTIC],
                spec_qa=tags[SPEC_QA],
                harmful_at=HARMFUL_AT,
                with_qa_items=metric == "qa_score",
            )
            several = len({r.model for r in runs}) > 1
            cells: dict[tuple[str, str, str], list[store.RunSummary]] = {}
            for r in runs:
                cells.setdefault((r.model if several else "", r.variant, r.arm), []).append(r)
            for (model, variant, arm), rs in cells.items():
                if metric == "harmful_rate":
                    counts: dict[int, tuple[int, int]] = {}
                    for r in rs:
                        k, n = counts.get(r.seed, (0, 0))
                        counts[r.seed] = (k + r.harmful, n + r.n_agentic)
                    value = pooled_rate(counts, seed=seed)
                    judge = tags[AGENTIC]
                else:
                    scores: dict[int, list[float]] = {}
                    for r in rs:
                        scores.setdefault(r.seed, []).extend(i.score for i in r.qa_items or ())
                    value = pooled_mean(scores, seed=seed)
                    judge = tags[SPEC_QA]
                points.append(
                    TrendPoint(
                        header.id,
                        header.name,
                        header.created_at,
                        variant,
                        arm,
                        value,
                        judge,
                        model,
                    )
                )
    return sorted(points, key=lambda p: (p.created_at, p.study_id))


def chart(points: Sequence[TrendPoint], metric: str) -> dict[str, object]:
    """A Vega-Lite line chart of ``points``: one line per cell, intervals as error bars."""
    rows = [
        {
            "study": f"#{p.study_id} {p.study}",
            "order": i,
            "cell": p.cell,
            "value": p.value.estimate,
            # No error bar where the study page shows "n too small" instead of an interval.
            "low": None if too_small(p.value.n) else p.value.low,
            "high": None if too_small(p.value.n) else p.value.high,
        }
        for i, p in enumerate(points)
        if p.value is not None
    ]
    title = METRICS[metric]
    x = {"field": "study", "type": "ordinal", "sort": {"field": "order"}, "title": "study"}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": rows},
        "layer": [
            {
                "mark": {"type": "line", "point": True},
                "encoding": {
                    "x": x,
                    "y": {"field": "value", "type": "quantitative", "title": title},
                    "color": {"field": "cell", "type": "nominal"},
                },
            },
            {
                "mark": "errorbar",
                "encoding": {
                    "x": x,
                    "y": {"field": "low", "type": "quantitative", "title": title},
                    "y2": {"field": "high"},
                    "color": {"field": "cell", "type": "nominal"},
                },
            },
        ],
    }
