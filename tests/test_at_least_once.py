"""At-least-once delivery: a stage whose worker dies after writing its output, before the queue
records its success, runs again, and the re-run leaves exactly one of everything.

Real worker processes on SQLite and PostgreSQL; the kill is the worker's own SIGKILL at that
exact point (the ``test_die_after`` plugin kind wraps the real ``gen_demos`` stage), so the
test never races a poll against the stage.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import worker_env
from sqlalchemy import func, select

from db import jobs as jobstore
from db import models as m
from db.session import Database
from engine.artifacts import ArtifactStore
from engine.config import Settings
from engine.service import Service

STUDY = b"""\
name: at-least-once
spec: example
variants: [values]
arms: [aft]
seeds: [0]
model: builtin:smollm2-135m-instruct
preset: cpu-smoke
evals: []
overrides: {gen_demos: {max_demos: 12}}
"""


def _worker(settings: Settings, worker_id: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.cli",
            "worker",
            "--burst",
            "--poll",
            "0.1",
            "--id",
            worker_id,
        ],
        env=worker_env(settings, SPECLAB_PLUGINS="plugins.test_kinds"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _outputs(database: Database, stage_id: int, datasets_each: int = 1) -> dict[str, str]:
    """role → artifact hash linked to the stage, asserting one link, one artifact row and
    ``datasets_each`` dataset rows (data outputs are datasets, trained weights are not)."""
    with database.read() as s:
        links = s.execute(
            select(m.StageArtifact.role, m.Artifact.sha256)
            .join(m.Artifact, m.Artifact.id == m.StageArtifact.artifact_id)
            .where(m.StageArtifact.stage_id == stage_id)
        ).all()
        out = {role: sha for role, sha in links}
        assert len(out) == len(links), links  # one link per role
        for sha in out.values():
            rows = s.scalar(select(func.count()).where(m.Artifact.sha256 == sha))
            datasets = s.scalar(
                select(func.count())
                .select_from(m.Dataset)
                .join(m.Artifact, m.Artifact.id == m.Dataset.artifact_id)
                .where(m.Artifact.sha256 == sha)
            )
            assert (rows, datasets) == (1, datasets_each), (sha, rows, datasets)
    return out


def _store_entries(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.glob("*/*"))


def test_stage_killed_before_recording_success_reruns_to_one_artifact(service: Service) -> None:
    # Guards the README's at-least-once promise (issue 13): a gen_demos stage killed after it
    # wrote and linked its outputs, before its success was recorded, re-runs; afterwards each
    # output is one file, one artifact row, one dataset, one stage link; the job has one success.
    service.seed_builtin()
    launched = service.launch_study(service.parse_study(STUDY, "study.yaml"))
    stages = service.get_study(launched.study_id).runs[0].stages
    demos = next(st for st in stages if st.kind == "gen_demos")
    with service.db.write() as s:
        for st in stages:  # the wrapper below runs the stage instead of its own job
            if st.job_id is not None:
                jobstore.request_cancel(s, st.job_id)
        original = jobstore.get(s, demos.job_id or 0)
        job = jobstore.enqueue(
            s, "test_die_after", {**original.payload, "run": original.kind, "die_attempts": 1}
        )

    victim = _worker(service.settings, "victim")
    out = victim.communicate(timeout=180)[0].decode()
    assert victim.returncode == -signal.SIGKILL, out
    # The stage's work is all there, but the queue still thinks the attempt is running.
    assert service.get_job(job.id).state == "running"
    written = _outputs(service.db, demos.id)
    assert set(written) == {"demos_cot", "demos_plain"}
    root = service.settings.artifacts_dir
    files = _store_entries(root)

    rescuer = _worker(service.settings, "rescuer")
    out = rescuer.communicate(timeout=180)[0].decode()
    assert rescuer.returncode == 0, out
    final = service.get_job(job.id)
    assert final.state == "succeeded" and final.attempts == 2, final
    assert final.result["worker"] == "rescuer"
    assert {final.result[r] for r in written} == set(written.values())
    events = service.job_events(job.id)
    assert [e.attempt for e in events if e.to_state == "succeeded"] == [2]
    lost = [e for e in events if (e.from_state, e.to_state) == ("running", "queued")]
    assert len(lost) == 1 and "victim stopped heartbeating" in lost[0].message
    # Exactly one of everything: the same links and rows, the same files, no temporary leftovers.
    assert _outputs(service.db, demos.id) == written
    assert _store_entries(root) == files
    for sha in written.values():
        assert f"{sha[:2]}/{sha}" in files
    assert not [f for f in files if ".tmp-" in f]


def test_concurrent_writers_of_one_folder_store_it_once(tmp_path: Path, database: Database) -> None:
    # Guards put_dir's atomic rename: two writers racing on the same content (a re-run next to
    # a presumed-dead worker) both get the one record, and no temporary folder is left behind.
    source = tmp_path / "adapter"
    (source / "sub").mkdir(parents=True)
    (source / "adapter_model.safetensors").write_bytes(b"\x00" * 100_000)
    (source / "sub" / "config.json").write_text('{"r": 8}')
    store = ArtifactStore(tmp_path / "artifacts", database)
    barrier = threading.Barrier(4)
    got: list[str] = []
    errors: list[BaseException] = []

    def write() -> None:
        barrier.wait()
        try:
            got.append(store.put_dir(source, kind="adapter").sha256)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(got)) == 1 and len(got) == 4
    (sha,) = set(got)
    assert _store_entries(store.root) == [f"{sha[:2]}/{sha}"]
    stored = store.root / sha[:2] / sha
    assert (stored / "sub" / "config.json").read_text() == '{"r": 8}'
    assert (stored / "adapter_model.safetensors").stat().st_size == 100_000
    with database.read() as s:
        assert s.scalar(select(func.count()).where(m.Artifact.sha256 == sha)) == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # both databases: test above
def test_training_stage_killed_before_recording_success_keeps_one_adapter(
    service: Service, tiny_model_dir: Path
) -> None:
    # Guards at-least-once for training: a midtrain stage killed after it stored and linked
    # its adapter resumes from its last checkpoint on the re-run. Its new adapter need not be
    # byte-identical (seen here: resuming from the final checkpoint took one more step), so
    # the re-run's output replaces the link: the stage still has exactly one adapter, the one
    # its successful attempt reported.
    service.seed_builtin()
    study = (
        f"name: at-least-once-train\nspec: example\nvariants: [values]\narms: [msm]\n"
        f"seeds: [0]\nmodel: {tiny_model_dir}\npreset: cpu-smoke\nevals: []\n"
        "overrides: {gen_docs: {docs_per_clause: 2, target_words: 150}, "
        "midtrain: {max_steps: 5, save_steps: 2, max_length: 64, batch_size: 2}}\n"
    ).encode()
    launched = service.launch_study(service.parse_study(study, "study.yaml"))
    stages = service.get_study(launched.study_id).runs[0].stages
    docs = next(st for st in stages if st.kind == "gen_docs")
    train = next(st for st in stages if st.kind == "midtrain")
    with service.db.write() as s:
        jobstore.request_cancel(s, train.job_id or 0)
        original = jobstore.get(s, train.job_id or 0)
        job = jobstore.enqueue(
            s,
            "test_die_after",
            {**original.payload, "run": original.kind, "die_attempts": 1},
            depends_on=[docs.job_id or 0],
        )
    victim = _worker(service.settings, "victim")
    out = victim.communicate(timeout=600)[0].decode()
    assert victim.returncode == -signal.SIGKILL, out
    written = _outputs(service.db, train.id, datasets_each=0)
    assert list(written) == ["adapter"] and service.get_job(job.id).state == "running"
    rescuer = _worker(service.settings, "rescuer")
    out = rescuer.communicate(timeout=600)[0].decode()
    assert rescuer.returncode == 0, out
    final = service.get_job(job.id)
    assert final.state == "succeeded" and final.attempts == 2, final
    # It resumed from its last checkpoint (the final one) instead of training again.
    assert final.result["resumed_from_step"] == 5
    after = _outputs(service.db, train.id, datasets_each=0)
    assert list(after) == ["adapter"] and after["adapter"] == final.result["artifact"]
