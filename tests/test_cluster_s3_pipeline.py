"""The Ray executor at volume and with its artifacts in an object store, on a real multi-node
Ray cluster on this machine against the real PostgreSQL queue:

* 200 cheap jobs, each succeeding exactly once (its events say so, attempt by attempt);
* a real study's corpus stage run by ``speclab worker --executor ray`` with
  ``SPECLAB_ARTIFACTS=s3://…`` on a real S3-compatible server (moto on a loopback port);
  a second launch finds it cached, and its consumer (the real midtrain stage on the tiny
  random model) reads the corpus back from the bucket through a fresh node cache, checked
  against its hash.

The cluster (one for the module, started after the S3 server so its nodes inherit the
credentials): a head that runs no tasks and two nodes of two CPUs each, with memory declared
so the real midtrain stage (2 CPUs, 8 GB; the cpu-smoke preset asks for no GPU) fits on one.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import needed, speclab, worker_env
from raycluster import Dispatchers, RayCluster, ray_cluster
from s3server import S3Server

from db import jobs as jobstore
from db.session import Database
from engine.artifacts import MANIFEST_SUFFIX, ArtifactStore
from engine.config import Settings
from engine.jobs.executors import ray_node_of
from engine.service import Service

needed("ray", "the `ray` extra brings Ray")
needed("s3fs", "the `ray` extra brings s3fs")

#: The cheap jobs of the volume test.
CHEAP_JOBS = 200
#: Declared (logical) memory of each node: enough for one midtrain stage (8 GB).
NODE_MEMORY = 10 * 1024**3


@pytest.fixture(scope="module")
def cluster(s3: S3Server) -> Iterator[RayCluster]:
    node = {"num_cpus": 2, "num_gpus": 0, "memory": NODE_MEMORY}
    with ray_cluster({"num_cpus": 0}, [node, node], {"OMP_NUM_THREADS": "1"}) as c:
        yield c


def _events(database: Database, ids: list[int]) -> dict[int, list[Any]]:
    with database.read() as s:
        return {i: jobstore.events(s, i) for i in ids}


def test_200_cheap_jobs_through_ray_each_succeed_exactly_once(
    cluster: RayCluster, tmp_path: Path, pg_url: str
) -> None:
    settings = Settings(
        home=tmp_path / "home",
        database_url=pg_url,
        heartbeat_seconds=0.5,
        plugins=("plugins.ray_kinds",),
        user="tester",
        executor="ray",
    )
    settings.ensure_dirs()
    database = Database(pg_url)
    with database.write() as s:
        ids = [jobstore.enqueue(s, "ray_cpu", {"steps": 0}).id for _ in range(CHEAP_JOBS)]
    t0 = time.monotonic()
    done = Dispatchers(settings, database, slots=3).join(240)
    elapsed = time.monotonic() - t0
    with database.read() as s:
        jobs = [jobstore.get(s, i) for i in ids]
    events = _events(database, ids)
    database.dispose()
    on = Counter(j.result["node"][:12] for j in jobs if j.result)
    print(f"{CHEAP_JOBS} jobs through Ray in {elapsed:.1f} s; per node: {dict(on)}")

    assert done == CHEAP_JOBS
    assert [(j.id, j.state, j.error) for j in jobs if j.state != "succeeded"] == []
    attempts = 0
    for job in jobs:
        evs = events[job.id]
        claims = [ev for ev in evs if ev.to_state == "running"]
        lost = [ev for ev in evs if (ev.from_state, ev.to_state) == ("running", "queued")]
        succeeded = [ev for ev in evs if ev.to_state == "succeeded"]
        # One success; every attempt is a recorded claim; an attempt beyond the first is
        # there only because a lost worker's re-queue was recorded before it.
        assert [ev.attempt for ev in succeeded] == [job.attempts], evs
        assert [ev.attempt for ev in claims] == list(range(1, job.attempts + 1)), evs
        assert len(lost) == job.attempts - 1, evs
        assert all("re-queued: lost worker" in ev.message for ev in lost), evs
        # The node that ran the successful attempt recorded itself on that attempt's claim,
        # and the task ran there, in a Ray worker, under that attempt's number.
        assert ray_node_of(claims[-1].node) == job.result["node"], evs
        assert job.result["attempt"] == job.attempts
        attempts += job.attempts
    print(f"attempts: {attempts} for {CHEAP_JOBS} jobs")
    # Both worker nodes ran jobs (the head declares no CPU, so it ran none).
    assert {j.result["node"] for j in jobs} == set(cluster.ids())


STUDY = (
    "name: {name}\nspec: example\nvariants: [values]\narms: [msm]\nseeds: [0]\n"
    "model: {model}\npreset: cpu-smoke\nevals: []\n"
    "overrides: {{gen_docs: {{docs_per_clause: 2, target_words: 150}}, "
    "midtrain: {{max_steps: 2, save_steps: 2, max_length: 64, batch_size: 2}}}}\n"
)


def _node_home(s3: S3Server, pg_url: str, home: Path) -> Settings:
    """The settings of one worker machine: its own home (so its own artifact cache), the
    shared database and the shared bucket."""
    settings = Settings(
        home=home,
        database_url=pg_url,
        heartbeat_seconds=0.5,
        user="tester",
        executor="ray",
        artifacts_url=s3.url("pipeline"),
        artifacts_endpoint=s3.endpoint,
    )
    settings.ensure_dirs()
    return settings


def _ray_worker(settings: Settings, cluster: RayCluster, name: str) -> str:
    """``speclab worker --executor ray`` as a user runs it on that machine; its output."""
    env = worker_env(
        settings,
        SPECLAB_ARTIFACTS=str(settings.artifacts_url),
        SPECLAB_ARTIFACTS_ENDPOINT=str(settings.artifacts_endpoint),
        RAY_AUTH_MODE="disabled",
    )
    out = speclab(
        env, "worker", "--burst", "--poll", "0.1", "--executor", "ray",
        "--ray-address", cluster.address, "--id", name, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _bucket(s3: S3Server, prefix: str) -> dict[str, bytes]:
    client = s3.client()
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix + "/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    return {
        k.removeprefix(prefix + "/"): client.get_object(Bucket=s3.bucket, Key=k)["Body"].read()
        for k in keys
    }


def _stage(service: Service, study_id: int, kind: str) -> Any:
    return next(st for st in service.get_study(study_id).runs[0].stages if st.kind == kind)


def test_stage_artifacts_in_s3_are_read_back_by_a_second_launch_through_a_fresh_cache(
    s3: S3Server, cluster: RayCluster, tmp_path: Path, pg_url: str, tiny_model_dir: Path
) -> None:
    t0 = time.monotonic()
    # -- first machine: launch the study; its worker runs the corpus stage only.
    first = _node_home(s3, pg_url, tmp_path / "first")
    service = Service(first)
    service.seed_builtin()
    study = STUDY.format(name="s3-first", model=tiny_model_dir).encode()
    launched = service.launch_study(service.parse_study(study, "study.yaml"))
    kinds = [st.kind for st in service.get_study(launched.study_id).runs[0].stages]
    assert sorted(kinds) == ["gen_docs", "midtrain"]
    docs, train = (_stage(service, launched.study_id, k) for k in ("gen_docs", "midtrain"))
    assert docs.job_id is not None and train.job_id is not None
    service.cancel_job(train.job_id)  # the consumer runs in the second launch
    assert "worker finished 1 job(s)" in _ray_worker(first, cluster, "first")
    job = service.get_job(docs.job_id)
    assert (job.state, job.attempts) == ("succeeded", 1), job.error
    assert ray_node_of(service.job_nodes([job.id])[job.id]) in cluster.ids()
    corpus = _stage(service, launched.study_id, "gen_docs").artifact("docs")
    assert corpus is not None and corpus.sha256 == job.result["artifact"]
    key = f"{corpus.sha256[:2]}/{corpus.sha256}"
    # The corpus is in the bucket under its content key, whole; none in the home's folder.
    objects = _bucket(s3, "pipeline")
    assert hashlib.sha256(objects[key]).hexdigest() == corpus.sha256
    assert not list(first.artifacts_dir.rglob(f"*{corpus.sha256}*"))
    t1 = time.monotonic()

    # -- second machine: a fresh home (an empty artifact cache); the first's cache is gone.
    shutil.rmtree(first.artifact_cache_dir)
    second = _node_home(s3, pg_url, tmp_path / "second")
    other = Service(second, service.db)
    study = STUDY.format(name="s3-second", model=tiny_model_dir).encode()
    again = other.launch_study(other.parse_study(study, "study.yaml"))
    # The corpus stage is found done; the cancelled training is queued again.
    assert (again.cached, again.new_jobs) == (1, 1)
    cached = second.artifact_cache_dir / key
    assert not cached.exists()
    assert "worker finished 1 job(s)" in _ray_worker(second, cluster, "second")
    trained = other.get_job(train.job_id)
    assert (trained.state, trained.attempts) == ("succeeded", 1), trained.error
    assert trained.result["global_step"] == 2
    # The training read the corpus from the bucket into the fresh cache, checked by hash
    # (the download is renamed into place only when it matches).
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == corpus.sha256
    assert not [p for p in second.artifact_cache_dir.rglob(".tmp-*")]
    # Its adapter is in the bucket (files, then the manifest written last) and reads back,
    # checked file by file, into yet another node's cache.
    adapter = _stage(other, again.study_id, "midtrain").artifact("adapter")
    assert adapter is not None and adapter.sha256 == trained.result["artifact"]
    akey = f"{adapter.sha256[:2]}/{adapter.sha256}"
    objects = _bucket(s3, "pipeline")
    assert f"{akey}{MANIFEST_SUFFIX}" in objects
    assert f"{akey}/adapter_model.safetensors" in objects
    reader = ArtifactStore.from_settings(replace(second, home=tmp_path / "reader"), other.db)
    got = reader.path(adapter)
    assert got.is_relative_to(tmp_path / "reader")
    assert (got / "adapter_model.safetensors").read_bytes() == (
        objects[f"{akey}/adapter_model.safetensors"]
    )
    print(
        f"first run (corpus to the bucket) {t1 - t0:.1f} s; second run (cached corpus, "
        f"training reads it back) {time.monotonic() - t1:.1f} s"
    )
    service.db.dispose()
