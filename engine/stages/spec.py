"""The typed description of one stage: what the planner builds, the key hashes, the stage row
stores (as JSON) and the stage's code reads back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import SpecLabError
from engine.typed_config import as_dict, from_mapping


@dataclass(frozen=True)
class VariantRef:
    """The spec variant a ``gen_docs`` (or generating ``gen_demos``) stage writes about."""

    id: int
    name: str
    text_hash: str


@dataclass(frozen=True)
class SpecRef:
    """The spec version an ``eval_qa`` stage judges against."""

    version_id: int
    content_hash: str


@dataclass(frozen=True)
class StageSpec:
    """One stage of a run's DAG, fully typed.

    Attributes:
        kind: the stage kind's name (a key of :data:`engine.stages.STAGES`).
        config: the kind's typed settings (e.g. a ``TrainConfig``), with the run's seed.
        model: the base model id the stage trains or evaluates ("" when it uses none).
        cot: whether AFT trains on, and evals prompt for, chain-of-thought demonstrations.
        inputs: role → key of the stage whose output fills it.
        variant: for ``gen_docs`` (and ``gen_demos`` with ``source: generate``), the spec
            variant written about.
        spec: for ``eval_qa``, the spec version judged against.
        label: a short human-readable name ("aft_cot on msm values seed 0").
    """

    kind: str
    config: Any
    model: str = ""
    cot: bool = False
    inputs: Mapping[str, str] = field(default_factory=dict)
    variant: VariantRef | None = None
    spec: SpecRef | None = None
    label: str = ""

    def hashed(self) -> dict[str, Any]:
        """The parts that decide the stage's output, as the kind declares them."""
        from engine.stages.table import get

        kind = get(self.kind)
        config = as_dict(self.config)
        # A config may name settings that cannot change its output (``unkeyed_settings``):
        # they stay out of the key, so adding such a setting keeps existing keys.
        for name in getattr(self.config, "unkeyed_settings", tuple)():
            config.pop(name, None)
        values: dict[str, Any] = {
            "config": config,
            "model": self.model,
            "cot": self.cot,
            "inputs": dict(self.inputs),
            "text_hash": self.variant.text_hash if self.variant else None,
            "spec_hash": self.spec.content_hash if self.spec else None,
        }
        return {
            "kind": self.kind,
            "code_version": kind.code_version,
            **{k: values[k] for k in kind.key_fields},
            **{k: values[k] for k in kind.key_fields_when_set if values[k]},
        }

    @property
    def key(self) -> str:
        """The content key: identical stages in any run or study share it (and their work)."""
        canonical = json.dumps(
            self.hashed(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The form stored in the stage row."""
        out: dict[str, Any] = {
            "config": as_dict(self.config),
            "model": self.model,
            "cot": self.cot,
            "inputs": dict(self.inputs),
            "label": self.label,
        }
        if self.variant is not None:
            out |= {
                "variant_id": self.variant.id,
                "variant_name": self.variant.name,
                "text_hash": self.variant.text_hash,
            }
        if self.spec is not None:
            out |= {"spec_version_id": self.spec.version_id, "spec_hash": self.spec.content_hash}
        return out

    @classmethod
    def from_json(cls, kind: str, data: Mapping[str, Any]) -> StageSpec:
        """Read a stored stage back (rows written before the table existed read the same)."""
        from engine.stages.table import get

        try:
            variant = None
            if data.get("variant_id") is not None:
                variant = VariantRef(
                    int(data["variant_id"]),
                    str(data.get("variant_name", "")),
                    str(data.get("text_hash", "")),
                )
            spec = None
            if data.get("spec_version_id") is not None:
                spec = SpecRef(int(data["spec_version_id"]), str(data.get("spec_hash", "")))
            return cls(
                kind=kind,
                config=from_mapping(get(kind).config, data.get("config", {}), where=kind),
                model=str(data.get("model", "")),
                cot=bool(data.get("cot", False)),
                inputs={str(k): str(v) for k, v in dict(data.get("inputs", {})).items()},
                variant=variant,
                spec=spec,
                label=str(data.get("label", kind)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecLabError(f"stored {kind} stage is malformed: {exc}") from exc
