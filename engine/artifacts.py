"""The content-addressed artifact store.

A file's location is ``<store>/<sha[:2]>/<sha>``: it derives from the hash of its content
only, never from a name a user typed, so no input can escape the store.

The store is a local folder (the default, ``$SPECLAB_HOME/artifacts``; a shared filesystem
mounted on every node is a local folder too) or, with ``SPECLAB_ARTIFACTS``, an fsspec URL
such as ``s3://bucket/prefix`` (with ``SPECLAB_ARTIFACTS_ENDPOINT`` for any S3-compatible
server) that every node of a cluster can reach.

Local writes are atomic and idempotent, which is what makes the queue's at-least-once
delivery safe: content is written to a temporary name in the target's folder, flushed to disk
(``fsync``), and renamed into place, so the content name holds the whole content or does not
exist — a worker killed mid-write leaves at most a ``.tmp-*`` file that nothing reads. Writing
the same content again (a re-run of a stage whose worker died before it recorded success)
finds the file and the database row already there and returns the same record.

With a remote store, the local folder becomes this node's cache (``$SPECLAB_HOME/
artifact-cache``, same layout, same atomic writes). Publishing uploads to a temporary key
and moves it onto the content key (a file) or uploads a folder's files and then its
manifest, ``<sha[:2]>/<sha>.manifest.json``, which lists every file with its sha256 and is
written last: a folder exists in the store once its manifest does. The database row is
recorded only after publishing, so a recorded artifact is always complete in the store.
Reads download into the cache and check the content hash (every file, for a folder) before
the cached copy is renamed into place; cached copies are trusted afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from db import artifacts as store
from db.entities import Artifact
from db.session import Database
from engine.config import Settings
from engine.errors import ConfigError, ConflictError, NotFoundError

SHA_RE = re.compile(r"^[0-9a-f]{64}$")
MANIFEST_SUFFIX = ".manifest.json"


class ArtifactStore:
    """Files by hash in one store (a folder or an fsspec URL), recorded in the database."""

    def __init__(
        self,
        location: str | Path,
        database: Database,
        *,
        cache: Path | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.db = database
        self.remote: RemoteFiles | None = None
        local = local_path(location)
        if local is not None:
            #: Where this process reads files: the store itself, or this node's cache of it.
            self.root = local
        else:
            if cache is None:
                raise ConfigError(f"the artifact store {location} needs a local cache folder")
            self.remote = RemoteFiles(str(location), storage_options or {})
            self.root = cache
        self.location = str(location)

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> ArtifactStore:
        """The store ``settings`` name (``SPECLAB_ARTIFACTS``, else the home's folder)."""
        options: dict[str, Any] = {}
        if settings.artifacts_endpoint:
            options["endpoint_url"] = settings.artifacts_endpoint
        return cls(
            settings.artifacts_url or settings.artifacts_dir,
            database,
            cache=settings.artifact_cache_dir,
            storage_options=options,
        )

    def relpath(self, sha256: str) -> str:
        if not SHA_RE.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return f"{sha256[:2]}/{sha256}"

    def location_of(self, artifact: Artifact) -> str:
        """Where the artifact lives in the store (a path or URL), for display; no download."""
        if self.remote is not None:
            return self.remote.url(self.relpath(artifact.sha256))
        return str(self.root / self.relpath(artifact.sha256))

    def path(self, artifact: Artifact) -> Path:
        """A local path to the artifact's content (downloaded into the cache, hash-checked,
        when the store is remote)."""
        target = self.root / self.relpath(artifact.sha256)
        if self.remote is not None and not target.exists():
            self._fetch(artifact, target)
        return target

    def put_bytes(self, data: bytes, *, kind: str, media_type: str) -> Artifact:
        """Store ``data`` (once per content) and return its record."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.root / self.relpath(sha)
        if not target.exists():
            _write_file_atomic(target, data)
        if self.remote is not None:
            self.remote.publish_file(target, self.relpath(sha))
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
        files = folder_manifest(source)
        sha = manifest_sha256(files)
        total = sum(f.stat().st_size for f in (source / rel for rel in files))
        target = self.root / self.relpath(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
            try:
                shutil.copytree(source, tmp, dirs_exist_ok=True)
                _publish_local_dir(tmp, target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        if self.remote is not None:
            self.remote.publish_dir(target, self.relpath(sha), files)
        return self._record(sha, kind, total, "inode/directory")

    def read_bytes(self, artifact: Artifact) -> bytes:
        p = self.path(artifact)
        if not p.exists():
            raise NotFoundError(f"artifact {artifact.sha256} is recorded but missing at {p}")
        data = p.read_bytes()
        if hashlib.sha256(data).hexdigest() != artifact.sha256:
            raise ConflictError(
                f"artifact {artifact.sha256} at {p} does not match its hash "
                "(the stored file was changed or damaged)"
            )
        return data

    def _fetch(self, artifact: Artifact, target: Path) -> None:
        assert self.remote is not None
        rel = self.relpath(artifact.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if artifact.media_type == "inode/directory":
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
            try:
                self.remote.download_dir(rel, tmp)
                if manifest_sha256(folder_manifest(tmp)) != artifact.sha256:
                    raise ConflictError(
                        f"artifact {artifact.sha256} downloaded from "
                        f"{self.remote.url(rel)} does not match its hash"
                    )
                _publish_local_dir(tmp, target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        try:
            self.remote.download_file(rel, Path(tmp_name))
            if file_sha256(Path(tmp_name)) != artifact.sha256:
                raise ConflictError(
                    f"artifact {artifact.sha256} downloaded from "
                    f"{self.remote.url(rel)} does not match its hash"
                )
            _fsync_path(Path(tmp_name))
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)


class RemoteFiles:
    """The store's files under an fsspec URL (``s3://bucket/prefix``, ``memory://x``…)."""

    def __init__(self, url: str, storage_options: dict[str, Any]) -> None:
        try:
            import fsspec
        except ImportError:  # pragma: no cover - fsspec comes with datasets
            raise ConfigError("an artifact store URL needs fsspec: pip install fsspec") from None
        try:
            fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise ConfigError(
                f"SPECLAB_ARTIFACTS={url!r}: cannot open this store ({exc}); "
                "S3 needs pip install -e '.[ray]' (s3fs)"
            ) from None
        self.fs: Any = fs
        self.base = url.rstrip("/")
        self.root = root.rstrip("/")

    def url(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def _key(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def _exists(self, rel: str) -> bool:
        key = self._key(rel)
        self.fs.invalidate_cache(key)  # another node may have published it since we looked
        return bool(self.fs.exists(key))

    def publish_file(self, local: Path, rel: str) -> None:
        """Upload ``local`` to ``rel`` unless it is there: to a temporary key first, checked
        by size, then moved onto the content key (concurrent writers write the same bytes)."""
        if self._exists(rel):
            return
        tmp = self._key(f".tmp/{uuid.uuid4().hex}")
        try:
            self.fs.put_file(str(local), tmp)
            size = int(self.fs.info(tmp)["size"])
            if size != local.stat().st_size:
                raise ConflictError(
                    f"upload of {local} to {self.url(rel)} is {size} bytes, "
                    f"expected {local.stat().st_size}"
                )
            self.fs.mv(tmp, self._key(rel))
        finally:
            self.fs.invalidate_cache(tmp)
            if self.fs.exists(tmp):
                self.fs.rm(tmp)

    def publish_dir(self, local: Path, rel: str, files: dict[str, str]) -> None:
        """Upload a folder's files under ``rel``, then its manifest (the commit)."""
        manifest = rel + MANIFEST_SUFFIX
        if self._exists(manifest):
            return
        for name in files:
            self.publish_file(local / name, f"{rel}/{name}")
        body = json.dumps({"files": files}, sort_keys=True, indent=1).encode("utf-8")
        tmp = local.parent / f".tmp-{uuid.uuid4().hex}{MANIFEST_SUFFIX}"
        try:
            tmp.write_bytes(body)
            self.publish_file(tmp, manifest)
        finally:
            tmp.unlink(missing_ok=True)

    def download_file(self, rel: str, dest: Path) -> None:
        key = self._key(rel)
        try:
            self.fs.get_file(key, str(dest))
        except FileNotFoundError:
            raise NotFoundError(f"artifact is recorded but missing at {self.url(rel)}") from None

    def download_dir(self, rel: str, dest: Path) -> None:
        """Download the folder ``rel`` into ``dest`` by its manifest (each file checked)."""
        try:
            listed = json.loads(self.fs.cat_file(self._key(rel + MANIFEST_SUFFIX)))["files"]
        except FileNotFoundError:
            raise NotFoundError(
                f"artifact folder is recorded but its manifest is missing at "
                f"{self.url(rel + MANIFEST_SUFFIX)}"
            ) from None
        for name, sha in sorted(listed.items()):
            if not _safe_relative(name):
                raise ConflictError(f"manifest of {self.url(rel)} names an unsafe path {name!r}")
            out = dest / name
            out.parent.mkdir(parents=True, exist_ok=True)
            self.download_file(f"{rel}/{name}", out)
            if file_sha256(out) != sha:
                raise ConflictError(f"{self.url(rel)}/{name} does not match its manifest hash")


def local_path(location: str | Path) -> Path | None:
    """The folder a store location names, or None when it is a remote fsspec URL."""
    if isinstance(location, Path):
        return location
    if location.startswith("file://"):
        return Path(location.removeprefix("file://")).expanduser()
    if "://" in location:
        return None
    return Path(location).expanduser()


def folder_manifest(source: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` of every file under ``source``, sorted."""
    files = sorted(p for p in source.rglob("*") if p.is_file())
    return {f.relative_to(source).as_posix(): file_sha256(f) for f in files}


def manifest_sha256(files: dict[str, str]) -> str:
    """A folder's content hash: every file's relative path and content hash, in order."""
    h = hashlib.sha256()
    for rel, sha in sorted(files.items()):
        h.update(rel.encode("utf-8") + b"\0")
        h.update(sha.encode("ascii") + b"\n")
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's content, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _safe_relative(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and ".." not in parts and "" not in parts


def _write_file_atomic(target: Path, data: bytes) -> None:
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


def _publish_local_dir(tmp: Path, target: Path) -> None:
    """Flush a finished folder and rename it into place."""
    for f in sorted(tmp.rglob("*"), reverse=True):  # files before their folders
        _fsync_path(f)
    _fsync_dir(tmp)
    _replace_dir(tmp, target)
    _fsync_dir(target.parent)


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
