"""The study comparison: the numbers behind the study page and frozen reports.

A study is a grid of cells (variant × arm), each trained with one or more seeds. For each cell
:func:`compare_study` reports

* the **harmful rate** of the agentic eval. With one seed it is the pooled rate with a Wilson
  interval (:func:`engine.evals.stats.wilson`). With several seeds the samples of one seed
  share one trained model and are not independent, so the rate is the mean of the per-seed
  rates with a clustered bootstrap interval (seeds resampled, then samples within each seed;
  :func:`engine.evals.stats.clustered_bootstrap_mean`);
* the **spec-QA score** (0–10): mean with a bootstrap interval over items, clustered by seed in
  the same way when there are several seeds;
* the **forced-choice P(harmful)** (metric ``agentic.forced_choice.p_harmful``) averaged over
  runs, and the second-opinion **soft harmful rate** (``agentic.harmful_rate_soft``) when a
  second judge ran;

then **paired comparisons** between cells (McNemar on matched agentic samples, a paired
bootstrap with a sign-flip test on matched QA items), Holm-adjusted over the whole family so
that many comparisons do not overclaim, per-condition and per-clause breakdowns, training
loss curves, and a **reproducibility capsule** (hashes, versions, config) for exact relaunch.

The counting is done by SQL in :mod:`db.compare`; nothing here loads a table.
"""

from __future__ import annotations

import importlib.metadata
import math
import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from db import compare as store
from db.entities import EvalSample
from db.session import Database
from engine.errors import InputError
from engine.evals import stats
from engine.evals.stats import Interval, PairedComparison

AGENTIC = store.AGENTIC
SPEC_QA = store.SPEC_QA
FC_METRIC = "agentic.forced_choice.p_harmful"
SOFT_METRIC = "agentic.harmful_rate_soft"
LOSS_METRIC = "train/loss"
SNAPSHOT_FORMAT_VERSION = 1
#: The default family of comparisons stops here (pairs × suites), so Holm keeps some power.
MAX_COMPARISONS = 30
#: Loss curves longer than this are thinned (evenly, keeping the last step) for the snapshot.
MAX_CURVE_POINTS = 200
MAX_LIMIT = 500
#: Bootstrap redraws for the per-condition and per-clause breakdowns (the headline cells use
#: 2,000): there can be hundreds of them, and their bounds are read as a guide, not a test.
PAIRED_RESAMPLES = 2000
BREAKDOWN_RESAMPLES = 1000
PACKAGES = ("torch", "transformers", "trl", "peft", "sqlalchemy", "streamlit", "altair")
CHART_NAMES = ("harmful_bars", "qa_bars", "condition_heatmap", "clause_scores", "loss_curves")

CellKey = tuple[str, str]
"""A cell of the study grid: (variant name, arm)."""


def cell_label(cell: CellKey) -> str:
    """``variant/arm``, the way comparisons name their cells."""
    return f"{cell[0]}/{cell[1]}"


@dataclass(frozen=True)
class Cell:
    """One variant × arm of a study, pooled over its seeds.

    Attributes:
        variant: variant name.
        arm: pipeline shape (``base``, ``aft``, ``msm+aft``…).
        runs: number of runs in the cell.
        seeds: the training seeds of those runs.
        harmful: agentic harmful rate (Wilson with one seed, clustered bootstrap with
            several); ``None`` when no agentic sample has a verdict.
        harmful_soft: the second-opinion judge's harmful rate, pooled the same way from the
            ``agentic.harmful_rate_soft`` metric; ``None`` when no second judge ran.
        p_harmful_fc: forced-choice P(harmful) averaged over runs; ``None`` when not measured.
        qa: spec-QA mean score 0–10 (bootstrap, clustered by seed when several); ``None``
            when no QA answer has a score.
    """

    variant: str
    arm: str
    runs: int
    seeds: tuple[int, ...]
    harmful: Interval | None
    harmful_soft: Interval | None
    p_harmful_fc: Interval | None
    qa: Interval | None

    @property
    def key(self) -> CellKey:
        return (self.variant, self.arm)


@dataclass(frozen=True)
class ConditionRate:
    """Harmful rate of one cell in one agentic condition (scenario/goal conflict/urgency)."""

    variant: str
    arm: str
    condition: str
    rate: Interval


