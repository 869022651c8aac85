"""Study comparisons: cell statistics, the comparison itself, its snapshot, charts and capsule.

* :mod:`engine.compare.cells` — the grid's cells and how seeds are pooled;
* :mod:`engine.compare.study` — :func:`compare_study`, flipped samples, the runs list;
* :mod:`engine.compare.snapshot` — the one typed, versioned snapshot every page and export reads;
* :mod:`engine.compare.charts` — Vega-Lite specs with inline data, and the check on them;
* :mod:`engine.compare.capsule` — the reproducibility capsule, computed when a report freezes;
* :mod:`engine.compare.bidi` — bidirectional control characters in user text, neutralised.
"""

from engine.compare.cells import (
    AGENTIC,
    FC_METRIC,
    HARMFUL_AT,
    LOSS_METRIC,
    MAX_COMPARISONS,
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
from engine.compare.charts import CHART_NAMES, build_charts, check_chart
from engine.compare.snapshot import (
    BEYOND_NOISE,
    FORMAT_VERSION,
    WITHIN_NOISE,
    Capsule,
    Snapshot,
    read_snapshot,
    verdict,
    write_snapshot,
)
from engine.compare.study import (
    RunsPage,
    StudyComparison,
    StudyInfo,
    compare_study,
    flipped_samples,
    runs_page,
)

__all__ = [
    "AGENTIC",
    "BEYOND_NOISE",
    "CHART_NAMES",
    "FC_METRIC",
    "FORMAT_VERSION",
    "HARMFUL_AT",
    "LOSS_METRIC",
    "MAX_COMPARISONS",
    "SOFT_METRIC",
    "SPEC_QA",
    "WITHIN_NOISE",
    "Capsule",
    "Cell",
    "CellKey",
    "ClauseScore",
    "ConditionRate",
    "LossPoint",
    "RunsPage",
    "Snapshot",
    "StudyComparison",
    "StudyInfo",
    "build_charts",
    "cell_label",
    "check_chart",
    "compare_study",
    "default_pairs",
    "flipped_samples",
    "pooled_mean",
    "pooled_rate",
    "read_snapshot",
    "runs_page",
    "verdict",
    "write_snapshot",
]
