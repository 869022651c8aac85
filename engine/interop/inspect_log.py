"""Inspect eval logs out and in: a run's suite as an ``inspect_ai`` log, and a log as samples.

Out: :func:`export_log` turns one run × suite (its samples and metrics) into an Inspect
:class:`~inspect_ai.log.EvalLog`, built with Inspect's own types, and writes it in the
``eval`` (zip) or ``json`` format, which ``inspect_ai.log.read_eval_log`` reads and
``inspect view`` opens. The eval spec carries the task (``speclab/<suite>``), the model, the
dataset and the stage's settings; every sample carries its input messages, the model's output,
one score per verdict (headline first) with the judge's reasoning as explanation, and SpecLab's
own fields in its metadata; the results carry Inspect-style ``accuracy``/``mean`` and
``stderr`` per score plus SpecLab's rate or mean with its 95% interval, and every stored metric
(breakdowns included) in ``results.metadata``.

In: :func:`read_log` reads a log of either shape it knows and returns the sample rows and
metrics the store keeps for an evaluation stage:

- a log SpecLab wrote (``eval.metadata["speclab"]``): samples and metrics come back as stored;
- a log of Inspect's agentic-misalignment task: each sample has a score (e.g.
  ``harmfulness_scorer``) whose value holds ``harmful`` and ``classifier_verdict``; the
  headline verdict is ``harmful``, both are kept, and rates are computed with Wilson intervals.

Anything else is refused with an error naming the file and the field at fault.
``inspect_ai`` is imported inside these functions only: the dashboard never loads it at
start-up.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from db.entities import EvalSample, MetricPoint, Run, Stage
from engine.errors import InputError, SpecLabError
from engine.evals import stats
from engine.evals.runner import MetricValue

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog, EvalScore
    from inspect_ai.log import EvalSample as InspectSample
    from inspect_ai.model import ChatMessage

#: Version of what SpecLab writes into ``eval.metadata["speclab"]`` and sample metadata.
FORMAT_VERSION = 1
Format = Literal["eval", "json"]
FORMATS: tuple[Format, ...] = ("eval", "json")
#: Largest log file read (bytes), and most samples one log may hold.
MAX_LOG_BYTES = 256 * 1024 * 1024
MAX_SAMPLES = 100_000
_SUITE_RE = re.compile(r"[a-z][a-z0-9_]{0,49}")
#: The score-value keys of Inspect's agentic-misalignment scorers.
AM_KEYS = ("harmful", "classifier_verdict")
_CONTROL_RE = re.compile("[\x00\ud800-\udfff]")


# -- out ------------------------------------------------------------------------------------


def is_rate_suite(suite: str) -> bool:
    """Agentic suites score each sample harmful (1) or not (0) and report a rate; the others
    (spec_qa) score 0–10 and report a mean."""
    return suite.startswith("agentic")


def rate_metric(suite: str) -> str:
    """The stage metric holding the suite's headline rate or mean, with its interval."""
    return f"{suite}.harmful_rate" if is_rate_suite(suite) else f"{suite}.score"


def headline_score(sample: EvalSample) -> str:
    """The name of the score that carries a sample's headline verdict: ``harmful`` or
    ``score``, or ``headline`` where a judge of that name already has its own score."""
    name = "harmful" if is_rate_suite(sample.suite) else "score"
    return "headline" if name in sample.verdicts else name


@dataclass(frozen=True)
class RunExport:
    """What one exported log is made of: a run's samples and metrics of one suite.

    Attributes:
        run: the run (its model, variant, arm and seed go into the eval spec).
        suite: ``agentic`` or ``spec_qa``.
        stages: the run's evaluation stages of that suite (their settings are the task args).
        samples: every sample of those stages, in id order.
        metrics: every metric of those stages.
    """

    run: Run
    suite: str
    stages: Sequence[Stage]
    samples: Sequence[EvalSample]
    metrics: Sequence[MetricPoint]


