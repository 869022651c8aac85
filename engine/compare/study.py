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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
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
from engine.evals.conditions import FACETS, condition_facets
from engine.evals.headline import headline_tags
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
        model: the base model whose runs are compared (``None``: the study has one).
        models: every base model of the study, in launch order.
        suite_tags: suite → the stored suite tag its numbers were read from: the suite itself
            (the verdicts the study ran with) or a re-judged tag such as ``agentic~agentic_llm``
            (see :mod:`engine.evals.headline`).
    """

    study: StudyInfo
    cells: tuple[Cell, ...]
    comparisons: tuple[PairedComparison, ...]
    conditions: tuple[ConditionRate, ...]
    clauses: tuple[ClauseScore, ...]
    loss_curves: tuple[LossPoint, ...]
    omitted_pairs: int = 0
    model: str | None = None
    models: tuple[str, ...] = ()
    suite_tags: Mapping[str, str] = dataclass_field(default_factory=dict)

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
    model: str | None = None,
) -> StudyComparison:
    """Compare the cells of a study with intervals, paired tests and Holm's adjustment.

    Args:
        db: the database.
        study_id: the study.
        pairs: (A, B) cells to compare, each ``(variant, arm)``; B − A is reported. Default:
            :func:`~engine.compare.cells.default_pairs`.
        seed: seed of every resampling, so the same data always gives the same numbers.
        model: for a study of several base models, the one whose runs are compared (cells
            never pool runs of different models); ``None``: its first model.

    Raises:
        NotFoundError: no such study.
        InputError: a requested pair names a cell the study does not have, or ``model`` is
            not one of the study's.
    """
    with db.read() as s:
        header = store.study_header(s, study_id)
        # Each suite's numbers come from the verdicts of the study's headline judge.
        tags = headline_tags(header.config, (AGENTIC, SPEC_QA))
        every_run = store.run_summaries(
            s, study_id, agentic=tags[AGENTIC], spec_qa=tags[SPEC_QA], harmful_at=HARMFUL_AT,
            with_qa_items=True,
        )  # fmt: skip
        # The models in the order of their first run; one study of several is compared
        # within one model (filtered here and below, with no statement of its own).
        models = tuple(dict.fromkeys(r.model for r in every_run))
        model = _pick_model(models, model)
        runs = [r for r in every_run if model is None or r.model == model]
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
        counts = store.condition_counts(
            s, study_id, suite=tags[AGENTIC], harmful_at=HARMFUL_AT, model=model
        )
        metrics = store.run_metrics(
            s,
            study_id,
            names=(FC_METRIC, SOFT_METRIC, LOSS_METRIC),
            prefixes=(FC_METRIC + "/",),
            model=model,
        )
        needed = {x for a, b in chosen for x in suites_of[a] if x in suites_of[b]}
        scores = {
            suite: _scores_by_cell(
                store.cell_scores(s, study_id, tags[suite], match=MATCH[suite], model=model)
            )
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
        model=model,
        models=models,
        suite_tags=tags,
    )


def _pick_model(models: Sequence[str], model: str | None) -> str | None:
    """The model a comparison filters on: ``None`` for a one-model study (no filter), else
    ``model`` (checked) or the study's first."""
    if model is not None and model not in models:
        raise InputError(
            f"the study has no runs on model {model!r}; its models: {', '.join(models)}",
            field="model",
        )
    if len(models) <= 1:
        return None
    return model or models[0]


def flipped_samples(
    db: Database,
    study_id: int,
    a: CellKey,
    b: CellKey,
    limit: int = 20,
    model: str | None = None,
) -> list[tuple[EvalSample, EvalSample]]:
    """Agentic samples whose verdict differs between cells A and B, side by side.

    Samples are matched on condition, sample index and training seed, as in the comparison
    (and within one base model of a study of several: ``model``, default its first).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
    with db.read() as s:
        header = store.study_header(s, study_id)  # NotFoundError for an unknown study
        suite = headline_tags(header.config, (AGENTIC,))[AGENTIC]
        # Default: the study's first model, picked inside the statement (no extra query).
        model = model if model is not None else store.FIRST_MODEL
        return store.flipped_samples(
            s, study_id, a, b, suite=suite, match=MATCH[AGENTIC], limit=limit, model=model
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
    group: Callable[[str], str] = str,
) -> list[ConditionRate]:
    """Per cell and condition (or group of conditions: ``group`` maps a condition id to its
    group's name), the pooled harmful rate."""
    grouped: dict[tuple[CellKey, str], dict[int, tuple[int, int]]] = defaultdict(dict)
    for c in counts:
        per_seed = grouped[(run_cell[c.run_id], group(c.condition))]
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


def grouped_conditions(
    db: Database,
    study_id: int,
    by: str,
    where: Mapping[str, Sequence[str]] | None = None,
    seed: int = 0,
    model: str | None = None,
    suite: str = AGENTIC,
) -> list[ConditionRate]:
    """Per cell, the harmful rate of each value of one facet of the agentic conditions
    (``scenario``, ``goal``, ``goal_value``, ``urgency``; ``condition`` = no grouping), pooled
    over the conditions and seeds it covers the way the headline table pools a cell, and read
    from the study's headline judge. ``where`` keeps only the conditions whose facets take one
    of the listed values (``{"scenario": ["leak"]}``; an empty list keeps all). In a study
    of several base models, only ``model``'s runs (default: its first model).

    Raises:
        InputError: an unknown facet.
    """
    where = {k: v for k, v in (where or {}).items() if v}
    for field, facet in (("by", by), *((f"where.{k}", k) for k in where)):
        if facet not in FACETS:
            raise InputError(f"unknown facet {facet!r}; use {', '.join(FACETS)}", field=field)
    with db.read() as s:
        header = store.study_header(s, study_id)
        tag = headline_tags(header.config, (suite,))[suite]
        model = _pick_model(store.study_models(s, study_id), model)
        runs = store.run_summaries(
            s, study_id, agentic=tag, spec_qa=SPEC_QA, harmful_at=HARMFUL_AT, model=model
        )
        counts = store.condition_counts(s, study_id, suite=tag, harmful_at=HARMFUL_AT, model=model)
    run_cell = {r.run_id: (r.variant, r.arm) for r in runs}
    run_seed = {r.run_id: r.seed for r in runs}
    kept = [
        c
        for c in counts
        if all(condition_facets(c.condition).get(k) in v for k, v in where.items())
    ]
    return _conditions(
        kept,
        run_cell,
        run_seed,
        list(_runs_by_cell(runs)),
        seed,
        group=lambda condition: condition_facets(condition).get(by, "(none)"),
    )
