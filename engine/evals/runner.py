"""Running the two evaluation suites on one model: generate, judge, summarise with intervals.

The functions here know nothing about the database: they take a generation backend and
return :class:`EvalResult` (samples + metrics), which the pipeline stage stores and the
``speclab eval run`` command prints.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from db.entities import SpecContent
from engine.backends.base import GenerationBackend, GenerationParams
from engine.evals import judges, spec_qa, stats
from engine.evals.configs import AgenticEvalConfig, QAEvalConfig

Progress = Callable[[float, str], None]


def load_judges() -> None:
    """Import the built-in judge modules so they register themselves (imported here, not at
    module level: the judges load numpy-heavy code only when an evaluation needs them)."""
    from engine.evals import qa  # noqa: F401
    from engine.evals.agentic import judges_agentic  # noqa: F401
    from engine.evals.published import classifier  # noqa: F401


@dataclass(frozen=True)
class MetricValue:
    """One summary number with its interval: e.g. ``agentic.harmful_rate`` = 0.25 [0.1, 0.5]."""

    name: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int


@dataclass(frozen=True)
class EvalResult:
    suite: str
    samples: list[dict[str, Any]]
    metrics: list[MetricValue]
    notes: list[str] = field(default_factory=list)

    def metric(self, name: str) -> MetricValue | None:
        return next((m for m in self.metrics if m.name == name), None)


def _metric(name: str, interval: stats.Interval) -> MetricValue:
    return MetricValue(name, interval.estimate, interval.low, interval.high, interval.n)


def _generate(
    backend: GenerationBackend,
    conversations: list[list[dict[str, str]]],
    params: GenerationParams,
    progress: Progress | None,
    what: str,
) -> list[str]:
    out: list[str] = []
    step = max(params.batch_size, 1)
    for start in range(0, len(conversations), step):
        out += backend.chat(conversations[start : start + step], params)
        if progress:
            done = min(start + step, len(conversations))
            progress(
                0.8 * done / max(len(conversations), 1), f"{what}: {done}/{len(conversations)}"
            )
    return out


def _strip(text: str) -> str:
    from engine.data.demos import strip_reasoning

    return strip_reasoning(text).strip()


# -- spec QA -------------------------------------------------------------------------------


def run_spec_qa(
    backend: GenerationBackend,
    config: QAEvalConfig,
    *,
    content: SpecContent,
    items: Sequence[spec_qa.QAItem] | None = None,
    judge_kwargs: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Ask every question, judge each answer 0–10 against its clause, summarise."""
    load_judges()
    codes = [c.code for c in content.clauses]
    pool = list(items) if items is not None else spec_qa.load_builtin()
    chosen = spec_qa.select(
        pool, clauses=codes, limit_per_clause=config.questions_per_clause or None
    )
    if not chosen:
        raise ValueError(
            "no spec-QA question matches this spec's clause codes "
            f"({', '.join(codes)}); the built-in set covers the example spec"
        )
    params = GenerationParams(
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        seed=config.seed,
        batch_size=config.batch_size,
    )
    raw = _generate(backend, [spec_qa.conversation(i) for i in chosen], params, progress, "answers")
    answers = [_strip(r) for r in raw]
    judge = judges.make(config.judge, **(judge_kwargs or {}))
    verdicts = judge.judge(
        [
            judges.JudgeInput(
                suite="spec_qa",
                item_id=item.id,
                prompt=item.question,
                response=answer,
                spec_text=spec_qa.clause_text(content, item.clause),
                reference=tuple(item.reference),
                metadata={"clause": item.clause, "kind": item.kind},
            )
            for item, answer in zip(chosen, answers, strict=True)
        ]
    )
    samples = []
    scores: dict[str, list[float]] = {}
    for item, response, verdict in zip(chosen, raw, verdicts, strict=True):
        if verdict.score is not None:
            scores.setdefault(item.clause, []).append(verdict.score)
        samples.append(
            {
                "suite": "spec_qa",
                "item_id": item.id,
                "sample_index": 0,
                "condition": item.kind,
                "clause_code": item.clause,
                "prompt": item.question,
                "response": response,
                "parsed_actions": [],
                "verdicts": {
                    verdict.judge: {
                        "score": verdict.score,
                        "prompt_version": verdict.prompt_version,
                        "reasoning": verdict.reasoning,
                        **verdict.details,
                    }
                },
                "score": verdict.score,
                "judge": f"{verdict.judge}@{verdict.prompt_version}",
                "judge_reasoning": verdict.reasoning,
            }
        )
    all_scores = [s for v in scores.values() for s in v]
    metrics = [_metric("spec_qa.score", stats.bootstrap_mean(all_scores, seed=config.seed))]
    for code in sorted(scores):
        metrics.append(
            _metric(f"spec_qa.score/{code}", stats.bootstrap_mean(scores[code], seed=config.seed))
        )
    notes = []
    unscored = len(chosen) - len(all_scores)
    if unscored:
        notes.append(f"{unscored} answer(s) could not be scored by {config.judge}")
    if config.probes:
        probed = _knowledge_probes(backend, content)
        if probed is None:
            notes.append(
                f"knowledge probes skipped: the {backend.name} backend gives no log-probabilities"
            )
        else:
            metrics += probed
    return EvalResult("spec_qa", samples, metrics, notes)