def _input_messages(sample: EvalSample) -> list[ChatMessage]:
    """The conversation the model was given. Agentic prompts are stored as ``system + "\\n\\n"
    + user``; rendering the condition again splits them back when it reproduces the prompt."""
    from inspect_ai.model import ChatMessageSystem, ChatMessageUser

    if sample.suite == "agentic":
        from engine.evals import agentic

        try:
            r = agentic.render(agentic.Condition.parse(sample.condition), sample.sample_index)
        except (SpecLabError, ValueError, KeyError):
            r = None  # not one of our conditions (another suite's id): kept as one message
        if r is not None and f"{r.system}\n\n{r.user}" == sample.prompt:
            return [ChatMessageSystem(content=r.system), ChatMessageUser(content=r.user)]
    return [ChatMessageUser(content=sample.prompt)]


def _sample_scores(sample: EvalSample) -> dict[str, Any]:
    """The headline verdict under its suite's score name, then one score per other judge
    that gave a verdict."""
    from inspect_ai.scorer import Score

    headline = headline_score(sample)
    scores: dict[str, Any] = {}
    if sample.score is not None:
        scores[headline] = Score(
            value=float(sample.score),
            explanation=sample.judge_reasoning or None,
            metadata={"judge": sample.judge},
        )
    for judge, verdict in sample.verdicts.items():
        if not isinstance(verdict, Mapping) or judge in scores:
            continue
        value = next(
            (verdict[k] for k in ("harmful", "score", "value") if verdict.get(k) is not None),
            None,
        )
        if isinstance(value, bool | int | float):
            why = verdict.get("reasoning", verdict.get("reasons"))
            why = "; ".join(map(str, why)) if isinstance(why, list) else str(why or "")
            scores[judge] = Score(
                value=float(value),
                explanation=why or None,
                metadata={"prompt_version": verdict.get("prompt_version")},
            )
    return scores


def _inspect_sample(sample: EvalSample, model: str, sample_id: str) -> InspectSample:
    from inspect_ai.log import EvalSample as InspectSample
    from inspect_ai.model import ChatMessageAssistant, ModelOutput

    messages = _input_messages(sample)
    return InspectSample(
        id=sample_id,
        epoch=1,
        input=messages,
        target="",
        messages=[*messages, ChatMessageAssistant(content=sample.response, model=model)],
        output=ModelOutput.from_content(model=model, content=sample.response),
        scores=_sample_scores(sample),
        metadata={
            "condition": sample.condition,
            "clause": sample.clause_code,
            "verdicts": sample.verdicts,
            "judge": sample.judge,
            "speclab": {
                "format_version": FORMAT_VERSION,
                "sample_id": sample.id,
                "suite": sample.suite,
                "item_id": sample.item_id,
                "sample_index": sample.sample_index,
                "parsed_actions": sample.parsed_actions,
                "score": sample.score,
                "headline_score": headline_score(sample),
            },
        },
    )


def _stderr(values: Sequence[float]) -> float:
    """Inspect's ``stderr``: the sample standard deviation over √n (0 below two values)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


def _eval_scores(
    suite: str, samples: Sequence[Any], rate: MetricPoint | None, scorer: str, headline: str
) -> list[EvalScore]:
    """Per score name: ``accuracy`` (agentic, a harmful fraction) or ``mean`` (spec_qa) and
    ``stderr`` as Inspect computes them; the headline also gets SpecLab's rate or mean with
    its 95% interval."""
    from inspect_ai.log import EvalMetric, EvalScore

    names: list[str] = list(dict.fromkeys(n for s in samples for n in (s.scores or {})))
    out = []
    for name in names:
        values = [
            float(s.scores[name].value)
            for s in samples
            if s.scores and name in s.scores and isinstance(s.scores[name].value, int | float)
        ]
        first = "accuracy" if is_rate_suite(suite) else "mean"
        metrics = {
            first: EvalMetric(name=first, value=sum(values) / len(values) if values else 0.0),
            "stderr": EvalMetric(name="stderr", value=_stderr(values)),
        }
        if name == headline and rate is not None:
            label = rate.name.split(".", 1)[1]
            metrics[label] = EvalMetric(
                name=label,
                value=rate.value,
                metadata={"ci_low": rate.ci_low, "ci_high": rate.ci_high, "n": rate.n,
                          "interval": "95%"},
            )  # fmt: skip
        out.append(
            EvalScore(
                name=name,
                scorer=scorer if name == headline else name,
                scored_samples=len(values),
                unscored_samples=len(samples) - len(values),
                metrics=metrics,
            )
        )
    return out


def _unique_ids(samples: Sequence[EvalSample]) -> list[str]:
    """``item:index`` per sample (stable across runs, so Inspect can line samples up); the
    store's id is appended where two samples would share one."""
    ids = [f"{s.item_id}:{s.sample_index}" for s in samples]
    seen: dict[str, int] = {}
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
    return [i if seen[i] == 1 else f"{i}:{s.id}" for i, s in zip(ids, samples, strict=True)]


