"""The study comparison: the numbers behind the study page and frozen reports.

For each cell (variant × arm, see :mod:`engine.compare.cells`) :func:`compare_study` reports
the harmful rate, the spec-QA score, the forced-choice P(harmful) averaged over runs and the
second-opinion soft harmful rate when a second judge ran; then **paired comparisons** between
cells (McNemar on matched agentic samples, a paired bootstrap with a sign-flip test on matched
QA items), Holm-adjusted over the whole family so that many comparisons do not overclaim,
per-condition and per-clause breakdowns, and training loss curves.

The counting is done by SQL in :mod:`db.compare`, in a fixed number of statements whatever
the number of runs or pairs; nothing here loads a table. The reproducibility capsule is not
part of a live comparison: :mod:`engine.compare.capsule` computes it when a report is frozen.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from db import compare as store
from db.entities import EvalSample
from db.session import Database
from engine.compare import snapshot as snapshot_format
from engine.compare.cells import (
    AGENTIC,
    FC_METRIC,
    HARMFUL_AT,
    LOSS_METRIC,
    SOFT_METRIC,
    SPEC_QA,
    Cell,
    CellKey,
    ClauseScore,
    ConditionRate,
    LossPoint,
    cell_label,
    default_pairs,
    pooled_mean,
    pooled_rate,
)
from engine.errors import InputError
from engine.evals import stats
from engine.evals.stats import Interval, PairedComparison

if TYPE_CHECKING:
    from engine.compare.snapshot import Capsule, Snapshot

#: Loss curves longer than this are thinned (evenly, keeping the last step) for the snapshot.
MAX_CURVE_POINTS = 200
MAX_LIMIT = 500
#: Bootstrap redraws for the paired QA tests and for the per-condition and per-clause
#: breakdowns (the headline cells use 2,000): there can be hundreds of breakdowns, and their
#: bounds are read as a guide, not a test.
PAIRED_RESAMPLES = 2000
BREAKDOWN_RESAMPLES = 1000
#: How each suite's samples are matched between two cells.
MATCH: dict[str, store.Match] = {AGENTIC: "sample", SPEC_QA: "item"}


@dataclass(frozen=True)
class StudyInfo:
    """The study a comparison describes."""

    id: int
    name: str
    spec: str
    status: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class StudyComparison:
    """Everything the study page shows, computed once from the database.

    Attributes:
        study: which study.
        cells: one per variant × arm present, variants then arms in study order.
        comparisons: the family of paired comparisons, Holm-adjusted together
            (``label_a``/``label_b`` are ``variant/arm``; ``metric`` is ``harmful_rate`` or
            ``qa_score``; ``diff`` is B − A).
        conditions: per cell and agentic condition, the harmful rate.
        clauses: per cell and clause, the spec-QA score.
        loss_curves: training losses per run and training stage.
        omitted_pairs: default pairs left out of the family by the comparison cap.
    """

    study: StudyInfo
    cells: tuple[Cell, ...]
    comparisons: tuple[PairedComparison, ...]
    conditions: tuple[ConditionRate, ...]
    clauses: tuple[ClauseScore, ...]
    loss_curves: tuple[LossPoint, ...]
    omitted_pairs: int = 0

    def cell(self, variant: str, arm: str) -> Cell | None:
        return next((c for c in self.cells if c.key == (variant, arm)), None)

    def to_snapshot(self, title: str, capsule: Capsule | None = None) -> Snapshot:
        """This comparison in the snapshot format (see :mod:`engine.compare.snapshot`)."""
        return snapshot_format.write_snapshot(self, title, capsule=capsule)


@dataclass(frozen=True)
class RunsPage:
    """A page of the runs list across all studies, newest first."""

    rows: tuple[store.RunListRow, ...]
    total: int
    limit: int
    offset: int


def compare_study(
    db: Database,
    study_id: int,
    pairs: Sequence[tuple[CellKey, CellKey]] | None = None,
    seed: int = 0,
) -> StudyComparison:
    """Compare the cells of a study with intervals, paired tests and Holm's adjustment.

    Args:
        db: the database.
        study_id: the study.
        pairs: (A, B) cells to compare, each ``(variant, arm)``; B − A is reported. Default:
            :func:`~engine.compare.cells.default_pairs`.
        seed: seed of every resampling, so the same data always gives the same numbers.

    Raises:
        NotFoundError: no such study.
        InputError: a requested pair names a cell the study does not have.
    """
    with db.read() as s:
        header = store.study_header(s, study_id)
        runs = store.run_summaries(
            s, study_id, agentic=AGENTIC, spec_qa=SPEC_QA, harmful_at=HARMFUL_AT,
            with_qa_items=True,
        )  # fmt: skip
        by_cell = _runs_by_cell(runs)
        suites_of = {
            key: [
                suite
                for suite, has in (
                    (AGENTIC, any(r.n_agentic for r in rs)),
                    (SPEC_QA, any(r.n_qa for r in rs)),
                )
                if has
            ]
            for key, rs in by_cell.items()
        }
        omitted = 0
        if pairs is None:
            n_suites = len({x for v in suites_of.values() for x in v}) or 1
            chosen, omitted = default_pairs(list(by_cell), n_suites=n_suites)
        else:
            chosen = [((a[0], a[1]), (b[0], b[1])) for a, b in pairs]
            _check_pairs(chosen, by_cell)
        counts = store.condition_counts(s, study_id, suite=AGENTIC, harmful_at=HARMFUL_AT)
        metrics = store.run_metrics(
            s, study_id, names=(FC_METRIC, SOFT_METRIC, LOSS_METRIC), prefixes=(FC_METRIC + "/",)
        )
        needed = {x for a, b in chosen for x in suites_of[a] if x in suites_of[b]}
        scores = {
            suite: _scores_by_cell(store.cell_scores(s, study_id, suite, match=MATCH[suite]))
            for suite in (AGENTIC, SPEC_QA)
            if suite in needed
        }

    paired = [
        (a, b, suite, _pair(scores[suite], a, b))
        for a, b in chosen
        for suite in (AGENTIC, SPEC_QA)
        if suite in suites_of[a] and suite in suites_of[b]
    ]
    run_cell = {r.run_id: (r.variant, r.arm) for r in runs}
    run_seed = {r.run_id: r.seed for r in runs}
    cells = tuple(_cell(key, rs, metrics, seed) for key, rs in by_cell.items())
    family = [_compare(a, b, suite, rows, seed) for a, b, suite, rows in paired]
    return StudyComparison(
        study=StudyInfo(
            id=header.id,
            name=header.name,
            spec=header.spec_ref,
            status=header.status,
            created_by=header.created_by,
            created_at=header.created_at,
        ),
        cells=cells,
        comparisons=tuple(stats.apply_holm(family)),
        conditions=tuple(_conditions(counts, run_cell, run_seed, list(by_cell), seed)),
        clauses=tuple(_clauses(runs, list(by_cell), seed)),
        loss_curves=tuple(_loss_curves(metrics, run_cell, run_seed)),
        omitted_pairs=omitted,
    )


def flipped_samples(
    db: Database, study_id: int, a: CellKey, b: CellKey, limit: int = 20
) -> list[tuple[EvalSample, EvalSample]]:
    """Agentic samples whose verdict differs between cells A and B, side by side.

    Samples are matched on condition, sample index and training seed, as in the comparison.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
    with db.read() as s:
        store.study_header(s, study_id)  # NotFoundError for an unknown study
        return store.flipped_samples(
            s, study_id, a, b, suite=AGENTIC, match=MATCH[AGENTIC], limit=limit
        )


