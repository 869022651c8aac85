"""The ``speclab`` command.

Every subcommand is a thin wrapper over :class:`engine.service.Service` (or the worker), so
the CLI and the dashboard share one set of use cases. Errors print one clear line to stderr
and exit with status 2 (bad input) or 1 (anything else SpecLab reports).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.errors import InputError, SpecLabError


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _nonneg(text: str) -> int:
    """An id, count or version number: a whole number that fits the database (< 2**63)."""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number below 10**18")
    return int(text)


def _port(text: str) -> int:
    value = _nonneg(text) if text.isascii() and text.isdigit() and len(text) < 6 else -1
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a port number (1-65535)")
    return value


def _study_config() -> Any:
    from engine.pipeline.study import StudyConfig

    return StudyConfig


def _data_formats() -> Any:
    from engine.data import formats

    return formats


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, default=_json_default, indent=2, ensure_ascii=False))


def _service(check: bool = True) -> Any:
    from engine.service import Service

    svc = Service.from_env()
    if check:
        svc.check_schema()
    return svc


# -- commands ------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    svc = _service(check=False)
    report = svc.init(seed=not args.no_seed, prepare_model=not args.skip_model)
    print(f"database: {report.database} (schema {report.revision})")
    print(f"home: {svc.settings.home}")
    print(f"seeded: {', '.join(report.seeded) or 'nothing new'}")
    if report.model_path:
        print(f"built-in model: {report.model_path}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from engine.errors import ConfigError
    from engine.jobs.executors import get_executor
    from engine.jobs.worker import run_worker

    svc = _service()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = svc.settings
    name = args.executor or settings.executor
    address = args.ray_address or settings.ray_address
    opts = dict(burst=args.burst, max_jobs=args.max_jobs, worker_id=args.id, poll_seconds=args.poll)
    if args.slots > 1 and name != "ray":
        raise ConfigError("--slots needs --executor ray; start several workers for local")
    if name == "ray":
        from engine.jobs.ray_executor import RayExecutor, run_slots

        done = run_slots(settings, svc.db, args.slots, executor=RayExecutor(address), **opts)
    else:
        done = run_worker(settings, svc.db, executor=get_executor(name, settings), **opts)
    print(f"worker finished {done} job(s)")
    return 0


def _executor_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--executor", choices=("local", "ray"), default=None,
        help="where claimed jobs run (default SPECLAB_EXECUTOR, else local)",
    )  # fmt: skip
    s.add_argument(
        "--ray-address", default=None,
        help="Ray cluster for --executor ray (default SPECLAB_RAY_ADDRESS, else Ray's choice)",
    )  # fmt: skip


def _app_main() -> str:
    # Locate the dashboard without importing it: the engine never imports the app layer.
    spec = importlib.util.find_spec("app")
    if spec is None or not spec.submodule_search_locations:
        raise SpecLabError("the dashboard package 'app' is not installed next to the engine")
    return str(Path(next(iter(spec.submodule_search_locations))) / "main.py")


def cmd_serve(args: argparse.Namespace) -> int:
    svc = _service()
    svc.check_schema()
    py = sys.executable
    env = dict(os.environ)
    dashboard = [
        py, "-m", "streamlit", "run", _app_main(),
        "--server.port", str(args.port),
        "--server.address", args.address,
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    worker_cmd = [py, "-m", "engine.cli", "worker"]
    if args.executor:
        worker_cmd += ["--executor", args.executor]
    if args.ray_address:
        worker_cmd += ["--ray-address", args.ray_address]
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    ui = subprocess.Popen(dashboard, env=env)
    workers = [subprocess.Popen(worker_cmd, env=env) for _ in range(args.workers)]
    print(
        f"SpecLab dashboard on http://{args.address}:{args.port} with {args.workers} worker(s); "
        "Ctrl-C stops everything",
        flush=True,
    )
    code = 0
    restarts = 0
    try:
        while not stopping:
            if ui.poll() is not None:
                print(f"the dashboard exited with status {ui.returncode}", file=sys.stderr)
                code = ui.returncode or 1
                break
            for i, w in enumerate(workers):
                if w.poll() is not None and restarts < 10:
                    print(f"worker {w.pid} exited ({w.returncode}); restarting", file=sys.stderr)
                    workers[i] = subprocess.Popen(worker_cmd, env=env)
                    restarts += 1
            time.sleep(0.5)
    finally:
        children = [ui, *workers]
        for p in children:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 20
        for p in children:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    print("SpecLab stopped", flush=True)
    return code


def cmd_spec_list(args: argparse.Namespace) -> int:
    specs = _service().list_specs()
    if args.json:
        _print_json(specs)
        return 0
    if not specs:
        print("no specs yet: `speclab spec import FILE` or `speclab init` for the example")
    for s in specs:
        print(f"{s.name}\tv{s.latest_version}\t{s.n_clauses} clauses\t{s.description}")
    return 0


def _read_input_file(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", source=path)
    return p.read_bytes()


def cmd_spec_import(args: argparse.Namespace) -> int:
    data = _read_input_file(args.file)
    version = _service().import_spec(
        data, Path(args.file).name, name=args.name, note=args.note or f"imported {args.file}"
    )
    print(version.spec_name)
    return 0


def cmd_spec_export(args: argparse.Namespace) -> int:
    text = _service().export_spec(
        args.name, args.format, version=args.version, variant=args.variant
    )
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_spec_versions(args: argparse.Namespace) -> int:
    versions = _service().list_versions(args.name)
    if args.json:
        _print_json(
            [{k: v for k, v in dataclasses.asdict(x).items() if k != "content"} for x in versions]
        )
        return 0
    for v in versions:
        parent = f"from v{v.parent_number}" if v.parent_number else "root"
        print(f"v{v.number}\t{v.content_hash[:12]}\t{parent}\t{v.author}\t{v.note}")
    return 0


def cmd_spec_variants(args: argparse.Namespace) -> int:
    variants = _service().list_variants(args.name, args.version)
    if args.json:
        _print_json(variants)
        return 0
    for v in variants:
        art = v.artifact.sha256[:12] if v.artifact else "(render pending)"
        print(f"{v.name}\t{v.rendering}\t{v.word_count} words\t{art}")
    return 0


def cmd_spec_derive(args: argparse.Namespace) -> int:
    svc = _service()
    version = args.version or svc.get_version(args.name).number
    text = None
    if args.text_file:
        try:
            text = _read_input_file(args.text_file).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})", source=args.text_file) from None
    variant = svc.derive_variant(
        args.name,
        version,
        args.rendering,
        variant_name=args.variant_name,
        custom_text=text,
        note=args.note or "",
    )
    print(variant.name)
    return 0


def cmd_spec_diff(args: argparse.Namespace) -> int:
    d = _service().diff_versions(args.name, args.old, args.new)
    print(d.summary())
    for c in d.clauses:
        if c.status != "unchanged":
            fields = ", ".join(ch.field for ch in c.changes)
            print(f"{c.status}\t{c.code}\t{fields}")
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    jobs = _service().list_jobs(states=args.state or None, limit=args.limit)
    if args.json:
        _print_json(jobs)
        return 0
    for j in jobs:
        pct = f"{j.progress * 100:.0f}%"
        print(f"{j.id}\t{j.kind}\t{j.state}\t{pct}\tattempt {j.attempts}\t{j.label}")
    return 0


def cmd_jobs_show(args: argparse.Namespace) -> int:
    svc = _service()
    job = svc.get_job(args.id)
    events = svc.job_events(args.id)
    lines = svc.job_log(args.id, tail=args.tail)
    if args.json:
        _print_json({"job": job, "events": events, "log": lines})
        return 0
    print(f"job {job.id} {job.kind} {job.state} attempt {job.attempts}/{job.max_attempts}")
    if job.error:
        print(f"error: {job.error}")
    for ev in events:
        print(
            f"  {ev.at:%H:%M:%S} {ev.from_state or '-'} -> {ev.to_state} #{ev.attempt} {ev.message}"
        )
    for ln in lines:
        print(f"  | {ln.line}")
    return 0


def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    job = _service().cancel_job(args.id)
    print(f"job {job.id}: {'cancel requested' if job.state == 'running' else job.state}")
    return 0


def cmd_jobs_retry(args: argparse.Namespace) -> int:
    job = _service().retry_job(args.id)
    print(f"job {job.id}: {job.state}")
    return 0


def cmd_study_launch(args: argparse.Namespace) -> int:
    svc = _service()
    config = svc.parse_study(_read_input_file(args.file), Path(args.file).name)
    result = svc.launch_study(config)
    if args.json:
        _print_json(dataclasses.asdict(result) | {"id": result.study_id})
    else:
        print(result.study_id)
        print(
            f"{result.runs} run(s), {result.stages} distinct stage(s): {result.new_jobs} queued, "
            f"{result.cached} cached, {result.shared} shared with running work",
            file=sys.stderr,
        )
    if args.run_here:
        from engine.jobs.worker import run_worker

        # Work the queue in this process until nothing is claimable: the study's jobs (and
        # any other queued work) run here, then the summary below reports how it ended.
        run_worker(svc.settings, svc.db, burst=True)
    elif not args.wait:
        return 0
    elif not _worker_alive(svc, within=NO_WORKER_GRACE_S):
        print(
            f"speclab: no worker is running on {svc.db.safe_url}: nothing will run this "
            f"study's jobs. Start one with `speclab worker` (or `speclab serve`), or launch "
            f"with --run-here to work them in this process; study {result.study_id} stays "
            "queued.",
            file=sys.stderr,
        )
        return 1
    return _wait_for_study(svc, result.study_id, quiet=args.json)


#: How long ``study launch --wait`` looks for a live worker before saying there is none.
NO_WORKER_GRACE_S = 5.0


def _worker_alive(svc: Any, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while True:
        if svc.live_workers():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def _wait_for_study(svc: Any, study_id: int, *, quiet: bool) -> int:
    last = ""
    while True:
        study = svc.get_study(study_id)
        stages = {st.id: st for r in study.runs for st in r.stages}
        done = sum(1 for st in stages.values() if st.state == "succeeded")
        line = f"study {study_id}: {study.status} ({done}/{len(stages)} stages done)"
        if line != last and not quiet:
            print(line, file=sys.stderr, flush=True)
            last = line
        if study.status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(1.0)
    if study.status != "succeeded":
        for st in stages.values():
            if st.state in ("failed", "cancelled"):
                print(f"stage {st.kind} {st.key[:12]}: {st.state} {st.error}", file=sys.stderr)
        return 1
    return 0


def cmd_stages(args: argparse.Namespace) -> int:
    rows = [
        {
            "kind": k.name,
            "description": k.description,
            "config": k.config.__name__,
            "code_version": k.code_version,
            "resources": dataclasses.asdict(k.resources),
            "max_attempts": k.max_attempts,
            "inputs": {role: list(kinds) for role, kinds in k.inputs.items()},
            "outputs": list(k.outputs),
            "key_fields": list(k.key_fields),
            "suite": k.suite,
        }
        for k in _service(check=False).stage_kinds()
    ]
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        res = r["resources"]
        inputs = ", ".join(f"{role} <- {'|'.join(ks)}" for role, ks in r["inputs"].items())
        print(f"{r['kind']}  (v{r['code_version']}, {r['config']}) {r['description']}")
        print(
            f"    needs {res['cpus']:g} CPU, {res['gpus']:g} GPU, {res['memory_gb']:g} GB; "
            f"up to {r['max_attempts']} attempts"
        )
        print(f"    inputs: {inputs or 'none'}; outputs: {', '.join(r['outputs']) or 'none'}")
        if r["suite"]:
            print(f"    evaluation suite: {r['suite']}")
    return 0


def cmd_study_settings(args: argparse.Namespace) -> int:
    settings = _service(check=False).stage_settings(args.preset)
    if args.kind is not None:
        if args.kind not in settings:
            raise InputError(
                f"unknown stage kind {args.kind!r}; known: {', '.join(settings)}", field="kind"
            )
        settings = {args.kind: settings[args.kind]}
    if args.json:
        _print_json(settings)
        return 0
    for kind, fields in settings.items():
        print(f"{kind}:")
        for f in fields:
            print(f"  {f.name} ({f.type}) = {json.dumps(f.default)}")
            print(f"      {f.help}")
    return 0


def cmd_study_show(args: argparse.Namespace) -> int:
    svc = _service()
    report = svc.study_report(args.id)
    if args.json:
        _print_json(report)
        return 0
    print(f"study {report['id']} {report['name']} on {report['spec']}: {report['status']}")
    for r in report["runs"]:
        print(f"  run {r['id']} {r['variant']} × {r['arm']} seed {r['seed']}: {r['status']}")
        for name, m in r["evals"].items():
            ci = f"[{m['ci_low']:.2f}, {m['ci_high']:.2f}]" if m["ci_low"] is not None else ""
            print(f"    {name} = {m['value']:.3f} {ci} n={m['n']}")
        for st in r["stages"]:
            cached = " (cached)" if st["cached"] else ""
            loss = st["metrics"].get("train/loss")
            tail = f" loss {loss[-1][1]:.3f} @ step {int(loss[-1][0])}" if loss else ""
            print(f"    {st['kind']:<9} {st['status']:<9}{cached} {st['key'][:12]}{tail}")
    return 0


def cmd_study_list(args: argparse.Namespace) -> int:
    studies = _service().list_studies(limit=args.limit)
    if args.json:
        _print_json(
            [
                {"id": s.id, "name": s.name, "spec": s.spec_ref, "status": s.status,
                 "runs": s.n_runs, "created_by": s.created_by, "created_at": s.created_at}
                for s in studies
            ]
        )  # fmt: skip
        return 0
    for s in studies:
        print(f"{s.id}\t{s.name}\t{s.spec_ref}\t{s.status}\t{s.n_runs} runs")
    return 0


def cmd_study_cancel(args: argparse.Namespace) -> int:
    n = _service().cancel_study(args.id)
    print(f"cancel sent to {n} job(s)")
    return 0


def cmd_study_rejudge(args: argparse.Namespace) -> int:
    """``speclab study rejudge ID --suite S --judge J``: queue a re-judging of the study."""
    job = _service().rejudge_study(
        args.id,
        suite=args.suite,
        judge=args.judge,
        judge_base_url=args.judge_base_url,
        judge_model=args.judge_model,
    )
    if args.json:
        _print_json({"job_id": job.id, "state": job.state, "label": job.label})
    else:
        print(f"job {job.id} {job.state}: {job.label}; a worker runs it (`speclab jobs show ID`)")
    return 0


def cmd_study_headline(args: argparse.Namespace) -> int:
    """``speclab study headline ID --suite S --judge J``: whose verdicts the numbers use."""
    picked = _service().set_headline_judge(args.id, args.suite, args.judge)
    for suite, judge in picked.items():
        print(f"{suite}: {judge or 'as run'}")
    return 0


def cmd_data_import(args: argparse.Namespace) -> int:
    svc = _service()
    where = Path(args.file)
    options = {"kind": args.kind, "spec": args.spec, "variant": args.variant}
    if where.is_dir():
        ds = svc.import_dataset_folder(where, **options)
    else:
        ds = svc.import_dataset(_read_input_file(args.file), where.name, **options)
    print(ds.artifact.sha256)
    if args.kind == "demos":
        note = f"{ds.n_rows} demonstrations; use gen_demos: {{source: {ds.artifact.sha256}}}"
    else:
        card = ds.provenance.get("card")
        note = f"{ds.n_rows} documents; " + (
            f"{card['mean_rule_statements']} rule statements per document"
            if isinstance(card, dict)
            else str(ds.provenance.get("card_note", "no corpus card"))
        )
    print(note, file=sys.stderr)
    return 0


def cmd_data_export(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if not output.parent.is_dir():
        raise InputError(f"folder {str(output.parent)!r} does not exist", field="-o")
    ds = _service().export_dataset(args.dataset, args.format, output)
    print(f"{ds.kind} {ds.name!r}: {ds.n_rows} rows as {args.format} -> {output}", file=sys.stderr)
    return 0


def cmd_data_list(args: argparse.Namespace) -> int:
    datasets = _service().list_datasets(kind=args.kind)
    if args.json:
        _print_json(datasets)
        return 0
    for d in datasets:
        print(f"{d.artifact.sha256[:16]}\t{d.kind}\t{d.n_rows} rows\t{d.name}")
    return 0


def cmd_serve_model(args: argparse.Namespace) -> int:
    from engine.backends.server import cli_serve_model
    from engine.backends.server_limits import limits_from_args

    return cli_serve_model(
        args.model, args.adapter, args.host, args.port, limits=limits_from_args(args)
    )


def cmd_eval_run(args: argparse.Namespace) -> int:
    try:
        overrides = json.loads(args.set) if args.set else {}
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} (column {exc.colno})", field="--set") from None
    output = _output_path(args.output)
    summary = _service().eval_model(
        args.model,
        args.suite,
        adapters=tuple(args.adapter or ()),
        preset=args.preset,
        spec=args.spec,
        overrides=overrides,
    )
    if output is not None:
        output.write_text(
            "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in summary.samples),
            encoding="utf-8",
        )
    _print_json(summary.to_dict())
    return 0


def _judge_spec_qa(args: argparse.Namespace) -> int:
    """``speclab judge … --suite spec_qa``: re-judge answers or validate a QA judge."""
    svc = _service(check=False)
    judge = args.judge or "qa_rubric"
    if args.target == "validate":
        data = _read_input_file(args.set) if args.set else None
        report = svc.validate_qa_judge(
            judge=judge,
            labelled_set=data,
            source=Path(args.set).name if args.set else "",
            judge_base_url=args.judge_base_url,
            judge_model=args.judge_model,
        )
        if args.json:
            _print_json(report)
            return 0
        from engine.evals.validation import format_agreement

        print(f"judge: {report.judge}@{report.prompt_version}\n")
        for kind, (mean, n) in report.means.items():
            print(f"  {kind:<24} mean score {mean:5.2f}  (n={n})")
        print("\nagreement (score >= 5 read as acceptable):")
        print(format_agreement(report.agreement))
        if report.misses:
            print("\nmisses:")
        for answer_id, kind, score in report.misses:
            print(f"  {answer_id}\t{kind}\tscore {score}")
        return 0
    output = _output_path(args.output)
    rows = svc.judge_qa_answers(
        _read_input_file(args.target),
        Path(args.target).name,
        judge=judge,
        judge_base_url=args.judge_base_url,
        judge_model=args.judge_model,
    )
    _write_lines(rows, output, f"{len(rows)} answers judged")
    return 0


def _output_path(given: str | None) -> Path | None:
    """``-o`` as a path whose folder exists (checked before any work), or None for stdout."""
    output = Path(given) if given else None
    if output is not None and not output.parent.is_dir():
        raise InputError(f"folder {str(output.parent)!r} does not exist", field="-o")
    return output


def _write_lines(rows: Sequence[Any], output: Path | None, summary: str) -> None:
    """JSON lines to ``output`` (saying ``summary`` on stderr) or to stdout."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"{summary} -> {output}", file=sys.stderr)