def build_log(src: RunExport) -> EvalLog:
    """The Inspect eval log of one run × suite (see the module docstring for its contents)."""
    from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalResults, EvalSpec, EvalStats
    from inspect_ai.model import GenerateConfig

    run, suite = src.run, src.suite
    if not src.samples:
        raise InputError(f"run {run.id} has no {suite} samples to export", field="suite")
    ids = _unique_ids(src.samples)
    samples = [_inspect_sample(s, run.model, i) for s, i in zip(src.samples, ids, strict=True)]
    stage = src.stages[0] if src.stages else None
    settings = dict(stage.config.get("config", {})) if stage else {}
    rate = next((m for m in src.metrics if m.name == rate_metric(suite)), None)
    judge = next((s.judge for s in src.samples if s.judge), "speclab")
    created = (stage.created_at if stage else run.created_at).isoformat()
    spec = EvalSpec(
        created=created,
        task=f"speclab/{suite}",
        task_id=f"{suite}-{stage.key[:16]}" if stage else suite,
        run_id=f"speclab-run{run.id}",
        task_version=FORMAT_VERSION,
        task_args=settings,
        dataset=EvalDataset(name=suite, samples=len(samples), sample_ids=list(ids)),
        model=run.model,
        model_generate_config=GenerateConfig(
            max_tokens=settings.get("max_new_tokens"),
            temperature=settings.get("temperature"),
            seed=settings.get("seed"),
        ),
        config=EvalConfig(),
        metadata={
            "speclab": {
                "format_version": FORMAT_VERSION,
                "suite": suite,
                "run_id": run.id,
                "study_id": run.study_id,
                "variant": run.variant_name,
                "arm": run.arm,
                "seed": run.seed,
                "stage_keys": [s.key for s in src.stages],
            }
        },
    )
    results = EvalResults(
        total_samples=len(samples),
        completed_samples=len(samples),
        scores=_eval_scores(suite, samples, rate, judge, headline_score(src.samples[0])),
        metadata={
            "speclab_metrics": [
                {"name": m.name, "value": m.value, "ci_low": m.ci_low, "ci_high": m.ci_high,
                 "n": m.n}
                for m in src.metrics
            ]
        },
    )  # fmt: skip
    return EvalLog(
        status="success",
        eval=spec,
        results=results,
        stats=EvalStats(started_at=created, completed_at=created),
        samples=samples,
    )


def write_log(log: EvalLog, fmt: Format) -> bytes:
    """The bytes of ``log`` in Inspect's ``eval`` (zip) or ``json`` format, written by
    Inspect's own writer."""
    from inspect_ai.log import write_eval_log

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use eval or json", field="format")
    with tempfile.TemporaryDirectory(prefix="speclab-inspect-") as tmp:
        path = Path(tmp) / f"log.{fmt}"
        write_eval_log(log, str(path), format=fmt)
        return path.read_bytes()


def export_log(src: RunExport, fmt: Format = "eval") -> bytes:
    """One run × suite as the bytes of an Inspect eval log file."""
    return write_log(build_log(src), fmt)


def file_name(run_id: int, suite: str, fmt: str) -> str:
    """The name a downloaded log is saved under (built from ids and our own names only)."""
    return f"speclab-run{run_id}-{suite}.{fmt}"


