"""Real worker processes on a shared database: exactly-once execution and crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import worker_env

from db import jobs as jobstore
from engine.config import Settings
from engine.service import Service

N_JOBS = 200


def _worker(settings: Settings, *args: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "worker", "--poll", "0.1", *args],
        env=worker_env(settings, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_two_workers_run_200_jobs_exactly_once(service: Service) -> None:
    # Guards double claims across processes: 200 real render jobs, 2 workers, each runs once.
    service.seed_builtin()
    version = service.get_version("example")
    for i in range(N_JOBS - 2):
        service.derive_variant(
            "example", version.number, "custom", variant_name=f"hand-{i}", custom_text=f"text {i}"
        )
    procs = [_worker(service.settings, "--burst") for _ in range(2)]
    outs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    with service.db.read() as s:
        jobs = jobstore.list_jobs(s, limit=1000)
        assert len(jobs) == N_JOBS
        assert {j.state for j in jobs} == {"succeeded"}, [j.error for j in jobs if j.error]
        assert {j.attempts for j in jobs} == {1}
        for j in jobs:
            runs = [e for e in jobstore.events(s, j.id) if e.to_state == "running"]
            assert len(runs) == 1
    # Both workers did real work, and every variant now has its rendered artifact.
    assert len({j.worker_id for j in jobs}) == 2
    variants = service.list_variants("example")
    assert len(variants) == N_JOBS and all(v.artifact is not None for v in variants)
    hand = next(v for v in variants if v.name == "hand-7")
    assert service.artifacts.read_bytes(hand.artifact).decode() == "text 7"  # type: ignore[arg-type]


def test_killed_worker_job_is_requeued_and_finished(service: Service) -> None:
    # Guards crash recovery: SIGKILL mid-job, another worker re-runs it, events show both.
    with service.db.write() as s:
        job = jobstore.enqueue(s, "test_steps", {"steps": 30, "step_seconds": 0.1})
    plugins = {"SPECLAB_PLUGINS": "plugins.test_kinds"}
    victim = _worker(service.settings, "--id", "victim", **plugins)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = service.get_job(job.id)
        if current.state == "running" and current.progress >= 0.2:
            break
        time.sleep(0.05)
    else:
        victim.kill()
        raise AssertionError(f"job never got going: {service.get_job(job.id)}")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    rescuer = _worker(service.settings, "--burst", "--id", "rescuer", **plugins)
    out = rescuer.communicate(timeout=120)[0].decode()
    assert rescuer.returncode == 0, out
    final = service.get_job(job.id)
    assert final.state == "succeeded", final
    assert final.attempts == 2 and final.result["worker"] == "rescuer"
    events = service.job_events(job.id)
    running = [(e.attempt, e.worker_id) for e in events if e.to_state == "running"]
    assert running == [(1, "victim"), (2, "rescuer")]
    requeue = [e for e in events if e.from_state == "running" and e.to_state == "queued"]
    assert len(requeue) == 1 and "victim stopped heartbeating" in requeue[0].message
    assert {w.id: w.state for w in service.list_workers()}["victim"] == "lost"


def test_sigterm_requeues_the_running_job(service: Service) -> None:
    # Guards clean shutdown (Ctrl-C in `speclab serve`): the job goes back to the queue.
    with service.db.write() as s:
        job = jobstore.enqueue(s, "test_steps", {"steps": 100, "step_seconds": 0.1})
    w = _worker(service.settings, "--id", "polite", SPECLAB_PLUGINS="plugins.test_kinds")
    deadline = time.monotonic() + 60
    while service.get_job(job.id).state != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    w.send_signal(signal.SIGTERM)
    out = w.communicate(timeout=30)[0].decode()
    assert w.returncode == 0, out
    final = service.get_job(job.id)
    assert final.state == "queued" and final.worker_id is None
    assert "SIGTERM" in service.job_events(job.id)[-1].message
    assert {w.id: w.state for w in service.list_workers()}["polite"] == "stopped"
