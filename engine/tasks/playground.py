"""Task ``playground``: two or more runs' models answer one prompt, side by side.

A request names the runs (any variant × arm × seed × model, from any study), one prompt and
the sampling settings. The prompt is typed text, a built-in spec-QA question, or one sample of
an agentic scenario condition; for the last two the reply is judged the way the suite judges
it (the agentic world rules, the default QA rubric judge), so a reader sees each model's words
and the instrument's reading of them together. Free text has no judge and the reply says so.

The worker loads each run's final model in turn (base model plus the adapters of its training
stages, the lineage the run's evals used), generates, and stores every reply in the job's
result; nothing else is written. A run whose training has not finished is refused when the
request is made, not half-way through.
"""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from db import studies as studystore
from db.entities import Run
from engine.errors import InputError
from engine.jobs.context import JobContext
from engine.jobs.kinds import JobKind, Resources

NAME: Final = "playground"
MIN_RUNS: Final = 2
MAX_RUNS: Final = 6
MAX_PROMPT_CHARS: Final = 8_000
MAX_NEW_TOKENS: Final = 1_024
PROMPT_KINDS: Final = ("text", "agentic", "spec_qa")


@dataclass(frozen=True)
class Prompt:
    """What every model is asked.

    Attributes:
        kind: ``text`` (typed by the user), ``agentic`` (a scenario sample) or ``spec_qa``
            (a built-in question).
        text: the user message (``text``); the system message goes in ``system``.
        system: an optional system message (``text`` only).
        condition: the agentic condition id (``scenario/goal_conflict/urgency``).
        sample_index: which rendering of that condition.
        question_id: the built-in spec-QA question id (e.g. ``SP1-q1``).
    """

    kind: str
    text: str = ""
    system: str = ""
    condition: str = ""
    sample_index: int = 0
    question_id: str = ""

    def messages(self) -> list[dict[str, str]]:
        """The chat messages, rendered the way the suite renders them."""
        if self.kind == "agentic":
            from engine.evals.agentic.scenarios import Condition, render

            r = render(Condition.parse(self.condition), self.sample_index)
            return [{"role": "system", "content": r.system}, {"role": "user", "content": r.user}]
        if self.kind == "spec_qa":
            from engine.evals import spec_qa

            return spec_qa.conversation(_question(self.question_id))
        system = [{"role": "system", "content": self.system}] if self.system else []
        return [*system, {"role": "user", "content": self.text}]

    def label(self) -> str:
        if self.kind == "agentic":
            return f"agentic {self.condition} #{self.sample_index}"
        if self.kind == "spec_qa":
            return f"spec-QA {self.question_id}"
        return "typed prompt"