def runs_page(db: Database, limit: int = 50, offset: int = 0) -> RunsPage:
    """A page of the runs list across all studies (newest first) with the total count."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
    if offset < 0:
        raise InputError(f"must be 0 or more, got {offset}", field="offset")
    with db.read() as s:
        rows, total = store.runs_page(s, limit=limit, offset=offset)
    return RunsPage(rows=tuple(rows), total=total, limit=limit, offset=offset)


# -- pieces -----------------------------------------------------------------------------------


def _runs_by_cell(runs: Iterable[store.RunSummary]) -> dict[CellKey, list[store.RunSummary]]:
    """Runs grouped by cell, variants then arms in the order the study lists them."""
    runs = list(runs)
    variants = list(dict.fromkeys(r.variant for r in runs))
    arms = list(dict.fromkeys(r.arm for r in runs))
    grouped: dict[CellKey, list[store.RunSummary]] = defaultdict(list)
    for r in runs:
        grouped[(r.variant, r.arm)].append(r)
    return {(v, a): grouped[(v, a)] for v in variants for a in arms if (v, a) in grouped}


def _check_pairs(pairs: Sequence[tuple[CellKey, CellKey]], cells: Mapping[CellKey, object]) -> None:
    for i, pair in enumerate(pairs):
        for cell in pair:
            if tuple(cell) not in cells:
                known = ", ".join(cell_label(c) for c in cells) or "none"
                raise InputError(
                    f"the study has no cell {cell_label(cell)} (cells: {known})",
                    field=f"pairs[{i}]",
                )


ScoresByCell = dict[CellKey, dict[tuple[str | int, ...], float]]


def _scores_by_cell(rows: Iterable[store.CellScore]) -> ScoresByCell:
    out: ScoresByCell = defaultdict(dict)
    for r in rows:
        out[(r.variant, r.arm)][r.parts] = r.score
    return out


def _pair(scores: ScoresByCell, a: CellKey, b: CellKey) -> list[store.PairedRow]:
    """The samples scored in both cells, in match-key order (condition or item, index, seed)."""
    in_a, in_b = scores.get(a, {}), scores.get(b, {})
    shared = sorted(in_a.keys() & in_b.keys())
    return [store.PairedRow("|".join(str(v) for v in k), in_a[k], in_b[k]) for k in shared]


def _cell(
    key: CellKey, runs: Sequence[store.RunSummary], metrics: Sequence[store.RunMetric], seed: int
) -> Cell:
    ids = {r.run_id for r in runs}
    seed_of = {r.run_id: r.seed for r in runs}
    harmful: dict[int, tuple[int, int]] = {}
    qa: dict[int, list[float]] = defaultdict(list)
    for r in runs:
        k, n = harmful.get(r.seed, (0, 0))
        harmful[r.seed] = (k + r.harmful, n + r.n_agentic)
        qa[r.seed].extend(i.score for i in r.qa_items or ())
    soft: dict[int, tuple[int, int]] = {}
    for p in metrics:
        if p.run_id in ids and p.name == SOFT_METRIC and p.n:
            k, n = soft.get(seed_of[p.run_id], (0, 0))
            soft[seed_of[p.run_id]] = (k + round(p.value * p.n), n + p.n)
    return Cell(
        variant=key[0],
        arm=key[1],
        runs=len(runs),
        seeds=tuple(sorted({r.seed for r in runs})),
        harmful=pooled_rate(harmful, seed=seed),
        harmful_soft=pooled_rate(soft, seed=seed),
        p_harmful_fc=_forced_choice([p for p in metrics if p.run_id in ids], seed_of, seed),
        qa=pooled_mean(qa, seed=seed),
    )


def _forced_choice(
    metrics: Sequence[store.RunMetric], seed_of: Mapping[int, int], seed: int
) -> Interval | None:
    """Forced-choice P(harmful) of a cell, averaged over its runs.

    One run: its stored value and interval. Several: the mean of the runs' values with a
    clustered bootstrap over their per-condition values (a run without them counts as one
    value), so the estimate is the average of the runs' headline numbers.
    """
    headline = {p.run_id: p for p in metrics if p.name == FC_METRIC}
    if not headline:
        return None
    if len(headline) == 1:
        (p,) = headline.values()
        low = p.value if p.ci_low is None else p.ci_low
        high = p.value if p.ci_high is None else p.ci_high
        return Interval(p.value, low, high, p.n or 1, "bootstrap")
    per_condition: dict[int, list[float]] = defaultdict(list)
    for p in metrics:
        if p.name.startswith(FC_METRIC + "/") and p.run_id in headline:
            per_condition[p.run_id].append(p.value)
    groups = {
        f"{seed_of[run_id]}:{run_id}": per_condition.get(run_id) or [p.value]
        for run_id, p in headline.items()
    }
    return stats.clustered_bootstrap_mean(groups, seed=seed)


def _compare(
    a: CellKey, b: CellKey, suite: str, rows: Sequence[store.PairedRow], seed: int
) -> PairedComparison:
    if suite == AGENTIC:
        return stats.mcnemar(
            {r.key: r.score_a >= HARMFUL_AT for r in rows},
            {r.key: r.score_b >= HARMFUL_AT for r in rows},
            label_a=cell_label(a),
            label_b=cell_label(b),
            metric="harmful_rate",
        )
    return stats.paired_bootstrap(
        {r.key: r.score_a for r in rows},
        {r.key: r.score_b for r in rows},
        label_a=cell_label(a),
        label_b=cell_label(b),
        metric="qa_score",
        seed=seed,
        # 2,000 sign flips resolve p down to 0.0005, below Holm's smallest threshold for the
        # 30-test family cap (0.05 / 30), at 40% of the default's cost on the study page.
        resamples=PAIRED_RESAMPLES,
    )


def _conditions(
    counts: Sequence[store.ConditionCount],
    run_cell: Mapping[int, CellKey],
    run_seed: Mapping[int, int],
    cells: Sequence[CellKey],
    seed: int,
) -> list[ConditionRate]:
    grouped: dict[tuple[CellKey, str], dict[int, tuple[int, int]]] = defaultdict(dict)
    for c in counts:
        per_seed = grouped[(run_cell[c.run_id], c.condition)]
        k, n = per_seed.get(run_seed[c.run_id], (0, 0))
        per_seed[run_seed[c.run_id]] = (k + c.harmful, n + c.n)
    order = {cell: i for i, cell in enumerate(cells)}
    out = []
    for cell, condition in sorted(grouped, key=lambda x: (order[x[0]], x[1])):
        rate = pooled_rate(grouped[(cell, condition)], seed=seed, resamples=BREAKDOWN_RESAMPLES)
        if rate is not None:
            out.append(ConditionRate(cell[0], cell[1], condition, rate))
    return out


def _clauses(
    runs: Sequence[store.RunSummary], cells: Sequence[CellKey], seed: int
) -> list[ClauseScore]:
    grouped: dict[tuple[CellKey, str], dict[int, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in runs:
        for item in r.qa_items or ():
            grouped[((r.variant, r.arm), item.clause)][r.seed].append(item.score)
    order = {cell: i for i, cell in enumerate(cells)}
    out = []
    for cell, clause in sorted(grouped, key=lambda x: (order[x[0]], x[1])):
        score = pooled_mean(grouped[(cell, clause)], seed=seed, resamples=BREAKDOWN_RESAMPLES)
        if score is not None:
            out.append(ClauseScore(cell[0], cell[1], clause, score))
    return out


def _loss_curves(
    metrics: Sequence[store.RunMetric],
    run_cell: Mapping[int, CellKey],
    run_seed: Mapping[int, int],
) -> list[LossPoint]:
    curves: dict[tuple[int, int], list[store.RunMetric]] = defaultdict(list)
    for p in metrics:
        if p.name == LOSS_METRIC:
            curves[(p.run_id, p.stage_id)].append(p)
    out = []
    for (run_id, _), points in curves.items():
        stride = math.ceil(len(points) / MAX_CURVE_POINTS)
        kept = points[::stride]
        if kept[-1] is not points[-1]:
            kept.append(points[-1])
        variant, arm = run_cell[run_id]
        out += [
            LossPoint(variant, arm, run_seed[run_id], p.stage_kind, p.step, p.value) for p in kept
        ]
    return out
