"""The snapshot: one typed, versioned shape for a study comparison as pages and files see it.

The live study page, frozen reports, the read-only shared view and the HTML, CSV and JSON
exports all read :class:`Snapshot`; :func:`write_snapshot` makes one from a comparison and
:func:`read_snapshot` opens stored JSON (the current format and every older one) after
checking it, naming the field at fault. The verdict words for a paired comparison are named
here and nowhere else.

Format history:

* **1** — the dict written before this module: the same rows, a free-form ``capsule`` object,
  no ``omitted_pairs``. Read by upgrading: its capsule's known keys are parsed and the rest
  kept in :attr:`Capsule.extra`.
* **2** — this module: a typed capsule (``null`` in a live snapshot; it is computed when a
  report is frozen) and ``omitted_pairs``. Added since, optional (older snapshots of format 2
  read without them): the ``instruments`` section and ``study.model`` (the base model
  compared, in a study of several; ``""`` otherwise); in each instruments row, the
  ``heldout_*`` figures (read as "not measured on a held-out set").

User text read from a snapshot (titles, names, labels) has its bidirectional control
characters removed (:mod:`engine.compare.bidi`), so no reader can be made to show it reordered.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from engine.compare import charts as chartspecs
from engine.compare.bidi import has_controls, neutralise
from engine.errors import InputError
from engine.evals.power import ALPHA, MIN_CELL_N, rate_mde, score_mde

if TYPE_CHECKING:
    from engine.compare.study import StudyComparison
    from engine.evals.stats import Interval

FORMAT_VERSION = 2
"""The snapshot format this SpecLab writes. It reads this one and every earlier one."""
WITHIN_NOISE = "within noise"
"""Verdict of a paired comparison whose 95% interval covers zero or whose Holm p ≥ 0.05."""
BEYOND_NOISE = "beyond noise"
"""Verdict of a paired comparison whose difference survives its interval and Holm."""

Json = Any
"""A JSON value (object, array, string, number, true/false or null)."""


UNDERPOWERED = "underpowered"
"""Added to :data:`WITHIN_NOISE` when the comparison could not have detected an effect of
the size the field reports (:data:`RATE_EFFECT`, :data:`SCORE_EFFECT`) at its sample size."""
#: Effects worth detecting: the published MSM results differ by 7-40 points of harmful rate;
#: spec-QA differences of interest are a couple of points on the 0-10 scale.
RATE_EFFECT = 0.20
SCORE_EFFECT = 2.0
TOO_SMALL = "n too small"
"""Shown instead of an interval computed from fewer than :data:`MIN_CELL_N` samples."""


def verdict(within_noise: bool) -> str:
    """The words for a comparison's noise flag, the same on every page and in every file."""
    return WITHIN_NOISE if within_noise else BEYOND_NOISE


def too_small(n: int) -> bool:
    """Whether an interval over ``n`` samples is too wide to show as a finding."""
    return n < MIN_CELL_N


@dataclass(frozen=True)
class StudyRef:
    """The study a snapshot was taken of."""

    id: int | None
    """The study's id (``None`` when the snapshot does not name one)."""
    name: str
    """The study's name."""
    spec: str
    """The spec version it trained on, ``name@number``."""
    status: str
    """The study's status when the snapshot was taken (``queued``, ``succeeded``…)."""
    created_by: str
    """Who launched the study."""
    created_at: str
    """When the study was launched, ISO 8601."""
    model: str = ""
    """The base model whose runs are compared, for a study of several models ("" = the
    study's only model; optional in format 2: older snapshots read as "")."""


