"""The use cases that the dashboard pages and the CLI call.

Every page and command goes through :class:`Service`: it owns the database, the artifact
store and the settings, validates input, and returns the plain entities from :mod:`db`.
Nothing here imports torch or streamlit.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from db import audit as auditstore
from db import compare as comparestore
from db import datasets as datastore
from db import entities as e
from db import evals as evalstore
from db import jobs as jobstore
from db import members as memberstore
from db import migrate
from db import rejudged as rejudgedstore
from db import reports as reportstore
from db import specs as specstore
from db import studies as studystore
from db import workers as workerstore
from db.audit import AuditEventEntity, AuditFilter
from db.entities import Clause, EvalSample, Run, SpecVersion, Stage, Study
from db.session import Database
from engine import access
from engine import cluster as cluster_view
from engine.access import ROLES, Actor, MemberRule, Role
from engine.artifacts import ArtifactStore
from engine.config import Settings
from engine.data.card import CorpusBalance, CorpusCard, balance
from engine.data.card import corpus_card as card_of
from engine.errors import AccessDenied, ConflictError, InputError, NotFoundError
from engine.evals.agentic.rejudge import JudgedLine, ValidationReport
from engine.evals.headline import HEADLINE_KEY
from engine.evals.headline import chosen as headline_chosen
from engine.evals.headline import tag as headline_tag
from engine.evals.power import Power
from engine.evals.runner import MetricValue
from engine.interop.inspect_log import InspectImport
from engine.pipeline import launch as launcher
from engine.pipeline import presets
from engine.pipeline.estimate import Estimate
from engine.pipeline.estimate import estimate as price
from engine.pipeline.plan import STATUS_HELP, StageStatus, plan_study
from engine.pipeline.presets import PRESETS
from engine.pipeline.study import ARMS, StudyConfig, parse_study_file
from engine.specs import diff as specdiff
from engine.specs import formats
from engine.specs.diff import SpecDiff, WordOp
from engine.specs.model import build_content, clause_from_dict, validate_name
from engine.specs.render import (
    CUSTOM,
    RENDERING_HELP,
    RENDERINGS,
    render,
    text_hash,
    variant_text,
    view,
    word_count,
)
from engine.stages import STAGES, SUITES, StageKind, StageSpec
from engine.tasks import playground
from engine.tasks import rejudge_study as rejudge_task
from engine.tasks.playground import Choices as PlaygroundChoices
from engine.tasks.playground import Session as PlaygroundSession
from engine.typed_config import FieldHelp, as_dict, describe, with_overrides

#: What pages may use besides :class:`Service`: plain value types and tables (the pages import
#: nothing else from the engine or the store).
__all__ = [
    "ARMS",
    "ROLES",
    "Actor",
    "AuditEventEntity",
    "AuditFilter",
    "MemberRule",
    "PlaygroundChoices",
    "PlaygroundSession",
    "Role",
    "CUSTOM",
    "PRESETS",
    "Run",
    "RENDERING_HELP",
    "STAGES",
    "STATUS_HELP",
    "SUITES",
    "EvalSample",
    "EvalSummary",
    "FieldHelp",
    "Clause",
    "InitReport",
    "InspectImport",
    "Power",
    "Service",
    "SpecDiff",
    "SpecVersion",
    "Stage",
    "Study",
    "StageKind",
    "StageSpec",
    "StageStatus",
    "StudyConfig",
    "WordOp",
]

if TYPE_CHECKING:  # the comparison and report types (their modules load numpy/altair lazily)
    from collections.abc import Sequence

    # Re-exported by name for pages, which import value types from this module only.
    from db.reports import ReportSummary as ReportSummary
    from db.reports import ShareLinkEntity as ShareLinkEntity
    from engine.compare import Capsule as Capsule
    from engine.compare import CellKey as CellKey
    from engine.compare import Snapshot as Snapshot
    from engine.compare import StudyComparison as StudyComparison
    from engine.compare.across import AcrossRow as AcrossRow
    from engine.compare.beside import RunRate as RunRate
    from engine.compare.cells import ConditionRate as ConditionRate
    from engine.compare.snapshot import ClauseRow as ClauseRow
    from engine.compare.snapshot import ConditionRow as ConditionRow
    from engine.compare.trend import TrendPoint as TrendPoint
    from engine.data.formats import Download, ParsedSet
    from engine.evals.judges import Judge
    from engine.evals.published.rates import PublishedCell as PublishedCell
    from engine.evals.qa.labelled import QAValidation
    from engine.reports import Report as Report

_SnapshotKey = tuple[int, str, tuple[Any, ...] | None, str | None]  # study, title, pairs, model

EXAMPLE_SPEC = "example"
#: Live study snapshots kept per server process (each a few hundred kB at 100 runs).
SNAPSHOT_CACHE_SIZE = 32
DEFAULT_VARIANTS = ("rules", "values")


@dataclass(frozen=True)
class EvalSummary:
    """What ``speclab eval run`` measured: one suite on one model, outside any study."""

    suite: str
    model: str
    adapters: tuple[str, ...]
    backend: str
    config: dict[str, Any]
    metrics: tuple[MetricValue, ...]
    notes: tuple[str, ...]
    samples: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (samples counted, not listed)."""
        return {
            "suite": self.suite,
            "model": self.model,
            "adapters": list(self.adapters),
            "backend": self.backend,
            "config": self.config,
            "samples": len(self.samples),
            "metrics": [
                {"name": m.name, "value": m.value, "ci_low": m.ci_low, "ci_high": m.ci_high}
                | {"n": m.n}
                for m in self.metrics
            ],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class InitReport:
    """What ``speclab init`` did."""

    database: str
    revision: str
    seeded: tuple[str, ...]
    model_path: str | None


class Service:
    """SpecLab's use cases over one database and home folder."""

    def __init__(
        self, settings: Settings, database: Database | None = None, actor: Actor | None = None
    ) -> None:
        self.settings = settings
        self.db = database or Database(settings.database_url)
        self.artifacts = ArtifactStore.from_settings(settings, self.db)
        # Shared by the copies acting() makes: one cache per server process.
        self._snapshots: OrderedDict[_SnapshotKey, tuple[tuple[int, int, str], Snapshot]] = (
            OrderedDict()
        )
        self._snapshot_lock = threading.Lock()
        self.actor = actor or access.local_operator(settings.user)

    def acting(self, actor: Actor) -> Service:
        """This service (same database, store and settings) acting as ``actor``: every write
        it does is checked against the actor's role and recorded in the audit log."""
        bound = copy.copy(self)
        bound.actor = actor
        return bound

    def _require(self, role: Role, action: str, target: str = "") -> None:
        """Refuse ``action`` unless the actor has ``role``; a refusal is audited too."""
        try:
            access.require(self.actor, role, action)
        except AccessDenied:
            self._audit(action, target, outcome="denied", detail={"needs": role.value})
            raise

    def _audit(
        self,
        action: str,
        target: str = "",
        *,
        outcome: str = "ok",
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self.db.write() as s:
            auditstore.record(
                s,
                actor=self.actor.name,
                role=self.actor.role.value if self.actor.role else "",
                origin=self.actor.origin,
                action=action,
                target=target,
                outcome=outcome,
                detail=detail,
            )

    def _model_error(self, exc: InputError) -> InputError:
        # Someone signed in through the dashboard must not learn which folders exist on the
        # server: every model name that does not resolve reads the same to them.
        if self.actor.local:
            return InputError(exc.detail, field="model")
        return InputError(
            "is not a built-in model (builtin:…), a prepared checkpoint folder or a Hugging "
            "Face hub id (org/name)",
            field="model",
        )

    @classmethod
    def from_env(cls) -> Service:
        return cls(Settings.from_env())

    # -- setup -----------------------------------------------------------------------------

    def init(
        self,
        *,
        seed: bool = True,
        prepare_model: bool = True,
        log: Callable[[str], None] = print,
    ) -> InitReport:
        """Create or upgrade the database, seed built-in data, prepare the built-in model."""
        self._require(Role.ADMIN, "database.init")
        self.settings.ensure_dirs()
        migrate.upgrade(self.db)
        self._audit("database.init", migrate.head_revision())
        seeded = self.seed_builtin() if seed else ()
        model_path = None
        if prepare_model:
            from engine.train import builtin_model  # heavy imports stay inside prepare()

            model_path = str(builtin_model.prepare(self.settings, log=log))
        return InitReport(
            database=self.db.safe_url,
            revision=migrate.head_revision(),
            seeded=seeded,
            model_path=model_path,
        )

    def check_schema(self) -> None:
        """Raise :class:`SchemaOutOfDateError` (naming the fix) unless the DB is at head."""
        migrate.check(self.db)

    def seed_builtin(self) -> tuple[str, ...]:
        """Load the built-in example spec and its variants, once."""
        with self.db.read() as s:
            if specstore.spec_exists(s, EXAMPLE_SPEC):
                return ()
        data = resources.files("engine.specs.builtin").joinpath("example.yaml").read_bytes()
        self.import_spec(data, "example.yaml", author="speclab", note="built-in example spec")
        return (EXAMPLE_SPEC,)

    # -- specs -----------------------------------------------------------------------------

    def list_specs(self) -> list[e.SpecSummary]:
        with self.db.read() as s:
            return specstore.list_specs(s)

    def get_version(self, name: str, number: int | None = None) -> e.SpecVersion:
        with self.db.read() as s:
            return specstore.get_version(s, name, number)

    def list_versions(self, name: str) -> list[e.SpecVersion]:
        with self.db.read() as s:
            return specstore.list_versions(s, name)

    def import_spec(
        self,
        data: bytes,
        filename: str,
        *,
        name: str | None = None,
        author: str | None = None,
        note: str = "imported",
    ) -> e.SpecVersion:
        """Parse a spec file and store it as a new spec (or a new version of ``name``).

        The file is parsed and validated completely before anything is written, and the
        write is one transaction: a bad file leaves the database as it was.
        """
        self._require(Role.EDITOR, "spec.import", filename)
        parsed = formats.parse_spec(data, filename=filename)
        spec_name = parsed.spec_name(name)
        author = author or self.actor.name
        texts = self._default_variant_texts(parsed.content)
        with self.db.write() as s:
            parent = None
            if specstore.spec_exists(s, spec_name):
                parent = specstore.get_version(s, spec_name)
            else:
                specstore.create_spec(s, spec_name, parsed.description, created_by=author)
            version = specstore.add_version(
                s,
                spec_name,
                parsed.content,
                parent_id=parent.id if parent else None,
                author=author,
                note=note,
            )
            self._derive_defaults(s, version, author, texts)
        self._audit("spec.import", version.ref, detail={"file": filename[:200]})
        return version

    def save_version(
        self,
        name: str,
        *,
        title: str,
        preamble: str,
        clauses: list[dict[str, Any]],
        parent_number: int,
        note: str = "",
        author: str | None = None,
    ) -> e.SpecVersion:
        """Store an edited spec as a new immutable version whose parent is ``parent_number``.

        Raises :class:`ConflictError` when nothing changed, and :class:`InputError` naming the
        clause field when the edit is invalid.
        """
        self._require(Role.EDITOR, "spec.save", name)
        content = build_content(
            title=title.strip(),
            preamble=preamble.strip(),
            clauses=[clause_from_dict(c, where=f"clauses[{i}]") for i, c in enumerate(clauses)],
        )
        author = author or self.actor.name
        texts = self._default_variant_texts(content)
        with self.db.write() as s:
            parent = specstore.get_version(s, name, parent_number)
            if parent.content.content_hash() == content.content_hash():
                raise ConflictError("nothing changed: the edit equals the version it started from")
            version = specstore.add_version(
                s, name, content, parent_id=parent.id, author=author, note=note
            )
            self._derive_defaults(s, version, author, texts)
        self._audit("spec.save", version.ref, detail={"parent": parent_number})
        return version

    def export_spec(
        self,
        name: str,
        fmt: str,
        *,
        version: int | None = None,
        variant: str | None = None,
    ) -> str:
        """The spec (or one variant of it) as Markdown, JSON or YAML text."""
        if fmt not in ("md", "json", "yaml"):
            raise InputError(f"unknown format {fmt!r}; use md, json or yaml", field="format")
        with self.db.read() as s:
            v = specstore.get_version(s, name, version)
            summary = next(x for x in specstore.list_specs(s) if x.name == name)
            var = None
            if variant is not None:
                var = specstore.find_variant(s, v.id, variant)
                if var is None:
                    known = ", ".join(x.name for x in specstore.list_variants(s, v.id))
                    raise NotFoundError(
                        f"{v.ref} has no variant {variant!r} (known: {known or 'none'})"
                    )
        content = v.content
        if var is not None:
            if var.rendering == CUSTOM:
                if fmt == "md":
                    return var.custom_text or ""
                raise InputError(
                    f"variant {variant!r} is hand-edited text with no clause structure; "
                    "export it with --format md",
                    field="format",
                )
            if fmt == "md":
                return render(content, var.rendering)
            content = view(content, var.rendering)
        return formats.export_spec(name, summary.description, content, fmt)

    # -- variants --------------------------------------------------------------------------

    def _variant_artifact(self, text: str) -> e.Artifact:
        """Store a variant's text as a content-addressed artifact (before the write that
        records the variant: the store opens its own transaction)."""
        return self.artifacts.put_bytes(
            text.encode("utf-8"), kind="variant_text", media_type="text/markdown"
        )

    def _default_variant_texts(self, content: e.SpecContent) -> dict[str, tuple[str, int]]:
        """(text, artifact id) of each default rendering of ``content``."""
        out = {}
        for rendering in DEFAULT_VARIANTS:
            text = render(content, rendering)
            out[rendering] = (text, self._variant_artifact(text).id)
        return out

    def _derive_defaults(
        self,
        session: Session,
        version: e.SpecVersion,
        author: str,
        texts: dict[str, tuple[str, int]],
    ) -> None:
        for rendering, (text, artifact_id) in texts.items():
            self._add_variant(
                session, version, rendering, rendering, None, author, "", text, artifact_id
            )

    def _add_variant(
        self,
        session: Session,
        version: e.SpecVersion,
        name: str,
        rendering: str,
        custom_text: str | None,
        author: str,
        note: str,
        text: str,
        artifact_id: int,
    ) -> e.Variant:
        """Record a variant whose text (rendered once, here) is already stored."""
        variant = specstore.add_variant(
            session,
            version.id,
            name,
            rendering,
            text_hash=text_hash(text),
            word_count=word_count(text),
            custom_text=custom_text,
            created_by=author,
            note=note,
        )
        specstore.set_variant_artifact(session, variant.id, artifact_id)
        return specstore.get_variant(session, variant.id)

    def derive_variant(
        self,
        name: str,
        version: int,
        rendering: str,
        *,
        variant_name: str | None = None,
        custom_text: str | None = None,
        note: str = "",
        author: str | None = None,
    ) -> e.Variant:
        """Add a variant to a version: a registered rendering, or hand-edited text."""
        self._require(Role.EDITOR, "variant.derive", f"{name} v{version}")
        if rendering != CUSTOM and rendering not in RENDERINGS:
            known = ", ".join([*sorted(RENDERINGS), CUSTOM])
            raise InputError(f"unknown rendering {rendering!r} (known: {known})", field="rendering")
        if rendering == CUSTOM and not (custom_text or "").strip():
            raise InputError("a hand-edited variant needs its text", field="text")
        variant_name = validate_name(variant_name or rendering).replace(".", "-")
        v = self.get_version(name, version)
        kept = custom_text if rendering == CUSTOM else None
        text = variant_text(rendering, kept, v.content)
        artifact = self._variant_artifact(text)
        with self.db.write() as s:
            made = self._add_variant(
                s,
                v,
                variant_name,
                rendering,
                kept,
                author or self.actor.name,
                note,
                text,
                artifact.id,
            )
        self._audit("variant.derive", f"{v.ref} {made.name}", detail={"rendering": rendering})
        return made

    def list_variants(self, name: str, version: int | None = None) -> list[e.Variant]:
        with self.db.read() as s:
            v = specstore.get_version(s, name, version)
            return specstore.list_variants(s, v.id)

    def variant_text(self, variant: e.Variant) -> str:
        """A variant's text (rendered on the fly; its stored artifact holds the same)."""
        with self.db.read() as s:
            v = specstore.get_version_by_id(s, variant.version_id)
        return variant_text(variant.rendering, variant.custom_text, v.content)

    # -- diffs -----------------------------------------------------------------------------

    def diff_versions(self, name: str, old: int, new: int) -> specdiff.SpecDiff:
        with self.db.read() as s:
            a = specstore.get_version(s, name, old)
            b = specstore.get_version(s, name, new)
        return specdiff.diff_specs(a.content, b.content)

    def diff_variants(self, old: e.Variant, new: e.Variant) -> specdiff.SpecDiff | None:
        """Clause-level diff of two structured variants, or None if either is hand-edited."""
        if CUSTOM in (old.rendering, new.rendering):
            return None
        with self.db.read() as s:
            a = specstore.get_version_by_id(s, old.version_id)
            b = specstore.get_version_by_id(s, new.version_id)
        return specdiff.diff_specs(view(a.content, old.rendering), view(b.content, new.rendering))

    def diff_variant_texts(self, old: e.Variant, new: e.Variant) -> tuple[specdiff.WordOp, ...]:
        return specdiff.diff_texts(self.variant_text(old), self.variant_text(new))

    # -- jobs ------------------------------------------------------------------------------

    def list_jobs(
        self, *, states: list[str] | None = None, limit: int = 50, offset: int = 0
    ) -> list[e.Job]:
        with self.db.read() as s:
            return jobstore.list_jobs(s, states=states, limit=limit, offset=offset)

    def job_counts(self) -> e.JobCounts:
        with self.db.read() as s:
            return jobstore.counts(s)

    def get_job(self, job_id: int) -> e.Job:
        with self.db.read() as s:
            return jobstore.get(s, job_id)

    def job_events(self, job_id: int) -> list[e.JobEvent]:
        with self.db.read() as s:
            return jobstore.events(s, job_id)

    def job_nodes(self, job_ids: list[int]) -> dict[int, str]:
        """The node that runs (or last ran) each job's latest attempt, where one was recorded."""
        with self.db.read() as s:
            return jobstore.nodes(s, job_ids)

    def cluster(self) -> cluster_view.ClusterView:
        """The nodes workers run jobs on, their resources, and what runs or waits where
        (with the ``ray`` executor, the Ray cluster's nodes; see :mod:`engine.cluster`)."""
        return cluster_view.view(self.settings, self.db)

    def job_log(self, job_id: int, tail: int = 200) -> list[e.JobLogLine]:
        with self.db.read() as s:
            return jobstore.log_tail(s, job_id, tail)

    def cancel_job(self, job_id: int, by: str | None = None) -> e.Job:
        self._require(Role.EDITOR, "job.cancel", f"job {job_id}")
        with self.db.write() as s:
            job = jobstore.request_cancel(s, job_id, by=by or self.actor.name)
        self._audit("job.cancel", f"job {job_id}")
        return job

    def retry_job(self, job_id: int, by: str | None = None) -> e.Job:
        self._require(Role.EDITOR, "job.retry", f"job {job_id}")
        with self.db.write() as s:
            job = jobstore.retry(s, job_id, by=by or self.actor.name)
        self._audit("job.retry", f"job {job_id}")
        return job

    # -- playground: runs side by side on one prompt ---------------------------------------

    def playground_choices(self) -> PlaygroundChoices:
        """What a playground prompt may be besides typed text: the agentic conditions and the
        built-in spec-QA questions (id → question)."""
        return playground.choices()

    def ask_playground(
        self,
        runs: Sequence[int],
        prompt: Mapping[str, Any],
        *,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> PlaygroundSession:
        """Queue a playground request: each run's final model answers ``prompt`` (``{"kind":
        "text", "text", "system"}``, ``{"kind": "agentic", "condition", "sample_index"}`` or
        ``{"kind": "spec_qa", "question_id"}``) on a worker; read it with
        :meth:`playground_sessions`.

        Raises:
            InputError: a bad field, or a run whose model is not trained yet.
            NotFoundError: an unknown run.
        """
        request = playground.Request.from_payload(
            {
                "runs": list(runs),
                "prompt": dict(prompt),
                "max_new_tokens": max_new_tokens,
                "temperature": temperature,
                "seed": seed,
            }
        )
        target = "runs " + ", ".join(str(r) for r in request.runs)
        self._require(Role.EDITOR, "playground.ask", target)
        with self.db.write() as s:
            for run_id in request.runs:
                playground.model_stage(studystore.get_run(s, run_id))
            job = jobstore.enqueue(
                s,
                playground.NAME,
                request.to_payload(),
                label=f"playground: {request.prompt.label()} × {len(request.runs)} runs",
                max_attempts=playground.KIND.max_attempts,
                created_by=self.actor.name,
            )
        self._audit("playground.ask", target, detail={"job": job.id})
        return playground.Session.of(job)

    def playground_sessions(self, limit: int = 20) -> list[PlaygroundSession]:
        """The newest playground requests, with their replies once finished."""
        with self.db.read() as s:
            jobs = jobstore.list_jobs(s, kind=playground.NAME, limit=limit)
        return [playground.Session.of(j) for j in jobs]

    def list_workers(self) -> list[e.WorkerInfo]:
        with self.db.read() as s:
            return workerstore.list_workers(s)

    def live_workers(self) -> list[e.WorkerInfo]:
        """Workers that heartbeated within the lease and are idle or busy."""
        from datetime import timedelta

        from db.types import utcnow

        cutoff = utcnow() - timedelta(seconds=self.settings.lease_seconds)
        return [
            w
            for w in self.list_workers()
            if w.state in ("idle", "busy") and w.heartbeat_at >= cutoff
        ]

    # -- the stage table and its settings ----------------------------------------------------

    def stage_kinds(self) -> list[StageKind]:
        """Every stage kind, in pipeline order, as the table declares it."""
        return list(STAGES.values())

    def stage_settings(self, preset: str = "cpu-smoke") -> dict[str, list[FieldHelp]]:
        """Every stage kind's settings under ``preset``: value, type and help text each."""
        configs = presets.preset(preset)
        return {kind: describe(configs.for_kind(kind)) for kind in STAGES}

    # -- studies ---------------------------------------------------------------------------

    def parse_overrides(self, text: str, source: str = "Overrides") -> dict[str, Any]:
        """Stage settings typed as YAML or JSON (``{aft: {max_steps: 5}}``), read within the
        same bounds as study files; an empty text is no overrides."""
        from engine.yamlsafe import load_yaml

        value = load_yaml(text, source=source) if text.strip() else None
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise InputError("must map stage kinds to settings", source=source)
        return value

    def parse_study(self, data: bytes, filename: str) -> StudyConfig:
        return parse_study_file(data, filename=filename)

    def _model_ids(self, config: StudyConfig) -> tuple[str, ...]:
        """The resolved ids of the study's base models, in order."""
        from engine.train import registry

        ids = []
        for i, model in enumerate(config.models):
            try:
                ids.append(registry.resolve(model, self.settings).id)
            except InputError as exc:
                error = self._model_error(exc)
                if len(config.models) > 1:
                    error = InputError(error.detail, field=f"models[{i}]")
                raise error from None
        return tuple(ids)

    def launch_study(
        self, config: StudyConfig, *, author: str | None = None
    ) -> launcher.LaunchResult:
        """Create a study's runs and queue every stage that is not already done or underway."""
        self._require(Role.EDITOR, "study.launch", config.name)
        model_ids = self._model_ids(config)
        with self.db.write() as s:
            # Planned inside the write: a stage another launch just created is found and
            # shared, so nothing is queued twice.
            plan = plan_study(s, config, model_ids=model_ids)
            result = launcher.launch(s, plan, author=author or self.actor.name)
        self._audit(
            "study.launch",
            f"study {result.study_id}",
            detail={"name": config.name[:200], "new_jobs": result.new_jobs},
        )
        return result

    def estimate_study(self, config: StudyConfig) -> Estimate:
        """Stages, cache hits, tokens and time of a study before launching it: the same plan
        launch writes, priced."""
        model_ids = self._model_ids(config)
        with self.db.read() as s:
            estimate = price(s, plan_study(s, config, model_ids=model_ids))
        # With the ray executor: GPU stages on a cluster without any GPU would wait forever.
        kinds = [st.kind for st in estimate.to_compute]
        estimate.notes.extend(cluster_view.gpu_notes(self.settings, config.preset, kinds))
        return estimate

    def sizes_needed(
        self, power: Power, *, rate_difference: float, qa_difference: float
    ) -> tuple[int, int]:
        """(agentic samples, QA answers) per cell needed to detect the given differences with
        80% power at the same Holm level as ``power``."""
        from engine.evals import power as pw

        if not 0 < rate_difference <= power.baseline:
            raise InputError(
                f"must be between 0 and {power.baseline:.0%}", field="harmful-rate difference"
            )
        if not 0 < qa_difference <= 10:
            raise InputError("must be between 0 and 10 points", field="QA-score difference")
        return (
            pw.rate_n_needed(rate_difference, baseline=power.baseline, level=power.level),
            pw.score_n_needed(qa_difference, sd=power.qa_sd, level=power.level),
        )

    def relaunch_study(self, study_id: int, *, author: str | None = None) -> launcher.LaunchResult:
        """Launch a study again exactly as it was configured (finished stages are reused)."""
        study = self.get_study(study_id)
        if "imported_from" in study.config:
            # An imported log's study has nothing to run: its samples came from the file.
            raise InputError(
                f"study {study_id} was {self.imported_from(study.config)}; it has nothing "
                "to launch",
                field="study",
            )
        config = StudyConfig.from_dict(
            # The headline-judge choice is the study's, not part of what it launches.
            {k: v for k, v in study.config.items() if k not in ("resolved", HEADLINE_KEY)},
            source=f"study {study_id}",
        )
        return self.launch_study(config, author=author)

    def studies_on_spec(self, name: str, *, limit: int = 200) -> list[e.Study]:
        """The studies launched on any version of spec ``name``, newest first."""
        return [s for s in self.list_studies(limit=limit) if s.spec_ref.startswith(f"{name}@")]

    def condition_rates(
        self,
        study_id: int,
        by: str,
        where: Mapping[str, Sequence[str]] | None = None,
        model: str | None = None,
        suite: str = "agentic",
    ) -> list[ConditionRate]:
        """Per cell, the harmful rate grouped by one facet of the agentic conditions
        (``scenario``, ``goal``, ``goal_value``, ``urgency`` or ``condition``), keeping only
        the conditions ``where`` allows (:func:`engine.compare.study.grouped_conditions`);
        ``suite``: ``agentic`` or ``agentic_published``."""
        from engine.compare.study import grouped_conditions

        if suite not in ("agentic", "agentic_published"):
            raise InputError(f"{suite!r} has no conditions to group", field="suite")
        return grouped_conditions(self.db, study_id, by, where, model=model, suite=suite)

    def condition_facets(self, study_id: int, suite: str = "agentic") -> dict[str, list[str]]:
        """Facet → the values the study's agentic conditions take (for filter widgets)."""
        from engine.evals.conditions import FACETS, condition_facets

        with self.db.read() as s:
            conditions = comparestore.study_conditions(s, study_id, suite=suite)
        values: dict[str, set[str]] = {f: set() for f in FACETS}
        for c in conditions:
            for k, v in condition_facets(c).items():
                values[k].add(v)
        return {k: sorted(v) for k, v in values.items() if v}

    def item_across_runs(
        self,
        study_id: int,
        suite: str,
        *,
        condition: str = "",
        sample_index: int | None = None,
        item_id: str = "",
    ) -> list[tuple[e.RunLabel, list[e.EvalSample]]]:
        """One item in every run of a study, with every judge's verdict on it: per run, the
        sample as run first, then its re-judged copies (suite ``<suite>~<judge>``).

        Raises:
            InputError: an unknown suite, or no item named (``condition`` + ``sample_index``
                for agentic, ``item_id`` for spec-QA).
        """
        if suite not in SUITES:
            raise InputError(f"unknown suite {suite!r}; use {', '.join(SUITES)}", field="suite")
        if not (item_id or (condition and sample_index is not None)):
            raise InputError(
                "name an item: a condition and sample index, or an item id", field="item"
            )
        with self.db.read() as s:
            rows = evalstore.item_samples(
                s,
                study_id,
                suite=suite,
                condition=condition,
                sample_index=sample_index,
                item_id=item_id,
            )
        out: dict[int, tuple[e.RunLabel, list[e.EvalSample]]] = {}
        for label, sample in rows:
            out.setdefault(label.run_id, (label, []))[1].append(sample)
        return list(out.values())

    @staticmethod
    def trend_metrics() -> dict[str, str]:
        """The numbers a trend across studies can follow: name → label."""
        from engine.compare.trend import METRICS

        return dict(METRICS)

    def spec_trend(self, spec: str, metric: str) -> tuple[list[TrendPoint], dict[str, Any]]:
        """``metric`` (``harmful_rate`` or ``qa_score``) per cell across the newest studies on
        spec ``spec`` (any version), oldest first, computed as each study page does; and a
        Vega-Lite chart of it."""
        from engine.compare import trend

        studies = self.studies_on_spec(spec)[: trend.MAX_STUDIES]
        points = trend.trend(self.db, [s.id for s in reversed(studies)], metric)
        return points, trend.chart(points, metric)

    def stage_spec(self, stage: e.Stage) -> StageSpec:
        """The typed description of a stored stage (settings, model, inputs, variant)."""
        return StageSpec.from_json(stage.kind, stage.config)

    def get_study(self, study_id: int) -> e.Study:
        with self.db.read() as s:
            return studystore.get_study(s, study_id)

    def list_studies(self, *, limit: int = 50, offset: int = 0) -> list[e.Study]:
        with self.db.read() as s:
            return studystore.list_studies(s, limit=limit, offset=offset)

    def get_run(self, run_id: int) -> e.Run:
        with self.db.read() as s:
            return studystore.get_run(s, run_id)

    def stage_metrics(
        self, stage_ids: list[int], names: list[str] | None = None
    ) -> list[e.MetricPoint]:
        with self.db.read() as s:
            return studystore.stage_metrics(s, stage_ids, names)

    def dataset(self, sha256: str) -> e.Dataset:
        with self.db.read() as s:
            return datastore.by_artifact(s, sha256)

    def cancel_study(self, study_id: int) -> int:
        """Cancel every unfinished stage job of a study; returns how many were cancelled."""
        self._require(Role.EDITOR, "study.cancel", f"study {study_id}")
        study = self.get_study(study_id)
        job_ids = {
            st.job_id
            for run in study.runs
            for st in run.stages
            if st.job_id is not None and st.state in ("queued", "running")
        }
        with self.db.write() as s:
            for job_id in sorted(job_ids):
                jobstore.request_cancel(s, job_id, by=self.actor.name)
        self._audit("study.cancel", f"study {study_id}", detail={"jobs": len(job_ids)})
        return len(job_ids)

    def study_report(self, study_id: int) -> dict[str, Any]:
        """The study with its runs, stages, artifacts and metrics, as JSON-ready data."""
        study = self.get_study(study_id)
        stage_ids = sorted({st.id for r in study.runs for st in r.stages})
        metrics: dict[int, dict[str, list[list[float]]]] = {}
        summaries: dict[int, dict[str, dict[str, Any]]] = {}
        for p in self.stage_metrics(stage_ids):
            assert p.stage_id is not None
            metrics.setdefault(p.stage_id, {}).setdefault(p.name, []).append([p.step, p.value])
            if not p.name.startswith("train/"):
                summaries.setdefault(p.stage_id, {})[p.name] = {
                    "value": p.value,
                    "ci_low": p.ci_low,
                    "ci_high": p.ci_high,
                    "n": p.n,
                }
        return {
            "id": study.id,
            "name": study.name,
            "spec": study.spec_ref,
            "status": study.status,
            "created_by": study.created_by,
            "created_at": study.created_at.isoformat(),
            "config": study.config,
            "runs": [
                {
                    "id": r.id,
                    "variant": r.variant_name,
                    "arm": r.arm,
                    "seed": r.seed,
                    "model": r.model,
                    "status": r.status,
                    "evals": {
                        name: value
                        for st in r.stages
                        for name, value in summaries.get(st.id, {}).items()
                        if "/" not in name
                    },
                    "stages": [
                        {
                            "id": st.id,
                            "kind": st.kind,
                            "status": st.state,
                            "key": st.key,
                            "cached": st.cached,
                            "job_id": st.job_id,
                            "progress": st.progress,
                            "error": st.error,
                            "artifacts": [
                                {
                                    "role": a.role,
                                    "sha256": a.artifact.sha256,
                                    "path": self.artifacts.location_of(a.artifact),
                                    "bytes": a.artifact.bytes,
                                }
                                for a in st.artifacts
                            ],
                            "metrics": metrics.get(st.id, {}),
                            "summary": summaries.get(st.id, {}),
                        }
                        for st in r.stages
                    ],
                }
                for r in study.runs
            ],
        }

    # -- datasets --------------------------------------------------------------------------

    def import_demos(self, data: bytes, filename: str, *, author: str | None = None) -> e.Dataset:
        """Validate a demonstrations JSONL line by line and store it as an ``aft_demos``
        dataset; use its sha256 as ``gen_demos: {source: <sha256>}`` in a study."""
        return self.import_dataset(data, filename, kind="demos", author=author)

    def list_datasets(self, kind: str | None = None, limit: int = 100) -> list[e.Dataset]:
        with self.db.read() as s:
            return datastore.list_datasets(s, kind=kind, limit=limit)

    # -- dataset formats: JSONL, Hugging Face datasets folders, Parquet (engine.data.formats)

    def import_dataset(
        self,
        data: bytes,
        filename: str,
        *,
        kind: str = "demos",
        spec: str | None = None,
        variant: str | None = None,
        author: str | None = None,
    ) -> e.Dataset:
        """Validate and store a document (``docs``) or demonstration (``demos``) set given as
        JSONL or as a zipped Hugging Face ``datasets`` folder; ``filename`` names it. A
        document set gets its corpus card when ``spec`` (``NAME[@VERSION]``) and ``variant``
        name what it was written about. Nothing is stored when anything is wrong."""
        from engine.data import formats

        self._require(Role.EDITOR, "dataset.import", filename)
        family = formats.set_kind(kind)
        parsed = formats.parse_upload(data, filename, family)
        return self._store_set(parsed, filename, spec, variant, author)

    def import_dataset_folder(
        self,
        folder: Path,
        *,
        kind: str = "demos",
        spec: str | None = None,
        variant: str | None = None,
        author: str | None = None,
    ) -> e.Dataset:
        """:meth:`import_dataset` for a ``datasets`` folder on this machine (the CLI's; the
        dashboard uploads a zip instead)."""
        from engine.data import formats

        self._require(Role.EDITOR, "dataset.import", folder.name)
        family = formats.set_kind(kind)
        parsed = formats.parse_hf_folder(folder, folder.name, family)
        return self._store_set(parsed, folder.name, spec, variant, author)

    def _store_set(
        self,
        parsed: ParsedSet,
        filename: str,
        spec: str | None,
        variant: str | None,
        author: str | None,
    ) -> e.Dataset:
        from engine.data import demos as demodata
        from engine.data import formats

        provenance: dict[str, Any] = {"imported_from": filename[:200]}
        if parsed.kind.name == "docs":
            if bool(spec) != bool(variant):
                raise InputError(
                    "the corpus card needs both the spec and the variant the documents were "
                    "written about",
                    field="variant" if spec else "spec",
                )
            if spec and variant:
                card = self.corpus_card(parsed.rows, spec, variant)
                provenance |= {"spec": spec, "variant": variant, "card": card.to_dict()}
            else:
                provenance["card_note"] = formats.card_note()
            preview = parsed.rows[:5]
        else:
            provenance["coverage"] = demodata.coverage(parsed.demos)
            preview = [
                {"id": d.id, "prompt": d.prompt, "reasoning": d.reasoning, "response": d.response}
                for d in parsed.demos[:5]
            ]
        art = self.artifacts.put_bytes(
            parsed.data, kind=parsed.kind.imported, media_type="application/jsonl"
        )
        with self.db.write() as s:
            # The same content already stored (a stage's output, an earlier import) is that
            # set: importing it again adds nothing.
            dataset = datastore.by_artifacts(s, [art.sha256]).get(art.sha256) or datastore.add(
                s,
                kind=parsed.kind.imported,
                name=filename[:200],
                artifact_id=art.id,
                n_rows=len(parsed.rows),
                provenance=provenance,
                preview=preview,
                created_by=author or self.actor.name,
            )
        self._audit("dataset.import", f"dataset {dataset.id}", detail={"file": filename[:200]})
        return dataset

    def find_dataset(self, ref: str) -> e.Dataset:
        """The set whose hash starts with ``ref`` (6+ hex digits) or whose name is ``ref``."""
        with self.db.read() as s:
            found = datastore.find(s, ref.strip())
        shas = list(dict.fromkeys(d.artifact.sha256 for d in found))
        if not shas:
            raise NotFoundError(f"no dataset has the hash or name {ref[:100]!r}")
        if len(shas) > 1:
            raise InputError(
                f"{ref[:100]!r} names {len(shas)} different datasets ("
                + ", ".join(sha[:16] for sha in shas[:5])
                + "); give more of the hash",
                field="dataset",
            )
        return found[0]

    def dataset_studies(self, datasets: Sequence[e.Dataset]) -> dict[str, list[tuple[int, str]]]:
        """(id, name) of the studies whose stage produced each of ``datasets``, by the set's
        hash (one statement; imported sets have none)."""
        keys = {
            d.artifact.sha256: key
            for d in datasets
            if isinstance(key := d.provenance.get("stage_key"), str)
        }
        if not keys:
            return {}
        with self.db.read() as s:
            studies = datastore.producing_studies(s, sorted(set(keys.values())))
        return {sha: studies[key] for sha, key in keys.items() if key in studies}

    def dataset_card(self, dataset: e.Dataset) -> CorpusCard | str | None:
        """The corpus card of a document set, or the reason it has none; ``None`` for sets
        that are not documents."""
        from engine.data import formats

        family = formats.family_of(dataset.kind)
        card = dataset.provenance.get("card")
        if isinstance(card, dict):
            return CorpusCard.from_dict(card)
        return formats.card_note() if family is not None and family.name == "docs" else None

    def dataset_downloads(self, dataset: e.Dataset) -> list[Download]:
        """The files ``dataset`` can be downloaded as (JSONL, zipped Hugging Face folder,
        Parquet); each is built only when its ``build`` is called."""
        from engine.data import formats

        stem = f"speclab-{dataset.artifact.sha256[:12]}"
        return [
            formats.Download(
                label, stem + suffix, media, functools.partial(self.dataset_bytes, dataset, fmt)
            )
            for fmt, (label, suffix, media) in formats.DOWNLOADS.items()
        ]

    def export_dataset(self, ref: str, fmt: str, dest: Path) -> e.Dataset:
        """Write the set ``ref`` (see :meth:`find_dataset`) to ``dest`` as ``jsonl``, ``hf``
        (a ``datasets`` folder with a README card; ``dest`` must not exist) or ``parquet``."""
        from engine.data import formats

        dataset = self.find_dataset(ref)
        if fmt == "hf":
            rows = formats.stored_rows(self.artifacts.read_bytes(dataset.artifact))
            formats.write_hf_folder(rows, dest, readme_for=self._readme(dataset))
        else:
            dest.write_bytes(self.dataset_bytes(dataset, fmt))
        return dataset

    def dataset_bytes(self, dataset: e.Dataset, fmt: str) -> bytes:
        """``dataset`` as one file: ``jsonl`` (the stored bytes), ``hf`` (a zipped
        ``datasets`` folder) or ``parquet`` (what the dashboard's download buttons send)."""
        from engine.data import formats

        if fmt not in formats.FORMATS:
            raise InputError(
                f"unknown format {fmt!r}; use one of {', '.join(formats.FORMATS)}", field="format"
            )
        data = self.artifacts.read_bytes(dataset.artifact)
        if fmt == "jsonl":
            return data
        rows = formats.stored_rows(data)
        if fmt == "parquet":
            return formats.parquet_bytes(rows)
        top = f"speclab-{dataset.artifact.sha256[:12]}"
        with formats.scratch() as folder:
            formats.write_hf_folder(rows, folder / top, readme_for=self._readme(dataset))
            return formats.zip_folder(folder / top, top)

    def _readme(self, dataset: e.Dataset) -> Callable[[list[dict[str, Any]], str], str]:
        from engine.data import formats

        def readme(features: list[dict[str, Any]], data_files: str) -> str:
            return formats.readme(
                name=dataset.name,
                kind=dataset.kind,
                sha256=dataset.artifact.sha256,
                n_rows=dataset.n_rows,
                features=features,
                data_files=data_files,
                provenance=dataset.provenance,
            )

        return readme

    # -- evaluations -----------------------------------------------------------------------

    def eval_model(
        self,
        model: str,
        suite: str,
        *,
        adapters: tuple[str, ...] = (),
        preset: str = "cpu-smoke",
        spec: str = EXAMPLE_SPEC,
        overrides: dict[str, Any] | None = None,
    ) -> EvalSummary:
        """Run one evaluation suite on a model (plus LoRA adapters, applied in order)."""
        self._require(Role.EDITOR, "model.eval", model[:200])
        from engine.backends.select import make_backend
        from engine.evals.runner import run_agentic, run_spec_qa
        from engine.train import builtin_model, registry

        if suite not in SUITES:
            raise InputError(f"unknown suite {suite!r}; use {' or '.join(SUITES)}", field="suite")
        try:
            ref = registry.resolve(model, self.settings)
        except InputError as exc:
            raise self._model_error(exc) from None
        paths = []
        for i, a in enumerate(adapters):
            p = Path(a)
            if not (p / "adapter_config.json").is_file():
                raise InputError(f"{a!r} is not a LoRA adapter folder", field=f"adapter[{i}]")
            paths.append(p)
        kind = SUITES[suite]
        cfg = with_overrides(presets.preset(preset).for_kind(kind), overrides or {}, where="set")
        version = None
        if kind == "eval_qa":
            name, _, number = spec.partition("@")
            if number and not re.fullmatch(r"[0-9]{1,9}", number):
                raise InputError(f"version in {spec!r} must be a number", field="spec")
            version = self.get_version(name, int(number) if number else None)
        if ref.source == "builtin" and not registry.is_prepared(self.settings, model):
            builtin_model.prepare(self.settings, model_id=model)
        backend = make_backend("auto", model_path=str(ref.path or ref.id), adapters=paths)
        if version is not None:
            result = run_spec_qa(backend, cfg, content=version.content)
        elif kind == SUITES["agentic_published"]:
            from engine.evals.published.evaluate import make_classifier, run_published

            result = run_published(backend, cfg, classifier=make_classifier(cfg, backend))
        else:
            result = run_agentic(backend, cfg)
        return EvalSummary(
            suite=suite,
            model=ref.id,
            adapters=tuple(str(p) for p in paths),
            backend=backend.name,
            config=as_dict(cfg),
            metrics=tuple(result.metrics),
            notes=tuple(result.notes),
            samples=tuple(result.samples),
        )

    def _eval_stage_ids(self, run_id: int, suite: str | None = None) -> list[int]:
        kinds = (SUITES[suite],) if suite in SUITES else tuple(SUITES.values())
        return [s.id for s in self.get_run(run_id).stages if s.kind in kinds]

    def scorecard(self, run_id: int) -> list[e.MetricPoint]:
        """Every evaluation metric of a run (headline numbers and breakdowns)."""
        ids = self._eval_stage_ids(run_id)
        return [p for p in self.stage_metrics(ids) if not p.name.startswith("train/")]

    def eval_samples(
        self,
        run_id: int,
        *,
        suite: str | None = None,
        condition: str | None = None,
        clause: str | None = None,
        harmful: bool | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[e.EvalSample], int]:
        """A page of a run's evaluated samples matching the filters, and the total count."""
        with self.db.read() as s:
            return evalstore.samples(
                s,
                self._eval_stage_ids(run_id, suite),
                suite=suite,
                condition=condition,
                clause=clause,
                harmful=harmful,
                limit=limit,
                offset=offset,
            )

    def eval_facets(self, run_id: int) -> dict[str, list[str]]:
        with self.db.read() as s:
            return evalstore.facets(s, self._eval_stage_ids(run_id))

    def get_sample(self, sample_id: int) -> tuple[e.EvalSample, int | None]:
        """One sample (the sample browser's permalink) and the first run that shows it."""
        with self.db.read() as s:
            sample = evalstore.get_sample(s, sample_id)
            runs = evalstore.stage_runs(s, sample.stage_id) if sample.stage_id else []
        return sample, runs[0][0] if runs else None

    # -- Inspect eval logs ---------------------------------------------------------------------

    def export_inspect(self, run_id: int, suite: str, fmt: str = "eval") -> bytes:
        """One run × suite as an Inspect eval log file (``eval`` or ``json`` format)."""
        from engine.interop import inspect_log

        if suite not in SUITES:
            raise InputError(f"unknown suite {suite!r}; use {' or '.join(SUITES)}", field="suite")
        if fmt not in inspect_log.FORMATS:
            raise InputError(f"unknown format {fmt!r}; use eval or json", field="format")
        run = self.get_run(run_id)
        stages = [st for st in run.stages if st.kind == SUITES[suite]]
        ids = [st.id for st in stages]
        with self.db.read() as s:
            samples, total = evalstore.samples(
                s, ids, suite=suite, limit=inspect_log.MAX_SAMPLES + 1
            )
        if total > inspect_log.MAX_SAMPLES:
            raise InputError(
                f"run {run_id} has {total:,} {suite} samples; one log holds at most "
                f"{inspect_log.MAX_SAMPLES:,}",
                field="suite",
            )
        metrics = [p for p in self.stage_metrics(ids) if not p.name.startswith("train/")]
        src = inspect_log.RunExport(run, suite, stages, samples, metrics)
        return inspect_log.export_log(src, "json" if fmt == "json" else "eval")

    def import_inspect(
        self, data: bytes, filename: str, *, author: str | None = None
    ) -> InspectImport:
        """Store an Inspect eval log as a study of its own (named after the log) with one run
        whose finished evaluation stage holds the log's samples and metrics. Nothing ever
        runs or relaunches it; importing the same file again finds it and writes nothing."""
        from engine.interop import inspect_log

        self._require(Role.EDITOR, "inspect.import", filename[:200])
        log = inspect_log.read_log(data, filename)
        kind = SUITES.get(log.suite)
        if kind is None:
            raise InputError(
                f"suite {log.suite!r} is not one of {', '.join(SUITES)}",
                source=log.filename,
                field="eval.metadata.speclab.suite",
            )
        origin = log.provenance()
        key = inspect_log.import_key(log.sha256)
        by = author or self.actor.name
        with self.db.write() as s:
            found = studystore.find_stage(s, key)
            if found is not None:
                runs = evalstore.stage_runs(s, found[0])
                if runs:
                    n = evalstore.samples(s, [found[0]], limit=1)[1]
                    return InspectImport(runs[0][1], runs[0][0], found[0], n, False, origin)
            study_id = studystore.create_study(
                s,
                name=f"imported: {log.task}"[:200],
                spec_version_id=None,
                config={"imported_from": origin},
                created_by=by,
            )
            run_id = studystore.add_run(
                s, study_id=study_id, variant_id=None, arm="imported", seed=0,
                model=log.model, created_by=by,
            )  # fmt: skip
            stage_id = studystore.create_stage(
                s,
                key=key,
                kind=kind,
                config={
                    "config": {},
                    "model": log.model,
                    "label": inspect_log.origin_label(origin)[:500],
                    "imported_from": origin,
                    "task_args": log.task_args,
                },
                job_id=None,
            )
            studystore.link_stage(s, run_id, stage_id, cached=False)
            evalstore.replace_samples(s, stage_id, log.rows)
            studystore.add_metrics(
                s,
                [
                    e.MetricPoint(stage_id, None, m.name, 0, m.value, m.ci_low, m.ci_high, m.n)
                    for m in log.metrics
                ],
            )
        self._audit(
            "inspect.import",
            f"study {study_id}",
            detail={"file": log.filename, "sha256": log.sha256, "samples": len(log.rows)},
        )
        return InspectImport(study_id, run_id, stage_id, len(log.rows), True, origin)

    @staticmethod
    def imported_from(config: Mapping[str, Any]) -> str | None:
        """ "imported from FILE (Inspect task T, model M)" for a study's or stage's config
        that records an import, else None."""
        from engine.interop.inspect_log import origin_label

        origin = config.get("imported_from")
        return origin_label(origin) if isinstance(origin, Mapping) else None

    def rates_beside(self, run_ids: Sequence[int]) -> list[RunRate]:
        """The headline numbers of a few runs of any studies, side by side, each labelled
        with where it came from (an imported log says so)."""
        from engine.compare import beside

        ids = list(dict.fromkeys(run_ids))
        if not 1 <= len(ids) <= beside.MAX_RUNS:
            raise InputError(f"give 1 to {beside.MAX_RUNS} runs", field="runs")
        out: list[RunRate] = []
        for run_id in ids:
            run = self.get_run(run_id)
            out += beside.rates(run, self.scorecard(run_id), self.run_imported_from(run))
        return out

    @staticmethod
    def inspect_file_name(run_id: int, suite: str, fmt: str) -> str:
        """The name an exported log is saved under."""
        from engine.interop.inspect_log import file_name

        return file_name(run_id, suite, fmt)

    def run_imported_from(self, run: e.Run) -> str | None:
        """The import label of a run whose stages came from an imported log, else None."""
        return next((label for st in run.stages if (label := self.imported_from(st.config))), None)

    # -- comparisons and reports -------------------------------------------------------------

    def compare_study(
        self,
        study_id: int,
        pairs: Sequence[tuple[CellKey, CellKey]] | None = None,
        model: str | None = None,
    ) -> StudyComparison:
        """Variant × arm numbers with intervals, paired comparisons (Holm), breakdowns (within
        ``model`` for a study of several base models; default its first)."""
        from engine.compare import compare_study

        return compare_study(self.db, study_id, pairs, model=model)

    def study_models(self, study_id: int) -> list[str]:
        """The base models of a study's runs, in launch order (one for most studies)."""
        with self.db.read() as s:
            return comparestore.study_models(s, study_id)

    def across_models(
        self, study_id: int, pairs: Sequence[tuple[CellKey, CellKey]] | None = None
    ) -> tuple[tuple[str, ...], list[AcrossRow]]:
        """Each comparison of a study of several base models in every model, and whether the
        models agree (:mod:`engine.compare.across`)."""
        from engine.compare.across import across_models

        return across_models(self.db, study_id, pairs)

    def study_snapshot(
        self,
        study_id: int,
        title: str = "",
        pairs: Sequence[tuple[CellKey, CellKey]] | None = None,
        model: str | None = None,
    ) -> Snapshot:
        """The live comparison as a snapshot (no capsule: that is computed on freeze); for a
        study of several base models, of ``model``'s runs (default its first).

        Computed once per state of the study's data: a page that reruns, a second viewer or a
        freeze of an unchanged study reuses it; a stage finishing or a new training step makes
        it stale (:func:`db.compare.data_version`, one statement, decides).
        """
        with self.db.read() as s:
            version = comparestore.data_version(s, study_id)
        key = (study_id, title, tuple(pairs) if pairs else None, model)

        with self._snapshot_lock:
            hit = self._snapshots.get(key)
            if hit is not None and hit[0] == version:
                self._snapshots.move_to_end(key)
                return hit[1]
        from engine.compare.snapshot import InstrumentRow
        from engine.evals.instruments import measured

        comparison = self.compare_study(study_id, pairs, model)
        snapshot = comparison.to_snapshot(title)
        with self.db.read() as s:
            # The judges behind the headline numbers: those of each suite's chosen verdicts.
            tags = list(comparison.suite_tags.values())
            used = comparestore.study_judges(s, study_id, suites=tags or None)
        # Every number is shown with what its instrument is worth against labelled truth.
        snapshot = dataclasses.replace(
            snapshot,
            instruments=tuple(InstrumentRow(**vars(measured(judge))) for judge in used),
        )
        with self._snapshot_lock:
            self._snapshots[key] = (version, snapshot)
            while len(self._snapshots) > SNAPSHOT_CACHE_SIZE:
                self._snapshots.popitem(last=False)
        return snapshot

    def study_capsule(self, study_id: int) -> Capsule:
        """The reproducibility capsule of a study (asks git and the package metadata)."""
        from engine.compare.capsule import study_capsule

        return study_capsule(self.db, study_id)

    def flipped_samples(
        self,
        study_id: int,
        a: tuple[str, str],
        b: tuple[str, str],
        limit: int = 20,
        model: str | None = None,
    ) -> list[tuple[e.EvalSample, e.EvalSample]]:
        """Samples of the same item whose verdict differs between cells ``a`` and ``b``."""
        from engine.compare import flipped_samples

        return flipped_samples(self.db, study_id, a, b, limit=limit, model=model)

    def freeze_report(
        self,
        study_id: int,
        *,
        title: str,
        author: str | None = None,
        pairs: Sequence[tuple[CellKey, CellKey]] | None = None,
        model: str | None = None,
    ) -> Report:
        """Freeze the study's comparison, with its capsule, as an immutable report (of
        ``model``'s runs in a study of several base models; the snapshot names it)."""
        from engine import reports

        self._require(Role.EDITOR, "report.freeze", f"study {study_id}")
        # The live snapshot (cached when nothing changed) plus the capsule, computed now.
        snapshot = dataclasses.replace(
            self.study_snapshot(study_id, title, pairs, model),
            capsule=self.study_capsule(study_id),
        )
        report = reports.freeze(
            self.db, study_id=study_id, snapshot=snapshot, title=title,
            author=author or self.actor.name,
        )  # fmt: skip
        self._audit("report.freeze", f"report {report.id}", detail={"study": study_id})
        return report

    def get_report(self, report_id: str) -> Report:
        from engine import reports

        return reports.get_report(self.db, report_id)

    def list_reports(self, limit: int = 20) -> list[ReportSummary]:
        from engine import reports

        return reports.list_reports(self.db, limit=limit)

    def share_report(
        self, report_id: str, *, days: float | None, author: str | None = None
    ) -> tuple[str, ShareLinkEntity]:
        """A read-only share token for a report (shown once), expiring after ``days``."""
        from datetime import timedelta

        from engine import reports

        self._require(Role.EDITOR, "report.share", f"report {report_id}")
        expires = timedelta(days=days) if days else None
        token, link = reports.create_share_link(
            self.db, report_id, author=author or self.actor.name, expires_in=expires
        )
        self._audit("report.share", f"share link {link.id}", detail={"report": report_id})
        return token, link

    def list_shares(self, report_id: str) -> list[ShareLinkEntity]:
        from engine import reports

        return reports.list_shares(self.db, report_id)

    def revoke_share(self, share_id: int) -> ShareLinkEntity:
        """Revoke a share link: editors their own links, admins any link."""
        from engine import reports

        self._require(Role.EDITOR, "share.revoke", f"share link {share_id}")
        with self.db.read() as s:
            owner = reportstore.get_share(s, share_id).created_by
        if owner != self.actor.name:
            self._require(Role.ADMIN, "share.revoke_any", f"share link {share_id}")
        link = reports.revoke(self.db, share_id)
        self._audit("share.revoke", f"share link {share_id}", detail={"report": link.report_id})
        return link

    def open_shared(self, token: str) -> Report:
        from engine import reports

        return reports.open_shared(self.db, token)

    def export_report(self, report_id: str, fmt: str) -> str:
        """A report as a self-contained HTML file, CSV or JSON; ``bundle``: the HTML file with
        the study's samples in it (:mod:`engine.report_bundle`)."""
        from engine import report_export, reports

        exporters = {
            "html": report_export.export_html,
            "csv": report_export.export_csv,
            "json": report_export.export_json,
        }
        if fmt not in (*exporters, "bundle"):
            raise InputError(
                f"unknown format {fmt!r}; use html, bundle, csv or json", field="format"
            )
        report = reports.get_report(self.db, report_id)
        if fmt != "bundle":
            return exporters[fmt](report)
        from datetime import UTC, datetime

        from engine.report_bundle import MAX_SAMPLES, bundle_html

        samples: list[tuple[e.RunLabel, e.EvalSample]] = []
        total = 0
        if report.study_id is not None:  # a deleted study's samples went with it
            with self.db.read() as s:
                samples, total = evalstore.study_samples(s, report.study_id, limit=MAX_SAMPLES)
        return bundle_html(report, samples, total=total, exported_at=datetime.now(UTC))

    # -- members and the audit log -----------------------------------------------------------

    def local_actor(self, origin: str) -> Actor:
        """The local operator (an admin) acting from ``origin``: the single-user dashboard."""
        return access.local_operator(self.settings.user, origin)

    @staticmethod
    def members_config(raw: Mapping[str, Any]) -> tuple[MemberRule, ...]:
        """The rules of a ``[members]`` configuration section (:class:`InputError` naming the
        key when it is malformed)."""
        return access.parse_members_config(raw)

    def member_rules(self, configured: tuple[MemberRule, ...] = ()) -> list[MemberRule]:
        """The configured rules followed by the ones stored from the Members page."""
        with self.db.read() as s:
            stored = memberstore.list_members(s)
        return [*configured, *(MemberRule(m.pattern, Role(m.role)) for m in stored)]

    def member_for(self, email: str, configured: tuple[MemberRule, ...] = ()) -> MemberRule | None:
        """The rule that gives ``email`` its role (one indexed lookup), or None."""
        with self.db.read() as s:
            stored = memberstore.find(s, access.candidate_patterns(email))
        rules = [*configured, *(MemberRule(m.pattern, Role(m.role)) for m in stored)]
        return access.resolve(email, rules)

    def set_member(
        self, pattern: str, role: str, configured: tuple[MemberRule, ...] = ()
    ) -> MemberRule:
        """Give an address or an ``@domain`` a role (admins only). A pattern the deployment's
        configuration names cannot be changed here."""
        self._require(Role.ADMIN, "member.set", pattern[:200])
        p = access.normalise_pattern(pattern)
        r = access.parse_role(role)
        if any(c.pattern == p for c in configured):
            raise ConflictError(
                f"{p} has its role in the deployment's configuration ([members] in "
                "secrets.toml); change it there"
            )
        with self.db.write() as s:
            memberstore.set_member(s, p, r.value, by=self.actor.name)
        self._audit("member.set", p, detail={"role": r.value})
        return MemberRule(p, r)

    def remove_member(self, pattern: str) -> None:
        """Remove a role given on the Members page (admins only)."""
        self._require(Role.ADMIN, "member.remove", pattern[:200])
        p = access.normalise_pattern(pattern)
        with self.db.write() as s:
            removed = memberstore.remove_member(s, p)
        self._audit("member.remove", p, detail={"role": removed.role})

    def record_sign_in(
        self, *, allowed: bool, token: str = "", detail: dict[str, Any] | None = None
    ) -> None:
        """Audit that the actor signed in (``allowed=False``: signed in but not a member).

        ``token`` names the sign-in (the identity token's subject and issue time): every page
        load of the same sign-in is one browser session more, not one sign-in more.
        """
        target = f"{self.actor.name} {token}".strip()
        if token:
            with self.db.read() as s:
                if auditstore.exists(s, actor=self.actor.name, action="sign_in", target=target):
                    return
        outcome = "ok" if allowed else "denied"
        self._audit("sign_in", target, outcome=outcome, detail=detail)

    def audit_events(
        self, where: AuditFilter | None = None, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[AuditEventEntity], int]:
        """A page of the audit log, newest first, and the number of matching events (admins)."""
        access.require(self.actor, Role.ADMIN, "audit.read")
        with self.db.read() as s:
            return auditstore.query(s, where, limit=limit, offset=offset)

    def audit_facets(self) -> dict[str, list[str]]:
        """The actors, actions and outcomes in the audit log, for filters (admins)."""
        access.require(self.actor, Role.ADMIN, "audit.read")
        with self.db.read() as s:
            return auditstore.facets(s)

    def export_audit(self, fmt: str, where: AuditFilter | None = None) -> str:
        """The matching audit events (up to 10,000, newest first) as CSV or JSON (admins)."""
        events, _total = self.audit_events(where, limit=auditstore.MAX_PAGE)
        return access.export_audit(events, fmt)

    def database_label(self) -> str:
        """The database, as much as the actor may know: its URL (password hidden) for admins,
        only its kind for everyone else."""
        if self.actor.allows(Role.ADMIN):
            return self.db.safe_url
        return "SQLite" if self.db.is_sqlite else "PostgreSQL"

    # -- re-judging a study ------------------------------------------------------------------

    def rejudge_study(
        self,
        study_id: int,
        *,
        suite: str,
        judge: str,
        judge_base_url: str = "",
        judge_model: str = "",
    ) -> e.Job:
        """Queue a re-judging of every eval sample of the study's ``suite`` by ``judge`` (a
        worker runs it, see :mod:`engine.tasks.rejudge_study`); the verdicts the study ran
        with stay. Asking again while the same request is queued or running returns its job.

        Raises:
            InputError: unknown suite or judge, an LLM judge without a valid endpoint, or a
                study without that suite's samples.
            NotFoundError: no such study.
        """
        self._require(Role.EDITOR, "study.rejudge", f"study {study_id}")
        request = rejudge_task.RejudgeRequest(
            study_id, suite, judge, judge_base_url.strip(), judge_model.strip()
        )
        # Refused here, where the user is, rather than later on a worker.
        rejudge_task.make_judge(suite, judge, request.judge_base_url, request.judge_model)
        with self.db.write() as s:
            rejudgedstore.study_config(s, study_id)  # NotFoundError for an unknown study
            job = rejudge_task.enqueue(s, request, created_by=self.actor.name)
        self._audit(
            "study.rejudge",
            f"study {study_id}",
            detail={"suite": suite, "judge": judge, "job": job.id},
        )
        return job

    def rejudge_jobs(self, study_id: int) -> list[e.Job]:
        """The study's re-judging jobs, newest first (state, progress, result)."""
        with self.db.read() as s:
            return rejudgedstore.jobs_labelled(
                s, rejudge_task.JOB_KIND, rejudge_task.label_prefix(study_id)
            )

    def headline_judges(self, study: e.Study) -> dict[str, str]:
        """Suite → the judge whose re-judged verdicts the study's numbers use ("" = the
        verdicts the study ran with). Read from the study already loaded: no statement."""
        picked = headline_chosen(study.config)
        return {suite: picked.get(suite, "") for suite in rejudge_task.SUITES}

    def set_headline_judge(self, study_id: int, suite: str, judge: str) -> dict[str, str]:
        """Make ``judge``'s verdicts the headline of the study's ``suite`` ("" = back to the
        verdicts it ran with); every comparison, report and export then uses them. Returns
        the choice per suite.

        Raises:
            InputError: unknown suite, or the study holds no verdicts by ``judge``.
        """
        self._require(Role.EDITOR, "study.headline", f"study {study_id}")
        if suite not in rejudge_task.SUITES:
            raise InputError(
                f"unknown suite {suite!r}; use {' or '.join(rejudge_task.SUITES)}", field="suite"
            )
        with self.db.write() as s:
            config = rejudgedstore.study_config(s, study_id)
            if judge and not rejudgedstore.has_tag(s, study_id, headline_tag(suite, judge)):
                raise InputError(
                    f"study {study_id} has no {suite} verdicts by {judge[:60]!r}: re-judge it "
                    "first (Instruments / judges on the study page, or `speclab study rejudge`)",
                    field="judge",
                )
            picked = headline_chosen(config)
            if judge:
                picked[suite] = judge
            else:
                picked.pop(suite, None)
            rest = {k: v for k, v in config.items() if k != HEADLINE_KEY}
            new = {**rest, HEADLINE_KEY: picked} if picked else rest
            rejudgedstore.set_study_config(s, study_id, new)
        self._audit(
            "study.headline",
            f"study {study_id}",
            detail={"suite": suite, "judge": judge or "as run"},
        )
        return {x: picked.get(x, "") for x in rejudge_task.SUITES}

    def judge_choices(self, suite: str) -> dict[str, str]:
        """The judges a study's ``suite`` can be re-judged with, with their descriptions."""
        from engine.evals import judges as registry
        from engine.evals.runner import load_judges

        load_judges()
        return registry.available(suite) if suite in rejudge_task.SUITES else {}

    def judge_needs_endpoint(self, judge: str) -> bool:
        """Whether ``judge`` is an LLM judge (it needs an endpoint URL and model name)."""
        return judge in rejudge_task.LLM_JUDGES

    def judge_verdicts(self, samples: Sequence[e.EvalSample]) -> dict[int, list[e.EvalSample]]:
        """Every re-judged verdict on each sample's reply, by sample id (the sample browser
        shows them beside the verdict the study ran with). One statement per suite shown."""
        out: dict[int, list[e.EvalSample]] = {}
        with self.db.read() as s:
            for suite in sorted({x.suite for x in samples}):
                same = [x for x in samples if x.suite == suite]
                out.update(rejudgedstore.other_verdicts(s, same, headline_tag(suite, "")))
        return out

    # -- judges ------------------------------------------------------------------------------

    def _qa_judge(self, judge: str, judge_base_url: str, judge_model: str) -> Judge:
        judge_obj: Judge = rejudge_task.make_judge("spec_qa", judge, judge_base_url, judge_model)
        return judge_obj

    def judge_qa_answers(
        self,
        data: bytes,
        source: str,
        *,
        judge: str = "qa_rubric",
        judge_base_url: str = "",
        judge_model: str = "",
    ) -> list[dict[str, Any]]:
        """Re-judge spec-QA answers from a JSONL file (``speclab judge FILE --suite spec_qa``):
        one ``{"id", "judge", "score", "reasons"}`` per line. Nothing is stored."""
        from engine.evals.qa import labelled

        answers = labelled.parse_answers(data, source=source)
        return labelled.rejudge(answers, self._qa_judge(judge, judge_base_url, judge_model))

    def validate_qa_judge(
        self,
        *,
        judge: str = "qa_rubric",
        labelled_set: bytes | None = None,
        source: str = "",
        judge_base_url: str = "",
        judge_model: str = "",
    ) -> QAValidation:
        """A QA judge on a labelled set (the built-in one, or ``labelled_set``): per-kind mean
        scores and agreement with the labels (``speclab judge validate --suite spec_qa``)."""
        from engine.evals.qa import labelled

        answers = (
            labelled.parse_answers(labelled_set, source=source, labelled=True)
            if labelled_set is not None
            else None
        )
        return labelled.validate(self._qa_judge(judge, judge_base_url, judge_model), answers)

    def judge_agentic_replies(
        self,
        data: bytes,
        source: str,
        *,
        judge: str = "agentic_parse",
        judge_base_url: str = "",
        judge_model: str = "",
    ) -> list[JudgedLine]:
        """Re-judge agentic replies from a JSONL file (``speclab judge FILE --suite agentic``).

        With ``judge_base_url`` (an OpenAI-compatible endpoint), the offline judge's
        ``uncertain`` verdicts are settled by ``agentic_llm`` on that model; ``judge=
        'agentic_llm'`` judges every line with it. Nothing is stored.
        """
        from engine.evals.agentic import rejudge

        lines = rejudge.read_lines(data, source)
        first, settle_with = rejudge.make_judges(judge, judge_base_url, judge_model)
        return rejudge.judge_lines(lines, first, settle_with)

    def judge_published_transcripts(
        self, data: bytes, source: str, *, judge_base_url: str = "", judge_model: str = ""
    ) -> list[dict[str, Any]]:
        """Judge published-format transcripts from a JSONL file (``speclab judge FILE --suite
        agentic_published``): ``harmful`` from the world rules, and with ``judge_base_url``
        (an OpenAI-compatible endpoint) ``classifier_verdict`` from ``published_classifier``
        and ``parity`` from the published gates; without it both are null. Nothing is stored.
        """
        from engine.evals.published.config import PublishedEvalConfig
        from engine.evals.published.evaluate import make_classifier
        from engine.evals.published.transcripts import judge_transcripts, read_transcripts

        lines = read_transcripts(data, source)
        classifier = None
        if judge_base_url:
            config = PublishedEvalConfig(
                classifier="published_classifier",
                judge_base_url=judge_base_url,
                judge_model=judge_model,
            )
            classifier = make_classifier(config)
        return judge_transcripts(lines, classifier)

    def validate_agentic_judge(
        self,
        *,
        judge: str = "agentic_parse",
        labelled: bytes | None = None,
        source: str = "",
        judge_base_url: str = "",
        judge_model: str = "",
    ) -> ValidationReport:
        """A judge's agreement with a labelled agentic set: the built-in one, or ``labelled``
        (``speclab judge validate --suite agentic``)."""
        from engine.evals.agentic import rejudge

        if labelled is None:
            labelled, source = rejudge.builtin_set()
        lines = rejudge.read_lines(labelled, source)
        first, settle_with = rejudge.make_judges(judge, judge_base_url, judge_model)
        return rejudge.validate(lines, first, settle_with, source=source)

    # -- corpora

    def published_rates(
        self, study_id: int, *, study: e.Study | None = None
    ) -> list[PublishedCell]:
        """Per variant × arm cell, the ``agentic_published`` suite's three rates (``harmful``,
        ``classifier_verdict``, ``parity``) with intervals and n, the agreement between them,
        and the headline its stages score by; pooled over seeds from the stored metrics. A
        verdict nobody judged (no LLM judge configured) is ``None``, never estimated. Cells
        without a finished stage of the suite are left out; a study without it gives [].
        """
        from engine.evals.published import rates

        study = study or self.get_study(study_id)
        kind = SUITES[rates.SUITE]
        cells: dict[tuple[str, str], dict[int, Stage]] = {}
        for run in study.runs:
            for stage in run.stages:
                if stage.kind == kind and stage.state == "succeeded":
                    cells.setdefault((run.variant_name, run.arm), {})[stage.id] = stage
        if not cells:
            return []
        names = [rates.metric_name(v) for v in rates.VERDICTS]
        names += [rates.agreement_name(p) for p in rates.AGREEMENTS]
        ids = sorted({i for stages in cells.values() for i in stages})
        by_stage: dict[int, dict[str, tuple[float, int]]] = {}
        for point in self.stage_metrics(ids, names):
            if point.stage_id is not None:
                by_stage.setdefault(point.stage_id, {})[point.name] = (point.value, point.n or 0)
        out = []
        for (variant, arm), stages in cells.items():
            metrics: dict[str, list[tuple[float, int]]] = {}
            for stage_id in stages:
                for name, value_n in by_stage.get(stage_id, {}).items():
                    metrics.setdefault(name, []).append(value_n)
            headlines = [
                str((st.config.get("config") or {}).get("headline", "harmful"))
                for st in stages.values()
            ]
            out.append(rates.cell(variant, arm, headlines, metrics))
        return out

    def corpus_balance(self, study_id: int, *, study: e.Study | None = None) -> list[CorpusBalance]:
        """How the MSM corpora of a study's variants compare in length and rule exposure.

        One entry per pair of variants whose ``gen_docs`` stages have finished (in the order
        the variants appear in the study's runs), each with a warning per measure that
        differs by more than 10% and which way; a study without ``msm`` arms gives none.
        Several corpora of one variant (seeds, sizes) are pooled document by document. Pass
        the ``study`` already loaded to save its queries (two statements otherwise).
        """
        study = study or self.get_study(study_id)
        corpora: dict[str, tuple[str, str]] = {}  # stage key -> (variant, docs sha)
        for run in study.runs:
            for stage in run.stages:
                art = stage.artifact("docs") if stage.kind == "gen_docs" else None
                if art is not None and stage.key not in corpora:
                    name = str(stage.config.get("variant_name") or run.variant_name)
                    corpora[stage.key] = (name, art.sha256)
        with self.db.read() as s:
            datasets = datastore.by_artifacts(s, [sha for _, sha in corpora.values()])
        order: list[str] = []
        pooled: dict[str, list[CorpusCard]] = {}
        for name, sha in corpora.values():
            card = datasets[sha].provenance.get("card") if sha in datasets else None
            if not isinstance(card, dict):
                continue  # a corpus stored before cards existed
            if name not in pooled:
                order.append(name)
            pooled.setdefault(name, []).append(CorpusCard.from_dict(card))
        merged = {name: _pool(cards) for name, cards in pooled.items()}
        return [
            balance(a, merged[a], b, merged[b]) for i, a in enumerate(order) for b in order[i + 1 :]
        ]

    def _spec_variant(self, spec: str, variant: str) -> tuple[e.SpecVersion, e.Variant]:
        """The version named by ``NAME[@VERSION]`` and its variant called ``variant``."""
        name, _, number = spec.partition("@")
        if number and not re.fullmatch(r"[0-9]{1,9}", number):
            raise InputError(f"version in {spec!r} must be a number", field="spec")
        version = self.get_version(name, int(number) if number else None)
        variants = {v.name: v for v in self.list_variants(name, version.number)}
        if variant not in variants:
            raise InputError(
                f"{version.ref} has no variant {variant!r}; it has: {', '.join(variants)}",
                field="variant",
            )
        return version, variants[variant]

    def corpus_docs(
        self,
        spec: str,
        variant: str,
        *,
        preset: str = "cpu-smoke",
        overrides: Mapping[str, Any] | None = None,
        model: str | None = None,
    ) -> list[dict[str, Any]]:
        """The documents a ``gen_docs`` stage with these settings writes (same code path):
        ``spec`` is ``NAME[@VERSION]``; ``overrides`` are gen_docs settings over the preset;
        ``model`` (default: the built-in one) writes them when the generator is ``model`` or
        ``sdf`` (unless the settings' ``generator_model`` names another)."""
        from engine.stages.gen_docs import variant_clauses, write_corpus
        from engine.train.registry import BUILTIN_ID

        version, var = self._spec_variant(spec, variant)
        config = with_overrides(
            presets.preset(preset).for_kind("gen_docs"), overrides or {}, where="set"
        )

        def local(model_id: str) -> str:
            from engine.train import builtin_model, registry

            ref = registry.resolve(model_id, self.settings)
            if ref.source == "builtin" and not registry.is_prepared(self.settings, model_id):
                builtin_model.prepare(self.settings, model_id=model_id)
            return str(ref.path) if ref.path is not None else ref.id

        return write_corpus(
            variant_clauses(var, version), config, model=model or BUILTIN_ID, resolve_model=local
        )

    def corpus_card(self, rows: Sequence[Mapping[str, Any]], spec: str, variant: str) -> CorpusCard:
        """The card of documents written about ``variant`` of ``spec`` (``NAME[@VERSION]``)."""
        from engine.stages.gen_docs import variant_clauses

        version, var = self._spec_variant(spec, variant)
        return card_of(rows, variant_clauses(var, version), spec=version.content)


def _pool(cards: list[CorpusCard]) -> CorpusCard:
    """One card standing for several corpora of a variant: means over all their documents."""
    if len(cards) == 1:
        return cards[0]
    docs = sum(c.docs for c in cards) or 1
    first = cards[0]
    return CorpusCard.from_dict(
        {
            **first.to_dict(),
            "docs": docs,
            "mean_words": round(sum(c.words for c in cards) / docs, 1),
            "mean_rule_statements": round(sum(c.rule_statements for c in cards) / docs, 2),
        }
    )