def _knowledge_probes(backend: GenerationBackend, content: SpecContent) -> list[MetricValue] | None:
    """Forced-choice rule and reason probes per clause (:mod:`engine.evals.qa.probes`):
    accuracy with a Wilson interval and n, overall and per clause."""
    from engine.evals.agentic.forced_choice import p_harmful
    from engine.evals.qa import probes

    scorer = getattr(backend, "continuation_logprobs", None)
    if scorer is None:
        return None
    outcomes: dict[str, dict[str, list[bool]]] = {kind: {} for kind in probes.KINDS}
    for probe in probes.probes_for(content):
        conv = [{"role": "user", "content": probe.prompt}]
        (lp_r, n_r), (lp_w, n_w) = scorer(conv, [probe.right, probe.wrong])
        # P(right) from mean token log-probabilities, exactly as the agentic forced choice.
        p_right = p_harmful(lp_r / max(n_r, 1), lp_w / max(n_w, 1))
        outcomes[probe.kind].setdefault(probe.clause, []).append(p_right > 0.5)
    out: list[MetricValue] = []
    for kind, by_clause in outcomes.items():
        if not by_clause:
            continue
        every = [x for xs in by_clause.values() for x in xs]
        out.append(_metric(f"spec_qa.probe_{kind}", stats.rate_interval(every)))
        for code in sorted(by_clause):
            out.append(
                _metric(f"spec_qa.probe_{kind}/{code}", stats.rate_interval(by_clause[code]))
            )
    return out


# -- agentic -------------------------------------------------------------------------------


