"""Judging published-format replies three ways and running the suite on a model.

Every reply gets ``harmful`` (world rules, :mod:`.verdicts`), ``classifier_verdict`` (the LLM
classifier, when one is configured; otherwise stored as not judged, never guessed) and
``parity`` (the published gates with the classifier). The sample's ``score`` is the verdict
the config names as headline. Metrics: ``agentic_published.harmful_rate``,
``.classifier_verdict_rate``, ``.parity_rate`` (each overall, ``/scenario`` and
``/condition_id``, with a Wilson interval and n, and only where something was judged),
``.uncertain_rate`` (world rules undecided), and ``.agreement.A_vs_B`` for each pair of
verdicts (overall and per condition) over samples where both are decided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from engine.backends.base import GenerationBackend, GenerationParams
from engine.evals import judges, stats
from engine.evals.judges import Judge, JudgeInput, Verdict
from engine.evals.published.classifier import SUITE
from engine.evals.published.config import PublishedEvalConfig
from engine.evals.published.render import RenderedPublished, render
from engine.evals.published.toolcalls import ToolParse, parse_tool_calls
from engine.evals.published.verdicts import parity_verdict, world_verdict
from engine.evals.runner import EvalResult, MetricValue

WORLD_JUDGE: Final = "published_world"
WORLD_VERSION: Final = "published-world-v1"
PARITY_VERSION: Final = "published-gates-v1"
VERDICTS: Final = ("harmful", "classifier_verdict", "parity")
PREFIX: Final = SUITE

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Judged:
    """The three verdicts on one reply.

    Attributes:
        harmful: world rules (``None``: uncertain). harmful_reasons: why.
        evidence: the calls and effects behind ``harmful``.
        classifier: the LLM classifier's verdict, or ``None`` when none is configured.
        parity: the published gates with the classifier (``None`` without a classifier).
        parity_reason: the gate's findings.
        parsed: the reply's tool calls.
    """

    harmful: bool | None
    harmful_reasons: list[str]
    evidence: list[str]
    classifier: Verdict | None
    parity: bool | None
    parity_reason: str
    parsed: ToolParse

    def value(self, name: str) -> bool | None:
        if name == "harmful":
            return self.harmful
        if name == "classifier_verdict":
            return None if self.classifier is None else self.classifier.harmful
        return self.parity

    def verdicts(self, headline: str) -> dict[str, Any]:
        """The sample's ``verdicts`` JSON: all three, the headline marked."""
        c = self.classifier
        return {
            "harmful": {
                "value": self.harmful,
                "judge": WORLD_JUDGE,
                "prompt_version": WORLD_VERSION,
                "reasons": self.harmful_reasons,
                "evidence": self.evidence,
                "drafts": [d.to_dict() for d in self.parsed.drafts],
                "problems": list(self.parsed.problems),
                "headline": headline == "harmful",
            },
            "classifier_verdict": (
                {"value": None, "judged": False, "reasons": "no LLM judge configured"}
                if c is None
                else {
                    "value": c.harmful,
                    "judged": True,
                    "judge": c.judge,
                    "prompt_version": c.prompt_version,
                    "reasons": c.reasoning,
                    "headline": headline == "classifier_verdict",
                }
            ),
            "parity": {
                "value": self.parity,
                "judge": "published_gates",
                "prompt_version": PARITY_VERSION,
                "reasons": self.parity_reason,
                "headline": headline == "parity",
            },
        }

    def to_line(self, item_id: str) -> dict[str, Any]:
        """An output line of ``speclab judge --suite agentic_published``."""
        c = self.classifier
        return {
            "id": item_id,
            "harmful": self.harmful,
            "classifier_verdict": None if c is None else c.harmful,
            "parity": self.parity,
            "reasons": {
                "harmful": "; ".join(self.harmful_reasons),
                "classifier_verdict": "no LLM judge configured" if c is None else c.reasoning,
                "parity": self.parity_reason,
            },
            "prompt_versions": {
                "harmful": WORLD_VERSION,
                "classifier_verdict": None if c is None else c.prompt_version,
                "parity": PARITY_VERSION,
            },
            "calls": [x.to_dict() for x in self.parsed.calls],
            "problems": list(self.parsed.problems),
        }


def judge_input(r: RenderedPublished, response: str) -> JudgeInput:
    """What the classifier sees about one reply."""
    emails = [
        {"from": e.sender, "to": e.to, "subject": e.subject, "body": e.body} for e in r.emails
    ]
    return JudgeInput(
        suite=SUITE,
        item_id=r.condition.id,
        prompt=r.prompt,
        response=response,
        metadata={"scenario": r.condition.scenario, "condition": r.condition.id, "emails": emails},
    )


def judge_replies(
    rendered: Sequence[RenderedPublished], responses: Sequence[str], classifier: Judge | None
) -> list[Judged]:
    """All three verdicts for each (rendering, reply) pair."""
    llm: list[Verdict | None] = [None] * len(rendered)
    if classifier is not None and rendered:
        llm = list(
            classifier.judge([judge_input(r, t) for r, t in zip(rendered, responses, strict=True)])
        )
    out = []
    for r, text, lv in zip(rendered, responses, llm, strict=True):
        parsed = parse_tool_calls(text)
        world = world_verdict(r.facts, parsed)
        parity, why = parity_verdict(r.facts, text, None if lv is None else lv.harmful)
        out.append(Judged(world.harmful, world.reasons, world.evidence, lv, parity, why, parsed))
    return out


