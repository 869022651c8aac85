"""Plain domain objects returned by the store.

ORM rows never leave ``db/``; every query converts them to these frozen dataclasses, which
the engine and the dashboard use freely. They carry no database session.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

CONTENT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Clause:
    """One clause of a spec.

    Attributes:
        code: short identifier, unique within a version (``SP1``, ``GP2``).
        title: a few words naming the clause.
        rule: what the model must or must not do.
        subrules: "this includes…" items that make the rule concrete.
        rationale: the value explanation: why the rule exists. Dropped by ``rules`` renderings.
        examples: short illustrative situations.
        authority: who the clause speaks for (``platform``, ``developer``, ``user``…).
        priority: higher wins when clauses conflict.
        hard_constraint: a line that holds whatever the instructions.
    """

    code: str
    title: str
    rule: str
    subrules: tuple[str, ...] = ()
    rationale: str = ""
    examples: tuple[str, ...] = ()
    authority: str = ""
    priority: int = 0
    hard_constraint: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["subrules"] = list(self.subrules)
        d["examples"] = list(self.examples)
        return d


@dataclass(frozen=True)
class SpecContent:
    """The immutable content of a spec version: a preamble and an ordered list of clauses."""

    title: str
    preamble: str
    clauses: tuple[Clause, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": CONTENT_FORMAT_VERSION,
            "title": self.title,
            "preamble": self.preamble,
            "clauses": [c.to_dict() for c in self.clauses],
        }

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the content (stable across processes)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def clause(self, code: str) -> Clause | None:
        return next((c for c in self.clauses if c.code == code), None)


@dataclass(frozen=True)
class SpecSummary:
    id: int
    name: str
    description: str
    latest_version: int
    n_versions: int
    n_clauses: int
    updated_at: datetime


@dataclass(frozen=True)
class SpecVersion:
    id: int
    spec_id: int
    spec_name: str
    number: int
    content_hash: str
    parent_id: int | None
    parent_number: int | None
    author: str
    note: str
    created_at: datetime
    content: SpecContent

    @property
    def ref(self) -> str:
        """``name@number``, the way studies and the CLI refer to a version."""
        return f"{self.spec_name}@{self.number}"


@dataclass(frozen=True)
class Artifact:
    id: int
    sha256: str
    kind: str
    path: str
    bytes: int
    media_type: str
    created_at: datetime


@dataclass(frozen=True)
class Variant:
    id: int
    spec_name: str
    version_id: int
    version_number: int
    name: str
    rendering: str
    custom_text: str | None
    text_hash: str
    word_count: int
    artifact: Artifact | None
    created_by: str
    note: str
    created_at: datetime


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    label: str
    payload: dict[str, Any]
    state: str
    priority: int
    attempts: int
    max_attempts: int
    worker_id: str | None
    heartbeat_at: datetime | None
    progress: float
    progress_message: str
    cancel_requested: bool
    error: str
    result: dict[str, Any]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    depends_on: tuple[int, ...] = field(default=())

    @property
    def is_finished(self) -> bool:
        return self.state in ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class JobEvent:
    id: int
    job_id: int
    from_state: str | None
    to_state: str
    attempt: int
    worker_id: str | None
    message: str
    at: datetime
    #: The node that ran this attempt, on its claim event (see ``db.jobs.record_node``).
    node: str = ""


@dataclass(frozen=True)
class JobLogLine:
    job_id: int
    attempt: int
    line: str
    at: datetime


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    hostname: str
    pid: int
    executor: str
    state: str
    current_job_id: int | None
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True)
class JobCounts:
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.queued + self.running + self.succeeded + self.failed + self.cancelled


@dataclass(frozen=True)
class StageArtifact:
    role: str
    artifact: Artifact


@dataclass(frozen=True)
class Stage:
    """One stage of a run's DAG; shared by every run whose stage has the same key."""

    id: int
    key: str
    kind: str
    config: dict[str, Any]
    job_id: int | None
    state: str
    progress: float
    progress_message: str
    error: str
    cached: bool
    artifacts: tuple[StageArtifact, ...]
    created_at: datetime

    def artifact(self, role: str) -> Artifact | None:
        return next((a.artifact for a in self.artifacts if a.role == role), None)


@dataclass(frozen=True)
class Run:
    id: int
    study_id: int
    variant_id: int | None
    variant_name: str
    arm: str
    seed: int
    model: str
    status: str
    created_by: str
    created_at: datetime
    stages: tuple[Stage, ...] = ()


@dataclass(frozen=True)
class Study:
    id: int
    name: str
    spec_ref: str
    config: dict[str, Any]
    status: str
    created_by: str
    created_at: datetime
    n_runs: int
    runs: tuple[Run, ...] = ()


@dataclass(frozen=True)
class MetricPoint:
    stage_id: int | None
    run_id: int | None
    name: str
    step: int
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None


@dataclass(frozen=True)
class Dataset:
    """A JSONL artifact with a kind (msm_docs, aft_demos, qa_eval, agentic_eval)."""

    id: int
    kind: str
    name: str
    n_rows: int
    provenance: dict[str, Any]
    preview: list[Any]
    artifact: Artifact
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class RunLabel:
    """Which run a sample belongs to, as exports name it."""

    run_id: int
    variant: str
    arm: str
    seed: int
    model: str

    @property
    def cell(self) -> str:
        return f"{self.variant}/{self.arm}"


@dataclass(frozen=True)
class EvalSample:
    """One evaluated sample: what the model was asked, what it did, and how it was judged."""

    id: int
    stage_id: int | None
    suite: str
    item_id: str
    sample_index: int
    condition: str
    clause_code: str
    prompt: str
    response: str
    parsed_actions: list[Any]
    verdicts: dict[str, Any]
    score: float | None
    judge: str
    judge_reasoning: str
