"""Generating with a backend in batches, resumably: what data generators share.

A generator (the SDF document funnel, a demonstration writer…) names every model call with a
stable key ("SP1/doc/3/1/0") and hands them to a :class:`BatchRunner` step by step. The runner
sends the calls it has no answer for to the backend ``batch_size`` at a time and appends each
finished batch to a :class:`Journal` (a JSONL file in the stage's work folder). A job that is
killed and re-queued runs the same generator again: every call answered before the kill is
read back from the journal instead of being generated again, so the work already done is kept
and the generator's later steps see the same texts as before.

An answer is reused only for the same key *and* the same request (messages and sampling
settings, hashed), so a journal left by different settings is never mistaken for this run's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.backends.base import GenerationBackend, GenerationParams, Message
from engine.errors import SpecLabError

#: The journal's record format; a record of another version is not reused.
JOURNAL_VERSION = 1

BatchFn = Callable[[int, int], None]


@dataclass(frozen=True)
class Request:
    """One model call: a stable ``key`` (unique within a run) and the conversation to send."""

    key: str
    messages: tuple[Message, ...]

    @classmethod
    def user(cls, key: str, prompt: str) -> Request:
        """A one-turn request: ``prompt`` as the user's message."""
        return cls(key, ({"role": "user", "content": prompt},))


def request_hash(request: Request, params: GenerationParams) -> str:
    """What an answer depends on: the conversation and the sampling settings (not the batch
    size, which only decides how requests are grouped)."""
    settings = asdict(params)
    settings.pop("batch_size", None)
    payload = json.dumps(
        {"messages": [dict(m) for m in request.messages], "params": settings},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Journal:
    """Answers already generated, by key; kept in memory and, with a ``path``, in a JSONL file.

    Each line is ``{"v", "key", "hash", "text"}``. Appends are flushed after every batch, so a
    process killed at any moment leaves every finished batch on disk; a line cut short by the
    kill (the last one) is ignored when the file is read back.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._answers: dict[str, tuple[str, str]] = {}
        self.unreadable = 0
        # A line cut short by a kill must not swallow the first record appended after it.
        self._needs_newline = False
        if path is not None and path.is_file():
            with path.open(encoding="utf-8", errors="replace") as f:
                for line in f:
                    self._load(line)
                    self._needs_newline = not line.endswith("\n")

    def _load(self, line: str) -> None:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            self.unreadable += 1
            return
        if (
            isinstance(rec, dict)
            and rec.get("v") == JOURNAL_VERSION
            and isinstance(rec.get("key"), str)
            and isinstance(rec.get("hash"), str)
            and isinstance(rec.get("text"), str)
        ):
            self._answers[rec["key"]] = (rec["hash"], rec["text"])
        else:
            self.unreadable += 1

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: str, digest: str) -> str | None:
        """The stored answer for ``key`` when it was generated for the request ``digest``."""
        hit = self._answers.get(key)
        return hit[1] if hit is not None and hit[0] == digest else None

    def add(self, entries: Sequence[tuple[str, str, str]]) -> None:
        """Store ``(key, digest, text)`` entries (one batch) and flush them to the file."""
        for key, digest, text in entries:
            self._answers[key] = (digest, text)
        if self.path is None or not entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            if self._needs_newline:
                f.write("\n")
                self._needs_newline = False
            for key, digest, text in entries:
                rec = {"v": JOURNAL_VERSION, "key": key, "hash": digest, "text": text}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()


class BatchRunner:
    """Runs requests through a backend in batches, reusing what the journal already holds.

    Args:
        backend: any :class:`~engine.backends.base.GenerationBackend`.
        journal: where finished answers are kept (default: in memory only).
        batch_size: requests per ``backend.chat`` call, and so how often progress is saved.
        check: called before every batch; it raises to stop (cancellation).

    Attributes:
        generated: answers the backend produced in this process.
        reused: answers read back from the journal instead.
    """

    def __init__(
        self,
        backend: GenerationBackend,
        *,
        journal: Journal | None = None,
        batch_size: int = 16,
        check: Callable[[], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.backend = backend
        self.journal = journal if journal is not None else Journal()
        self.batch_size = batch_size
        self.check = check
        self.generated = 0
        self.reused = 0

    def run(
        self,
        requests: Sequence[Request],
        params: GenerationParams,
        *,
        on_batch: BatchFn | None = None,
    ) -> list[str]:
        """One answer per request, in order. ``on_batch(done, total)`` follows the batches."""
        keys = [r.key for r in requests]
        if len(set(keys)) != len(keys):
            raise ValueError("request keys must be unique within a run")
        digests = [request_hash(r, params) for r in requests]
        out: list[str | None] = [
            self.journal.get(r.key, d) for r, d in zip(requests, digests, strict=True)
        ]
        pending = [i for i, text in enumerate(out) if text is None]
        self.reused += len(requests) - len(pending)
        done = len(requests) - len(pending)
        for start in range(0, len(pending), self.batch_size):
            if self.check is not None:
                self.check()
            batch = pending[start : start + self.batch_size]
            texts = self.backend.chat([list(requests[i].messages) for i in batch], params)
            if len(texts) != len(batch):
                raise SpecLabError(
                    f"the {self.backend.name} backend returned {len(texts)} replies for "
                    f"{len(batch)} conversations; check its batching"
                )
            entries: list[tuple[str, str, str]] = []
            for i, text in zip(batch, texts, strict=True):
                answer = text if isinstance(text, str) else ""
                out[i] = answer
                entries.append((requests[i].key, digests[i], answer))
            self.journal.add(entries)
            self.generated += len(batch)
            done += len(batch)
            if on_batch is not None:
                on_batch(done, len(requests))
        return [text or "" for text in out]

    def counts(self) -> dict[str, Any]:
        """``{"generated", "reused"}``: model calls made here and answers read back."""
        return {"generated": self.generated, "reused": self.reused}


__all__ = ["JOURNAL_VERSION", "BatchRunner", "Journal", "Request", "request_hash"]