@dataclass(frozen=True)
class ClauseScore:
    """Spec-QA mean score of one cell on one clause's questions."""

    variant: str
    arm: str
    clause: str
    score: Interval


@dataclass(frozen=True)
class LossPoint:
    """One logged training loss of one run's training stage (``midtrain`` or ``aft``)."""

    variant: str
    arm: str
    seed: int
    stage: str
    step: int
    loss: float


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
        capsule: what is needed to reproduce the numbers (see :func:`compare_study`).
        omitted_pairs: default pairs left out of the family by :data:`MAX_COMPARISONS`.
    """

    study: StudyInfo
    cells: tuple[Cell, ...]
    comparisons: tuple[PairedComparison, ...]
    conditions: tuple[ConditionRate, ...]
    clauses: tuple[ClauseScore, ...]
    loss_curves: tuple[LossPoint, ...]
    capsule: dict[str, Any] = field(default_factory=dict)
    omitted_pairs: int = 0

    def cell(self, variant: str, arm: str) -> Cell | None:
        return next((c for c in self.cells if c.key == (variant, arm)), None)

    def to_snapshot(self, title: str) -> dict[str, Any]:
        """The frozen report format (``format_version`` 1): JSON data, ``NaN`` as ``null``.

        Keys: ``format_version``, ``title``, ``study``, ``table`` (one row per cell),
        ``comparisons``, ``conditions``, ``clauses``, ``loss_curves``, ``charts`` (Vega-Lite
        specs with their data inline, by name: see :data:`CHART_NAMES`) and ``capsule``.
        """
        table = [_table_row(c) for c in self.cells]
        comparisons = [
            {
                "a": c.label_a,
                "b": c.label_b,
                "metric": c.metric,
                "diff": c.diff,
                "low": c.low,
                "high": c.high,
                "p_value": c.p_value,
                "p_holm": c.p_holm,
                "n_pairs": c.n_pairs,
                "method": c.method,
                "within_noise": c.within_noise,
            }
            for c in self.comparisons
        ]
        conditions = [
            {
                "variant": c.variant,
                "arm": c.arm,
                "condition": c.condition,
                "rate": c.rate.estimate,
                "low": c.rate.low,
                "high": c.rate.high,
                "n": c.rate.n,
            }
            for c in self.conditions
        ]
        clauses = [
            {
                "variant": c.variant,
                "arm": c.arm,
                "clause": c.clause,
                "score": c.score.estimate,
                "low": c.score.low,
                "high": c.score.high,
                "n": c.score.n,
            }
            for c in self.clauses
        ]
        curves = [
            {
                "variant": p.variant,
                "arm": p.arm,
                "seed": p.seed,
                "stage": p.stage,
                "step": p.step,
                "loss": p.loss,
            }
            for p in self.loss_curves
        ]
        snapshot: dict[str, Any] = _json_ready(
            {
                "format_version": SNAPSHOT_FORMAT_VERSION,
                "title": title,
                "study": {
                    "id": self.study.id,
                    "name": self.study.name,
                    "spec": self.study.spec,
                    "status": self.study.status,
                    "created_by": self.study.created_by,
                    "created_at": self.study.created_at.isoformat(),
                },
                "table": table,
                "comparisons": comparisons,
                "conditions": conditions,
                "clauses": clauses,
                "loss_curves": curves,
                "capsule": self.capsule,
            }
        )
        snapshot["charts"] = _json_ready(
            build_charts(
                snapshot["table"],
                snapshot["conditions"],
                snapshot["clauses"],
                snapshot["loss_curves"],
            )
        )
        return snapshot


@dataclass(frozen=True)
class RunsPage:
    """A page of the runs list across all studies, newest first."""

    rows: tuple[store.RunListRow, ...]
    total: int
    limit: int
    offset: int


# -- pooling ----------------------------------------------------------------------------------


def pooled_rate(
    per_seed: Mapping[int, tuple[int, int]], *, seed: int = 0, resamples: int = 2000
) -> Interval | None:
    """A cell's rate from per-seed (successes, n) counts.

    One seed: the pooled rate with a Wilson interval. Several seeds: the mean of per-seed rates
    with a clustered bootstrap interval (each seed one cluster), because samples scored on one
    trained model are not independent. Seeds with no samples are left out; none at all gives
    ``None``.

    The clustered bootstrap is the two-stage scheme of
    :func:`engine.evals.stats.clustered_bootstrap_mean` (redraw seeds, then samples within each
    redrawn seed), computed from the counts: the mean of ``n`` yes/no verdicts redrawn with
    replacement from a seed with ``k`` yeses is distributed exactly as ``Binomial(n, k/n) / n``,
    so each redraw costs one binomial draw per seed instead of ``n`` index draws. That keeps
    the per-condition breakdown of a many-seed study fast at any sample size.
    """
    counts = [(k, n) for _, (k, n) in sorted(per_seed.items()) if n > 0]
    if not counts:
        return None
    if len(counts) == 1:
        ((k, n),) = counts
        return stats.wilson(k, n)
    ks = np.array([k for k, _ in counts], dtype=np.int64)
    ns = np.array([n for _, n in counts], dtype=np.int64)
    rates = ks / ns
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, len(counts), size=(resamples, len(counts)))
    means = (rng.binomial(ns[picked], rates[picked]) / ns[picked]).mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    # Clipped to the range of the verdicts, as in the stats module: all-safe (or all-harmful)
    # data give a zero-width interval with no round-off.
    lo_clip = 0.0 if bool((ks < ns).any()) else 1.0
    hi_clip = 1.0 if bool((ks > 0).any()) else 0.0
    return Interval(
        float(rates.mean()),
        float(np.clip(low, lo_clip, hi_clip)),
        float(np.clip(high, lo_clip, hi_clip)),
        int(ns.sum()),
        "clustered-bootstrap",
    )


def pooled_mean(
    per_seed: Mapping[int, Sequence[float]], *, seed: int = 0, resamples: int = 2000
) -> Interval | None:
    """A cell's mean score: bootstrap over items with one seed, clustered by seed otherwise."""
    groups = {s: list(v) for s, v in per_seed.items() if len(v) > 0}
    if not groups:
        return None
    if len(groups) == 1:
        (values,) = groups.values()
        return stats.bootstrap_mean(values, seed=seed, resamples=resamples)
    return stats.clustered_bootstrap_mean(
        {str(s): v for s, v in groups.items()}, seed=seed, resamples=resamples
    )


