"""The ``ray`` executor: each claimed job runs as a Ray task with its kind's resources.

The database stays the queue. A worker claims a job with the usual state machine, leases and
events, then submits one Ray task for it with ``num_cpus``/``num_gpus``/``memory`` from the
kind's :class:`~engine.jobs.kinds.Resources` (as the job's payload scales them: a CPU preset
asks for no GPU), and keeps heartbeating while it waits. On the node, the task rebuilds a
:class:`JobContext` from the same settings (database URL, artifact store: an object-store URL
or a folder every node can read) and runs the kind there, first recording its node on the
attempt's claim event. A GPU stage on a cluster with no GPU at all says so in its progress
message and log (and keeps waiting for a GPU node to join).

Choices:

* **Tasks, not actors.** A stage loads its model, trains or generates for minutes to hours,
  and writes artifacts; loading once per stage is noise next to that, and a task's resources
  are released the moment it ends, so a GPU never sits idle inside a parked actor. A task
  can also be killed with ``ray.cancel(force=True)`` without leaving state behind.
* **``max_retries=0``.** Retries are the queue's business (its own attempts and the
  lost-worker budget, both recorded as events); a silent Ray retry would run a stage twice
  under one attempt.
* **Cancel and stop.** When the job's cancel or interrupt event fires (set by the worker's
  heartbeat thread or its signal handler), the task is force-cancelled and the attempt ends
  as cancelled or re-queued. A task whose Ray worker or node died re-queues the job at once
  (a lost worker, as with a killed local worker) instead of waiting for the lease to run out.
* **GPUs.** Ray sets ``CUDA_VISIBLE_DEVICES`` for the task, so stage code that picks
  ``cuda`` uses the device Ray gave it; a stage that declares a GPU waits in Ray's queue
  (the job stays ``running`` with the progress message "waiting for a GPU") and never falls
  back to the CPU.
* **Several stages at once.** One dispatcher waits on one task; :func:`run_slots` runs
  several dispatchers (each a full :class:`~engine.jobs.worker.Worker` with its own id,
  claims and heartbeats) as threads of one process. They only wait, so threads are enough.

Ray is imported inside functions: it is an optional extra (``pip install -e '.[ray]'``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from db.entities import Job
from db.session import Database
from engine.artifacts import ArtifactStore
from engine.config import Settings
from engine.errors import ConfigError, JobInterrupted
from engine.jobs import kinds as kindreg
from engine.jobs.context import JobContext
from engine.jobs.executors import job_resources, node_label, record_node
from engine.jobs.kinds import JobKind, Resources

log = logging.getLogger("speclab.ray")

#: Seconds between looks at the task and at the job's cancel/interrupt events.
POLL_SECONDS = 0.2
#: How long a force-cancelled task may take to die before the attempt is recorded anyway.
CANCEL_GRACE_SECONDS = 10.0

_init_lock = threading.Lock()


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "the ray executor needs Ray: pip install -e '.[ray]' (or pip install 'ray>=2.9')"
        ) from None
    return ray


def connect(address: str | None) -> Any:
    """Connect this process to the Ray cluster at ``address`` once; return the ray module.

    ``None`` leaves the choice to Ray: ``RAY_ADDRESS``, a cluster already running on this
    machine, or else a new single-node cluster in this process.
    """
    ray = _ray()
    with _init_lock:
        if not ray.is_initialized():
            ray.init(address=address, namespace="speclab", logging_level=logging.WARNING)
    return ray


def task_options(resources: Resources) -> dict[str, Any]:
    """Ray task options for one execution of a kind declaring ``resources``."""
    options: dict[str, Any] = {
        "num_cpus": resources.cpus,
        "num_gpus": resources.gpus,
        "max_retries": 0,
        "retry_exceptions": False,
    }
    if resources.memory_gb > 0:
        options["memory"] = int(resources.memory_gb * 1024**3)
    return options


def waiting_message(resources: Resources) -> str:
    """What a job shows while its task waits for Ray to place it."""
    if resources.gpus > 0:
        return "waiting for a GPU"
    return "waiting for a free CPU on the Ray cluster"


def missing_gpu(kind: str, resources: Resources, cluster: dict[str, float]) -> str:
    """The warning for a stage that declares GPUs on a cluster that has none at all ("" when
    the cluster has enough GPUs, free or not): it waits until a GPU node joins."""
    have = float(cluster.get("GPU", 0.0))
    if resources.gpus <= 0 or have >= resources.gpus:
        return ""
    return (
        f"no GPU in the cluster: stage {kind} declares gpus={resources.gpus:g} "
        f"(the cluster has {have:g}); it waits until a GPU node joins. "
        "Launch with the cpu-smoke preset to run it on CPUs (its stages ask for no GPU)."
    )


# -- on the node ---------------------------------------------------------------------------

_DATABASES: dict[str, Database] = {}


def _database(url: str) -> Database:
    # Ray reuses its worker processes: one connection pool per process, not one per task.
    if url not in _DATABASES:
        _DATABASES[url] = Database(url)
    return _DATABASES[url]


def run_on_node(kind_name: str, job: Job, settings: Settings, worker_id: str) -> dict[str, Any]:
    """The Ray task's body: run one attempt of ``job`` on whatever node Ray chose."""
    ray = _ray()
    kindreg.load(settings.plugins)
    kind = kindreg.get(kind_name)
    database = _database(settings.database_url)
    ctx = JobContext(
        job=job,
        settings=settings,
        database=database,
        artifacts=ArtifactStore.from_settings(settings, database),
        worker_id=worker_id,
    )
    runtime = ray.get_runtime_context()
    node, ip = runtime.get_node_id(), ray.util.get_node_ip_address()
    devices = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    if job_resources(kind, job.payload).gpus > 0 and not ray.get_gpu_ids():
        raise ConfigError(f"job {job.id} declares a GPU but Ray assigned none on node {ip}")
    record_node(ctx, node_label(node, ip))
    ctx.log(
        f"attempt {job.attempts} runs on Ray node {node} ({ip}), pid {os.getpid()}, "
        f"CUDA_VISIBLE_DEVICES={devices or '(none)'}"
    )
    ctx.progress(0.0, f"running on Ray node {ip}")
    return kind.run(ctx, dict(job.payload)) or {}


