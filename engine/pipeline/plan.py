"""Turning a run (variant × arm × seed) into a DAG of stages with content-derived keys.

A stage's key hashes its kind, the version of that kind's code, its settings, the base model
and the keys of the stages it consumes (which hash their own inputs in turn), plus the hash of
the variant text for ``gen_docs``. Identical stages in different runs or studies therefore get
the same key and are computed once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from db.entities import Variant
from engine.pipeline.presets import StageConfigs
from engine.pipeline.study import ARMS, SUITES, arm_uses_cot
from engine.train.configs import as_dict

#: Bump when a stage kind's code changes what it produces: old results stop matching.
STAGE_CODE_VERSION = {
    "gen_docs": 1,
    "midtrain": 1,
    "gen_demos": 1,
    "aft": 1,
    "eval_qa": 1,
    "eval_agentic": 1,
}


@dataclass(frozen=True)
class PlannedStage:
    kind: str
    key: str
    spec: dict[str, Any]
    depends_on: tuple[str, ...]

    @property
    def label(self) -> str:
        return str(self.spec.get("label", self.kind))


def stage_key(kind: str, hashed: dict[str, Any]) -> str:
    payload = {"kind": kind, "code_version": STAGE_CODE_VERSION[kind], **hashed}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _stage(
    kind: str, hashed: dict[str, Any], extra: dict[str, Any], deps: tuple[str, ...]
) -> PlannedStage:
    key = stage_key(kind, hashed)
    return PlannedStage(kind=kind, key=key, spec={**hashed, **extra}, depends_on=deps)


def plan_run(
    *,
    arm: str,
    variant: Variant,
    seed: int,
    model: str,
    configs: StageConfigs,
    evals: tuple[str, ...] = (),
    spec: tuple[int, str] | None = None,
) -> list[PlannedStage]:
    """The stages of one run, in dependency order.

    ``evals`` are suites (``spec_qa``, ``agentic``) run on the run's final model: after
    ``aft``, after ``midtrain`` for the ``msm`` arm, or on the base model for ``base``.
    ``spec`` is (version id, content hash) of the study's spec, which the QA judge reads.
    """
    kinds = ARMS[arm]
    stages: list[PlannedStage] = []
    base_key: str | None = None
    if "gen_docs" in kinds:
        docs = _stage(
            "gen_docs",
            {
                "config": as_dict(configs.gen_docs),
                "text_hash": variant.text_hash,
                # The writing model matters only to the model generator.
                "model": model if configs.gen_docs.generator == "model" else "",
            },
            {"variant_id": variant.id, "label": f"gen_docs {variant.name}"},
            (),
        )
        midtrain = _stage(
            "midtrain",
            {
                "config": as_dict(replace(configs.midtrain, seed=seed)),
                "model": model,
                "inputs": {"docs": docs.key},
            },
            {"label": f"midtrain {variant.name} seed {seed}"},
            (docs.key,),
        )
        stages += [docs, midtrain]
        base_key = midtrain.key
    if "gen_demos" in kinds:
        demos = _stage(
            "gen_demos",
            {"config": as_dict(configs.gen_demos)},
            {"label": "gen_demos"},
            (),
        )
        cot = arm_uses_cot(arm)
        on = f"msm {variant.name}" if base_key else "base"
        inputs = {"demos": demos.key}
        deps: tuple[str, ...] = (demos.key,)
        if base_key is not None:
            inputs["base"] = base_key
            deps = (base_key, demos.key)
        aft = _stage(
            "aft",
            {
                "config": as_dict(replace(configs.aft, seed=seed)),
                "model": model,
                "cot": cot,
                "inputs": inputs,
            },
            {"label": f"aft{'_cot' if cot else ''} on {on} seed {seed}"},
            deps,
        )
        stages += [demos, aft]
    final = stages[-1].key if stages else None
    for suite in evals:
        kind = SUITES[suite]
        hashed: dict[str, Any] = {
            "config": as_dict(replace(configs.for_kind(kind), seed=seed)),
            "model": model,
            "cot": arm_uses_cot(arm),
            "inputs": {"model": final} if final else {},
        }
        extra: dict[str, Any] = {
            "label": f"{kind} {arm} {variant.name if final else ''} seed {seed}"
        }
        if kind == "eval_qa" and spec is not None:
            hashed["spec_hash"] = spec[1]
            extra["spec_version_id"] = spec[0]
        stages.append(_stage(kind, hashed, extra, (final,) if final else ()))
    return stages