# -- in -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedLog:
    """A log read back as what an evaluation stage stores.

    Attributes:
        sha256: hash of the file's bytes (re-importing the same file finds it by this).
        filename: the file's name as given (shown as text, never used as a path).
        shape: ``speclab`` (a log SpecLab wrote) or ``agentic_misalignment`` (Inspect's task).
        task: the log's task name.
        model: the model the log evaluated.
        suite: the SpecLab suite its samples belong to (``agentic`` or ``spec_qa``).
        created: when the log says the evaluation was created.
        task_args: the task's arguments as the log records them.
        rows: one dict per sample, in the form :func:`db.evals.replace_samples` stores.
        metrics: the stage's metrics (headline rate or mean with its interval, breakdowns).
    """

    sha256: str
    filename: str
    shape: str
    task: str
    model: str
    suite: str
    created: str
    task_args: dict[str, Any]
    rows: list[dict[str, Any]] = field(repr=False)
    metrics: list[MetricValue]

    def provenance(self) -> dict[str, Any]:
        """What studies, runs and stages record as ``imported_from``."""
        return {
            "format": "inspect",
            "file": self.filename,
            "sha256": self.sha256,
            "shape": self.shape,
            "task": self.task,
            "model": self.model,
            "suite": self.suite,
            "created": self.created,
            "samples": len(self.rows),
        }


def _clean(value: Any) -> Any:
    """``value`` with NUL characters and lone surrogates replaced in every string: PostgreSQL
    refuses the first and UTF-8 cannot encode the second."""
    if isinstance(value, str):
        return _CONTROL_RE.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _text(messages: Any) -> str:
    """The text of a sample's input: a string, or its messages' texts joined by blank lines
    (which gives back exactly the prompt SpecLab stored for its own agentic samples)."""
    if isinstance(messages, str):
        return messages
    return "\n\n".join(m.text for m in messages)


def _response(sample: InspectSample) -> str:
    if sample.output is not None and sample.output.choices:
        return sample.output.completion
    replies = [m for m in sample.messages if m.role == "assistant"]
    return replies[-1].text if replies else ""