# -- in the worker -------------------------------------------------------------------------


class RayExecutor:
    """Runs each job as a Ray task on the cluster at ``address`` (see the module doc)."""

    name = "ray"

    def __init__(self, address: str | None = None, *, poll_seconds: float = POLL_SECONDS):
        self.address = address
        self.poll_seconds = poll_seconds
        self._remote: Any = None

    def _task(self) -> Any:
        ray = connect(self.address)
        if self._remote is None:
            self._remote = ray.remote(run_on_node)
        return self._remote

    def execute(self, kind: JobKind, ctx: JobContext) -> dict[str, Any]:
        task = self._task()
        ray = _ray()
        resources = job_resources(kind, ctx.job.payload)
        missing = missing_gpu(kind.name, resources, ray.cluster_resources())
        if missing:
            ctx.log(missing)
        # Also a cancellation point.
        ctx.progress(0.0, missing or waiting_message(resources))
        ref = task.options(**task_options(resources), name=f"speclab-job-{ctx.job.id}").remote(
            kind.name, ctx.job, ctx.settings, ctx.worker_id
        )
        while not ray.wait([ref], timeout=self.poll_seconds)[0]:
            if ctx.cancel_event.is_set() or ctx.interrupt_event.is_set():
                ray.cancel(ref, force=True)
                # Let the task die before the attempt is recorded: a cancelled job must not
                # keep writing progress, nor hold its GPU while the next job waits for it.
                ray.wait([ref], timeout=CANCEL_GRACE_SECONDS)
                ctx.check()  # raises JobCancelled or JobInterrupted
        try:
            result: dict[str, Any] = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # the kind's own code raised on the node
            # Ray raises a class derived from both RayTaskError and the cause's class, whose
            # attributes are the cause's: read Ray's own with getattr.
            where = f"{getattr(exc, 'ip', '?')} (pid {getattr(exc, 'pid', '?')})"
            ctx.log(f"the task failed on Ray node {where}:", *str(exc).rstrip().splitlines())
            cause = getattr(exc, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise
        except ray.exceptions.TaskCancelledError:
            ctx.check()
            raise JobInterrupted(
                f"job {ctx.job.id}'s Ray task was cancelled outside SpecLab"
            ) from None
        except ray.exceptions.RayError as exc:  # its Ray worker or node died: a lost worker
            raise JobInterrupted(
                f"job {ctx.job.id}'s Ray task was lost ({type(exc).__name__}): {exc}"
            ) from exc
        return result


def run_slots(
    settings: Settings,
    database: Database,
    slots: int,
    *,
    executor: RayExecutor | None = None,
    worker_id: str | None = None,
    install_signals: bool = True,
    **worker_kwargs: Any,
) -> int:
    """Run ``slots`` dispatchers in this process, each a worker with its own claims and
    heartbeats; return the number of jobs they finished. SIGINT/SIGTERM stop all of them."""
    from engine.jobs.worker import Worker  # the worker imports the executors

    if slots < 1:
        raise ConfigError(f"--slots must be at least 1 (got {slots})")
    executor = executor or RayExecutor(settings.ray_address)
    workers = [
        Worker(
            settings,
            database,
            executor=executor,
            worker_id=f"{worker_id}-{i}" if worker_id and slots > 1 else worker_id,
            **worker_kwargs,
        )
        for i in range(slots)
    ]
    if install_signals:

        def handle(signum: int, _frame: FrameType | None) -> None:
            for w in workers:
                w.stop(f"worker {w.id} received {signal.Signals(signum).name}")

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
    threads = [_thread(w.run, f"slot-{i}") for i, w in enumerate(workers)]
    for t in threads:
        # Joined with a timeout so the main thread stays free to run the signal handler.
        while t.is_alive():
            t.join(timeout=0.5)
    return sum(w.jobs_done for w in workers)


def _thread(target: Callable[[], int], name: str) -> threading.Thread:
    t = threading.Thread(target=target, name=name, daemon=True)
    t.start()
    return t
