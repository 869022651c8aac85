"""Does an effect hold across base models? A study of several models compares its variants
within each model (cells never pool runs of different models); this module lines the same
comparison up across the models and says whether they agree.

Each model's comparisons are its own Holm family, exactly as its study page shows them. The
verdict per comparison:

* ``holds in every model``: beyond noise in each model, in the same direction;
* ``within noise in every model``: no model tells the cells apart;
* ``opposite directions``: beyond noise in at least two models, with opposite signs;
* ``in some models only``: beyond noise in some models, within noise in the others;
* ``not measured in every model``: a model lacks one of the two cells or the suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from db import compare as store
from db.session import Database
from engine.compare.cells import AGENTIC, HARMFUL_AT, SPEC_QA, Cell, CellKey
from engine.compare.study import compare_study
from engine.errors import InputError
from engine.evals.stats import PairedComparison

HOLDS: Final = "holds in every model"
NONE: Final = "within noise in every model"
OPPOSITE: Final = "opposite directions"
SOME: Final = "in some models only"
MISSING: Final = "not measured in every model"


@dataclass(frozen=True)
class AcrossRow:
    """One comparison (B − A on one metric) in every model of the study."""

    label_a: str
    label_b: str
    metric: str
    per_model: tuple[tuple[str, PairedComparison | None], ...]
    verdict: str


def verdict(results: Sequence[PairedComparison | None]) -> str:
    """The words for how one comparison's results agree across models."""
    if any(r is None for r in results):
        return MISSING
    found = [r for r in results if r is not None]
    beyond = [r for r in found if not r.within_noise]
    if not beyond:
        return NONE
    signs = {r.diff > 0 for r in beyond}
    if len(signs) > 1:
        return OPPOSITE
    return HOLDS if len(beyond) == len(found) else SOME


def across_models(
    db: Database, study_id: int, pairs: Sequence[tuple[CellKey, CellKey]] | None = None
) -> tuple[tuple[str, ...], list[AcrossRow]]:
    """(the study's models, one row per comparison of the first model's family).

    Raises:
        NotFoundError: no such study.
        InputError: the study has a single model, or a pair names an unknown cell.
    """
    with db.read() as s:
        models = tuple(store.study_models(s, study_id))
    if len(models) < 2:
        raise InputError("the study has one base model: nothing to line up", field="models")
    first = compare_study(db, study_id, pairs, model=models[0])
    chosen = list(pairs) if pairs else _pairs_of(first.comparisons, first.cells)
    by_model = {models[0]: first}
    for model in models[1:]:
        by_model[model] = compare_study(
            db, study_id, _present(chosen, db, study_id, model), model=model
        )
    rows = []
    for c in first.comparisons:
        per_model = tuple(
            (
                model,
                next(
                    (
                        x
                        for x in comparison.comparisons
                        if (x.label_a, x.label_b, x.metric) == (c.label_a, c.label_b, c.metric)
                    ),
                    None,
                ),
            )
            for model, comparison in by_model.items()
        )
        rows.append(
            AcrossRow(c.label_a, c.label_b, c.metric, per_model, verdict([r for _, r in per_model]))
        )
    return models, rows


def _pairs_of(
    comparisons: Sequence[PairedComparison], cells: Sequence[Cell]
) -> list[tuple[CellKey, CellKey]]:
    """The cell pairs a family compares (``variant/arm`` labels back to keys)."""
    keys = {f"{c.variant}/{c.arm}": c.key for c in cells}
    out = []
    for c in comparisons:
        pair = (keys[c.label_a], keys[c.label_b])
        if pair not in out:
            out.append(pair)
    return out


def _present(
    pairs: Sequence[tuple[CellKey, CellKey]], db: Database, study_id: int, model: str
) -> list[tuple[CellKey, CellKey]] | None:
    """The pairs whose two cells ``model`` has (its comparison refuses unknown cells)."""
    with db.read() as s:
        cells = {
            (r.variant, r.arm)
            for r in store.run_summaries(
                s, study_id, agentic=AGENTIC, spec_qa=SPEC_QA, harmful_at=HARMFUL_AT, model=model
            )
        }
    kept = [(a, b) for a, b in pairs if a in cells and b in cells]
    return kept or None