def _flag(value: Any, source: str, where: str) -> bool:
    """A verdict written as a bool, 0/1, or Inspect's ``C``/``I``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if value in ("C", "I"):
        return bool(value == "C")
    raise InputError(
        f"expected true/false or 0/1, got {str(value)[:40]!r}", source=source, field=where
    )


def _read(data: bytes, source: str) -> EvalLog:
    from inspect_ai.log import read_eval_log

    if not data:
        raise InputError("file is empty", source=source)
    if len(data) > MAX_LOG_BYTES:
        raise InputError(
            f"file is {len(data):,} bytes; the limit is {MAX_LOG_BYTES:,}", source=source
        )
    fmt: Format = "eval" if data[:4] == b"PK\x03\x04" else "json"
    try:
        return read_eval_log(io.BytesIO(data), format=fmt)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(
            f"not an Inspect eval log ({fmt} format): {err['msg']}",
            source=source,
            field=".".join(str(p) for p in err["loc"])[:200] or None,
        ) from None
    except (ValueError, KeyError, TypeError, OSError, zipfile.BadZipFile) as exc:
        # pydantic's ValidationError and json's JSONDecodeError are ValueErrors.
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"not an Inspect eval log ({fmt} format): {first}", source=source
        ) from None


def _index(value: Any, source: str, i: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    raise InputError(
        f"expected a whole number, got {str(value)[:40]!r}",
        source=source,
        field=f"samples[{i}].metadata.speclab.sample_index",
    )


def _speclab_rows(
    log: EvalLog, samples: Sequence[InspectSample], suite: str, source: str
) -> list[dict[str, Any]]:
    rows = []
    for i, s in enumerate(samples):
        meta = s.metadata or {}
        ours = meta.get("speclab")
        if not isinstance(ours, Mapping):
            raise InputError(
                "missing SpecLab's sample fields", source=source, field=f"samples[{i}].metadata"
            )
        value = ours.get("score")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InputError(
                f"expected a number or null, got {str(value)[:40]!r}",
                source=source,
                field=f"samples[{i}].metadata.speclab.score",
            )
        score = (s.scores or {}).get(str(ours.get("headline_score", "")))
        verdicts = meta.get("verdicts", {})
        actions = ours.get("parsed_actions", [])
        if not isinstance(verdicts, Mapping) or not isinstance(actions, list):
            raise InputError(
                "verdicts must be a mapping and parsed_actions a list",
                source=source,
                field=f"samples[{i}].metadata",
            )
        rows.append(
            {
                "suite": suite,
                "item_id": str(ours.get("item_id", s.id))[:200],
                "sample_index": _index(ours.get("sample_index", s.epoch - 1), source, i),
                "condition": str(meta.get("condition") or "")[:200],
                "clause_code": str(meta.get("clause") or "")[:50],
                "prompt": _text(s.input),
                "response": _response(s),
                "parsed_actions": actions,
                "verdicts": dict(verdicts),
                "score": None if value is None else float(value),
                "judge": str(meta.get("judge", ""))[:200],
                "judge_reasoning": (score.explanation or "") if score is not None else "",
            }
        )
    return rows


def _speclab_metrics(log: EvalLog, source: str) -> list[MetricValue]:
    raw = (log.results.metadata or {}).get("speclab_metrics", []) if log.results else []
    if not isinstance(raw, list):
        raise InputError("expected a list", source=source, field="results.metadata")
    out = []
    for i, m in enumerate(raw):
        try:
            out.append(
                MetricValue(
                    name=str(m["name"])[:200],
                    value=float(m["value"]),
                    ci_low=None if m.get("ci_low") is None else float(m["ci_low"]),
                    ci_high=None if m.get("ci_high") is None else float(m["ci_high"]),
                    n=int(m.get("n") or 0),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise InputError(
                "each metric needs a name and a numeric value",
                source=source,
                field=f"results.metadata.speclab_metrics[{i}]",
            ) from None
    return out


def _am_condition(log: EvalLog, sample: InspectSample) -> str:
    """The published condition id ``{scenario}_{goal_type}-{goal_value}_{urgency_type}``:
    from the sample's metadata when it says, else from the task's arguments."""
    meta = sample.metadata or {}
    if isinstance(meta.get("condition"), str) and meta["condition"]:
        return str(meta["condition"])
    args = {**log.eval.task_args, **meta}
    parts = [args.get(k) for k in ("scenario", "goal_type", "goal_value", "urgency_type")]
    if all(isinstance(p, str) and p for p in parts):
        return f"{parts[0]}_{parts[1]}-{parts[2]}_{parts[3]}"
    return str(sample.id)


def _am_score(sample: InspectSample) -> tuple[str, Any] | None:
    """The (name, score) of the sample's agentic-misalignment score, if it has one."""
    for name, score in (sample.scores or {}).items():
        if isinstance(score.value, Mapping) and all(k in score.value for k in AM_KEYS):
            return name, score
    return None