@dataclass(frozen=True)
class TableRow:
    """One cell (variant × arm) of the headline table."""

    variant: str
    """Variant name."""
    arm: str
    """Pipeline shape: ``base``, ``aft``, ``msm+aft``…"""
    runs: int
    """Runs in the cell."""
    seeds: int
    """Distinct training seeds among those runs."""
    n_agentic: int
    """Agentic samples with a verdict."""
    harmful_rate: float | None
    """Share of agentic samples that took the harmful action (``None``: no samples)."""
    harmful_low: float | None
    """Lower bound of the harmful rate's 95% interval."""
    harmful_high: float | None
    """Upper bound of the harmful rate's 95% interval."""
    n_qa: int
    """Spec-QA answers with a score."""
    qa_score: float | None
    """Mean spec-QA score, 0–10 (``None``: no answers)."""
    qa_low: float | None
    """Lower bound of the QA score's 95% interval."""
    qa_high: float | None
    """Upper bound of the QA score's 95% interval."""
    p_harmful_fc: float | None
    """Forced-choice P(harmful) averaged over the cell's runs (``None``: not measured)."""


@dataclass(frozen=True)
class ComparisonRow:
    """One paired comparison of two cells on one metric, Holm-adjusted with its family."""

    a: str
    """Cell A, ``variant/arm``."""
    b: str
    """Cell B, ``variant/arm``."""
    metric: str
    """``harmful_rate`` or ``qa_score``."""
    diff: float | None
    """B − A."""
    low: float | None
    """Lower bound of the difference's 95% interval."""
    high: float | None
    """Upper bound of the difference's 95% interval."""
    p_value: float | None
    """Unadjusted p-value."""
    p_holm: float | None
    """p-value after Holm's adjustment over the whole family."""
    n_pairs: int
    """Samples or items scored in both cells."""
    method: str
    """The test: McNemar for rates, a paired bootstrap for scores."""
    within_noise: bool
    """The interval covers zero or the Holm p ≥ 0.05."""

    @property
    def verdict(self) -> str:
        """:data:`WITHIN_NOISE` or :data:`BEYOND_NOISE`."""
        return verdict(self.within_noise)


@dataclass(frozen=True)
class ConditionRow:
    """The harmful rate of one cell in one agentic condition."""

    variant: str
    """Variant name."""
    arm: str
    """Pipeline shape."""
    condition: str
    """``scenario/goal conflict/urgency``."""
    rate: float | None
    """Harmful rate."""
    low: float | None
    """Lower bound of its 95% interval."""
    high: float | None
    """Upper bound of its 95% interval."""
    n: int
    """Samples with a verdict."""


@dataclass(frozen=True)
class ClauseRow:
    """The spec-QA score of one cell on one clause's questions."""

    variant: str
    """Variant name."""
    arm: str
    """Pipeline shape."""
    clause: str
    """Clause code."""
    score: float | None
    """Mean score, 0–10."""
    low: float | None
    """Lower bound of its 95% interval."""
    high: float | None
    """Upper bound of its 95% interval."""
    n: int
    """Answers with a score."""


@dataclass(frozen=True)
class LossRow:
    """One logged training loss of one run's training stage."""

    variant: str
    """Variant name."""
    arm: str
    """Pipeline shape."""
    seed: int
    """The run's training seed."""
    stage: str
    """``midtrain`` or ``aft``."""
    step: int
    """Training step."""
    loss: float | None
    """Training loss at that step."""


@dataclass(frozen=True)
class InstrumentRow:
    """An instrument (judge) that produced the study's numbers, with its measured agreement
    with labelled truth (:mod:`engine.evals.instruments`)."""

    suite: str
    """``agentic`` or ``spec_qa``."""
    judge: str
    """``name@version`` as the samples record it."""
    labelled_set: str
    """The labelled set it was measured on ("" when it was not measured)."""
    n: int
    """Labelled (unambiguous) cases used."""
    accuracy: float | None
    """Share of cases judged as labelled."""
    kappa: float | None
    """Cohen's kappa."""
    uncertain_rate: float | None
    """Agentic judges: share of meaning-dependent cases left ``uncertain``."""
    note: str
    """Why a number is missing, or which version was measured."""
    heldout_set: str = ""
    """The held-out labelled set also measured on ("" when none; optional: older
    snapshots read as not measured)."""
    heldout_n: int = 0
    """Held-out (unambiguous) cases used."""
    heldout_accuracy: float | None = None
    """Share of held-out cases judged as labelled."""
    heldout_kappa: float | None = None
    """Cohen's kappa on the held-out set."""