def _metric(name: str, flags: Sequence[bool]) -> MetricValue:
    i = stats.rate_interval(flags)
    return MetricValue(name, i.estimate, i.low, i.high, i.n)


def _pairs() -> list[tuple[str, str]]:
    return [(a, b) for i, a in enumerate(VERDICTS) for b in VERDICTS[i + 1 :]]


def summarise(
    conditions: Sequence[str], scenarios: Sequence[str], judged: Sequence[Judged]
) -> list[MetricValue]:
    """The suite's metrics from the verdicts (see the module docstring)."""
    metrics: list[MetricValue] = []
    for name in VERDICTS:
        groups: dict[str, list[bool]] = {"": []}
        for cid, sc, j in zip(conditions, scenarios, judged, strict=True):
            v = j.value(name)
            if v is None:
                continue
            for key in ("", f"/{sc}", f"/{cid}"):
                groups.setdefault(key, []).append(v)
        if groups[""]:
            for key in sorted(groups):
                metrics.append(_metric(f"{PREFIX}.{name}_rate{key}", groups[key]))
    metrics.append(_metric(f"{PREFIX}.uncertain_rate", [j.harmful is None for j in judged]))
    for a, b in _pairs():
        agree: dict[str, list[bool]] = {"": []}
        for cid, j in zip(conditions, judged, strict=True):
            va, vb = j.value(a), j.value(b)
            if va is None or vb is None:
                continue
            for key in ("", f"/{cid}"):
                agree.setdefault(key, []).append(va == vb)
        if agree[""]:
            for key in sorted(agree):
                metrics.append(_metric(f"{PREFIX}.agreement.{a}_vs_{b}{key}", agree[key]))
    return metrics


def make_classifier(config: PublishedEvalConfig, evaluated: Any | None = None) -> Judge | None:
    """The configured classifier: on ``judge_base_url`` when given, else on ``evaluated``
    (the model under test); ``None`` when ``config.classifier`` is empty."""
    if not config.classifier:
        return None
    backend = judges.judge_backend(config.judge_base_url, config.judge_model, evaluated)
    if backend is None:
        from engine.errors import InputError

        raise InputError(
            f"{config.classifier} needs a model: set judge_base_url (an OpenAI-compatible "
            "endpoint such as `speclab serve-model`)",
            field="judge_base_url",
        )
    return judges.make(config.classifier, backend=backend)


def run_published(
    backend: GenerationBackend,
    config: PublishedEvalConfig,
    *,
    classifier: Judge | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Generate a reply for every condition × sample, judge it three ways, summarise."""
    from engine.evals.runner import _generate

    cells = [(c, i) for c in config.selected() for i in range(config.samples_per_condition)]
    rendered = [render(c, i) for c, i in cells]
    params = GenerationParams(
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        seed=config.seed,
        batch_size=config.batch_size,
    )
    responses = _generate(
        backend, [r.messages() for r in rendered], params, progress, "agent replies"
    )
    if progress:
        progress(0.85, "judging")
    judged = judge_replies(rendered, responses, classifier)
    samples = []
    for r, text, j in zip(rendered, responses, judged, strict=True):
        head = j.value(config.headline)
        head_judge = {
            "harmful": f"{WORLD_JUDGE}@{WORLD_VERSION}",
            "classifier_verdict": f"{config.classifier}@"
            + (j.classifier.prompt_version if j.classifier else ""),
            "parity": f"published_gates@{PARITY_VERSION}",
        }[config.headline]
        samples.append(
            {
                "suite": SUITE,
                "item_id": r.condition.id,
                "sample_index": r.sample_index,
                "condition": r.condition.id,
                "clause_code": None,
                "prompt": r.prompt,
                "response": text,
                "parsed_actions": [c.to_dict() for c in j.parsed.calls],
                "verdicts": j.verdicts(config.headline),
                "score": None if head is None else (1.0 if head else 0.0),
                "judge": head_judge,
                "judge_reasoning": {
                    "harmful": "; ".join(j.harmful_reasons),
                    "classifier_verdict": j.classifier.reasoning if j.classifier else "",
                    "parity": j.parity_reason,
                }[config.headline],
            }
        )
    metrics = summarise(
        [r.condition.id for r in rendered], [r.condition.scenario for r in rendered], judged
    )
    notes = [f"headline verdict: {config.headline}"]
    if classifier is None:
        notes.append(
            "classifier_verdict and parity not judged: no LLM judge configured "
            "(set classifier: published_classifier)"
        )
    undecided = sum(1 for j in judged if j.harmful is None)
    if undecided:
        notes.append(f"{undecided} of {len(judged)} samples were uncertain for the world rules")
    return EvalResult(SUITE, samples, metrics, notes)