def _am_rows(log: EvalLog, samples: Sequence[InspectSample], source: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    per_condition: dict[str, int] = {}
    for i, s in enumerate(samples):
        found = _am_score(s)
        if found is None:
            raise InputError(
                "no score whose value holds 'harmful' and 'classifier_verdict' "
                f"(scores here: {', '.join(s.scores or {}) or 'none'})",
                source=source,
                field=f"samples[{i}].scores",
            )
        name, score = found
        where = f"samples[{i}].scores.{name}.value"
        harmful = _flag(score.value["harmful"], source, f"{where}.harmful")
        verdict = _flag(score.value["classifier_verdict"], source, f"{where}.classifier_verdict")
        condition = _am_condition(log, s)[:200]
        index = per_condition.get(condition, 0)
        per_condition[condition] = index + 1
        rows.append(
            {
                "suite": "agentic",
                "item_id": condition,
                "sample_index": index,
                "condition": condition,
                "clause_code": "",
                "prompt": _text(s.input),
                "response": _response(s),
                "parsed_actions": [],
                "verdicts": {
                    name: {
                        "harmful": harmful,
                        "classifier_verdict": verdict,
                        "reasoning": score.explanation or "",
                        "headline": True,
                        "sample_id": str(s.id),
                        "epoch": s.epoch,
                    }
                },
                "score": 1.0 if harmful else 0.0,
                "judge": f"{name}@inspect",
                "judge_reasoning": score.explanation or "",
            }
        )
    return rows


def _rate(name: str, flags: Sequence[bool]) -> MetricValue:
    i = stats.rate_interval(flags)
    return MetricValue(name, i.estimate, i.low, i.high, i.n)


def _am_metrics(rows: Sequence[dict[str, Any]]) -> list[MetricValue]:
    """Both published numbers overall, and the headline per condition."""
    harmful = [r["score"] == 1.0 for r in rows]
    verdicts = [next(iter(r["verdicts"].values()))["classifier_verdict"] for r in rows]
    out = [
        _rate("agentic.harmful_rate", harmful),
        _rate("agentic.classifier_verdict_rate", verdicts),
    ]
    by_condition: dict[str, list[bool]] = {}
    for r, h in zip(rows, harmful, strict=True):
        by_condition.setdefault(r["condition"], []).append(h)
    out += [_rate(f"agentic.harmful_rate/{c}", by_condition[c]) for c in sorted(by_condition)]
    return out


def read_log(data: bytes, filename: str) -> ImportedLog:
    """Read an Inspect eval log (``eval`` or ``json`` format, told apart by its bytes).

    Raises:
        InputError: the bytes are not an Inspect log, or its samples are in neither known
            shape; the message names the file and the field at fault.
    """
    source = filename[:200] or "log"
    log = _read(data, source)
    samples = log.samples or []
    if not samples:
        raise InputError("the log holds no samples", source=source, field="samples")
    if len(samples) > MAX_SAMPLES:
        raise InputError(
            f"{len(samples):,} samples; the limit is {MAX_SAMPLES:,}", source=source,
            field="samples",
        )  # fmt: skip
    ours = (log.eval.metadata or {}).get("speclab")
    if isinstance(ours, Mapping):
        suite = ours.get("suite")
        if not isinstance(suite, str) or not _SUITE_RE.fullmatch(suite):
            raise InputError(
                f"not a suite name: {str(suite)[:40]!r}",
                source=source,
                field="eval.metadata.speclab.suite",
            )
        shape = "speclab"
        rows = _speclab_rows(log, samples, str(suite), source)
        metrics = _speclab_metrics(log, source)
    else:
        shape, suite = "agentic_misalignment", "agentic"
        rows = _am_rows(log, samples, source)
        metrics = _am_metrics(rows)
    return ImportedLog(
        sha256=hashlib.sha256(data).hexdigest(),
        filename=source,
        shape=shape,
        task=str(log.eval.task)[:200],
        model=str(log.eval.model)[:500],
        suite=str(suite),
        created=str(log.eval.created)[:40],
        task_args=_clean(dict(log.eval.task_args or {})),
        rows=[_clean(r) for r in rows],
        metrics=metrics,
    )


@dataclass(frozen=True)
class InspectImport:
    """What importing a log stored (or found already stored: ``created`` is False).

    Attributes:
        study_id: the study named after the log, holding its one run.
        run_id: the run whose evaluation stage holds the log's samples.
        stage_id: that finished stage (no job: nothing ever runs it).
        samples: how many samples it holds.
        created: False when the same file had been imported before (nothing was written).
        origin: the log's provenance, as recorded in ``imported_from``.
    """

    study_id: int
    run_id: int
    stage_id: int
    samples: int
    created: bool
    origin: dict[str, Any]


def origin_label(origin: Mapping[str, Any]) -> str:
    """ "imported from FILE (Inspect task T, model M)": how pages and the CLI name an import."""
    return (
        f"imported from {origin.get('file', '?')} "
        f"(Inspect task {origin.get('task', '?')}, model {origin.get('model', '?')})"
    )


def import_key(sha256: str) -> str:
    """The key of the stage holding an imported log: derived from the file's hash (so a
    re-import finds it) and in a namespace no planned stage's key can fall into."""
    return hashlib.sha256(f"inspect-import:{sha256}".encode()).hexdigest()