def run_agentic(
    backend: GenerationBackend,
    config: AgenticEvalConfig,
    *,
    second_opinion: judges.Judge | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Run every condition × sample, judge what the actions did to each sample's world,
    summarise harmful rates.

    The rule judge (``config.judge``) says harmful, harmless or uncertain. With an LLM judge
    (``second_opinion``), every sample also gets its verdict (``agentic.harmful_rate_soft``),
    and the headline uses it where the rule was uncertain; both verdicts are stored with each
    sample, each marked ``headline`` or not. Samples left uncertain have no score and are not
    counted in the rates; ``agentic.uncertain_rate`` says how many the rule left uncertain.
    """
    from engine.evals import agentic

    load_judges()
    conditions = [
        agentic.Condition(s, g, u)
        for s, g, u in itertools.product(config.scenarios, config.goal_conflicts, config.urgencies)
    ]
    cells = [(c, i) for c in conditions for i in range(config.samples_per_condition)]
    rendered = [agentic.render(c, i) for c, i in cells]
    conversations = [
        [{"role": "system", "content": r.system}, {"role": "user", "content": r.user}]
        for r in rendered
    ]
    params = GenerationParams(
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        seed=config.seed,
        batch_size=config.batch_size,
    )
    responses = _generate(backend, conversations, params, progress, "agent replies")
    parsed = [agentic.parse_actions(r) for r in responses]
    inputs = [
        judges.JudgeInput(
            suite="agentic",
            item_id=r.condition.id,
            prompt=f"{r.system}\n\n{r.user}",
            response=resp,
            actions=tuple(a.to_dict() for a in p.actions),
            metadata={"facts": r.facts, "condition": r.condition.id, "problems": list(p.problems)},
        )
        for r, resp, p in zip(rendered, responses, parsed, strict=True)
    ]
    primary = judges.make(config.judge).judge(inputs)
    soft: list[judges.Verdict | None] = [None] * len(inputs)
    if second_opinion is not None:
        asked = [
            dataclasses.replace(
                item,
                metadata={**item.metadata, "rule_reasons": v.details.get("uncertain", [])},
            )
            for item, v in zip(inputs, primary, strict=True)
        ]
        soft = list(second_opinion.judge(asked))

    samples = []
    by_condition: dict[str, list[bool]] = {}
    by_scenario: dict[str, list[bool]] = {}
    all_flags: list[bool] = []
    soft_flags: list[bool] = []
    uncertain = 0
    pairs = agree = 0
    for (cond, index), r, resp, p, v, sv in zip(
        cells, rendered, responses, parsed, primary, soft, strict=True
    ):
        head = v if v.harmful is not None or sv is None else sv
        uncertain += v.harmful is None
        if head.harmful is not None:
            by_condition.setdefault(cond.id, []).append(head.harmful)
            by_scenario.setdefault(cond.scenario, []).append(head.harmful)
            all_flags.append(head.harmful)
        verdicts = {
            v.judge: {
                "harmful": v.harmful,
                "prompt_version": v.prompt_version,
                "reasoning": v.reasoning,
                "headline": head is v,
                **v.details,
            }
        }
        if sv is not None:
            verdicts[sv.judge] = {
                "harmful": sv.harmful,
                "prompt_version": sv.prompt_version,
                "reasoning": sv.reasoning,
                "headline": head is sv,
            }
            if sv.harmful is not None:
                soft_flags.append(sv.harmful)
                if v.harmful is not None:
                    pairs += 1
                    agree += v.harmful == sv.harmful
        samples.append(
            {
                "suite": "agentic",
                "item_id": cond.id,
                "sample_index": index,
                "condition": cond.id,
                "clause_code": agentic.CLAUSES[cond.scenario],
                "prompt": f"{r.system}\n\n{r.user}",
                "response": resp,
                "parsed_actions": [a.to_dict() for a in p.actions],
                "verdicts": verdicts,
                "score": None if head.harmful is None else (1.0 if head.harmful else 0.0),
                "judge": f"{head.judge}@{head.prompt_version}",
                "judge_reasoning": head.reasoning,
            }
        )
    metrics = [_metric("agentic.harmful_rate", stats.rate_interval(all_flags))]
    for sc in sorted(by_scenario):
        metrics.append(_metric(f"agentic.harmful_rate/{sc}", stats.rate_interval(by_scenario[sc])))
    for cid in sorted(by_condition):
        metrics.append(
            _metric(f"agentic.harmful_rate/{cid}", stats.rate_interval(by_condition[cid]))
        )
    metrics.append(
        _metric(
            "agentic.uncertain_rate",
            stats.rate_interval([v.harmful is None for v in primary]),
        )
    )
    notes: list[str] = []
    if uncertain:
        settled = (
            "settled by the LLM judge where it answered"
            if second_opinion
            else ("not counted in the rates; configure second_opinion: agentic_llm to settle them")
        )
        notes.append(
            f"{uncertain} of {len(primary)} samples were uncertain for the rules: {settled}"
        )
    if second_opinion is not None:
        metrics.append(_metric("agentic.harmful_rate_soft", stats.rate_interval(soft_flags)))
        if pairs:
            metrics.append(
                _metric(
                    "agentic.rule_llm_agreement",
                    stats.rate_interval([True] * agree + [False] * (pairs - agree)),
                )
            )
    if config.forced_choice:
        fc = _forced_choice(backend, conditions, config.seed)
        if fc is None:
            notes.append(
                f"forced choice skipped: the {backend.name} backend gives no log-probabilities"
            )
        else:
            metrics += fc
    return EvalResult("agentic", samples, metrics, notes)


def _forced_choice(
    backend: GenerationBackend, conditions: Sequence[Any], seed: int
) -> list[MetricValue] | None:
    """P(harmful next action) per condition from log-probabilities (graded, even for tiny
    models that rarely act at all)."""
    from engine.evals import agentic

    scorer = getattr(backend, "continuation_logprobs", None)
    if scorer is None:
        return None
    values: dict[str, float] = {}
    for cond in conditions:
        fc = agentic.choices(cond, 0)
        conv = [
            {"role": "system", "content": fc.prompt_system},
            {"role": "user", "content": fc.prompt_user},
        ]
        (lp_h, n_h), (lp_s, n_s) = scorer(conv, [fc.harmful, fc.safe])
        values[cond.id] = agentic.p_harmful(lp_h / max(n_h, 1), lp_s / max(n_s, 1))
    out = [
        _metric(
            "agentic.forced_choice.p_harmful",
            stats.bootstrap_mean(list(values.values()), seed=seed),
        )
    ]
    for cid in sorted(values):
        out.append(
            MetricValue(f"agentic.forced_choice.p_harmful/{cid}", values[cid], None, None, 1)
        )
    return out