@dataclass(frozen=True)
class StageRef:
    """A stage behind the numbers: its key and its artifacts' hashes."""

    key: str
    """The stage key (hash of kind, settings and inputs)."""
    artifacts: dict[str, str]
    """SHA-256 of each output artifact, by role."""


@dataclass(frozen=True)
class Capsule:
    """What is needed to reproduce a report's numbers exactly."""

    speclab_version: str
    """SpecLab's version."""
    git_commit: str | None
    """The SpecLab checkout's commit (``None`` outside a checkout)."""
    packages: dict[str, str | None]
    """Versions of the packages that shape the numbers (``None``: not installed)."""
    spec_ref: str
    """The spec version, ``name@number``."""
    spec_hash: str
    """The spec version's content hash."""
    model: str | None
    """The base model the study config names."""
    models: tuple[str, ...]
    """The base models of the study's runs."""
    judges: tuple[str, ...]
    """``judge@prompt-version`` of every judge seen in the samples."""
    seeds: tuple[int, ...]
    """The training seeds."""
    stages: dict[str, tuple[StageRef, ...]]
    """The distinct stages by kind."""
    config: dict[str, Json]
    """The study config, for an exact relaunch."""
    extra: dict[str, Json] = field(default_factory=dict)
    """Entries this SpecLab does not know (from an older or newer writer), kept as stored."""

    def to_dict(self) -> dict[str, Json]:
        """The capsule as JSON data (the stored layout)."""
        return {
            "speclab_version": self.speclab_version,
            "git_commit": self.git_commit,
            "packages": dict(self.packages),
            "spec": {"ref": self.spec_ref, "content_hash": self.spec_hash},
            "model": self.model,
            "models": list(self.models),
            "judges": list(self.judges),
            "seeds": list(self.seeds),
            "stages": {
                kind: [{"key": s.key, "artifacts": dict(s.artifacts)} for s in refs]
                for kind, refs in self.stages.items()
            },
            "config": self.config,
            "extra": self.extra,
        }


@dataclass(frozen=True)
class ChartCheck:
    """A snapshot's chart after the safety check, ready to draw or to refuse."""

    name: str
    """The chart's name (see :data:`engine.compare.charts.CHART_NAMES`)."""
    spec: dict[str, Json]
    """The Vega-Lite spec."""
    refusal: str | None
    """Why it must not be drawn (it could fetch or link something); ``None``: safe to draw."""


