"""The reproducibility capsule: what is needed to reproduce a report's numbers exactly.

It is computed when a report is frozen (or when someone asks for it on the study page), never
on a live comparison: the page reruns on every widget change, and the capsule asks git and the
package metadata. The environment half (SpecLab's version and commit, package versions) is
read once per process: it describes the code that is running, which does not change under it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
import subprocess
from collections import defaultdict
from pathlib import Path

from db import compare as store
from db.session import Database
from engine.compare.cells import AGENTIC, HARMFUL_AT, SPEC_QA
from engine.compare.snapshot import Capsule, StageRef

PACKAGES = ("torch", "transformers", "trl", "peft", "sqlalchemy", "streamlit", "altair")
"""The packages whose versions a capsule records."""


def study_capsule(db: Database, study_id: int) -> Capsule:
    """The capsule of a study: spec ref and content hash, each stage's key and artifact hashes
    by kind, SpecLab's version and git commit (``None`` outside a checkout), package versions,
    the base model(s), the judges and judge prompt versions seen in the samples, the seeds and
    the study config.

    Raises:
        NotFoundError: no such study.
    """
    with db.read() as s:
        header = store.study_header(s, study_id)
        runs = store.run_summaries(
            s, study_id, agentic=AGENTIC, spec_qa=SPEC_QA, harmful_at=HARMFUL_AT
        )
        stages = store.study_stages(s, study_id)
        judges = store.study_judges(s, study_id)
    by_kind: dict[str, list[StageRef]] = defaultdict(list)
    for st in stages:
        by_kind[st.kind].append(StageRef(key=st.key, artifacts=dict(st.artifacts)))
    version, commit, packages = _environment()
    model = header.config.get("model")
    return Capsule(
        speclab_version=version,
        git_commit=commit,
        packages=dict(packages),
        spec_ref=header.spec_ref,
        spec_hash=header.spec_hash,
        model=None if model is None else str(model),
        models=tuple(sorted({r.model for r in runs})),
        judges=tuple(judges),
        seeds=tuple(sorted({r.seed for r in runs})),
        stages={kind: tuple(refs) for kind, refs in sorted(by_kind.items())},
        config=dict(header.config),
    )


@functools.cache
def _environment() -> tuple[str, str | None, tuple[tuple[str, str | None], ...]]:
    """(SpecLab version, git commit, package versions), read once per process."""
    return _speclab_version(), git_commit(), tuple((p, _package_version(p)) for p in PACKAGES)


def git_commit() -> str | None:
    """The commit of the SpecLab checkout this code runs from, or None outside a checkout."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():  # an installed package inside someone else's repo
        return None
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def _speclab_version() -> str:
    # An editable install can expose ``engine`` as a namespace package (its __init__ unrun),
    # so fall back on the installed distribution's version.
    import engine

    version = getattr(engine, "__version__", None)
    return str(version) if version else _package_version("speclab") or "unknown"


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
