"""What each instrument behind a study's numbers is worth: its agreement with labelled truth.

Every evaluation sample records the judge that scored it (``name@version``). For the offline
judges, SpecLab ships a labelled validation set per suite; :func:`measured` runs the judge on
it once per process and judge version and returns the agreement (accuracy, Cohen's kappa, and
for agentic judges how often they say ``uncertain`` where meaning decides). Judges that need a
model (the LLM judges) are not measured here: the row says so instead of showing a number.

The built-in sets were written by the people who tuned the judges (development sets). Each
offline judge is also measured, the same way, on a *held-out* set written independently of
that tuning (:data:`HELDOUT`); both figures are shown side by side. The held-out sets are
for measurement only: never tune a judge on them (see :mod:`engine.evals.data`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.evals.validation import Agreement

#: Judges whose built-in validation runs offline, by suite.
OFFLINE = {"agentic_parse": "agentic", "qa_rubric": "spec_qa"}

#: Held-out labelled sets (in ``engine/evals/data``), by suite: measurement only, never tuning.
HELDOUT = {"agentic": "agentic_heldout.jsonl", "spec_qa": "qa_heldout.jsonl"}


@dataclass(frozen=True)
class Measured:
    """A judge's agreement with its suite's built-in labelled set.

    Attributes:
        judge: ``name@version`` as the samples record it.
        suite: ``agentic`` or ``spec_qa``.
        labelled_set: the set's name; "" when the judge was not measured.
        n: labelled cases used (unambiguous ones).
        accuracy: share judged as labelled (``None`` when not measured).
        kappa: Cohen's kappa (``None`` when not measured or undefined).
        uncertain_rate: for agentic judges, the share of meaning-dependent cases left
            ``uncertain`` (``None`` otherwise).
        note: why there is no number, when there is none.
        heldout_set: the held-out set's name ("" when not measured on one).
        heldout_n: its unambiguous cases used.
        heldout_accuracy: accuracy on the held-out set (``None`` when not measured).
        heldout_kappa: Cohen's kappa on the held-out set (``None`` when not measured).
    """

    judge: str
    suite: str
    labelled_set: str
    n: int
    accuracy: float | None
    kappa: float | None
    uncertain_rate: float | None
    note: str = ""
    heldout_set: str = ""
    heldout_n: int = 0
    heldout_accuracy: float | None = None
    heldout_kappa: float | None = None


@functools.lru_cache(maxsize=16)
def measured(judge: str) -> Measured:
    """The agreement of ``judge`` (``name@version``) on its suite's built-in labelled set and,
    beside it, on the suite's held-out set."""
    name, _, version = judge.partition("@")
    suite = OFFLINE.get(name)
    if suite is None:
        kind = "spec_qa" if name.startswith("qa_") else "agentic"
        return Measured(
            judge, kind, "", 0, None, None, None, note="needs a model: validate it with "
            "`speclab judge validate --judge-base-url …`"
        )  # fmt: skip
    if suite == "agentic":
        from engine.evals.agentic import rejudge

        data, label = rejudge.builtin_set()
    else:
        label = "qa_validation.jsonl"
        data = _data_file(label)
    agreement = _agreement(name, suite, data, label)
    heldout_set = HELDOUT[suite]
    heldout = _agreement(name, suite, _data_file(heldout_set), heldout_set)
    current = _version(name)
    note = "" if not version or version == current else f"measured on {name}@{current}"
    return Measured(
        judge,
        suite,
        label,
        agreement.n_unambiguous,
        agreement.accuracy,
        agreement.kappa,
        agreement.uncertain_rate if suite == "agentic" else None,
        note,
        heldout_set,
        heldout.n_unambiguous,
        heldout.accuracy,
        heldout.kappa,
    )


def _data_file(name: str) -> bytes:
    return resources.files("engine.evals.data").joinpath(name).read_bytes()


def _agreement(name: str, suite: str, data: bytes, source: str) -> Agreement:
    """Judge ``name``'s agreement with the labelled set ``data`` of ``suite``."""
    if suite == "agentic":
        from engine.evals.agentic import rejudge

        first, _ = rejudge.make_judges(name)
        return rejudge.validate(rejudge.read_lines(data, source), first, source=source).agreement
    from engine.evals import judges
    from engine.evals.qa import labelled
    from engine.evals.runner import load_judges

    load_judges()
    answers = labelled.parse_answers(data, source=source, labelled=True)
    return labelled.validate(judges.make(name), answers).agreement


def _version(name: str) -> str:
    from engine.evals import judges
    from engine.evals.runner import load_judges

    load_judges()
    return str(getattr(judges.make(name), "prompt_version", ""))
