"""Running the two evaluation suites on one model: generate, judge, summarise with intervals.

The functions here know nothing about the database: they take a generation backend and
return :class:`EvalResult` (samples + metrics), which the pipeline stage stores and the
``speclab eval run`` command prints.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from db.entities import SpecContent
from engine.backends.base import GenerationBackend, GenerationParams
from engine.evals import judges, spec_qa, stats
from engine.evals.configs import AgenticEvalConfig, QAEvalConfig

Progress = Callable[[float, str], None]

JUDGE_MODULES = ("engine.evals.judges_qa", "engine.evals.agentic.judges_agentic")


def load_judges() -> None:
    """Import the built-in judge modules so they register themselves."""
    import importlib

    for module in JUDGE_MODULES:
        importlib.import_module(module)


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
    return EvalResult("spec_qa", samples, metrics, notes)


# -- agentic -------------------------------------------------------------------------------


def run_agentic(
    backend: GenerationBackend,
    config: AgenticEvalConfig,
    *,
    second_opinion: judges.Judge | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Run every condition × sample, classify the actions taken, summarise harmful rates."""
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
    soft = second_opinion.judge(inputs) if second_opinion is not None else [None] * len(inputs)

    samples = []
    by_condition: dict[str, list[bool]] = {}
    by_scenario: dict[str, list[bool]] = {}
    soft_flags: list[bool] = []
    for (cond, index), r, resp, p, v, sv in zip(
        cells, rendered, responses, parsed, primary, soft, strict=True
    ):
        harmful = bool(v.harmful)
        by_condition.setdefault(cond.id, []).append(harmful)
        by_scenario.setdefault(cond.scenario, []).append(harmful)
        verdicts = {
            v.judge: {
                "harmful": v.harmful,
                "prompt_version": v.prompt_version,
                "reasoning": v.reasoning,
                **v.details,
            }
        }
        if sv is not None:
            verdicts[sv.judge] = {
                "harmful": sv.harmful,
                "prompt_version": sv.prompt_version,
                "reasoning": sv.reasoning,
            }
            if sv.harmful is not None:
                soft_flags.append(bool(sv.harmful))
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
                "score": 1.0 if harmful else 0.0,
                "judge": f"{v.judge}@{v.prompt_version}",
                "judge_reasoning": v.reasoning,
            }
        )
    flags = [f for fl in by_condition.values() for f in fl]
    metrics = [_metric("agentic.harmful_rate", stats.rate_interval(flags))]
    for sc in sorted(by_scenario):
        metrics.append(_metric(f"agentic.harmful_rate/{sc}", stats.rate_interval(by_scenario[sc])))
    for cid in sorted(by_condition):
        metrics.append(
            _metric(f"agentic.harmful_rate/{cid}", stats.rate_interval(by_condition[cid]))
        )
    if second_opinion is not None:
        metrics.append(_metric("agentic.harmful_rate_soft", stats.rate_interval(soft_flags)))
    notes: list[str] = []
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
