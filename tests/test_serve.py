"""`speclab serve`: the dashboard answers, a worker runs the queue, Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import REPO

from db import jobs as jobstore
from engine.config import Settings
from engine.service import Service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_runs_dashboard_and_worker_and_stops_cleanly(tmp_path: Path) -> None:
    # Guards `make run`: dashboard health, a worker draining the queue, no orphans on Ctrl-C.
    home = tmp_path / "home"
    env = dict(
        os.environ,
        SPECLAB_HOME=str(home),
        SPECLAB_HEARTBEAT_SECONDS="0.2",
        SPECLAB_PLUGINS="plugins.test_kinds",
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]),
    )
    env.pop("SPECLAB_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "engine.cli", "init", "--skip-model"], env=env, check=True
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # Generous limits: on a loaded 2-core machine starting Streamlit and a worker can take
        # tens of seconds; the test is about what happens, not how fast.
        deadline = time.monotonic() + 180
        healthy = False
        while time.monotonic() < deadline and not healthy:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as r:
                    healthy = r.status == 200
            except OSError:
                time.sleep(0.3)
        assert healthy, "dashboard never answered /_stcore/health"
        svc = Service(_settings(home))
        with svc.db.write() as s:
            jobs = [jobstore.enqueue(s, "test_write", {"text": f"t{i}"}) for i in range(2)]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and svc.job_counts().succeeded < 2:
            time.sleep(0.2)
        assert [svc.get_job(j.id).state for j in jobs] == ["succeeded"] * 2  # the worker ran them
        assert any(w.state in ("idle", "busy") for w in svc.list_workers())
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, out
    assert "SpecLab stopped" in out
    deadline = time.monotonic() + 10
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _group_alive(proc.pid), "a child of `speclab serve` outlived it"
    assert {w.state for w in svc.list_workers()} == {"stopped"}


def _settings(home: Path) -> Settings:
    return Settings(home=home, database_url=f"sqlite:///{home / 'speclab.db'}")
