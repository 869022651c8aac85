"""Runs side by side: the headline numbers of a few runs from any studies, each labelled with
where it came from, so an imported log's rates can be read next to a SpecLab run's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db.entities import MetricPoint, Run

#: Most runs one side-by-side table shows.
MAX_RUNS = 20


@dataclass(frozen=True)
class RunRate:
    """One headline number of one run.

    Attributes:
        run_id: the run.
        label: ``run N: variant × arm · seed S · model`` for a SpecLab run; the import label
            (``imported from FILE (Inspect task T, model M)``) for an imported log.
        imported: whether the run's samples came from an imported log.
        metric: the metric's name (``agentic.harmful_rate``, ``spec_qa.score``…).
        value: its value.
        ci_low: lower bound of its 95% interval, when it has one.
        ci_high: upper bound of its 95% interval, when it has one.
        n: the samples it rests on.
    """

    run_id: int
    label: str
    imported: bool
    metric: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int | None


def run_label(run: Run) -> str:
    return f"run {run.id}: {run.variant_name or '-'} × {run.arm} · seed {run.seed} · {run.model}"


def rates(run: Run, points: Sequence[MetricPoint], imported: str | None) -> list[RunRate]:
    """The run's headline metrics (breakdowns, named ``metric/part``, left out)."""
    return [
        RunRate(
            run_id=run.id,
            label=imported or run_label(run),
            imported=imported is not None,
            metric=p.name,
            value=p.value,
            ci_low=p.ci_low,
            ci_high=p.ci_high,
            n=p.n,
        )
        for p in points
        if "/" not in p.name
    ]
