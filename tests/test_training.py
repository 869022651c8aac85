"""Real training through the real stage code on a tiny random Llama (seconds, not minutes)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import worker_env

from db import jobs as jobstore
from engine.jobs.worker import Worker
from engine.service import Service


def _study(model: Path, arms: str, **overrides: str) -> bytes:
    o = {
        "gen_docs": "{docs_per_clause: 2, target_words: 150}",
        "midtrain": "{max_steps: 4, save_steps: 2, max_length: 64, batch_size: 2}",
        "gen_demos": "{max_demos: 12}",
        "aft": "{max_steps: 4, save_steps: 2, max_length: 96, batch_size: 2}",
        **overrides,
    }
    body = ", ".join(f"{k}: {v}" for k, v in o.items())
    return (
        f"name: tiny\nspec: example\nvariants: [values]\narms: [{arms}]\nseeds: [0]\n"
        f"model: {model}\npreset: cpu-smoke\nevals: []\noverrides: {{{body}}}\n"
    ).encode()


def _tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_msm_then_aft_trains_lora_and_caches(sqlite_service: Service, tiny_model_dir: Path) -> None:
    # Guards the training stages end to end: per-step loss, LoRA changed, base untouched, cache.
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    svc = sqlite_service
    before = _tree_hash(tiny_model_dir)
    cfg = svc.parse_study(_study(tiny_model_dir, "msm+aft"), "s.yaml")
    launched = svc.launch_study(cfg)
    Worker(svc.settings, svc.db, burst=True).run()
    report = svc.study_report(launched.study_id)
    assert report["status"] == "succeeded", report
    stages = {s["kind"]: s for s in report["runs"][0]["stages"]}
    for kind in ("midtrain", "aft"):
        losses = stages[kind]["metrics"]["train/loss"]
        assert [int(step) for step, _ in losses] == [1, 2, 3, 4]
        assert stages[kind]["metrics"]["train/tokens_per_s"][0][1] > 0
        (adapter,) = [a for a in stages[kind]["artifacts"] if a["role"] == "adapter"]
        assert (Path(adapter["path"]) / "adapter_model.safetensors").is_file()
    assert {a["role"] for a in stages["gen_demos"]["artifacts"]} == {"demos_cot", "demos_plain"}
    assert _tree_hash(tiny_model_dir) == before  # the base model on disk is never modified

    # LoRA B matrices start at zero: non-zero now means the adapter learned; the base layer
    # inside the adapted model still equals the original weights.
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    original = base.model.layers[0].self_attn.q_proj.weight.detach().clone()
    adapter_dir = next(a["path"] for a in stages["midtrain"]["artifacts"] if a["role"] == "adapter")
    peft = PeftModel.from_pretrained(base, adapter_dir)
    q = peft.base_model.model.model.layers[0].self_attn.q_proj
    assert torch.count_nonzero(q.lora_B["default"].weight) > 0
    assert torch.equal(q.base_layer.weight, original)

    # The AFT model is the midtraining adapter (merged) plus AFT's own, found by following
    # the stages' inputs and their stored outputs (nothing travels back through job results).
    from engine.stages.io import lineage

    chain = [a.sha256 for a in lineage(svc.db, stages["aft"]["key"])]
    assert chain == [
        next(a["sha256"] for a in stages[k]["artifacts"] if a["role"] == "adapter")
        for k in ("midtrain", "aft")
    ]

    # Relaunching the same study computes nothing: every stage is cached.
    again = svc.launch_study(cfg)
    assert (again.new_jobs, again.cached) == (0, 4)
    assert svc.job_counts().queued == 0


def test_killed_training_resumes_from_checkpoint(
    sqlite_service: Service, tiny_model_dir: Path
) -> None:
    # Guards resume: a re-queued training job continues from its last checkpoint.
    svc = sqlite_service
    study = _study(
        tiny_model_dir,
        "msm",
        midtrain="{max_steps: 50, save_steps: 10, max_length: 64, batch_size: 2}",
    )
    launched = svc.launch_study(svc.parse_study(study, "s.yaml"))
    run = svc.get_study(launched.study_id).runs[0]
    stage = next(s for s in run.stages if s.kind == "midtrain")
    env = worker_env(svc.settings)
    cmd = [sys.executable, "-m", "engine.cli", "worker", "--poll", "0.1"]
    victim = subprocess.Popen([*cmd, "--id", "victim"], env=env)
    deadline = time.monotonic() + 180
    step = 0
    while time.monotonic() < deadline and step < 25:
        points = svc.stage_metrics([stage.id], ["train/loss"])
        step = max((p.step for p in points), default=0)
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert step >= 25, "training never got going"
    rescuer = subprocess.run([*cmd, "--burst", "--id", "rescuer"], env=env, timeout=300)
    assert rescuer.returncode == 0
    job = svc.get_job(stage.job_id or 0)
    assert job.state == "succeeded" and job.attempts == 2
    resumed = job.result["resumed_from_step"]
    assert resumed is not None and resumed >= 20 and resumed % 10 == 0
    assert job.result["global_step"] == 50
    steps = [p.step for p in svc.stage_metrics([stage.id], ["train/loss"])]
    # Attempt 2 logged from resumed+1 on: steps after the checkpoint appear twice, earlier once.
    assert steps.count(resumed) == 1 and steps.count(resumed + 1) == 2
    assert steps.count(50) == 1


def test_cancel_stops_training_between_steps(sqlite_service: Service, tiny_model_dir: Path) -> None:
    # Guards cancellation: a running training job stops within a few seconds.
    svc = sqlite_service
    study = _study(
        tiny_model_dir, "msm", midtrain="{max_steps: 5000, save_steps: 1000, max_length: 64}"
    )
    launched = svc.launch_study(svc.parse_study(study, "s.yaml"))
    stage = next(s for s in svc.get_study(launched.study_id).runs[0].stages if s.kind == "midtrain")
    worker = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "worker", "--burst", "--poll", "0.1"],
        env=worker_env(svc.settings),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not svc.stage_metrics([stage.id], ["train/loss"]):
        time.sleep(0.1)
    svc.cancel_job(stage.job_id or 0)
    asked = time.monotonic()
    while svc.get_job(stage.job_id or 0).state == "running" and time.monotonic() - asked < 30:
        time.sleep(0.1)
    assert svc.get_job(stage.job_id or 0).state == "cancelled"
    worker.wait(timeout=60)
    with svc.db.read() as s:
        assert jobstore.counts(s).running == 0
