"""Which node ran each attempt (recorded on the job's events by the node itself), and the
Jobs page's cluster panel built from what the database holds."""

from __future__ import annotations

import socket
from dataclasses import replace

from conftest import open_app, speclab, worker_env

from db import jobs as jobstore
from engine.jobs.executors import node_label, ray_node_of
from engine.jobs.worker import Worker
from engine.service import Service

PLUGINS = ("plugins.test_kinds",)


def test_local_attempt_records_its_host_on_the_claim_event(service: Service) -> None:
    with service.db.write() as s:
        job = jobstore.enqueue(s, "test_steps", {"steps": 1, "step_seconds": 0})
    settings = replace(service.settings, plugins=PLUGINS)
    assert Worker(settings, service.db, burst=True, worker_id="w1").run() == 1
    events = service.job_events(job.id)
    claim = next(ev for ev in events if ev.to_state == "running")
    host = socket.gethostname()
    assert claim.message == f"claimed by w1; on node {host}" and claim.node == host
    assert [ev.node for ev in events if ev.to_state != "running"] == ["", ""]
    assert service.job_nodes([job.id]) == {job.id: host}
    # `speclab jobs show` prints it with the events.
    out = speclab(worker_env(service.settings), "jobs", "show", str(job.id))
    assert out.returncode == 0, out.stderr
    assert f"queued -> running #1 claimed by w1; on node {host}" in out.stdout


def test_each_attempt_keeps_its_own_node_and_the_latest_is_the_jobs(service: Service) -> None:
    with service.db.write() as s:
        job = jobstore.enqueue(s, "test_steps", {})
        jobstore.claim(s, "a")
        jobstore.record_node(s, job.id, 1, "node-a (Ray aa11, 10.0.0.1)")
        jobstore.record_node(s, job.id, 1, "somewhere else")  # a second note is ignored
        jobstore.release_lost(s, job.id, worker_id="a", reason="node died")
        jobstore.claim(s, "b")
        jobstore.record_node(s, job.id, 2, "node-b (Ray bb22, 10.0.0.2)")
    running = [ev for ev in service.job_events(job.id) if ev.to_state == "running"]
    assert [(ev.attempt, ev.node) for ev in running] == [
        (1, "node-a (Ray aa11, 10.0.0.1)"),
        (2, "node-b (Ray bb22, 10.0.0.2)"),
    ]
    assert service.job_nodes([job.id]) == {job.id: "node-b (Ray bb22, 10.0.0.2)"}
    assert ray_node_of(service.job_nodes([job.id])[job.id]) == "bb22"
    assert ray_node_of(node_label()) is None  # a local label names no Ray node


def test_cluster_view_shows_nodes_running_jobs_and_waiting_ones(service: Service) -> None:
    svc = Service(replace(service.settings, plugins=PLUGINS), service.db)
    with svc.db.write() as s:
        placed = jobstore.enqueue(s, "test_steps", {})
        waits = jobstore.enqueue(s, "test_steps", {})
        jobstore.enqueue(s, "test_steps", {})  # queued: not on the panel
        jobstore.claim(s, "w1")
        jobstore.record_node(s, placed.id, 1, "box-1")
        jobstore.claim(s, "w2")
        jobstore.set_progress(s, waits.id, 0.0, "waiting for a free CPU on the Ray cluster")
    view = svc.cluster()
    assert view.executor == "local" and view.problem == ""
    (node,) = view.nodes
    assert (node.name, node.jobs, node.cpus_used, node.cpus) == ("box-1", (placed.id,), 0.1, None)
    (waiting,) = view.waiting
    assert (waiting.job_id, waiting.kind, waiting.needs.cpus) == (waits.id, "test_steps", 0.1)
    assert waiting.message == "waiting for a free CPU on the Ray cluster"


def test_jobs_page_shows_nodes_and_the_cluster_panel(svc: Service) -> None:
    with svc.db.write() as s:
        job = jobstore.enqueue(s, "test_steps", {"steps": 1, "step_seconds": 0})
        hung = jobstore.enqueue(s, "test_steps", {})
    assert Worker(replace(svc.settings, plugins=PLUGINS), svc.db, max_jobs=1).run() == 1
    with svc.db.write() as s:
        jobstore.claim(s, "other")
        jobstore.record_node(s, hung.id, 1, "gpu-7 (Ray cc33, 10.0.0.7)")
    at = open_app("views/runs.py", job=str(job.id))
    frames = [d.value for d in at.dataframe]
    jobs = next(f for f in frames if "attempt" in f.columns and "id" in f.columns)
    assert dict(zip(jobs["id"], jobs["node"], strict=True)) == {
        job.id: socket.gethostname(),
        hung.id: "gpu-7 (Ray cc33, 10.0.0.7)",
    }
    cluster = next(f for f in frames if "running jobs" in f.columns)
    assert list(cluster["node"]) == ["gpu-7 (Ray cc33, 10.0.0.7)"]
    assert list(cluster["running jobs"]) == [str(hung.id)]
    events = next(f for f in frames if "to" in f.columns)
    assert list(events["node"]) == ["", socket.gethostname(), ""]