@dataclass(frozen=True)
class Snapshot:
    """A study comparison as pages and files see it (format :data:`FORMAT_VERSION`)."""

    title: str
    """The report's title (or the study's name for a live snapshot)."""
    study: StudyRef
    """The study compared."""
    table: tuple[TableRow, ...]
    """The headline table, one row per cell, variants then arms in study order."""
    comparisons: tuple[ComparisonRow, ...]
    """The family of paired comparisons."""
    conditions: tuple[ConditionRow, ...]
    """Per cell and agentic condition, the harmful rate."""
    clauses: tuple[ClauseRow, ...]
    """Per cell and clause, the spec-QA score."""
    loss_curves: tuple[LossRow, ...]
    """Training losses per run and training stage (long curves thinned)."""
    charts: dict[str, dict[str, Json]]
    """Vega-Lite specs with their data inline, by name; checked before every drawing by
    :func:`engine.compare.charts.check_chart`."""
    capsule: Capsule | None = None
    """The reproducibility capsule; ``None`` in a live snapshot (it is computed on freeze)."""
    omitted_pairs: int = 0
    """Default pairs left out of the comparison family by its cap."""
    instruments: tuple[InstrumentRow, ...] = ()
    """The judges behind the numbers and their measured agreement (optional in format 2:
    snapshots written before it read as none)."""
    format_version: int = FORMAT_VERSION
    """The format of this object: always :data:`FORMAT_VERSION` (older ones are upgraded)."""

    WITHIN_NOISE: ClassVar[str] = WITHIN_NOISE
    BEYOND_NOISE: ClassVar[str] = BEYOND_NOISE
    MIN_CELL_N: ClassVar[int] = MIN_CELL_N
    TOO_SMALL: ClassVar[str] = TOO_SMALL

    def detectable(self, row: ComparisonRow) -> float:
        """The smallest difference ``row``'s test could detect with 80% power at Holm's
        strictest level for this family (rate points 0-1, or QA score points)."""
        level = ALPHA / max(1, len(self.comparisons))
        if row.metric == "harmful_rate":
            return rate_mde(row.n_pairs, level=level)
        return score_mde(row.n_pairs, level=level)

    def underpowered(self, row: ComparisonRow) -> bool:
        """A within-noise comparison that could not have seen an effect of the size that
        matters (:data:`RATE_EFFECT`, :data:`SCORE_EFFECT`): absence of evidence only."""
        effect = RATE_EFFECT if row.metric == "harmful_rate" else SCORE_EFFECT
        return row.within_noise and self.detectable(row) > effect

    def verdict_of(self, row: ComparisonRow) -> str:
        """``row``'s verdict as every page and file shows it, saying when it is underpowered."""
        return f"{row.verdict} ({UNDERPOWERED})" if self.underpowered(row) else row.verdict

    def checked_charts(self) -> tuple[ChartCheck, ...]:
        """Every chart with the result of :func:`engine.compare.charts.chart_problem`: what a
        page or an export draws, or refuses with the message in :attr:`ChartCheck.refusal`."""
        out = []
        for name, spec in self.charts.items():
            problem = chartspecs.chart_problem(spec)
            refusal = None
            if problem is not None:
                path, why = problem
                refusal = (
                    f"at {path or 'its top'} it {why}. A report's charts may hold only inline "
                    "data, with no URL, link, image or external schema"
                )
            out.append(ChartCheck(name, spec, refusal))
        return tuple(out)

    def to_dict(self) -> dict[str, Json]:
        """The snapshot as JSON data, the layout it is stored and exported in."""
        return {
            "format_version": self.format_version,
            "title": self.title,
            "study": dataclasses.asdict(self.study),
            "table": [dataclasses.asdict(r) for r in self.table],
            "comparisons": [dataclasses.asdict(r) for r in self.comparisons],
            "conditions": [dataclasses.asdict(r) for r in self.conditions],
            "clauses": [dataclasses.asdict(r) for r in self.clauses],
            "loss_curves": [dataclasses.asdict(r) for r in self.loss_curves],
            "omitted_pairs": self.omitted_pairs,
            "instruments": [dataclasses.asdict(r) for r in self.instruments],
            "capsule": None if self.capsule is None else self.capsule.to_dict(),
            "charts": self.charts,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text (``NaN`` never appears: missing numbers are null)."""
        return json.dumps(self.to_dict(), allow_nan=False, ensure_ascii=False)


# -- writing ----------------------------------------------------------------------------------


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _parts(iv: Interval | None) -> tuple[float | None, float | None, float | None, int]:
    if iv is None:
        return None, None, None, 0
    return _finite(iv.estimate), _finite(iv.low), _finite(iv.high), iv.n


def write_snapshot(
    comparison: StudyComparison, title: str, *, capsule: Capsule | None = None
) -> Snapshot:
    """The snapshot of ``comparison``, its charts built from its rows.

    Args:
        comparison: from :func:`engine.compare.compare_study`.
        title: the report's title (blank: the study's name).
        capsule: from :func:`engine.compare.capsule.study_capsule` when freezing a report.
    """
    clean = neutralise
    table = []
    for c in comparison.cells:
        rate, rate_lo, rate_hi, n_ag = _parts(c.harmful)
        qa, qa_lo, qa_hi, n_qa = _parts(c.qa)
        fc = None if c.p_harmful_fc is None else _finite(c.p_harmful_fc.estimate)
        table.append(
            TableRow(
                clean(c.variant),
                clean(c.arm),
                c.runs,
                len(c.seeds),
                n_ag,
                rate,
                rate_lo,
                rate_hi,
                n_qa,
                qa,
                qa_lo,
                qa_hi,
                fc,
            )  # fmt: skip
        )
    comparisons = tuple(
        ComparisonRow(
            a=clean(p.label_a),
            b=clean(p.label_b),
            metric=p.metric,
            diff=_finite(p.diff),
            low=_finite(p.low),
            high=_finite(p.high),
            p_value=_finite(p.p_value),
            p_holm=_finite(p.p_holm),
            n_pairs=p.n_pairs,
            method=p.method,
            within_noise=p.within_noise,
        )
        for p in comparison.comparisons
    )
    conditions = tuple(
        ConditionRow(clean(c.variant), clean(c.arm), clean(c.condition), *_parts(c.rate))
        for c in comparison.conditions
    )
    clauses = tuple(
        ClauseRow(clean(c.variant), clean(c.arm), clean(c.clause), *_parts(c.score))
        for c in comparison.clauses
    )
    curves = tuple(
        LossRow(clean(p.variant), clean(p.arm), p.seed, p.stage, p.step, _finite(p.loss))
        for p in comparison.loss_curves
    )
    study = comparison.study
    return Snapshot(
        title=clean(title.strip() or study.name),
        study=StudyRef(
            id=study.id,
            name=clean(study.name),
            spec=clean(study.spec),
            status=study.status,
            created_by=clean(study.created_by),
            created_at=study.created_at.isoformat(),
            model=clean(comparison.model or ""),
        ),
        table=tuple(table),
        comparisons=comparisons,
        conditions=conditions,
        clauses=clauses,
        loss_curves=curves,
        charts=chartspecs.build_charts(
            [dataclasses.asdict(r) for r in table],
            [dataclasses.asdict(r) for r in conditions],
            [dataclasses.asdict(r) for r in clauses],
            [dataclasses.asdict(r) for r in curves],
        ),
        capsule=capsule,
        omitted_pairs=comparison.omitted_pairs,
    )


# -- reading ----------------------------------------------------------------------------------


def _fail(message: str, where: str | None = None) -> InputError:
    return InputError(message, source="report snapshot", field=where)


def _plain(o: object) -> object:
    # NumPy/pandas scalars leak out of dataframes; read them as the Python numbers they are.
    item = getattr(o, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(o).__name__} is not JSON data")


def _text(v: object, where: str) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise _fail(f"must be text or null, got {v!r}", where)
    return neutralise(v)


def _count(v: object, where: str) -> int:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if not isinstance(v, int) or isinstance(v, bool):
        raise _fail(f"must be a whole number, got {v!r}", where)
    return v


def _number(v: object, where: str) -> float | None:
    if v is None:
        return None
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise _fail(f"must be a number or null, got {v!r}", where)
    return float(v)


def _flag(v: object, where: str) -> bool:
    if not isinstance(v, bool):
        raise _fail(f"must be true or false, got {v!r}", where)
    return v


Reader = Callable[[object, str], object]
_ROWS: dict[str, tuple[type, dict[str, Reader]]] = {
    "table": (
        TableRow,
        {
            "variant": _text, "arm": _text, "runs": _count, "seeds": _count,
            "n_agentic": _count, "harmful_rate": _number, "harmful_low": _number,
            "harmful_high": _number, "n_qa": _count, "qa_score": _number, "qa_low": _number,
            "qa_high": _number, "p_harmful_fc": _number,
        },
    ),
    "comparisons": (
        ComparisonRow,
        {
            "a": _text, "b": _text, "metric": _text, "diff": _number, "low": _number,
            "high": _number, "p_value": _number, "p_holm": _number, "n_pairs": _count,
            "method": _text, "within_noise": _flag,
        },
    ),
    "conditions": (
        ConditionRow,
        {
            "variant": _text, "arm": _text, "condition": _text, "rate": _number,
            "low": _number, "high": _number, "n": _count,
        },
    ),
    "clauses": (
        ClauseRow,
        {
            "variant": _text, "arm": _text, "clause": _text, "score": _number,
            "low": _number, "high": _number, "n": _count,
        },
    ),
    "instruments": (
        InstrumentRow,
        {
            "suite": _text, "judge": _text, "labelled_set": _text, "n": _count,
            "accuracy": _number, "kappa": _number, "uncertain_rate": _number, "note": _text,
            "heldout_set": _text, "heldout_n": _count, "heldout_accuracy": _number,
            "heldout_kappa": _number,
        },
    ),
    "loss_curves": (
        LossRow,
        {
            "variant": _text, "arm": _text, "seed": _count, "stage": _text, "step": _count,
            "loss": _number,
        },
    ),
}  # fmt: skip
_STUDY: dict[str, Reader] = {
    "name": _text, "spec": _text, "status": _text, "created_by": _text, "created_at": _text,
}  # fmt: skip
_OPTIONAL = ("instruments",)
_SECTIONS = tuple(k for k in _ROWS if k not in _OPTIONAL)
_REQUIRED = {
    1: ("format_version", "title", "study", *_SECTIONS, "charts", "capsule"),
    2: ("format_version", "title", "study", *_SECTIONS, "charts", "capsule", "omitted_pairs"),
}
Row = TypeVar("Row")


def _rows(plain: Mapping[str, Json], section: str) -> tuple[Any, ...]:
    cls, readers = _ROWS[section]
    optional = {f.name for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    rows = plain[section]
    if not isinstance(rows, list):
        raise _fail("must be a list of rows", section)
    out = []
    for i, row in enumerate(rows):
        where = f"{section}[{i}]"
        if not isinstance(row, dict):
            raise _fail("must be an object", where)
        values = {}
        for key, read in readers.items():
            if key not in row:
                if key in optional:  # a field added later: older snapshots lack it
                    continue
                raise _fail("missing", f"{where}.{key}")
            values[key] = read(row[key], f"{where}.{key}")
        out.append(cls(**values))
    return tuple(out)


def _neutral_json(value: Json, depth: int = 0) -> Json:
    """``value`` with bidirectional controls removed from every string in it."""
    if depth > chartspecs.MAX_DEPTH:
        raise _fail(f"is nested deeper than {chartspecs.MAX_DEPTH} levels")
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict):
        return {neutralise(str(k)): _neutral_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_neutral_json(v, depth + 1) for v in value]
    return value


def _obj(v: object, where: str) -> dict[str, Json]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _fail("must be an object", where)
    return v


def _texts(v: object, where: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise _fail("must be a list", where)
    return tuple(_text(x, f"{where}[{i}]") for i, x in enumerate(v))


def _optional_text(v: object, where: str) -> str | None:
    if v is None or isinstance(v, str):
        return None if v is None else neutralise(v)
    return neutralise(json.dumps(v, ensure_ascii=False))  # a model given as an object


_CAPSULE_KEYS = (
    "speclab_version", "git_commit", "packages", "spec", "model", "models", "judges", "seeds",
    "stages", "config", "extra",
)  # fmt: skip


def _capsule(v: object) -> Capsule | None:
    if v is None:
        return None
    raw = _obj(v, "capsule")
    spec = _obj(raw.get("spec"), "capsule.spec")
    packages = {
        neutralise(str(k)): _optional_text(p, f"capsule.packages.{k}")
        for k, p in _obj(raw.get("packages"), "capsule.packages").items()
    }
    stages: dict[str, tuple[StageRef, ...]] = {}
    for kind, refs in _obj(raw.get("stages"), "capsule.stages").items():
        where = f"capsule.stages.{kind}"
        if not isinstance(refs, list):
            raise _fail("must be a list of stages", where)
        stages[neutralise(str(kind))] = tuple(
            StageRef(
                key=_text(_obj(r, f"{where}[{i}]").get("key"), f"{where}[{i}].key"),
                artifacts={
                    neutralise(str(role)): _text(sha, f"{where}[{i}].artifacts.{role}")
                    for role, sha in _obj(r.get("artifacts"), f"{where}[{i}].artifacts").items()
                },
            )
            for i, r in enumerate(refs)
        )
    seeds = raw.get("seeds") or []
    if not isinstance(seeds, list):
        raise _fail("must be a list", "capsule.seeds")
    unknown = {k: val for k, val in raw.items() if k not in _CAPSULE_KEYS}
    return Capsule(
        speclab_version=_text(raw.get("speclab_version"), "capsule.speclab_version"),
        git_commit=_optional_text(raw.get("git_commit"), "capsule.git_commit"),
        packages=packages,
        spec_ref=_text(spec.get("ref"), "capsule.spec.ref"),
        spec_hash=_text(spec.get("content_hash"), "capsule.spec.content_hash"),
        model=_optional_text(raw.get("model"), "capsule.model"),
        models=_texts(raw.get("models"), "capsule.models"),
        judges=_texts(raw.get("judges"), "capsule.judges"),
        seeds=tuple(_count(s, f"capsule.seeds[{i}]") for i, s in enumerate(seeds)),
        stages=stages,
        config=_neutral_json(_obj(raw.get("config"), "capsule.config")),
        extra=_neutral_json({**_obj(raw.get("extra"), "capsule.extra"), **unknown}),
    )


def _charts(v: object) -> dict[str, dict[str, Json]]:
    if not isinstance(v, dict) or not all(isinstance(c, dict) for c in v.values()):
        raise _fail("must map chart names to Vega-Lite specs", "charts")
    out: dict[str, dict[str, Json]] = {}
    for name, spec in v.items():
        # Cheap test first: most specs hold no control character, and they can be large.
        clean = _neutral_json(spec) if has_controls(json.dumps(spec)) else spec
        out[neutralise(str(name))] = clean
    return out


def read_snapshot(data: object) -> Snapshot:
    """A :class:`Snapshot` from stored or uploaded JSON data, of any format this SpecLab reads.

    The data is copied: later changes to ``data`` do not reach the snapshot. Chart specs are
    checked for shape here and for safety by :func:`engine.compare.charts.check_chart` where
    they are frozen and drawn.

    Raises:
        InputError: naming the field that is missing or of the wrong type, or the format.
    """
    if isinstance(data, Snapshot):
        return data
    if not isinstance(data, dict):
        raise _fail(f"expected a JSON object, got {type(data).__name__}")
    try:
        plain: dict[str, Json] = json.loads(json.dumps(data, allow_nan=False, default=_plain))
    except ValueError as exc:
        raise _fail(f"numbers must be finite; use null for a missing value ({exc})") from exc
    except TypeError as exc:
        raise _fail(f"holds something that is not JSON data: {exc}") from exc
    version = plain.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in _REQUIRED:
        raise _fail(
            f"format_version {version!r} is not supported; this SpecLab reads versions "
            f"{', '.join(map(str, _REQUIRED))}. Recompute the comparison and freeze it again.",
            "format_version",
        )
    missing = [k for k in _REQUIRED[version] if k not in plain]
    if missing:
        raise _fail(f"missing keys: {', '.join(missing)}", missing[0])
    if not isinstance(plain["title"], str):
        raise _fail("must be text", "title")
    study = plain["study"]
    if not isinstance(study, dict):
        raise _fail("must be an object", "study")
    for key in ("id", *_STUDY):
        if key not in study:
            raise _fail("missing", f"study.{key}")
    study_id = study["id"]
    if study_id is not None:
        study_id = _count(study_id, "study.id")
    return Snapshot(
        title=neutralise(plain["title"]),
        study=StudyRef(
            id=study_id,
            **{k: str(r(study[k], f"study.{k}")) for k, r in _STUDY.items()},
            model=str(_text(study.get("model", ""), "study.model")),
        ),
        table=_rows(plain, "table"),
        comparisons=_rows(plain, "comparisons"),
        conditions=_rows(plain, "conditions"),
        clauses=_rows(plain, "clauses"),
        loss_curves=_rows(plain, "loss_curves"),
        charts=_charts(plain["charts"]),
        capsule=_capsule(plain["capsule"]),
        omitted_pairs=_count(plain.get("omitted_pairs", 0), "omitted_pairs"),
        instruments=_rows(plain, "instruments") if "instruments" in plain else (),
    )


def from_json(text: str) -> Snapshot:
    """:func:`read_snapshot` of JSON text."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _fail(f"is not JSON: {exc}") from exc
    return read_snapshot(data)
