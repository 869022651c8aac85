"""The Ray executor on a real two-node Ray cluster on this machine, with the real worker and
the real PostgreSQL queue: placement by declared resources, GPU waits, cancel, no Ray retries.

One cluster serves the whole module (starting one takes ~15 s here): a head node with one CPU
and a second node with one CPU and one (declared) GPU, both on this machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from conftest import needed, worker_env
from raycluster import Dispatchers, ray_cluster

from db import jobs as jobstore
from db import workers as workerstore
from db.session import Database
from engine.config import Settings
from engine.jobs.executors import get_executor
from engine.jobs.ray_executor import RayExecutor

ray = needed("ray", "the `ray` extra brings Ray")

PLUGINS = ("plugins.ray_kinds",)


@dataclass
class RayCluster:
    address: str
    head: str
    gpu_node: str


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    with ray_cluster({"num_cpus": 1, "num_gpus": 0}, [{"num_cpus": 1, "num_gpus": 1}]) as c:
        yield RayCluster(address=c.address, head=c.head, gpu_node=c.ids()[0])


@pytest.fixture
def settings(tmp_path: Path, pg_url: str) -> Settings:
    s = Settings(
        home=tmp_path / "home",
        database_url=pg_url,
        lease_seconds=30.0,
        heartbeat_seconds=0.2,
        plugins=PLUGINS,
        user="tester",
        executor="ray",
    )
    s.ensure_dirs()
    return s


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


def _wait(condition: Callable[[], Any], seconds: float = 180) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {seconds} s")
        time.sleep(0.1)
    return value


def _job(database: Database, job_id: int) -> Any:
    with database.read() as s:
        return jobstore.get(s, job_id)


def _log(database: Database, job_id: int) -> list[str]:
    with database.read() as s:
        return [ln.line for ln in jobstore.log_tail(s, job_id)]


def _node_line(database: Database, job_id: int) -> str | None:
    return next((ln for ln in _log(database, job_id) if "runs on Ray node" in ln), None)


def test_executor_is_registered_and_reads_its_address(settings: Settings) -> None:
    executor = get_executor("ray", replace(settings, ray_address="h:6379"))
    assert isinstance(executor, RayExecutor) and executor.address == "h:6379"


def test_jobs_run_as_ray_tasks_on_the_cluster_nodes(
    cluster: RayCluster, settings: Settings, database: Database
) -> None:
    # Guards the basic path: claimed from the queue, run on a node, result and node recorded.
    with database.write() as s:
        ids = [jobstore.enqueue(s, "ray_cpu", {"steps": 2}).id for _ in range(4)]
    assert Dispatchers(settings, database, slots=2).join() == 4
    for job_id in ids:
        job = _job(database, job_id)
        assert (job.state, job.attempts) == ("succeeded", 1), job.error
        assert job.result["node"] in {cluster.head, cluster.gpu_node}
        line = _node_line(database, job_id)
        assert line is not None and job.result["node"] in line
        assert job.result["pid"] != os.getpid()  # ran in a Ray worker, not in the dispatcher


def test_gpu_stage_lands_on_the_gpu_node_waits_while_taken_and_cancel_kills_its_task(
    cluster: RayCluster, settings: Settings, database: Database
) -> None:
    with database.write() as s:
        holder = jobstore.enqueue(s, "ray_gpu", {"hang_attempts": 1}).id
    workers = Dispatchers(settings, database, slots=2)
    line = _wait(lambda: _node_line(database, holder))
    # Placed on the node that declares the GPU, with the device Ray assigned to it.
    assert cluster.gpu_node in line and "CUDA_VISIBLE_DEVICES=0" in line
    pid = int(re.search(r"pid (\d+)", line).group(1))  # type: ignore[union-attr]
    # A second GPU stage waits, visibly, while the only GPU is taken; it does not run on CPU.
    with database.write() as s:
        waiter = jobstore.enqueue(s, "ray_gpu", {"steps": 2}).id
    try:
        _wait(lambda: _job(database, waiter).state == "running")
    except AssertionError:
        with database.read() as s:
            for j in (holder, waiter):
                print("JOB", j, jobstore.get(s, j))
                for ev in jobstore.events(s, j):
                    print("  EV", ev)
            print("WORKERS", workerstore.list_workers(s))
        print("THREAD ALIVE", workers.thread.is_alive(), workers.done)
        raise
    time.sleep(2)  # a task that could start (e.g. on the head's CPU) would have by now
    job = _job(database, waiter)
    assert (job.state, job.progress_message) == ("running", "waiting for a GPU")
    assert _node_line(database, waiter) is None
    # Cancelling the holder kills its Ray task (its loop never checks for a cancel) and frees
    # the GPU for the waiting stage.
    with database.write() as s:
        jobstore.request_cancel(s, holder, by="tester")
    _wait(lambda: _job(database, holder).state == "cancelled")
    _wait(lambda: not _alive(pid), seconds=15)
    assert workers.join() == 2
    job = _job(database, waiter)
    assert job.state == "succeeded", job.error
    assert (job.result["node"], job.result["cuda"]) == (cluster.gpu_node, "0")


def test_failing_task_is_retried_by_the_queue_not_by_ray(
    cluster: RayCluster, settings: Settings, database: Database
) -> None:
    # Guards max_retries=0: one attempt, one invocation; a retry is the queue's, and counts.
    with database.write() as s:
        job_id = jobstore.enqueue(s, "ray_fail", {"message": "no good"}, max_attempts=1).id
    Dispatchers(settings, database, slots=1).join()
    job = _job(database, job_id)
    assert (job.state, job.attempts, job.error) == ("failed", 1, "RuntimeError: no good")
    assert sum("invoked for attempt" in ln for ln in _log(database, job_id)) == 1
    with database.write() as s:
        jobstore.retry(s, job_id, by="tester")
    Dispatchers(settings, database, slots=1).join()
    job = _job(database, job_id)
    assert (job.state, job.attempts) == ("failed", 2)
    invoked = [ln for ln in _log(database, job_id) if "invoked for attempt" in ln]
    assert [ln.split()[3] for ln in invoked] == ["1", "2"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_speclab_worker_cli_runs_jobs_through_ray_with_slots(
    cluster: RayCluster, settings: Settings, database: Database
) -> None:
    # Guards the command users run: `speclab worker --executor ray --ray-address … --slots 2`.
    with database.write() as s:
        ids = [jobstore.enqueue(s, "ray_cpu", {"steps": 1}).id for _ in range(3)]
    env = worker_env(settings, SPECLAB_PLUGINS=",".join(PLUGINS), RAY_AUTH_MODE="disabled")
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "worker", "--burst", "--poll", "0.1",
         "--executor", "ray", "--ray-address", cluster.address, "--slots", "2", "--id", "cli"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "worker finished 3 job(s)" in proc.stdout
    jobs = [_job(database, i) for i in ids]
    assert {j.state for j in jobs} == {"succeeded"}
    assert {j.worker_id for j in jobs} <= {"cli-0", "cli-1"}
