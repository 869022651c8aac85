"""Planning a study: its runs, each run's DAG of typed stages, and what each distinct stage
needs (computed already, underway, to retry, or new). Launch and the estimate read the same
plan, so what the estimate prices is exactly what launch queues.

A stage's key hashes its kind, the version of that kind's code and the parts of its
:class:`~engine.stages.StageSpec` the kind declares (settings, base model, the keys of the
stages it consumes, the variant text's hash for ``gen_docs`` and a generating ``gen_demos``,
the spec's hash for ``eval_qa``). Identical stages in different runs or studies get the same
key and are computed once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from sqlalchemy.orm import Session

from db import datasets as datastore
from db import jobs as jobstore
from db import specs as specstore
from db import studies as studystore
from db.entities import SpecVersion, Variant
from engine.errors import InputError, NotFoundError
from engine.pipeline.presets import StageConfigs
from engine.pipeline.study import ARMS, StudyConfig
from engine.stages import SUITES, SpecRef, StageSpec, VariantRef
from engine.train.configs import BUILTIN, GENERATE

StageStatus = Literal["new", "cached", "shared", "retry"]
"""What launching does with a planned stage: compute it (``new``), reuse a stage that already
succeeded (``cached``), join one queued or running for someone else (``shared``), or re-queue
one that failed or was cancelled (``retry``)."""

STATUS_HELP: dict[StageStatus, str] = {
    "new": "computed by this launch",
    "cached": "already computed: reused",
    "shared": "queued or running for another run or study: shared",
    "retry": "failed or cancelled before: queued again",
}


@dataclass(frozen=True)
class PlannedRun:
    """One cell of the grid and its stages in dependency order."""

    variant: Variant
    arm: str
    seed: int
    stages: tuple[StageSpec, ...]
    model: str = ""
    """The resolved id of the run's base model."""


@dataclass(frozen=True)
class PlannedStage:
    """A distinct stage of the plan and what launching does with it."""

    spec: StageSpec
    key: str
    status: StageStatus
    stage_id: int | None
    job_id: int | None


@dataclass(frozen=True)
class StudyPlan:
    """Everything launch writes and the estimate prices."""

    config: StudyConfig
    version: SpecVersion
    model_ids: tuple[str, ...]
    """The resolved ids of the study's base models, in study order."""
    configs: StageConfigs
    runs: tuple[PlannedRun, ...]
    stages: dict[str, PlannedStage]

    def count(self, status: StageStatus) -> int:
        return sum(1 for s in self.stages.values() if s.status == status)


def run_stages(
    *,
    arm: str,
    variant: Variant,
    seed: int,
    model: str,
    configs: StageConfigs,
    evals: tuple[str, ...] = (),
    spec: SpecRef | None = None,
) -> list[StageSpec]:
    """The stages of one run, in dependency order.

    ``evals`` are suites (``spec_qa``, ``agentic``) run on the run's final model: after
    ``aft``, after ``midtrain`` for the ``msm`` arm, or on the base model for ``base``.
    """
    shape = ARMS[arm]
    stages: list[StageSpec] = []
    under: str | None = None  # key of the stage whose model the next stage builds on
    if shape.msm:
        docs_cfg = configs.for_kind("gen_docs")
        docs = StageSpec(
            kind="gen_docs",
            config=docs_cfg,
            # The study's model matters only when it writes the documents.
            model=model if docs_cfg.needs_study_model else "",
            variant=VariantRef(variant.id, variant.name, variant.text_hash),
            label=f"gen_docs {variant.name}",
        )
        midtrain = StageSpec(
            kind="midtrain",
            config=replace(configs.for_kind("midtrain"), seed=seed),
            model=model,
            inputs={"docs": docs.key},
            label=f"midtrain {variant.name} seed {seed}",
        )
        stages += [docs, midtrain]
        under = midtrain.key
    if shape.aft:
        demos_cfg = configs.for_kind("gen_demos")
        if demos_cfg.source == GENERATE:
            # Demonstrations written from this variant's text: one set per variant (and
            # writing model), so the AFT stages trained on them differ by variant too.
            demos = StageSpec(
                kind="gen_demos",
                config=demos_cfg,
                model=demos_cfg.generator_model or model,
                variant=VariantRef(variant.id, variant.name, variant.text_hash),
                label=f"gen_demos {variant.name}",
            )
        else:
            demos = StageSpec(kind="gen_demos", config=demos_cfg, label="gen_demos")
        inputs = {"demos": demos.key} | ({"base": under} if under else {})
        on = f"msm {variant.name}" if under else "base"
        aft = StageSpec(
            kind="aft",
            config=replace(configs.for_kind("aft"), seed=seed),
            model=model,
            cot=shape.cot,
            inputs=inputs,
            label=f"aft{'_cot' if shape.cot else ''} on {on} seed {seed}",
        )
        stages += [demos, aft]
        under = aft.key
    for suite in evals:
        kind = SUITES[suite]
        stages.append(
            StageSpec(
                kind=kind,
                config=replace(configs.for_kind(kind), seed=seed),
                model=model,
                cot=shape.cot,
                inputs={"model": under} if under else {},
                spec=spec if kind == "eval_qa" else None,
                label=f"{kind} {arm} {variant.name if under else ''} seed {seed}",
            )
        )
    return stages