def _judge_published(args: argparse.Namespace) -> int:
    """``speclab judge FILE.jsonl --suite agentic_published``: harmful, classifier_verdict and
    parity for transcripts in the published format."""
    if args.target == "validate" or args.judge:
        raise InputError(
            "agentic_published judges every line three ways (world rules, published_classifier "
            "with --judge-base-url, the published gates); it takes no --judge and no validate",
            field="--suite",
        )
    output = _output_path(args.output)
    rows = _service(check=False).judge_published_transcripts(
        _read_input_file(args.target),
        Path(args.target).name,
        judge_base_url=args.judge_base_url,
        judge_model=args.judge_model,
    )
    harmful = sum(1 for r in rows if r["harmful"] is True)
    judged = [r for r in rows if r["classifier_verdict"] is not None]
    said = (
        f"{sum(1 for r in judged if r['classifier_verdict'])} by the classifier, "
        f"{sum(1 for r in judged if r['parity'])} by the published gates"
        if judged
        else "classifier not run (no --judge-base-url)"
    )
    _write_lines(rows, output, f"{len(rows)} judged: {harmful} harmful by the world rules, {said}")
    return 0


def cmd_judge(args: argparse.Namespace) -> int:
    """``speclab judge FILE.jsonl --suite S`` or ``speclab judge validate --suite S``."""
    if args.suite == "spec_qa":
        return _judge_spec_qa(args)
    if args.suite == "agentic_published":
        return _judge_published(args)
    svc = _service(check=False)
    if args.target == "validate":
        data = _read_input_file(args.set) if args.set else None
        report = svc.validate_agentic_judge(
            judge=args.judge or "agentic_parse",
            labelled=data,
            source=Path(args.set).name if args.set else "",
            judge_base_url=args.judge_base_url,
            judge_model=args.judge_model,
        )
        if args.json:
            _print_json(report)
            return 0
        from engine.evals.validation import format_agreement

        print(f"judge: {report.judge}\nset:   {report.source}\n")
        print(format_agreement(report.agreement))
        for title, rows in (
            ("misses", report.misses),
            ("meaning-dependent cases decided", report.decided_ambiguous),
        ):
            if rows:
                print(f"\n{title}:")
            for m in rows:
                said = {True: "harmful", False: "harmless", None: "uncertain"}
                print(
                    f"  {m.id}\tlabel {said[m.label]}, judged {said[m.prediction]}\t{m.case}"
                    f"\n    {m.reasons[:300]}"
                )
        return 0
    output = _output_path(args.output)
    judged = svc.judge_agentic_replies(
        _read_input_file(args.target),
        Path(args.target).name,
        judge=args.judge or "agentic_parse",
        judge_base_url=args.judge_base_url,
        judge_model=args.judge_model,
    )
    counts = {k: sum(1 for j in judged if j.harmful is k) for k in (True, False, None)}
    _write_lines(
        [j.to_dict() for j in judged],
        output,
        f"{len(judged)} judged: {counts[True]} harmful, {counts[False]} harmless, "
        f"{counts[None]} uncertain",
    )
    return 0


