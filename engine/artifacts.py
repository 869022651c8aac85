"""The content-addressed artifact store.

A file's location is ``<SPECLAB_HOME>/artifacts/<sha[:2]>/<sha>``: it derives from the hash of
its content only, never from a name a user typed, so no input can escape the store.
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
from engine.errors import NotFoundError

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
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return self._record(sha, kind, len(data), media_type)

    def _record(self, sha: str, kind: str, size: int, media_type: str) -> Artifact:
        with self.db.write() as s:
            return store.record(
                s, sha256=sha, kind=kind, path=self.relpath(sha), size=size, media_type=media_type
            )

    def put_dir(self, source: Path, *, kind: str) -> Artifact:
        """Store a folder (a model adapter, a checkpoint) as one artifact.

        Its hash covers every file's relative path and content, so the same folder is stored
        once. The copy is made next to the target and renamed into place atomically.
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
                os.replace(tmp, target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
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
