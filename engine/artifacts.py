"""The content-addressed artifact store.

A file's location is ``<SPECLAB_HOME>/artifacts/<sha[:2]>/<sha>``: it derives from the hash of
its content only, never from a name a user typed, so no input can escape the store.

Writes are atomic and idempotent, which is what makes the queue's at-least-once delivery safe:
content is written to a temporary name in the target's folder, flushed to disk (``fsync``),
and renamed into place, so the content name holds the whole content or does not exist — a
worker killed mid-write leaves at most a ``.tmp-*`` file that nothing reads. Writing the same
content again (a re-run of a stage whose worker died before it recorded success) finds the
file and the database row already there and returns the same record.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from db import artifacts as store
from db.entities import Artifact
from db.session import Database
from engine.errors import ConflictError, NotFoundError

SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class ArtifactStore:
    """Files by hash under one root folder, recorded in the database."""

    def __init__(self, root: Path, database: Database) -> None:
        self.root = root
        self.db = database

    def relpath(self, sha256: str) -> str:
        if not SHA_RE.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return f"{sha256[:2]}/{sha256}"

    def path(self, artifact: Artifact) -> Path:
        return self.root / self.relpath(artifact.sha256)

    def put_bytes(self, data: bytes, *, kind: str, media_type: str) -> Artifact:
        """Store ``data`` (once per content) and return its record."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.root / self.relpath(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(target.parent)
        return self._record(sha, kind, len(data), media_type)

    def _record(self, sha: str, kind: str, size: int, media_type: str) -> Artifact:
        try:
            with self.db.write() as s:
                return store.record(
                    s,
                    sha256=sha,
                    kind=kind,
                    path=self.relpath(sha),
                    size=size,
                    media_type=media_type,
                )
        except ConflictError:
            # Another worker recorded the same content between our look-up and our insert
            # (the hash is unique): its row is the record.
            with self.db.read() as s:
                return store.get_by_sha(s, sha)

    def put_dir(self, source: Path, *, kind: str) -> Artifact:
        """Store a folder (a model adapter, a checkpoint) as one artifact.

        Its hash covers every file's relative path and content, so the same folder is stored
        once. The copy is made next to the target, flushed, and renamed into place atomically.
        """
        files = sorted(p for p in source.rglob("*") if p.is_file())
        manifest = hashlib.sha256()
        total = 0
        for f in files:
            rel = f.relative_to(source).as_posix()
            manifest.update(rel.encode("utf-8") + b"\0")
            manifest.update(file_sha256(f).encode("ascii") + b"\n")
            total += f.stat().st_size
        sha = manifest.hexdigest()
        target = self.root / self.relpath(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
            try:
                shutil.copytree(source, tmp, dirs_exist_ok=True)
                for f in sorted(tmp.rglob("*"), reverse=True):  # files before their folders
                    _fsync_path(f)
                _fsync_dir(tmp)
                _replace_dir(tmp, target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            _fsync_dir(target.parent)
        return self._record(sha, kind, total, "inode/directory")

    def read_bytes(self, artifact: Artifact) -> bytes:
        p = self.path(artifact)
        if not p.exists():
            raise NotFoundError(f"artifact {artifact.sha256} is recorded but missing at {p}")
        return p.read_bytes()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's content, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _replace_dir(tmp: Path, target: Path) -> None:
    """Rename a finished folder into place; if another writer got there first (same hash,
    so the same content), keep theirs and drop ours."""
    try:
        os.replace(tmp, target)
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _fsync_path(path: Path) -> None:
    if path.is_dir():
        _fsync_dir(path)
        return
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (a no-op where folders can't be
    opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