def cmd_data_docs(args: argparse.Namespace) -> int:
    from engine.stages.io import jsonl_bytes

    try:
        overrides = json.loads(args.set) if args.set else {}
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} (column {exc.colno})", field="--set") from None
    if not isinstance(overrides, dict):
        raise InputError("must be a JSON object of gen_docs settings", field="--set")
    output = Path(args.output)
    if not output.parent.is_dir():
        raise InputError(f"folder {str(output.parent)!r} does not exist", field="-o")
    svc = _service()
    rows = svc.corpus_docs(
        args.spec, args.variant, preset=args.preset, overrides=overrides, model=args.model
    )
    output.write_bytes(jsonl_bytes(rows))
    card = svc.corpus_card(rows, args.spec, args.variant)
    print(
        f"{card.docs} documents, {card.words} words; {card.mean_rule_statements} rule statements "
        f"and {card.mean_rationale_sentences} rationale sentences per document -> {output}",
        file=sys.stderr,
    )
    return 0


def cmd_data_card(args: argparse.Namespace) -> int:
    from engine.data.card import parse_docs

    rows = parse_docs(_read_input_file(args.file), args.file)
    card = _service().corpus_card(rows, args.spec, args.variant)
    if args.json:
        _print_json(card.to_dict())
        return 0
    print(f"{args.file}: documents about {args.spec}, variant {args.variant}")
    print("\n".join(card.lines()))
    return 0


