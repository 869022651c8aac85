"""Executor overhead: what a job costs end to end (queued → succeeded, what a user waits for)
through the ``ray`` executor against the ``local`` one, measured in the same invocation.

    .venv/bin/python bench/executor_overhead.py                 # 200 jobs each, SQLite
    .venv/bin/python bench/executor_overhead.py --jobs 50 --slots 2
    .venv/bin/python bench/executor_overhead.py --database-url postgresql+psycopg://…

Each executor gets the same N trivial jobs (kind ``bench_noop`` from
``bench/overhead_kinds.py``: it does nothing, so what is measured is the queue — claim,
heartbeats, transitions — plus the executor) on a fresh database, enqueued at once; the clock
runs from the enqueue until a burst worker has finished them all. ``local`` is one worker
running them in its process. ``ray`` is ``--slots`` dispatchers (default 1: the same
concurrency as the baseline) on a single-node Ray cluster started in this process, each job a
Ray task. Each run is preceded by one warm-up job (Ray's worker-process start-up is not
charged to the N), and ``--rounds`` (default 3) alternate local and ray on fresh databases,
so a busy machine slows both alike; medians are reported.

Prints per-job time for each, the Ray overhead per job over local, and the last line
``ratio=<ray jobs/s ÷ local jobs/s>``. Exit status 0 either way.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO), str(REPO / "bench"), os.environ.get("PYTHONPATH", "")]
)  # Ray's worker processes import the engine and the bench kind too

from db import jobs as jobstore  # noqa: E402
from db import migrate  # noqa: E402
from db.session import Database  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.jobs.worker import Worker  # noqa: E402

PLUGINS = ("overhead_kinds",)


def _database(url: str | None, home: Path, name: str) -> tuple[str, Database]:
    url = url or f"sqlite:///{home / f'{name}.db'}"
    database = Database(url)
    migrate.upgrade(database)
    return url, database


def _run(settings: Settings, database: Database, jobs: int, run: object) -> tuple[float, float]:
    """(seconds from enqueue to the last success, median queued → succeeded per job)."""
    with database.write() as s:
        ids = [jobstore.enqueue(s, "bench_noop", {"i": i}).id for i in range(jobs)]
    t0 = time.perf_counter()
    done = run()  # type: ignore[operator]
    elapsed = time.perf_counter() - t0
    with database.read() as s:
        got = [jobstore.get(s, i) for i in ids]
    bad = [j.id for j in got if j.state != "succeeded" or j.attempts != 1]
    if bad or done < jobs:
        raise SystemExit(f"{len(bad)} job(s) did not succeed exactly once: {bad[:10]}")
    waits = [(j.finished_at - j.created_at).total_seconds() for j in got if j.finished_at]
    return elapsed, statistics.median(waits)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--slots", type=int, default=1, help="Ray dispatchers (default 1)")
    ap.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    ap.add_argument("--rounds", type=int, default=3, help="alternated rounds (median shown)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    home = Path(tempfile.mkdtemp(prefix="speclab-bench-"))
    try:
        base = Settings(
            home=home, database_url="", heartbeat_seconds=1.0, plugins=PLUGINS, user="bench"
        )
        base.ensure_dirs()

        import ray

        from engine.jobs.ray_executor import RayExecutor, run_slots

        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=max(2, args.slots), include_dashboard=False, logging_level=logging.ERROR)
        executor = RayExecutor(None, poll_seconds=0.01)
        times: dict[str, list[float]] = {"local": [], "ray": []}
        waits: dict[str, list[float]] = {"local": [], "ray": []}
        try:
            # Alternated rounds, each on a fresh database (a given one is shared: each run
            # waits only for the jobs it enqueued), after one warm-up job each.
            for r in range(args.rounds):
                for name in ("local", "ray"):
                    url, db = _database(args.database_url, home, f"{name}-{r}")
                    settings = replace(base, database_url=url, executor=name)

                    def run(settings: Settings = settings, db: Database = db) -> int:
                        if settings.executor == "local":
                            return Worker(settings, db, burst=True, poll_seconds=0.05).run()
                        return run_slots(
                            settings,
                            db,
                            args.slots,
                            executor=executor,
                            install_signals=False,
                            burst=True,
                            poll_seconds=0.05,
                        )

                    _run(settings, db, 1, run)
                    elapsed, wait = _run(settings, db, args.jobs, run)
                    times[name].append(elapsed)
                    waits[name].append(wait)
                    db.dispose()
        finally:
            ray.shutdown()
    finally:
        shutil.rmtree(home, ignore_errors=True)

    l_time, r_time = statistics.median(times["local"]), statistics.median(times["ray"])
    l_wait, r_wait = statistics.median(waits["local"]), statistics.median(waits["ray"])
    n = args.jobs
    print(
        f"jobs={n} rounds={args.rounds} "
        f"database={'given URL' if args.database_url else 'SQLite file'}"
    )
    for name in ("local", "ray"):
        print(f"{name} rounds (s): " + ", ".join(f"{t:.2f}" for t in times[name]))
    print(
        f"local: {l_time:.2f} s, {l_time / n * 1000:.1f} ms/job, {n / l_time:.1f} jobs/s, "
        f"median queued->succeeded {l_wait:.2f} s"
    )
    print(
        f"ray ({args.slots} slot(s)): {r_time:.2f} s, {r_time / n * 1000:.1f} ms/job, "
        f"{n / r_time:.1f} jobs/s, median queued->succeeded {r_wait:.2f} s"
    )
    print(f"ray overhead per job over local: {(r_time - l_time) / n * 1000:.1f} ms")
    print(f"ratio={(n / r_time) / (n / l_time):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