@dataclass(frozen=True)
class Request:
    """A validated playground request (the job's payload)."""

    runs: tuple[int, ...]
    prompt: Prompt
    max_new_tokens: int = 128
    temperature: float = 0.0
    seed: int = 0

    def to_payload(self) -> dict[str, Any]:
        p = self.prompt
        return {
            "runs": list(self.runs),
            "prompt": {
                "kind": p.kind,
                "text": p.text,
                "system": p.system,
                "condition": p.condition,
                "sample_index": p.sample_index,
                "question_id": p.question_id,
            },
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Request:
        """Check a request field by field.

        Raises:
            InputError: naming the field at fault.
        """
        runs = payload.get("runs")
        if not isinstance(runs, list) or not all(
            isinstance(r, int) and not isinstance(r, bool) for r in runs
        ):
            raise InputError("runs must be a list of run ids", field="runs")
        runs = list(dict.fromkeys(runs))
        if not MIN_RUNS <= len(runs) <= MAX_RUNS:
            raise InputError(
                f"pick between {MIN_RUNS} and {MAX_RUNS} different runs (got {len(runs)})",
                field="runs",
            )
        raw = payload.get("prompt")
        if not isinstance(raw, Mapping):
            raise InputError("prompt must be an object", field="prompt")
        prompt = _prompt(raw)
        max_new = _number(payload, "max_new_tokens", int, 128, 1, MAX_NEW_TOKENS)
        temperature = _number(payload, "temperature", float, 0.0, 0.0, 2.0)
        seed = _number(payload, "seed", int, 0, 0, 2**31 - 1)
        return cls(tuple(runs), prompt, int(max_new), float(temperature), int(seed))


def _number(
    payload: Mapping[str, Any], key: str, kind: type, default: float, lo: float, hi: float
) -> float:
    value = payload.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok or not lo <= value <= hi:
        raise InputError(f"{key} must be a number from {lo:g} to {hi:g}", field=key)
    return float(value)


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise InputError(f"{key} must be text", field=f"prompt.{key}")
    if len(value) > MAX_PROMPT_CHARS:
        raise InputError(
            f"{key} is {len(value):,} characters; the playground takes at most "
            f"{MAX_PROMPT_CHARS:,}",
            field=f"prompt.{key}",
        )
    return value


def _question(question_id: str) -> Any:
    from engine.evals import spec_qa

    for q in spec_qa.load_builtin():
        if q.id == question_id:
            return q
    raise InputError(f"no built-in spec-QA question {question_id!r}", field="prompt.question_id")


def _prompt(raw: Mapping[str, Any]) -> Prompt:
    kind = raw.get("kind")
    if kind not in PROMPT_KINDS:
        raise InputError(
            f"prompt kind must be one of {', '.join(PROMPT_KINDS)}", field="prompt.kind"
        )
    if kind == "text":
        text = _text(raw, "text")
        if not text.strip():
            raise InputError("type a prompt", field="prompt.text")
        return Prompt("text", text=text, system=_text(raw, "system"))
    if kind == "spec_qa":
        question_id = _text(raw, "question_id")
        _question(question_id)
        return Prompt("spec_qa", question_id=question_id)
    from engine.evals.agentic.scenarios import Condition

    condition = _text(raw, "condition")
    index = raw.get("sample_index", 0)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= 100_000:
        raise InputError(
            "sample_index must be a whole number from 0 to 100000", field="prompt.sample_index"
        )
    try:
        parsed = Condition.parse(condition)
    except InputError as exc:
        raise InputError(str(exc), field="prompt.condition") from None
    return Prompt("agentic", condition=parsed.id, sample_index=index)


def model_stage(run: Run) -> Any:
    """The stage whose model is the run's final one (its last training stage), or ``None``
    for a run with no training (the base model itself).

    Raises:
        InputError: the run's training has not finished.
    """
    from engine.stages.table import STAGES

    order = list(STAGES)
    trained = sorted(
        (s for s in run.stages if s.kind in STAGES and STAGES[s.kind].trains),
        key=lambda s: order.index(s.kind),
    )
    if not trained:
        return None
    last = trained[-1]
    if last.state != "succeeded":
        raise InputError(
            f"run {run.id}'s model is not trained yet (its {last.kind} stage is {last.state})",
            field="runs",
        )
    return last


def describe(run: Run) -> str:
    """How the playground names a run: ``#id variant/arm seed N (model)``."""
    return f"#{run.id} {run.variant_name}/{run.arm} seed {run.seed} ({run.model})"


def _judge(prompt: Prompt, reply: str) -> dict[str, Any] | None:
    """The suite's verdict on ``reply``, or ``None`` for a typed prompt."""
    if prompt.kind == "agentic":
        from engine.evals.agentic.rejudge import AgenticLine, judge_lines, make_judges
        from engine.evals.agentic.scenarios import Condition

        judge, _ = make_judges("agentic_parse")
        line = AgenticLine("reply", Condition.parse(prompt.condition), prompt.sample_index, reply)
        (judged,) = judge_lines([line], judge)
        return {
            "judge": f"{judged.verdict.judge}@{judged.verdict.prompt_version}",
            "harmful": judged.harmful,
            "reasons": judged.verdict.reasoning,
        }
    if prompt.kind == "spec_qa":
        from engine.evals import judges
        from engine.evals.qa.labelled import Answer, rejudge
        from engine.evals.runner import load_judges

        load_judges()
        (row,) = rejudge([Answer("reply", prompt.question_id, reply)], judges.make("qa_rubric"))
        return {"judge": row["judge"], "score": row["score"], "reasons": row["reasons"]}
    return None


def run(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    from engine.backends.base import GenerationParams
    from engine.backends.select import make_backend
    from engine.stages.io import lineage, model_path

    request = Request.from_payload(payload)
    messages = request.prompt.messages()
    params = GenerationParams(
        max_new_tokens=request.max_new_tokens,
        temperature=request.temperature,
        seed=request.seed,
        batch_size=1,
    )
    replies = []
    for i, run_id in enumerate(request.runs):
        with ctx.database.read() as s:
            this = studystore.get_run(s, run_id)
        ctx.progress(i / len(request.runs), f"generating with {describe(this)}")
        stage = model_stage(this)
        path = model_path(ctx, this.model)
        adapters: list[Path] = []
        for art in lineage(ctx.database, stage.key) if stage is not None else []:
            if art.kind == "model":
                path, adapters = str(ctx.artifacts.path(art)), []
            else:
                adapters.append(ctx.artifacts.path(art))
        started = time.monotonic()
        backend = make_backend("auto", model_path=path, adapters=adapters)
        (reply,) = backend.chat([messages], params)
        seconds = time.monotonic() - started
        del backend
        gc.collect()
        ctx.log(f"{describe(this)}: {len(reply)} characters in {seconds:.1f} s")
        replies.append(
            {
                "run_id": this.id,
                "run": describe(this),
                "backend_model": path,
                "adapters": len(adapters),
                "reply": reply,
                "seconds": round(seconds, 2),
                "verdict": _judge(request.prompt, reply),
            }
        )
    ctx.progress(1.0, f"{len(replies)} replies")
    return {"prompt": request.prompt.label(), "messages": messages, "replies": replies}


def verdict_text(verdict: Mapping[str, Any] | None) -> str:
    """One line for a reply's verdict, the way pages show it."""
    if verdict is None:
        return "no judge for a typed prompt"
    if "harmful" in verdict:
        word = {True: "harmful", False: "not harmful", None: "uncertain"}[verdict["harmful"]]
        return f"{word} ({verdict['judge']})"
    score = verdict.get("score")
    shown = "no score" if score is None else f"score {score:g}/10"
    return f"{shown} ({verdict['judge']})"


@dataclass(frozen=True)
class Choices:
    """What a prompt may be besides typed text.

    Attributes:
        conditions: the agentic condition ids (``scenario/goal_conflict/urgency``).
        questions: built-in spec-QA question id → its text.
    """

    conditions: tuple[str, ...]
    questions: Mapping[str, str]


@functools.cache
def choices() -> Choices:
    """The built-in conditions and questions (read once per process: the page asks on every
    rerun)."""
    from engine.evals import spec_qa
    from engine.evals.agentic.scenarios import CONDITIONS

    return Choices(
        conditions=tuple(c.id for c in CONDITIONS),
        questions={q.id: q.question for q in spec_qa.load_builtin()},
    )


@dataclass(frozen=True)
class Reply:
    """One run's reply in a finished request."""

    run_id: int
    run: str
    text: str
    adapters: int
    seconds: float
    verdict: str
    reasons: str


@dataclass(frozen=True)
class Session:
    """A playground request as pages show it: what was asked, of which runs, and the replies
    (empty until the worker has finished)."""

    job_id: int
    state: str
    prompt: str
    messages: tuple[Mapping[str, str], ...]
    runs: tuple[int, ...]
    replies: tuple[Reply, ...]
    progress: str
    error: str
    created_by: str

    @classmethod
    def of(cls, job: Any) -> Session:
        request = Request.from_payload(job.payload)
        result: Mapping[str, Any] = job.result or {}
        replies = tuple(
            Reply(
                int(r["run_id"]),
                str(r["run"]),
                str(r["reply"]),
                int(r["adapters"]),
                float(r["seconds"]),
                verdict_text(r.get("verdict")),
                str((r.get("verdict") or {}).get("reasons", "")),
            )
            for r in result.get("replies", ())
        )
        return cls(
            job_id=job.id,
            state=job.state,
            prompt=request.prompt.label(),
            messages=tuple(result.get("messages", ())),
            runs=request.runs,
            replies=replies,
            progress=job.progress_message,
            error=job.error,
            created_by=job.created_by,
        )


KIND = JobKind(
    name=NAME,
    run=run,
    description="playground: two or more runs' models answer one prompt, side by side",
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
    max_attempts=2,
)
