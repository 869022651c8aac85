"""What a study will cost before it is launched: the same plan launch would write, each
distinct stage's status, and tokens and time estimated from throughput measured here."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from db import studies as studystore
from engine.compare.cells import default_pairs
from engine.data.demos import load_builtin
from engine.evals.configs import AgenticEvalConfig, QAEvalConfig
from engine.evals.power import Power, study_power
from engine.evals.published.config import PublishedEvalConfig
from engine.pipeline.plan import PlannedStage, StageStatus, StudyPlan
from engine.pipeline.study import WARN_RUNS
from engine.stages.gen_demos import JUDGE_TOKENS
from engine.train.configs import GENERATE, DemoConfig, TrainConfig

# Used only when this machine has no history yet (2-core CPU figures from FACTS.md).
DEFAULT_TRAIN_TOKENS_PER_S = 150.0
DEFAULT_GEN_TOKENS_PER_S = 40.0
#: Steps assumed for a training stage that runs for epochs (its length depends on the data).
EPOCH_STEPS_GUESS = 100


@dataclass(frozen=True)
class StageEstimate:
    """One distinct stage of the plan, priced."""

    kind: str
    key: str
    label: str
    status: StageStatus
    tokens: int
    seconds: float


@dataclass(frozen=True)
class Estimate:
    """Stages, cache hits, tokens and time of a study before launching it."""

    runs: int
    stages: list[StageEstimate]
    train_tokens_per_s: float
    gen_tokens_per_s: float
    power: Power
    notes: list[str] = field(default_factory=list)

    @property
    def to_compute(self) -> list[StageEstimate]:
        return [s for s in self.stages if s.status in ("new", "retry")]

    @property
    def cached(self) -> int:
        return sum(1 for s in self.stages if s.status == "cached")

    @property
    def shared(self) -> int:
        return sum(1 for s in self.stages if s.status == "shared")

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.to_compute)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.to_compute)


def _stage_cost(ps: PlannedStage, train: float, gen: float, n_clauses: int) -> tuple[int, float]:
    cfg = ps.spec.config
    if isinstance(cfg, TrainConfig):
        steps = cfg.max_steps if cfg.max_steps > 0 else EPOCH_STEPS_GUESS
        # Upper bound: every sequence filled to max_length (real sequences are shorter).
        tokens = steps * cfg.batch_size * cfg.grad_accum * cfg.max_length
        return tokens, tokens / train + 10.0  # + model load
    if isinstance(cfg, QAEvalConfig):
        per_clause = cfg.questions_per_clause or 7
        tokens = n_clauses * per_clause * cfg.max_new_tokens
        return tokens, tokens / gen + 5.0
    if isinstance(cfg, PublishedEvalConfig):
        tokens = cfg.n_samples() * cfg.max_new_tokens
        return tokens, tokens / gen + 5.0
    if isinstance(cfg, AgenticEvalConfig):
        n = (
            len(cfg.scenarios)
            * len(cfg.goal_conflicts)
            * len(cfg.urgencies)
            * cfg.samples_per_condition
        )
        tokens = n * cfg.max_new_tokens
        return tokens, tokens / gen + 5.0
    if isinstance(cfg, DemoConfig) and cfg.source == GENERATE:
        # Upper bound: every prompt written in full (and judged, with the LLM judge); an
        # imported prompt set's size is not read here, the built-in set's stands in for it.
        prompts = cfg.max_demos or len(load_builtin())
        tokens = prompts * (cfg.max_new_tokens + (JUDGE_TOKENS if cfg.judge == "llm" else 0))
        return tokens, tokens / gen + 10.0
    return 0, 2.0


def cell_sizes(plan: StudyPlan) -> tuple[int, int]:
    """(agentic samples, QA answers) per variant × arm cell, over all its seeds."""
    seeds = len(plan.config.seeds)
    agentic = plan.configs.for_kind("eval_agentic")
    qa = plan.configs.for_kind("eval_qa")
    n_agentic = (
        len(agentic.scenarios)
        * len(agentic.goal_conflicts)
        * len(agentic.urgencies)
        * agentic.samples_per_condition
        * seeds
    )
    per_clause = qa.questions_per_clause or 7
    n_qa = len(plan.version.content.clauses) * per_clause * seeds
    return (
        n_agentic if "agentic" in plan.config.evals else 0,
        n_qa if "spec_qa" in plan.config.evals else 0,
    )


def plan_power(plan: StudyPlan) -> Power:
    """What differences the planned cell sizes can detect at the study's Holm level."""
    cells = [(v, a) for v in plan.config.variants for a in plan.config.arms]
    n_suites = max(1, len(plan.config.evals))
    pairs, _left_out = default_pairs(cells, n_suites=n_suites)
    n_agentic, n_qa = cell_sizes(plan)
    return study_power(n_agentic, n_qa, len(pairs) * n_suites)


def estimate(session: Session, plan: StudyPlan) -> Estimate:
    """Price the stages ``plan`` would compute."""
    measured = studystore.recent_metric_values(session, "train/tokens_per_s", min_step=2)
    measured = [v for v in measured if v > 0]
    train = statistics.median(measured) if measured else DEFAULT_TRAIN_TOKENS_PER_S
    gen = DEFAULT_GEN_TOKENS_PER_S
    notes = [
        f"training throughput: median of {len(measured)} measured steps on this machine"
        if measured
        else "training throughput: no history here yet, using a 2-core CPU default",
        "generation throughput: a 2-core CPU default for the built-in model",
        "training tokens are an upper bound (every sequence at max_length)",
    ]
    if len(plan.runs) > WARN_RUNS:
        notes.insert(0, f"{len(plan.runs):,} runs: a large study; check the grid before launching")
    n_clauses = len(plan.version.content.clauses)
    stages = []
    for ps in plan.stages.values():
        tokens, seconds = _stage_cost(ps, train, gen, n_clauses)
        stages.append(
            StageEstimate(ps.spec.kind, ps.key, ps.spec.label, ps.status, tokens, seconds)
        )
    return Estimate(
        runs=len(plan.runs),
        stages=stages,
        train_tokens_per_s=train,
        gen_tokens_per_s=gen,
        power=plan_power(plan),
        notes=notes,
    )
