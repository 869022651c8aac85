"""A node dies mid-training on a real Ray cluster: the job is re-queued, runs on the other
node, and resumes from the last checkpoint in the artifact store (a real S3-compatible server
on a loopback port), not from anything left on the dead node's disk.

The cluster (started here): a head that runs no tasks and two one-CPU nodes, against the
real PostgreSQL queue; the training is the real midtrain stage on the tiny random model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import needed
from raycluster import FAST_HEALTH_CHECKS, Dispatchers, ray_cluster
from s3server import S3Server

from db import jobs as jobstore
from db import migrate
from db import studies as studystore
from db.session import Database
from engine.config import Settings
from engine.jobs.executors import ray_node_of
from engine.service import Service

ray = needed("ray", "the `ray` extra brings Ray")
needed("s3fs", "the `ray` extra brings s3fs")
from ray.cluster_utils import Cluster  # noqa: E402  (after the check above)

PLUGINS = ("plugins.cluster_kinds", "plugins.ray_kinds")


def _wait(condition: Callable[[], Any], seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {seconds} s")
        time.sleep(0.2)
    return value


@pytest.fixture(scope="module")
def cluster(s3: S3Server) -> Iterator[tuple[Cluster, dict[str, Any]]]:
    # s3: started before the cluster, so its nodes inherit the credentials.
    env = {"OMP_NUM_THREADS": "1", **FAST_HEALTH_CHECKS}
    with ray_cluster({"num_cpus": 0}, [{"num_cpus": 1}, {"num_cpus": 1}], env) as c:
        yield c.cluster, {n.node_id: n for n in c.nodes}


STUDY = """\
name: gpu-check-{preset}
spec: example
variants: [values]
arms: [msm]
seeds: [0]
model: builtin:smollm2-135m-instruct
preset: {preset}
evals: []
"""


def test_gpu_stage_on_a_cluster_without_gpus_says_so_and_a_cpu_scaled_one_runs(
    cluster: tuple[Cluster, dict[str, Any]], tmp_path: Path, pg_url: str
) -> None:
    c, nodes = cluster
    settings = Settings(
        home=tmp_path / "home", database_url=pg_url, heartbeat_seconds=0.2, plugins=PLUGINS
    )
    database = Database(pg_url)
    migrate.upgrade(database)
    with database.write() as s:
        waits = jobstore.enqueue(s, "ray_gpu", {"steps": 1}).id
    dispatcher = Dispatchers(settings, database, 1, address=c.address)

    def message() -> str:
        with database.read() as s:
            return jobstore.get(s, waits).progress_message

    _wait(lambda: message().startswith("no GPU in the cluster"), seconds=60)
    assert message().startswith("no GPU in the cluster: stage ray_gpu declares gpus=1")
    with database.write() as s:
        jobstore.request_cancel(s, waits, by="tester")
        # The same kind, scaled to no GPU as a CPU preset does at launch: it runs.
        runs = jobstore.enqueue(s, "ray_gpu", {"steps": 1, "resources": {"gpus": 0}}).id
    dispatcher.join(120)
    with database.read() as s:
        assert jobstore.get(s, waits).state == "cancelled"
        job = jobstore.get(s, runs)
    assert job.state == "succeeded", job.error
    assert job.result["node"] in nodes and job.result["cuda"] in (None, "")
    # The estimate says it before launch: gpu-paper's GPU stages would wait; cpu-smoke's not.
    service = Service(replace(settings, executor="ray", ray_address=c.address), database)
    service.seed_builtin()
    notes = {
        preset: service.estimate_study(
            service.parse_study(STUDY.format(preset=preset).encode(), "s.yaml")
        ).notes
        for preset in ("gpu-paper", "cpu-smoke")
    }
    gpu = [n for n in notes["gpu-paper"] if n.startswith("no GPU in the cluster")]
    assert [n.split(" declares")[0] for n in gpu] == ["no GPU in the cluster: stage midtrain"]
    assert not [n for n in notes["cpu-smoke"] if "GPU" in n]
    # The Jobs page's cluster panel: Ray's nodes with their totals, no GPU anywhere.
    view = service.cluster()
    assert view.problem == "" and view.gpus_total == 0
    assert sorted(n.cpus or 0 for n in view.nodes) == [0, 1, 1]
    assert {n.name.split("(Ray ")[1][:12] for n in view.nodes} >= {k[:12] for k in nodes}
    database.dispose()


def _checkpoint(database: Database, stage_id: int) -> Any:
    with database.read() as s:
        return studystore.get_stage(s, stage_id=stage_id).artifact("checkpoint")


def test_node_killed_mid_training_resumes_on_another_node_from_the_store(
    s3: S3Server,
    cluster: tuple[Cluster, dict[str, Any]],
    tmp_path: Path,
    pg_url: str,
    tiny_model_dir: Path,
) -> None:
    c, nodes = cluster
    settings = Settings(
        home=tmp_path / "home",
        database_url=pg_url,
        heartbeat_seconds=0.2,
        plugins=PLUGINS,
        user="tester",
        executor="ray",
        artifacts_url=s3.url("store"),
        artifacts_endpoint=s3.endpoint,
    )
    settings.ensure_dirs()
    service = Service(settings)
    service.seed_builtin()
    study = (
        f"name: node-death\nspec: example\nvariants: [values]\narms: [msm]\nseeds: [0]\n"
        f"model: {tiny_model_dir}\npreset: cpu-smoke\nevals: []\n"
        "overrides: {gen_docs: {docs_per_clause: 2, target_words: 150}, "
        "midtrain: {max_steps: 12, save_steps: 3, max_length: 64, batch_size: 2}}\n"
    ).encode()
    launched = service.launch_study(service.parse_study(study, "study.yaml"))
    stages = service.get_study(launched.study_id).runs[0].stages
    docs = next(st for st in stages if st.kind == "gen_docs")
    train = next(st for st in stages if st.kind == "midtrain")
    # The same stages as one-CPU kinds (the real ones declare a GPU, which this cluster lacks).
    with service.db.write() as s:
        for st in stages:
            jobstore.request_cancel(s, st.job_id or 0)
        first = jobstore.enqueue(s, "cluster_gen_docs", {"stage_id": docs.id})
        job = jobstore.enqueue(
            s, "cluster_midtrain", {"stage_id": train.id}, depends_on=[first.id]
        ).id
    dispatcher = Dispatchers(settings, service.db, 1, address=c.address)
    t0 = time.monotonic()
    timeline: list[str] = []

    def mark(what: str) -> None:
        timeline.append(f"{time.monotonic() - t0:6.1f}s {what}")

    # Wait for the training's first checkpoint in the store, then kill the node running it.
    first_ckpt = _wait(lambda: _checkpoint(service.db, train.id))
    mark(f"checkpoint {first_ckpt.sha256[:12]} in the store")
    victim = ray_node_of(service.job_nodes([job])[job])
    assert victim in nodes
    c.remove_node(nodes[victim], allow_graceful=False)
    mark(f"node {victim[:12]} removed")

    dispatcher.join(240)
    mark("job finished")
    events = service.job_events(job)
    start = events[0].at
    for ev in events:
        timeline.append(
            f"  event +{(ev.at - start).total_seconds():6.1f}s {ev.from_state} -> {ev.to_state}"
            f" #{ev.attempt} {ev.message[:160]}"
        )
    print("\n".join(timeline))
    final = service.get_job(job)
    assert (final.state, final.attempts) == ("succeeded", 2), final.error
    # It resumed from a checkpoint the dead node had stored, fetched from the store.
    assert final.result["resumed_from_step"] >= 3
    assert final.result["global_step"] == 12
    log = [ln.line for ln in service.job_log(job, tail=500)]
    assert any(ln.startswith("fetched checkpoint-") for ln in log if "artifact store" in ln)
    # Events: one lost attempt on the dead node, one success on the other; nodes recorded.
    runs = [(ev.attempt, ray_node_of(ev.node)) for ev in events if ev.to_state == "running"]
    (survivor,) = set(nodes) - {victim}
    assert runs == [(1, victim), (2, survivor)]
    lost = [ev for ev in events if (ev.from_state, ev.to_state) == ("running", "queued")]
    assert len(lost) == 1 and "was lost" in lost[0].message
    assert [ev.attempt for ev in events if ev.to_state == "succeeded"] == [2]
    # The adapter is in the bucket, and a fresh node (an empty cache) reads it back checked.
    adapter = service.get_study(launched.study_id).runs[0].stages
    art = next(st for st in adapter if st.id == train.id).artifact("adapter")
    assert art is not None and art.sha256 == final.result["artifact"]
    fresh = Settings(**{**settings.__dict__, "home": tmp_path / "other-node"})
    from engine.artifacts import ArtifactStore

    got = ArtifactStore.from_settings(fresh, service.db).path(art)
    assert (got / "adapter_model.safetensors").is_file()
    service.db.dispose()