def cmd_export_inspect(args: argparse.Namespace) -> int:
    from engine.interop.inspect_log import file_name

    fmt = args.format or ("json" if args.output and args.output.endswith(".json") else "eval")
    data = _service().export_inspect(args.run, args.suite, fmt)
    out = Path(args.output or file_name(args.run, args.suite, fmt))
    out.write_bytes(data)
    print(out)
    print(f"{len(data):,} bytes; open with: inspect view --log-dir {out.parent}", file=sys.stderr)
    return 0


def cmd_import_inspect(args: argparse.Namespace) -> int:
    from engine.interop.inspect_log import MAX_LOG_BYTES

    p = Path(args.file)
    if p.is_file() and p.stat().st_size > MAX_LOG_BYTES:
        raise InputError(f"file is larger than {MAX_LOG_BYTES:,} bytes", source=args.file)
    svc = _service()
    done = svc.import_inspect(_read_input_file(args.file), p.name)
    if args.json:
        beside = [] if args.beside is None else svc.rates_beside([done.run_id, args.beside])
        _print_json({"import": done, "beside": beside})
        return 0
    what = "imported" if done.created else "already imported (nothing written)"
    print(f"{what}: study {done.study_id}, run {done.run_id}, {done.samples} sample(s)")
    print(f"{done.origin['task']} on {done.origin['model']} ({done.origin['suite']} suite)")
    if args.beside is not None:
        for r in svc.rates_beside([done.run_id, args.beside]):
            interval = "" if r.ci_low is None else f" [{r.ci_low:.3f}, {r.ci_high:.3f}]"
            print(f"{r.metric}\t{r.value:.3f}{interval}\tn={r.n}\t{r.label}")
    return 0


