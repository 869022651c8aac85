"""What the Jobs page's cluster panel shows: the nodes jobs run on, their resources, and
which jobs run on or wait for which node and resource.

The database is read first: every attempt records its node (``db.jobs.record_node``) and
every job kind declares its resources, so "what runs where and what it holds" needs no
cluster API. With the ``ray`` executor the node list and each node's totals come from Ray
(``ray.nodes()``), imported only then and only in this function's process; nodes' free
resources are their totals minus what the jobs recorded on them declare.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from db import jobs as jobstore
from db.entities import Job
from db.session import Database
from engine.config import Settings
from engine.errors import NotFoundError
from engine.jobs import kinds as kindreg
from engine.jobs.executors import job_resources, ray_node_of
from engine.jobs.kinds import Resources

#: Running jobs looked at (the page shows a cluster's worth, not a history).
MAX_RUNNING = 1000


@dataclass(frozen=True)
class NodeView:
    name: str
    alive: bool = True
    cpus: float | None = None  # totals; None where the executor does not know them
    gpus: float | None = None
    memory_gb: float | None = None
    cpus_used: float = 0.0
    gpus_used: float = 0.0
    jobs: tuple[int, ...] = ()


@dataclass(frozen=True)
class WaitingJob:
    job_id: int
    kind: str
    needs: Resources
    message: str


@dataclass(frozen=True)
class ClusterView:
    executor: str
    nodes: tuple[NodeView, ...] = ()
    waiting: tuple[WaitingJob, ...] = ()
    #: Why the cluster could not be asked (the DB part is still shown), or "".
    problem: str = ""
    gpus_total: float | None = field(default=None)


def _needs(job: Job) -> Resources:
    try:
        return kindreg.get(job.kind).resources
    except NotFoundError:
        return Resources()


def view(settings: Settings, database: Database) -> ClusterView:
    kindreg.load(settings.plugins)
    with database.read() as s:
        running = jobstore.list_jobs(s, states=["running"], limit=MAX_RUNNING)
        where = jobstore.nodes(s, [j.id for j in running])
    on_node: dict[str, list[Job]] = {}
    waiting: list[WaitingJob] = []
    for job in running:
        if job.id in where:
            on_node.setdefault(where[job.id], []).append(job)
        else:  # claimed, not started on a node yet: waiting for the resources it declares
            waiting.append(WaitingJob(job.id, job.kind, _needs(job), job.progress_message))

    def used(jobs: list[Job]) -> tuple[float, float]:
        return sum(_needs(j).cpus for j in jobs), sum(_needs(j).gpus for j in jobs)

    problem = ""
    nodes: list[NodeView] = []
    if settings.executor == "ray":
        try:
            ray_nodes = _ray_nodes(settings.ray_address)
        except Exception as exc:  # shown on the panel: the database part still is
            problem = f"cannot reach the Ray cluster: {type(exc).__name__}: {exc}"
            ray_nodes = []
        by_id = {ray_node_of(label): label for label in on_node}
        for n in ray_nodes:
            label = by_id.pop(n["NodeID"], None)
            jobs = on_node.pop(label, []) if label else []
            res = n.get("Resources", {})
            cpus_used, gpus_used = used(jobs)
            nodes.append(
                NodeView(
                    name=f"{n.get('NodeManagerHostname', '?')} (Ray {n['NodeID'][:12]}, "
                    f"{n.get('NodeManagerAddress', '?')})",
                    alive=bool(n.get("Alive", False)),
                    cpus=float(res.get("CPU", 0.0)),
                    gpus=float(res.get("GPU", 0.0)),
                    memory_gb=round(float(res.get("memory", 0.0)) / 1024**3, 1),
                    cpus_used=cpus_used,
                    gpus_used=gpus_used,
                    jobs=tuple(j.id for j in jobs),
                )
            )
    for label, jobs in sorted(on_node.items()):  # nodes only the database knows of
        cpus_used, gpus_used = used(jobs)
        nodes.append(
            NodeView(
                label, cpus_used=cpus_used, gpus_used=gpus_used, jobs=tuple(j.id for j in jobs)
            )
        )
    known = [n.gpus for n in nodes if n.gpus is not None and n.alive]
    return ClusterView(
        executor=settings.executor,
        nodes=tuple(nodes),
        waiting=tuple(waiting),
        problem=problem,
        gpus_total=sum(known) if known else None,
    )


def gpu_notes(settings: Settings, preset: str, kinds: Iterable[str]) -> list[str]:
    """Estimate notes for stages of ``kinds`` (as ``preset`` scales their resources) that
    declare a GPU when the Ray cluster has none at all: they would wait for a GPU node."""
    from engine.jobs.ray_executor import missing_gpu
    from engine.pipeline.presets import RESOURCES

    if settings.executor != "ray":
        return []
    kindreg.load(settings.plugins)
    scale = {"resources": RESOURCES.get(preset, {})}
    needs = {k: job_resources(kindreg.get(k), scale) for k in sorted(set(kinds))}
    needs = {k: r for k, r in needs.items() if r.gpus > 0}
    if not needs:
        return []
    try:
        from engine.jobs.ray_executor import connect

        cluster = dict(connect(settings.ray_address or "auto").cluster_resources())
    except Exception as exc:  # an estimate note, not a reason to refuse the estimate
        return [f"cannot reach the Ray cluster to check its GPUs: {type(exc).__name__}: {exc}"]
    return [note for k, r in needs.items() if (note := missing_gpu(k, r, cluster))]


def _ray_nodes(address: str | None) -> list[dict[str, Any]]:
    from engine.jobs.ray_executor import connect

    # "auto": join the cluster running here; never start a new one inside the dashboard.
    ray = connect(address or "auto")
    return list(ray.nodes())
