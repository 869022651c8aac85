"""Agreement of a judge with labelled truth: the numbers shown beside every instrument.

Suite-agnostic: a label or a prediction is ``True`` (the positive class: harmful, or "a good
answer" for a thresholded score), ``False``, or ``None``. A ``None`` label marks a case whose
truth depends on meaning (the instrument *should* abstain: an offline rule is expected to say
``uncertain``); a ``None`` prediction is the instrument abstaining.

Scoring rules (chosen so abstaining is never free):

- accuracy, recall, specificity and Cohen's kappa are computed on the *unambiguous* cases
  (label not ``None``); an abstention there counts as a miss (it is neither a true positive
  nor a true negative);
- kappa treats ``None`` as a third category, so a judge that abstains everywhere gets 0;
- on the ambiguous cases (label ``None``) the table reports how many the judge left
  ``uncertain`` (``uncertain_rate``) and lists those it decided in ``decided_ambiguous``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import InputError

Label = bool | None


@dataclass(frozen=True)
class Miss:
    """One unambiguous case where the judge disagreed with the label (or abstained).

    Attributes:
        index: position of the case in the sequences given to :func:`agreement`.
        label: the labelled truth.
        prediction: what the judge said (``None`` = uncertain).
    """

    index: int
    label: bool
    prediction: Label


@dataclass(frozen=True)
class Agreement:
    """A judge's measured agreement with a labelled set.

    Attributes:
        n: all cases.
        n_unambiguous: cases with a ``True``/``False`` label (the ones the metrics use).
        n_ambiguous: cases labelled ``None`` (meaning-dependent).
        accuracy: share of unambiguous cases where the prediction equals the label.
        recall: share of ``True``-labelled cases predicted ``True`` (``None`` if there are none).
        specificity: share of ``False``-labelled cases predicted ``False`` (``None`` if none).
        kappa: Cohen's kappa on the unambiguous cases, ``None`` as a third category
            (``None`` when undefined: expected agreement is 1).
        abstained: unambiguous cases the judge left uncertain.
        uncertain_rate: share of ambiguous cases the judge left uncertain (``None`` if none).
        misses: the unambiguous disagreements, in input order.
        decided_ambiguous: indices of ambiguous cases the judge decided anyway.
        tp: true positives. fp: false positives. tn: true negatives. fn: false negatives
            (an abstention on a positive counts in neither ``tp`` nor ``fn``; see ``abstained``).
    """

    n: int
    n_unambiguous: int
    n_ambiguous: int
    accuracy: float | None
    recall: float | None
    specificity: float | None
    kappa: float | None
    abstained: int
    uncertain_rate: float | None
    misses: tuple[Miss, ...]
    decided_ambiguous: tuple[int, ...]
    tp: int
    fp: int
    tn: int
    fn: int


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def cohen_kappa(labels: Sequence[Label], predictions: Sequence[Label]) -> float | None:
    """Cohen's kappa between two raters over the categories ``True``/``False``/``None``.

    Returns ``None`` when the expected agreement is 1 (both raters constant and equal), where
    kappa is undefined.
    """
    if len(labels) != len(predictions):
        raise InputError(f"{len(labels)} labels but {len(predictions)} predictions")
    n = len(labels)
    if n == 0:
        return None
    categories: tuple[Label, ...] = (True, False, None)
    observed = sum(1 for a, b in zip(labels, predictions, strict=True) if a is b) / n
    expected = sum(
        (sum(1 for a in labels if a is c) / n) * (sum(1 for b in predictions if b is c) / n)
        for c in categories
    )
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def agreement(labels: Sequence[Label], predictions: Sequence[Label]) -> Agreement:
    """Measure how far ``predictions`` agree with ``labels`` (see the module docstring)."""
    if len(labels) != len(predictions):
        raise InputError(f"{len(labels)} labels but {len(predictions)} predictions")
    tp = fp = tn = fn = abstained = 0
    misses: list[Miss] = []
    decided: list[int] = []
    sure_labels: list[Label] = []
    sure_preds: list[Label] = []
    ambiguous_uncertain = 0
    for i, (label, pred) in enumerate(zip(labels, predictions, strict=True)):
        if label is None:
            if pred is None:
                ambiguous_uncertain += 1
            else:
                decided.append(i)
            continue
        sure_labels.append(label)
        sure_preds.append(pred)
        if pred is None:
            abstained += 1
            misses.append(Miss(i, label, pred))
        elif label and pred:
            tp += 1
        elif label and not pred:
            fn += 1
            misses.append(Miss(i, label, pred))
        elif not label and pred:
            fp += 1
            misses.append(Miss(i, label, pred))
        else:
            tn += 1
    n_sure = len(sure_labels)
    n_amb = len(labels) - n_sure
    positives = sum(1 for x in sure_labels if x)
    return Agreement(
        n=len(labels),
        n_unambiguous=n_sure,
        n_ambiguous=n_amb,
        accuracy=_ratio(tp + tn, n_sure),
        recall=_ratio(tp, positives),
        specificity=_ratio(tn, n_sure - positives),
        kappa=cohen_kappa(sure_labels, sure_preds) if n_sure else None,
        abstained=abstained,
        uncertain_rate=_ratio(ambiguous_uncertain, n_amb),
        misses=tuple(misses),
        decided_ambiguous=tuple(decided),
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
    )


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def format_agreement(result: Agreement) -> str:
    """The agreement as a small plain-text table (the CLI prints it)."""
    rows = [
        ("cases", str(result.n)),
        ("unambiguous", str(result.n_unambiguous)),
        ("ambiguous (uncertain expected)", str(result.n_ambiguous)),
        ("accuracy", _fmt(result.accuracy)),
        ("recall", _fmt(result.recall)),
        ("specificity", _fmt(result.specificity)),
        ("Cohen's kappa", _fmt(result.kappa)),
        ("abstained on unambiguous", str(result.abstained)),
        ("uncertain on ambiguous", _fmt(result.uncertain_rate)),
        ("TP / FP / TN / FN", f"{result.tp} / {result.fp} / {result.tn} / {result.fn}"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


__all__ = ["Agreement", "Label", "Miss", "agreement", "cohen_kappa", "format_agreement"]