# -- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="speclab",
        description="SpecLab: write spec variants, train and evaluate them, compare honestly. "
        "Configured by SPECLAB_HOME and SPECLAB_DATABASE_URL.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser(
        "init", help="create/upgrade the database, seed the example, prepare the model"
    )
    s.add_argument("--skip-model", action="store_true", help="do not prepare the built-in model")
    s.add_argument("--no-seed", action="store_true", help="do not load the built-in example spec")
    s.set_defaults(fn=cmd_init)

    s = sub.add_parser("serve", help="run the dashboard and background workers")
    s.add_argument("--port", type=_port, default=8501, help="dashboard port (default 8501)")
    s.add_argument(
        "--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    s.add_argument(
        "--workers", type=_nonneg, default=1, help="worker processes to start (default 1)"
    )
    _executor_flags(s)
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("worker", help="run one worker that claims and runs queued jobs")
    s.add_argument("--burst", action="store_true", help="exit when nothing is left to run")
    s.add_argument("--max-jobs", type=_nonneg, default=None, help="exit after this many jobs")
    s.add_argument("--id", default=None, help="worker id (default host-pid-random)")
    s.add_argument("--poll", type=float, default=0.5, help="seconds between polls when idle")
    _executor_flags(s)
    s.add_argument(
        "--slots", type=_nonneg, default=1,
        help="jobs this worker dispatches at once (ray executor only; default 1)",
    )  # fmt: skip
    s.set_defaults(fn=cmd_worker)

    s = sub.add_parser(
        "serve-model", help="serve a model (+ adapter) on an OpenAI-compatible HTTP API"
    )
    s.add_argument("model", help="builtin:…, a local Hugging Face folder, or a hub id")
    s.add_argument("--adapter", default=None, help="a LoRA adapter folder to merge")
    s.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    s.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    from engine.backends.server_limits import add_limit_flags  # stdlib only: cheap

    add_limit_flags(s)
    s.set_defaults(fn=cmd_serve_model)

    ev = sub.add_parser("eval", help="run an evaluation suite outside a study")
    evs = ev.add_subparsers(dest="eval_command", required=True, metavar="SUBCOMMAND")
    s = evs.add_parser("run", help="evaluate a model (+ adapters) on one suite")
    s.add_argument("--model", required=True, help="builtin:…, a local folder, or a hub id")
    s.add_argument("--adapter", action="append", help="LoRA adapter folder(s), applied in order")
    s.add_argument(
        "--suite",
        choices=["spec_qa", "agentic", "agentic_published"],
        required=True,
        help="which suite",
    )
    s.add_argument("--preset", default="cpu-smoke", help="eval sizes from this preset")
    s.add_argument("--spec", default="example", help="spec (name or name@version) for spec_qa")
    s.add_argument(
        "--set", default=None, help="JSON overrides, e.g. '{\"samples_per_condition\": 3}'"
    )
    s.add_argument("-o", "--output", default=None, help="also write every sample to this JSONL")
    s.set_defaults(fn=cmd_eval_run)

    jd = sub.add_parser(
        "judge",
        help="re-judge replies from a JSONL file, or validate a judge on a labelled set",
        description="speclab judge FILE.jsonl --suite agentic|spec_qa [--judge NAME] "
        "[-o OUT.jsonl] | speclab judge validate --suite agentic|spec_qa [--judge NAME] "
        "[--set FILE]",
    )
    jd.add_argument("target", help="a JSONL file of replies, or 'validate'")
    jd.add_argument(
        "--suite",
        choices=["agentic", "spec_qa", "agentic_published"],
        required=True,
        help="which suite (agentic_published: transcripts in the published format)",
    )
    jd.add_argument("--judge", default=None, help="judge name (default: the suite's default)")
    jd.add_argument("--set", default=None, help="validate: a labelled JSONL set (default built-in)")
    jd.add_argument("-o", "--output", default=None, help="write the verdicts to this JSONL file")
    jd.add_argument(
        "--judge-base-url",
        default="",
        help="OpenAI-compatible endpoint for the LLM judge; with the offline judge it settles "
        "'uncertain' verdicts",
    )
    jd.add_argument("--judge-model", default="", help="model name at --judge-base-url")
    jd.add_argument("--json", action="store_true", help="validate: print JSON")
    jd.set_defaults(fn=cmd_judge)

    spec = sub.add_parser("spec", help="list, import, export, version and diff specs")
    ss = spec.add_subparsers(dest="spec_command", required=True, metavar="SUBCOMMAND")
    s = ss.add_parser("list", help="list specs")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_spec_list)
    s = ss.add_parser("import", help="import a spec from .md/.txt/.json/.yaml; prints its name")
    s.add_argument("file", help="the spec file")
    s.add_argument("--name", help="spec name (default: the file's 'name' field)")
    s.add_argument("--note", help="version note")
    s.set_defaults(fn=cmd_spec_import)
    s = ss.add_parser("export", help="export a spec or one of its variants")
    s.add_argument("name", help="spec name")
    s.add_argument("--format", choices=["md", "json", "yaml"], required=True, help="output format")
    s.add_argument("--version", type=_nonneg, default=None, help="version number (default latest)")
    s.add_argument("--variant", default=None, help="export this variant's rendering")
    s.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    s.set_defaults(fn=cmd_spec_export)
    s = ss.add_parser("versions", help="version history of a spec")
    s.add_argument("name", help="spec name")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_spec_versions)
    s = ss.add_parser("variants", help="variants of a spec version")
    s.add_argument("name", help="spec name")
    s.add_argument("--version", type=_nonneg, default=None, help="version number (default latest)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_spec_variants)
    s = ss.add_parser("derive", help="add a variant: a rendering, or hand-edited text")
    s.add_argument("name", help="spec name")
    s.add_argument("rendering", help="rules, values, general, specific or custom")
    s.add_argument("--version", type=_nonneg, default=None, help="version number (default latest)")
    s.add_argument("--variant-name", default=None, help="name of the variant (default: rendering)")
    s.add_argument("--text-file", default=None, help="UTF-8 text of a custom variant")
    s.add_argument("--note", default=None, help="a note stored with the variant")
    s.set_defaults(fn=cmd_spec_derive)
    s = ss.add_parser("diff", help="clause-level diff between two versions")
    s.add_argument("name", help="spec name")
    s.add_argument("old", type=_nonneg, help="old version number")
    s.add_argument("new", type=_nonneg, help="new version number")
    s.set_defaults(fn=cmd_spec_diff)

    s = sub.add_parser(
        "stages", help="the table of stage kinds: config, resources, retries, inputs, outputs"
    )
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_stages)
    study = sub.add_parser("study", help="launch, show, list and cancel studies")
    sts = study.add_subparsers(dest="study_command", required=True, metavar="SUBCOMMAND")
    s = sts.add_parser(
        "launch",
        help="launch a study described in a YAML file; prints its id",
        description="Launch a study: every variant × arm × seed becomes a run. The file's keys: "
        + "; ".join(f"{f.name}: {f.metadata['help']}" for f in dataclasses.fields(_study_config()))
        + ". `speclab study settings` lists every stage setting `overrides` can change.",
    )
    s.add_argument("file", help="the study file (name, spec, variants, arms, seeds, …)")
    s.add_argument("--wait", action="store_true", help="return when the study ends (1 if failed)")
    s.add_argument(
        "--run-here",
        action="store_true",
        help="work the queued jobs in this process until none is left, then report",
    )
    s.add_argument("--json", action="store_true", help="print a JSON object with the id")
    s.set_defaults(fn=cmd_study_launch)
    s = sts.add_parser(
        "settings",
        help="every stage kind's settings under a preset, with their help texts "
        "(what a study file's `overrides` can change)",
    )
    s.add_argument("--preset", default="cpu-smoke", help="preset (default cpu-smoke)")
    s.add_argument("kind", nargs="?", default=None, help="only this stage kind")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_study_settings)
    s = sts.add_parser("show", help="runs, stages, artifacts and metrics of a study")
    s.add_argument("id", type=_nonneg, help="study id")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_study_show)
    s = sts.add_parser("list", help="studies, newest first")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--limit", type=_nonneg, default=50, help="how many (default 50)")
    s.set_defaults(fn=cmd_study_list)
    s = sts.add_parser("cancel", help="cancel the unfinished stages of a study")
    s.add_argument("id", type=_nonneg, help="study id")
    s.set_defaults(fn=cmd_study_cancel)
    s = sts.add_parser(
        "rejudge",
        help="re-judge every eval sample of a study's suite with another judge (a worker runs "
        "it); the verdicts it ran with stay",
    )
    s.add_argument("id", type=_nonneg, help="study id")
    s.add_argument("--suite", choices=["agentic", "spec_qa"], required=True, help="which suite")
    s.add_argument("--judge", required=True, help="judge name (`speclab judge --help` lists them)")
    s.add_argument(
        "--judge-base-url", default="", help="OpenAI-compatible endpoint (LLM judges only)"
    )
    s.add_argument("--judge-model", default="", help="model name at --judge-base-url")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_study_rejudge)
    s = sts.add_parser(
        "headline",
        help="choose whose verdicts a study's numbers, reports and exports use, per suite",
    )
    s.add_argument("id", type=_nonneg, help="study id")
    s.add_argument("--suite", choices=["agentic", "spec_qa"], required=True, help="which suite")
    s.add_argument(
        "--judge", default="", help="a judge the study was re-judged with ('' = as it ran)"
    )
    s.set_defaults(fn=cmd_study_headline)

    exp = sub.add_parser("export", help="export results in other tools' formats")
    exs = exp.add_subparsers(dest="export_command", required=True, metavar="FORMAT")
    s = exs.add_parser("inspect", help="one run × suite as an Inspect eval log (.eval or .json)")
    s.add_argument("run", type=_nonneg, help="run id")
    s.add_argument("--suite", required=True, help="agentic, spec_qa or agentic_published")
    s.add_argument(
        "--format", choices=["eval", "json"], help="log format (default: from -o, else eval)"
    )
    s.add_argument("-o", "--output", help="file to write (default speclab-run<ID>-<suite>.<fmt>)")
    s.set_defaults(fn=cmd_export_inspect)
    imp = sub.add_parser("import", help="import results from other tools' formats")
    ims = imp.add_subparsers(dest="import_command", required=True, metavar="FORMAT")
    s = ims.add_parser(
        "inspect", help="an Inspect eval log (SpecLab's or agentic-misalignment) as a study"
    )
    s.add_argument("file", help=".eval or .json log file")
    s.add_argument("--beside", type=_nonneg, help="print its rates beside this run's")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_import_inspect)

    data = sub.add_parser("data", help="import, export and list datasets")
    ds = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    formats = _data_formats()
    s = ds.add_parser(
        "import",
        help="import a document or demonstration set (JSONL, a Hugging Face datasets folder "
        "or a zip of one); prints the dataset hash",
        description="Import a set. Demonstrations (--kind demos, the default): JSONL lines of "
        "prompt/completion, prompt/response or chat messages. Documents (--kind docs): JSONL "
        "lines of {text, clause, doc_type, …}; with --spec and --variant the corpus card is "
        "computed. The same rows as JSONL, a datasets folder (Dataset.save_to_disk) or a zip "
        "of that folder store the same dataset (hashed on its canonical JSONL).",
    )
    s.add_argument("file", help="a JSONL file, a datasets folder, or a .zip of a datasets folder")
    s.add_argument(
        "--kind", choices=list(formats.KINDS), default="demos", help="docs or demos (default)"
    )
    s.add_argument(
        "--spec", default=None, metavar="SPEC[@VERSION]", help="docs: spec written about"
    )
    s.add_argument("--variant", default=None, help="docs: the variant written about")
    s.set_defaults(fn=cmd_data_import)
    s = ds.add_parser(
        "export",
        help="write a stored set as JSONL, a Hugging Face datasets folder or Parquet",
        description="Export a stored set. Formats: "
        + "; ".join(f"{k}: {v}" for k, v in formats.FORMAT_HELP.items())
        + ".",
    )
    s.add_argument("dataset", metavar="SHA|NAME", help="hash (6+ leading hex digits) or name")
    s.add_argument("--format", choices=list(formats.FORMATS), default="jsonl", help="default jsonl")
    s.add_argument(
        "-o", "--output", required=True, help="file to write (hf: a folder that does not exist)"
    )
    s.set_defaults(fn=cmd_data_export)
    s = ds.add_parser("list", help="stored datasets, newest first")
    s.add_argument("--kind", default=None, help="only this kind (msm_docs, aft_demos, …)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_data_list)
    s = ds.add_parser(
        "docs",
        help="write the MSM documents a gen_docs stage with these settings would (JSONL)",
    )
    s.add_argument("spec", metavar="SPEC[@VERSION]", help="spec name, optionally @version")
    s.add_argument("--variant", required=True, help="variant name (rules, values, …)")
    s.add_argument("--preset", default="cpu-smoke", help="stage settings preset (cpu-smoke)")
    s.add_argument("--set", default=None, help='JSON gen_docs settings, e.g. {"design": "free"}')
    s.add_argument("--model", default=None, help="writing model for generator 'model'")
    s.add_argument("-o", "--output", required=True, help="JSONL file to write")
    s.set_defaults(fn=cmd_data_docs)
    s = ds.add_parser("card", help="the corpus card of a JSONL document set")
    s.add_argument("file", help="JSONL documents ({text, clause, doc_type, …} per line)")
    s.add_argument("--spec", required=True, metavar="SPEC[@VERSION]", help="the spec written about")
    s.add_argument("--variant", required=True, help="the variant written about")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_data_card)

    jobs = sub.add_parser("jobs", help="inspect, cancel and retry background jobs")
    js = jobs.add_subparsers(dest="jobs_command", required=True, metavar="SUBCOMMAND")
    s = js.add_parser("list", help="list jobs, newest first")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument(
        "--state",
        action="append",
        choices=["queued", "running", "succeeded", "failed", "cancelled"],
        help="only jobs in this state (repeatable)",
    )
    s.add_argument("--limit", type=_nonneg, default=50, help="how many (default 50)")
    s.set_defaults(fn=cmd_jobs_list)
    s = js.add_parser("show", help="a job with its events and log tail")
    s.add_argument("id", type=_nonneg, help="job id")
    s.add_argument("--tail", type=_nonneg, default=50, help="log lines to show")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_jobs_show)
    s = js.add_parser("cancel", help="cancel a queued or running job")
    s.add_argument("id", type=_nonneg, help="job id")
    s.set_defaults(fn=cmd_jobs_cancel)
    s = js.add_parser("retry", help="re-queue a failed or cancelled job")
    s.add_argument("id", type=_nonneg, help="job id")
    s.set_defaults(fn=cmd_jobs_retry)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except InputError as exc:
        print(f"speclab: error: {exc}", file=sys.stderr)
        return 2
    except SpecLabError as exc:
        print(f"speclab: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a path that cannot be read or written: one line, no traceback
        print(f"speclab: error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