def default_pairs(
    cells: Sequence[CellKey], *, n_suites: int = 2, max_comparisons: int = MAX_COMPARISONS
) -> tuple[list[tuple[CellKey, CellKey]], int]:
    """The default family: within each arm every pair of variants, then within each variant
    every pair of arms (A before B in study order), capped at ``max_comparisons`` tests.

    Returns:
        (pairs kept, number of pairs left out by the cap).
    """
    present = set(cells)
    variants = list(dict.fromkeys(v for v, _ in cells))
    arms = list(dict.fromkeys(a for _, a in cells))
    candidates = [
        ((v1, arm), (v2, arm)) for arm in arms for v1, v2 in combinations(variants, 2)
    ] + [((v, a1), (v, a2)) for v in variants for a1, a2 in combinations(arms, 2)]
    pairs = [(a, b) for a, b in candidates if a in present and b in present]
    keep = max(1, max_comparisons // max(1, n_suites))
    return pairs[:keep], max(0, len(pairs) - keep)


# -- the use cases ----------------------------------------------------------------------------


def compare_study(
    db: Database,
    study_id: int,
    pairs: list[tuple[CellKey, CellKey]] | None = None,
    seed: int = 0,
) -> StudyComparison:
    """Compare the cells of a study with intervals, paired tests and Holm's adjustment.

    Args:
        db: the database.
        study_id: the study.
        pairs: (A, B) cells to compare, each ``(variant, arm)``; B − A is reported. Default:
            :func:`default_pairs`.
        seed: seed of every resampling, so the same data always gives the same numbers.

    Returns:
        The comparison. Its ``capsule`` holds the spec ref and content hash, each stage's key
        and artifact hashes by kind, SpecLab's version and git commit (``None`` outside a
        checkout), package versions, the base model(s), the judges and judge prompt versions
        seen in the samples, the seeds and the study config.

    Raises:
        NotFoundError: no such study.
        InputError: a requested pair names a cell the study does not have.
    """
    with db.read() as s:
        header = store.study_header(s, study_id)
        runs = store.run_summaries(s, study_id, with_qa_items=True)
        counts = store.condition_counts(s, study_id)
        metrics = store.run_metrics(
            s, study_id, names=(FC_METRIC, SOFT_METRIC, LOSS_METRIC), prefixes=(FC_METRIC + "/",)
        )
        stages = store.study_stages(s, study_id)
        judges = store.study_judges(s, study_id)
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
            pairs, omitted = default_pairs(list(by_cell), n_suites=n_suites)
        else:
            pairs = [((a[0], a[1]), (b[0], b[1])) for a, b in pairs]
            _check_pairs(pairs, by_cell)
        paired: list[tuple[CellKey, CellKey, str, list[store.PairedRow]]] = []
        for a, b in pairs:
            for suite in (AGENTIC, SPEC_QA):
                if suite in suites_of[a] and suite in suites_of[b]:
                    paired.append((a, b, suite, store.paired_rows(s, study_id, a, b, suite)))

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
        capsule=_capsule(header, runs, stages, judges),
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
        return store.flipped_samples(s, study_id, a, b, suite=AGENTIC, limit=limit)


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
            {r.key: r.score_a >= store.HARMFUL_AT for r in rows},
            {r.key: r.score_b >= store.HARMFUL_AT for r in rows},
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


def _git_commit() -> str | None:
    """The commit of the SpecLab checkout this code runs from, or None outside a checkout."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():  # an installed package inside someone else's repo
        return None
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def _speclab_version() -> str:
    # An editable install can expose ``engine`` as a namespace package (its __init__ unrun),
    # so fall back on the installed distribution's version.
    import engine

    version = getattr(engine, "__version__", None)
    return str(version) if version else _package_version("speclab") or "unknown"


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _capsule(
    header: store.StudyHeader,
    runs: Sequence[store.RunSummary],
    stages: Sequence[store.StageRecord],
    judges: Sequence[str],
) -> dict[str, Any]:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for st in stages:
        by_kind[st.kind].append({"key": st.key, "artifacts": dict(st.artifacts)})
    return {
        "speclab_version": _speclab_version(),
        "git_commit": _git_commit(),
        "packages": {p: _package_version(p) for p in PACKAGES},
        "spec": {"ref": header.spec_ref, "content_hash": header.spec_hash},
        "model": header.config.get("model"),
        "models": sorted({r.model for r in runs}),
        "judges": list(judges),
        "seeds": sorted({r.seed for r in runs}),
        "stages": dict(sorted(by_kind.items())),
        "config": header.config,
    }


# -- snapshot ---------------------------------------------------------------------------------


def _table_row(c: Cell) -> dict[str, Any]:
    def part(iv: Interval | None) -> tuple[float | None, float | None, float | None, int]:
        if iv is None:
            return None, None, None, 0
        return iv.estimate, iv.low, iv.high, iv.n

    rate, rate_lo, rate_hi, n_ag = part(c.harmful)
    qa, qa_lo, qa_hi, n_qa = part(c.qa)
    return {
        "variant": c.variant,
        "arm": c.arm,
        "runs": c.runs,
        "seeds": len(c.seeds),
        "n_agentic": n_ag,
        "harmful_rate": rate,
        "harmful_low": rate_lo,
        "harmful_high": rate_hi,
        "n_qa": n_qa,
        "qa_score": qa,
        "qa_low": qa_lo,
        "qa_high": qa_hi,
        "p_harmful_fc": None if c.p_harmful_fc is None else c.p_harmful_fc.estimate,
    }


def _json_ready(value: Any) -> Any:
    """Plain JSON data: non-finite floats become None, tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def build_charts(
    table: Sequence[Mapping[str, Any]],
    conditions: Sequence[Mapping[str, Any]],
    clauses: Sequence[Mapping[str, Any]],
    loss_curves: Sequence[Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Vega-Lite specs (data inline) for the snapshot's rows; names as in :data:`CHART_NAMES`."""
    import altair as alt  # only when a snapshot is made: the study page need not load it

    # Rows go in as a named dataset attached after to_dict: passing them to altair makes it
    # build and validate a schema object per row (seconds for a 100-run study).
    def inline(rows: list[dict[str, Any]]) -> Any:
        return alt.Data(name="rows")  # type: ignore[no-untyped-call]

    def attach(spec: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
        spec["datasets"] = {"rows": rows}
        return spec

    def with_cell(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{**r, "cell": f"{r['variant']}/{r['arm']}"} for r in rows]

    def bars(
        rows: list[dict[str, Any]],
        x: str,
        offset: str,
        y: str,
        lo: str,
        hi: str,
        scale: Any,
        title: str,
        fmt: str,
    ) -> dict[str, Any]:
        base = alt.Chart(inline(rows)).encode(
            x=alt.X(f"{x}:N", title=x),
            xOffset=alt.XOffset(f"{offset}:N"),
            color=alt.Color(f"{offset}:N", title=offset),
        )
        chart = alt.layer(
            base.mark_bar().encode(
                y=alt.Y(f"{y}:Q", title=title, scale=scale, axis=alt.Axis(format=fmt)),
                tooltip=[
                    f"{x}:N",
                    f"{offset}:N",
                    alt.Tooltip(f"{y}:Q", format=".3f"),
                    alt.Tooltip(f"{lo}:Q", format=".3f"),
                    alt.Tooltip(f"{hi}:Q", format=".3f"),
                ],
            ),
            base.mark_errorbar(ticks=True).encode(
                y=alt.Y(f"{lo}:Q", title=title, scale=scale),
                y2=f"{hi}:Q",
                color=alt.value("black"),
            ),
        ).properties(width=360, height=240)
        return attach(chart.to_dict(validate=False), rows)

    unit = alt.Scale(domain=[0, 1])
    score_scale = alt.Scale(domain=[0, 10])
    table_rows = [dict(r) for r in table]
    harmful = [r for r in table_rows if r["harmful_rate"] is not None]
    qa = [r for r in table_rows if r["qa_score"] is not None]
    charts = {
        "harmful_bars": bars(
            harmful,
            "variant",
            "arm",
            "harmful_rate",
            "harmful_low",
            "harmful_high",
            unit,
            "harmful (95% interval)",
            ".0%",
        ),
        "qa_bars": bars(
            qa,
            "variant",
            "arm",
            "qa_score",
            "qa_low",
            "qa_high",
            score_scale,
            "QA score 0-10 (95% interval)",
            "d",
        ),
        "clause_scores": bars(
            with_cell(clauses),
            "clause",
            "cell",
            "score",
            "low",
            "high",
            score_scale,
            "QA score 0-10 (95% interval)",
            "d",
        ),
    }
    heat_rows = with_cell(conditions)
    charts["condition_heatmap"] = attach(
        alt.Chart(inline(heat_rows))
        .mark_rect()
        .encode(
            x=alt.X("condition:N", title="condition", axis=alt.Axis(labelAngle=-30)),
            y=alt.Y("cell:N", title="variant/arm"),
            color=alt.Color("rate:Q", title="harmful rate", scale=alt.Scale(domain=[0, 1])),
            tooltip=[
                "cell:N",
                "condition:N",
                alt.Tooltip("rate:Q", format=".3f"),
                alt.Tooltip("low:Q", format=".3f"),
                alt.Tooltip("high:Q", format=".3f"),
                "n:Q",
            ],
        )
        .properties(width=max(240, 28 * len({r["condition"] for r in heat_rows})), height=200)
        .to_dict(validate=False),
        heat_rows,
    )
    loss_rows = with_cell(loss_curves)
    charts["loss_curves"] = attach(
        alt.Chart(inline(loss_rows))
        .mark_line()
        .encode(
            x=alt.X("step:Q", title="step"),
            y=alt.Y("loss:Q", title="training loss"),
            color=alt.Color("cell:N", title="variant/arm"),
            strokeDash=alt.StrokeDash("stage:N", title="stage"),
            detail="seed:N",
            tooltip=["cell:N", "stage:N", "seed:N", "step:Q", alt.Tooltip("loss:Q", format=".4f")],
        )
        .properties(width=480, height=260)
        .to_dict(validate=False),
        loss_rows,
    )
    return {name: charts[name] for name in CHART_NAMES}
