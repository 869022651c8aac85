"""A real multi-node Ray cluster on this machine for the cluster tests
(``ray.cluster_utils.Cluster``: a head and worker nodes, each its own raylet process), with
this process connected to it as the driver."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db.session import Database
from engine.config import Settings
from engine.jobs.ray_executor import RayExecutor, run_slots

REPO = Path(__file__).resolve().parent.parent

#: Environment for a quick loss report: the GCS declares a silent node dead after 3 missed
#: 1-second health checks (Ray's default waits ~30 s), so a lost task is reported sooner.
FAST_HEALTH_CHECKS = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


@dataclass
class RayCluster:
    cluster: Any  # ray.cluster_utils.Cluster
    #: The nodes added after the head, in the order asked for.
    nodes: list[Any]

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    @property
    def head(self) -> str:
        return str(self.cluster.head_node.node_id)

    def ids(self) -> list[str]:
        return [str(n.node_id) for n in self.nodes]


@contextmanager
def ray_cluster(
    head: dict[str, Any], nodes: list[dict[str, Any]], env: dict[str, str] | None = None
) -> Iterator[RayCluster]:
    """Start a head with ``head``'s node arguments (``num_cpus``, ``num_gpus``…) and one node
    per entry of ``nodes``, connect this process, and tear all of it down afterwards.

    ``env`` is set for the whole cluster's life (the nodes' processes inherit this process's
    environment when they start, so credentials a node needs must be exported before).
    """
    import ray
    from ray.cluster_utils import Cluster

    # Short path: Ray puts unix sockets under it, and those are limited to ~107 characters.
    tmp = tempfile.mkdtemp(prefix="speclab-ray-")
    full_env = {
        "RAY_AUTH_MODE": "disabled",  # a loopback-only test cluster
        "RAY_TMPDIR": tmp,
        # The nodes' worker processes import the engine and the test kinds, as an installed
        # SpecLab on every node of a real cluster would.
        "PYTHONPATH": os.pathsep.join(
            [str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]
        ),
        **(env or {}),
    }
    saved = {k: os.environ.get(k) for k in full_env}
    os.environ.update(full_env)
    common: dict[str, Any] = {"temp_dir": os.path.join(tmp, "ray")}
    c = Cluster(
        initialize_head=True,
        head_node_args={**common, "include_dashboard": False, **head},
    )
    try:
        added = [c.add_node(**common, **args) for args in nodes]
        ray.init(address=c.address, logging_level=logging.WARNING)
        yield RayCluster(cluster=c, nodes=added)
    finally:
        ray.shutdown()
        c.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)


class Dispatchers:
    """``slots`` burst workers with the Ray executor (the cluster at ``address``, else the
    one this process is connected to), run in a background thread."""

    def __init__(
        self, settings: Settings, database: Database, slots: int, address: str | None = None
    ) -> None:
        self.done: list[int] = []
        self.thread = threading.Thread(
            target=lambda: self.done.append(
                run_slots(
                    settings,
                    database,
                    slots,
                    executor=RayExecutor(address or settings.ray_address, poll_seconds=0.1),
                    install_signals=False,
                    burst=True,
                    poll_seconds=0.1,
                )
            ),
            daemon=True,
        )
        self.thread.start()

    def join(self, seconds: float = 180) -> int:
        """The number of jobs the workers finished, once they have (asserted)."""
        self.thread.join(seconds)
        assert not self.thread.is_alive(), "the workers did not finish"
        return self.done[0]
