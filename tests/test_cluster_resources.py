"""Presets scale the resources stage kinds declare, and a GPU stage on a cluster without any
GPU says so (the Ray side of both is in tests/test_cluster_node_death.py)."""

from __future__ import annotations

import pytest

from engine import cluster
from engine.errors import ConfigError
from engine.jobs import kinds as kindreg
from engine.jobs.executors import job_resources
from engine.jobs.kinds import Resources
from engine.jobs.ray_executor import missing_gpu, task_options
from engine.service import Service

STUDY = """\
name: scaled-{preset}
spec: example
variants: [values]
arms: [msm]
seeds: [0]
model: builtin:smollm2-135m-instruct
preset: {preset}
evals: []
"""


def test_job_payload_scales_the_declared_resources() -> None:
    kindreg.load()
    midtrain = kindreg.get("midtrain")
    assert midtrain.resources.gpus == 1
    assert job_resources(midtrain, {"stage_id": 1}) == midtrain.resources
    scaled = job_resources(midtrain, {"stage_id": 1, "resources": {"gpus": 0}})
    assert scaled == Resources(cpus=midtrain.resources.cpus, gpus=0.0, memory_gb=8)
    assert task_options(scaled)["num_gpus"] == 0.0
    with pytest.raises(ConfigError, match=r"unknown fields: \['tpus'\]"):
        job_resources(midtrain, {"resources": {"tpus": 1}})
    with pytest.raises(ConfigError, match="must be a mapping"):
        job_resources(midtrain, {"resources": [1]})


def test_cpu_preset_launches_stages_without_gpus_and_gpu_preset_keeps_them(
    seeded: Service,
) -> None:
    # gpu-paper writes its documents with the sdf generator on the study's model, loaded by
    # the stage itself: gen_docs then asks for a GPU too; through an endpoint it does not.
    endpoint = (
        "overrides: {gen_docs: {backend: openai, base_url: 'http://127.0.0.1:9/v1', "
        "generator_model: m}}\n"
    )
    for preset, extra, expected in (
        ("cpu-smoke", "", {"gen_docs": 0.0, "midtrain": 0.0}),
        ("gpu-paper", "", {"gen_docs": 1.0, "midtrain": 1.0}),
        ("gpu-paper", endpoint, {"gen_docs": 0.0, "midtrain": 1.0}),
    ):
        text = STUDY.format(preset=preset) + extra
        config = seeded.parse_study(text.encode(), "study.yaml")
        launched = seeded.launch_study(config)
        stages = seeded.get_study(launched.study_id).runs[0].stages
        jobs = {st.kind: seeded.get_job(st.job_id or 0) for st in stages}
        got = {
            kind: job_resources(kindreg.get(kind), job.payload).gpus for kind, job in jobs.items()
        }
        assert got == expected, (preset, extra, got)
        if preset == "gpu-paper":
            assert "resources" not in jobs["midtrain"].payload


def test_missing_gpu_warning_names_the_stage_and_what_to_do() -> None:
    needs = Resources(cpus=2, gpus=1)
    message = missing_gpu("aft", needs, {"CPU": 8.0})
    assert message.startswith("no GPU in the cluster: stage aft declares gpus=1")
    assert "cpu-smoke" in message
    assert missing_gpu("aft", needs, {"CPU": 8.0, "GPU": 1.0}) == ""  # taken or not: it waits
    assert missing_gpu("gen_docs", Resources(cpus=1), {"CPU": 1.0}) == ""


def test_no_gpu_notes_without_ray(service: Service) -> None:
    # The local executor runs stages in the worker process: nothing to check, no Ray import.
    assert cluster.gpu_notes(service.settings, "gpu-paper", ["midtrain", "aft"]) == []
