"""``speclab eval run``: one suite on one model (plus adapters), outside any study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.evals.runner import EvalResult, run_agentic, run_spec_qa
from engine.pipeline import presets
from engine.train.configs import as_dict, with_overrides


def run_eval(
    *,
    model: str,
    adapters: list[str],
    suite: str,
    preset: str = "cpu-smoke",
    spec: str = "example",
    overrides: dict[str, Any] | None = None,
    output: Path | None = None,
) -> dict[str, Any]:
    """Evaluate and return a JSON-ready summary (metrics with intervals, notes, settings)."""
    from engine.backends.select import make_backend
    from engine.service import Service
    from engine.train import builtin_model, registry

    svc = Service.from_env()
    svc.check_schema()
    ref = registry.resolve(model, svc.settings)
    if ref.source == "builtin" and not registry.is_prepared(svc.settings, model):
        builtin_model.prepare(svc.settings, model_id=model)
    paths = []
    for i, a in enumerate(adapters):
        p = Path(a)
        if not (p / "adapter_config.json").is_file():
            raise InputError(f"{a!r} is not a LoRA adapter folder", field=f"adapter[{i}]")
        paths.append(p)
    backend = make_backend("auto", model_path=str(ref.path or ref.id), adapters=paths)
    configs = presets.resolve(preset, {})
    result: EvalResult
    if suite == "spec_qa":
        cfg = with_overrides(configs.eval_qa, overrides or {}, where="set")
        name, _, number = spec.partition("@")
        version = svc.get_version(name, int(number) if number else None)
        result = run_spec_qa(backend, cfg, content=version.content)
    elif suite == "agentic":
        cfg = with_overrides(configs.eval_agentic, overrides or {}, where="set")
        result = run_agentic(backend, cfg)
    else:
        raise InputError(f"unknown suite {suite!r}; use spec_qa or agentic", field="suite")
    if output is not None:
        output.write_text(
            "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in result.samples),
            encoding="utf-8",
        )
    return {
        "suite": suite,
        "model": ref.id,
        "adapters": [str(p) for p in paths],
        "backend": backend.name,
        "config": as_dict(cfg),
        "samples": len(result.samples),
        "metrics": [
            {"name": m.name, "value": m.value, "ci_low": m.ci_low, "ci_high": m.ci_high, "n": m.n}
            for m in result.metrics
        ],
        "notes": result.notes,
    }
