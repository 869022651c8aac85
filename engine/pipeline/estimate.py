"""What a study will cost before it is launched: stages, how many are already done or
underway, and tokens and time estimated from throughput measured on this machine."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import jobs as jobstore
from db import models as m
from db import studies as studystore
from engine.pipeline import presets
from engine.pipeline.launch import resolve_variants
from engine.pipeline.plan import PlannedStage, plan_run
from engine.pipeline.study import StudyConfig

# Used only when this machine has no history yet (2-core CPU figures from FACTS.md).
DEFAULT_TRAIN_TOKENS_PER_S = 150.0
DEFAULT_GEN_TOKENS_PER_S = 40.0


@dataclass(frozen=True)
class StageEstimate:
    kind: str
    key: str
    status: str  # new | cached | shared | retry
    tokens: int
    seconds: float


@dataclass(frozen=True)
class Estimate:
    runs: int
    stages: list[StageEstimate]
    train_tokens_per_s: float
    gen_tokens_per_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def to_compute(self) -> list[StageEstimate]:
        return [s for s in self.stages if s.status in ("new", "retry")]

    @property
    def cached(self) -> int:
        return sum(1 for s in self.stages if s.status == "cached")

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.to_compute)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.to_compute)


def _measured_train_rate(session: Session) -> list[float]:
    rows = session.scalars(
        select(m.Metric.value)
        .where(m.Metric.name == "train/tokens_per_s", m.Metric.step > 1)
        .order_by(m.Metric.id.desc())
        .limit(200)
    )
    return [v for v in rows if v > 0]


def _stage_cost(ps: PlannedStage, train: float, gen: float) -> tuple[int, float]:
    cfg = ps.spec.get("config", {})
    if ps.kind in ("midtrain", "aft"):
        steps = cfg["max_steps"] if cfg["max_steps"] > 0 else 100
        # Upper bound: every sequence filled to max_length (real sequences are shorter).
        tokens = steps * cfg["batch_size"] * cfg["grad_accum"] * cfg["max_length"]
        return tokens, tokens / train + 10.0  # + model load
    if ps.kind == "eval_qa":
        per_clause = cfg["questions_per_clause"] or 7
        tokens = 9 * per_clause * cfg["max_new_tokens"]
        return tokens, tokens / gen + 5.0
    if ps.kind == "eval_agentic":
        n = (
            len(cfg["scenarios"])
            * len(cfg["goal_conflicts"])
            * len(cfg["urgencies"])
            * cfg["samples_per_condition"]
        )
        tokens = n * cfg["max_new_tokens"]
        return tokens, tokens / gen + 5.0
    return 0, 2.0


def estimate(session: Session, config: StudyConfig, *, model_id: str) -> Estimate:
    """Plan the study without writing anything and price the stages that would run."""
    configs = presets.resolve(config.preset, {k: dict(v) for k, v in config.overrides.items()})
    version, variants = resolve_variants(session, config)
    measured = _measured_train_rate(session)
    train = statistics.median(measured) if measured else DEFAULT_TRAIN_TOKENS_PER_S
    gen = DEFAULT_GEN_TOKENS_PER_S
    notes = [
        f"training throughput: median of {len(measured)} measured steps on this machine"
        if measured
        else "training throughput: no history here yet, using a 2-core CPU default",
        "generation throughput: a 2-core CPU default for the built-in model",
        "training tokens are an upper bound (every sequence at max_length)",
    ]
    seen: dict[str, StageEstimate] = {}
    for variant in variants:
        for arm in config.arms:
            for seed in config.seeds:
                for ps in plan_run(
                    arm=arm,
                    variant=variant,
                    seed=seed,
                    model=model_id,
                    configs=configs,
                    evals=config.evals,
                    spec=(version.id, version.content_hash),
                ):
                    if ps.key in seen:
                        continue
                    status = "new"
                    found = studystore.find_stage(session, ps.key)
                    if found is not None:
                        job_id = found[1]
                        state = jobstore.get(session, job_id).state if job_id else "succeeded"
                        status = {
                            "succeeded": "cached",
                            "queued": "shared",
                            "running": "shared",
                        }.get(state, "retry")
                    tokens, seconds = _stage_cost(ps, train, gen)
                    seen[ps.key] = StageEstimate(ps.kind, ps.key, status, tokens, seconds)
    return Estimate(
        runs=config.n_runs,
        stages=list(seen.values()),
        train_tokens_per_s=train,
        gen_tokens_per_s=gen,
        notes=notes,
    )
