"""What each instrument behind a study's numbers is worth: its agreement with labelled truth.

Every evaluation sample records the judge that scored it (``name@version``). For the offline
judges, SpecLab ships a labelled validation set per suite; :func:`measured` runs the judge on
it once per process and judge version and returns the agreement (accuracy, Cohen's kappa, and
for agentic judges how often they say ``uncertain`` where meaning decides). Judges that need a
model (the LLM judges) are not measured here: the row says so instead of showing a number.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

#: Judges whose built-in validation runs offline, by suite.
OFFLINE = {"agentic_parse": "agentic", "qa_rubric": "spec_qa"}


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
    """

    judge: str
    suite: str
    labelled_set: str
    n: int
    accuracy: float | None
    kappa: float | None
    uncertain_rate: float | None
    note: str = ""


@functools.lru_cache(maxsize=16)
def measured(judge: str) -> Measured:
    """The agreement of ``judge`` (``name@version``) on its suite's built-in labelled set."""
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

        data, source = rejudge.builtin_set()
        first, _ = rejudge.make_judges(name)
        report = rejudge.validate(rejudge.read_lines(data, source), first, source=source)
        agreement, label = report.agreement, source
    else:
        from engine.evals import judges
        from engine.evals.qa import labelled
        from engine.evals.runner import load_judges

        load_judges()
        qa = labelled.validate(judges.make(name))
        agreement, label = qa.agreement, "qa_validation.jsonl"
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
    )


def _version(name: str) -> str:
    from engine.evals import judges
    from engine.evals.runner import load_judges

    load_judges()
    return str(getattr(judges.make(name), "prompt_version", ""))
