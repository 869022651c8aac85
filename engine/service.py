"""The use cases that the dashboard pages and the CLI call.

Every page and command goes through :class:`Service`: it owns the database, the artifact
store and the settings, validates input, and returns the plain entities from :mod:`db`.
Nothing here imports torch or streamlit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from db import datasets as datastore
from db import entities as e
from db import evals as evalstore
from db import jobs as jobstore
from db import migrate
from db import specs as specstore
from db import studies as studystore
from db import workers as workerstore
from db.session import Database
from engine.artifacts import ArtifactStore
from engine.config import Settings
from engine.errors import ConflictError, InputError, NotFoundError
from engine.pipeline import launch as launcher
from engine.pipeline.study import StudyConfig, parse_study_file
from engine.specs import diff as specdiff
from engine.specs import formats
from engine.specs.model import build_content, clause_from_dict, validate_name
from engine.specs.render import (
    CUSTOM,
    RENDERINGS,
    render,
    text_hash,
    variant_text,
    view,
    word_count,
)

EXAMPLE_SPEC = "example"
DEFAULT_VARIANTS = ("rules", "values")


@dataclass(frozen=True)
class InitReport:
    """What ``speclab init`` did."""

    database: str
    revision: str
    seeded: tuple[str, ...]
    model_path: str | None


class Service:
    """SpecLab's use cases over one database and home folder."""

    def __init__(self, settings: Settings, database: Database | None = None) -> None:
        self.settings = settings
        self.db = database or Database(settings.database_url)
        self.artifacts = ArtifactStore(settings.artifacts_dir, self.db)

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
        self.settings.ensure_dirs()
        migrate.upgrade(self.db)
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
        parsed = formats.parse_spec(data, filename=filename)
        spec_name = validate_name(name or parsed.name or "", source=filename)
        author = author or self.settings.user
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
            self._derive_defaults(s, version, author)
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
        content = build_content(
            title=title.strip(),
            preamble=preamble.strip(),
            clauses=[clause_from_dict(c, where=f"clauses[{i}]") for i, c in enumerate(clauses)],
        )
        author = author or self.settings.user
        with self.db.write() as s:
            parent = specstore.get_version(s, name, parent_number)
            if parent.content.content_hash() == content.content_hash():
                raise ConflictError("nothing changed: the edit equals the version it started from")
            version = specstore.add_version(
                s, name, content, parent_id=parent.id, author=author, note=note
            )
            self._derive_defaults(s, version, author)
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

    def _derive_defaults(self, session: Any, version: e.SpecVersion, author: str) -> None:
        for rendering in DEFAULT_VARIANTS:
            self._add_variant(session, version, rendering, rendering, None, author, "")

    def _add_variant(
        self,
        session: Any,
        version: e.SpecVersion,
        name: str,
        rendering: str,
        custom_text: str | None,
        author: str,
        note: str,
    ) -> e.Variant:
        text = custom_text if custom_text is not None else render(version.content, rendering)
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
        jobstore.enqueue(
            session,
            "render_variant",
            {"variant_id": variant.id},
            label=f"render {version.ref} {name}",
            created_by=author,
        )
        return variant

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
        if rendering != CUSTOM and rendering not in RENDERINGS:
            known = ", ".join([*sorted(RENDERINGS), CUSTOM])
            raise InputError(f"unknown rendering {rendering!r} (known: {known})", field="rendering")
        if rendering == CUSTOM and not (custom_text or "").strip():
            raise InputError("a hand-edited variant needs its text", field="text")
        variant_name = validate_name(variant_name or rendering).replace(".", "-")
        with self.db.write() as s:
            v = specstore.get_version(s, name, version)
            return self._add_variant(
                s,
                v,
                variant_name,
                rendering,
                custom_text if rendering == CUSTOM else None,
                author or self.settings.user,
                note,
            )

    def list_variants(self, name: str, version: int | None = None) -> list[e.Variant]:
        with self.db.read() as s:
            v = specstore.get_version(s, name, version)
            return specstore.list_variants(s, v.id)

    def variant_text(self, variant: e.Variant) -> str:
        """The text a variant trains on (rendered on the fly; the artifact holds the same)."""
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

    def job_log(self, job_id: int, tail: int = 200) -> list[e.JobLogLine]:
        with self.db.read() as s:
            return jobstore.log_tail(s, job_id, tail)

    def cancel_job(self, job_id: int, by: str | None = None) -> e.Job:
        with self.db.write() as s:
            return jobstore.request_cancel(s, job_id, by=by or self.settings.user)

    def retry_job(self, job_id: int, by: str | None = None) -> e.Job:
        with self.db.write() as s:
            return jobstore.retry(s, job_id, by=by or self.settings.user)

    def list_workers(self) -> list[e.WorkerInfo]:
        with self.db.read() as s:
            return workerstore.list_workers(s)

    # -- studies ---------------------------------------------------------------------------

    def parse_study(self, data: bytes, filename: str) -> StudyConfig:
        return parse_study_file(data, filename=filename)

    def launch_study(
        self, config: StudyConfig, *, author: str | None = None
    ) -> launcher.LaunchResult:
        """Create a study's runs and queue every stage that is not already done or underway."""
        from engine.train import registry

        try:
            model = registry.resolve(config.model, self.settings)
        except InputError as exc:
            raise InputError(exc.detail, field="model") from None
        with self.db.write() as s:
            return launcher.launch(
                s, config, model_id=model.id, author=author or self.settings.user
            )

    def estimate_study(self, config: StudyConfig) -> Any:
        """Stages, cache hits, tokens and time of a study before launching it."""
        from engine.pipeline.estimate import estimate
        from engine.train import registry

        try:
            model = registry.resolve(config.model, self.settings)
        except InputError as exc:
            raise InputError(exc.detail, field="model") from None
        with self.db.read() as s:
            return estimate(s, config, model_id=model.id)

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
        study = self.get_study(study_id)
        job_ids = {
            st.job_id
            for run in study.runs
            for st in run.stages
            if st.job_id is not None and st.state in ("queued", "running")
        }
        with self.db.write() as s:
            for job_id in sorted(job_ids):
                jobstore.request_cancel(s, job_id, by=self.settings.user)
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
                                    "path": str(self.artifacts.path(a.artifact)),
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
        from engine.data import demos as demodata

        demos = demodata.parse_demos_jsonl(data, source=filename)
        art = self.artifacts.put_bytes(
            data, kind="aft_demos_import", media_type="application/jsonl"
        )
        preview = [
            {"id": d.id, "prompt": d.prompt, "reasoning": d.reasoning, "response": d.response}
            for d in demos[:5]
        ]
        with self.db.write() as s:
            return datastore.add(
                s,
                kind="aft_demos_import",
                name=filename,
                artifact_id=art.id,
                n_rows=len(demos),
                provenance={"imported_from": filename, "coverage": demodata.coverage(demos)},
                preview=preview,
                created_by=author or self.settings.user,
            )

    def list_datasets(self, kind: str | None = None, limit: int = 100) -> list[e.Dataset]:
        with self.db.read() as s:
            return datastore.list_datasets(s, kind=kind, limit=limit)

    # -- evaluations -----------------------------------------------------------------------

    def _eval_stage_ids(self, run_id: int, suite: str | None = None) -> list[int]:
        kinds = {"spec_qa": ("eval_qa",), "agentic": ("eval_agentic",)}.get(
            suite or "", ("eval_qa", "eval_agentic")
        )
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

    # -- comparisons and reports -------------------------------------------------------------

    def compare_study(self, study_id: int, pairs: list[Any] | None = None) -> Any:
        """Variant × arm numbers with intervals, paired comparisons (Holm), breakdowns."""
        from engine.compare import compare_study

        return compare_study(self.db, study_id, pairs)

    def study_snapshot(
        self, study_id: int, title: str = "", pairs: list[Any] | None = None
    ) -> dict[str, Any]:
        comparison = self.compare_study(study_id, pairs)
        return dict(comparison.to_snapshot(title or self.get_study(study_id).name))

    def flipped_samples(
        self, study_id: int, a: tuple[str, str], b: tuple[str, str], limit: int = 20
    ) -> Any:
        """Samples of the same item whose verdict differs between cells ``a`` and ``b``."""
        from engine.compare import flipped_samples

        return flipped_samples(self.db, study_id, a, b, limit=limit)

    def freeze_report(
        self,
        study_id: int,
        *,
        title: str,
        author: str | None = None,
        pairs: list[Any] | None = None,
    ) -> Any:
        """Freeze the study's comparison as an immutable report (numbers and chart specs)."""
        from engine import reports

        snapshot = self.study_snapshot(study_id, title, pairs)
        return reports.freeze(
            self.db, study_id=study_id, snapshot=snapshot, title=title,
            author=author or self.settings.user,
        )  # fmt: skip

    def get_report(self, report_id: str) -> Any:
        from engine import reports

        return reports.get_report(self.db, report_id)

    def list_reports(self, limit: int = 20) -> Any:
        from engine import reports

        return reports.list_reports(self.db, limit=limit)

    def share_report(
        self, report_id: str, *, days: float | None, author: str | None = None
    ) -> tuple[str, Any]:
        """A read-only share token for a report (shown once), expiring after ``days``."""
        from datetime import timedelta

        from engine import reports

        expires = timedelta(days=days) if days else None
        return reports.create_share_link(
            self.db, report_id, author=author or self.settings.user, expires_in=expires
        )

    def list_shares(self, report_id: str) -> Any:
        from engine import reports

        return reports.list_shares(self.db, report_id)

    def revoke_share(self, share_id: int) -> Any:
        from engine import reports

        return reports.revoke(self.db, share_id)

    def open_shared(self, token: str) -> Any:
        from engine import reports

        return reports.open_shared(self.db, token)

    def export_report(self, report_id: str, fmt: str) -> str:
        """A report as a self-contained HTML file, CSV or JSON."""
        from engine import reports

        report = reports.get_report(self.db, report_id)
        exporters = {
            "html": reports.export_html,
            "csv": reports.export_csv,
            "json": reports.export_json,
        }
        if fmt not in exporters:
            raise InputError(f"unknown format {fmt!r}; use html, csv or json", field="format")
        return exporters[fmt](report)