def resolve_variants(session: Session, config: StudyConfig) -> tuple[SpecVersion, list[Variant]]:
    """(spec version, variants) named by the study, or an error naming the key."""
    name, number = config.spec_name_and_version()
    try:
        version = specstore.get_version(session, name, number)
    except NotFoundError as exc:
        raise InputError(str(exc), field="spec") from exc
    variants = []
    for i, vname in enumerate(config.variants):
        v = specstore.find_variant(session, version.id, vname)
        if v is None:
            known = ", ".join(x.name for x in specstore.list_variants(session, version.id))
            raise InputError(
                f"{version.ref} has no variant {vname!r} (known: {known or 'none'})",
                field=f"variants[{i}]",
            )
        variants.append(v)
    return version, variants


def _check_sources(session: Session, configs: StageConfigs) -> None:
    demos_cfg = configs.for_kind("gen_demos")
    named = {"source": demos_cfg.source, "prompts": demos_cfg.prompts}
    for setting, value in named.items():
        if value in (BUILTIN, GENERATE):
            continue
        try:
            datastore.by_artifact(session, value)
        except NotFoundError:
            raise InputError(
                "names no stored dataset (`speclab data list` shows them)",
                field=f"overrides.gen_demos.{setting}",
            ) from None


def _status(session: Session, key: str) -> tuple[StageStatus, int | None, int | None]:
    found = studystore.find_stage(session, key)
    if found is None:
        return "new", None, None
    stage_id, job_id = found
    if job_id is None:
        return "cached", stage_id, None
    state = jobstore.get(session, job_id).state
    status: StageStatus = {"succeeded": "cached", "queued": "shared", "running": "shared"}.get(
        state, "retry"
    )  # type: ignore[assignment]
    return status, stage_id, job_id


def plan_study(session: Session, config: StudyConfig, *, model_ids: Sequence[str]) -> StudyPlan:
    """Plan ``config`` against the database without writing anything (``model_ids``: the
    resolved ids of ``config.models``, in order)."""
    configs = config.stage_configs()
    version, variants = resolve_variants(session, config)
    _check_sources(session, configs)
    spec = SpecRef(version.id, version.content_hash)
    runs: list[PlannedRun] = []
    stages: dict[str, PlannedStage] = {}
    for model_id in model_ids:
        for variant in variants:
            for arm in config.arms:
                for seed in config.seeds:
                    specs = run_stages(
                        arm=arm,
                        variant=variant,
                        seed=seed,
                        model=model_id,
                        configs=configs,
                        evals=config.evals,
                        spec=spec,
                    )
                    for s in specs:
                        key = s.key
                        if key not in stages:
                            status, stage_id, job_id = _status(session, key)
                            stages[key] = PlannedStage(s, key, status, stage_id, job_id)
                    runs.append(PlannedRun(variant, arm, seed, tuple(specs), model_id))
    return StudyPlan(config, version, tuple(model_ids), configs, tuple(runs), stages)
