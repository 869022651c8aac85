"""The artifact store addressed by URL: a real S3-compatible server on a loopback port
(moto's server mode), two "nodes" (two stores with their own cache folders) on one database,
content hashes checked on the way in and out, atomic publishing under concurrent writers."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import needed
from s3server import S3Server

from db.session import Database
from engine.artifacts import MANIFEST_SUFFIX, ArtifactStore
from engine.config import Settings
from engine.errors import ConfigError, ConflictError

needed("s3fs", "the `ray` extra brings s3fs")


def _node(s3: S3Server, database: Database, cache: Path, prefix: str) -> ArtifactStore:
    return ArtifactStore(
        s3.url(prefix), database, cache=cache, storage_options={"endpoint_url": s3.endpoint}
    )


def _keys(s3: S3Server, prefix: str) -> list[str]:
    listed = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=prefix + "/")
    return sorted(o["Key"].removeprefix(prefix + "/") for o in listed.get("Contents", []))


def _adapter(folder: Path) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(bytes(range(256)) * 400)
    (folder / "sub" / "config.json").write_text('{"r": 8}')
    return folder


def test_file_written_on_one_node_is_read_on_another_with_its_hash_checked(
    s3: S3Server, database: Database, tmp_path: Path
) -> None:
    writer = _node(s3, database, tmp_path / "node-a", "files")
    data = b'{"text": "a document"}\n' * 100
    art = writer.put_bytes(data, kind="corpus", media_type="application/jsonl")
    sha = hashlib.sha256(data).hexdigest()
    assert art.sha256 == sha and art.bytes == len(data)
    # In the bucket under the content key, nothing left under a temporary key.
    assert _keys(s3, "files") == [f"{sha[:2]}/{sha}"]
    assert writer.location_of(art) == f"s3://{s3.bucket}/files/{sha[:2]}/{sha}"

    reader = _node(s3, database, tmp_path / "node-b", "files")
    assert not (tmp_path / "node-b" / sha[:2] / sha).exists()
    assert reader.read_bytes(art) == data
    assert (tmp_path / "node-b" / sha[:2] / sha).read_bytes() == data  # cached for next time
    # Storing the same content again changes nothing: same record, same single object.
    again = reader.put_bytes(data, kind="corpus", media_type="application/jsonl")
    assert again.id == art.id and _keys(s3, "files") == [f"{sha[:2]}/{sha}"]


def test_folder_round_trips_through_the_store_by_its_manifest(
    s3: S3Server, database: Database, tmp_path: Path
) -> None:
    source = _adapter(tmp_path / "adapter")
    writer = _node(s3, database, tmp_path / "node-a", "dirs")
    art = writer.put_dir(source, kind="adapter")
    sha = art.sha256
    assert _keys(s3, "dirs") == [
        f"{sha[:2]}/{sha}{MANIFEST_SUFFIX}",
        f"{sha[:2]}/{sha}/adapter_model.safetensors",
        f"{sha[:2]}/{sha}/sub/config.json",
    ]
    # The same folder has the same hash as in a local store: the layouts agree.
    assert ArtifactStore(tmp_path / "local", database).put_dir(source, kind="adapter").id == art.id

    reader = _node(s3, database, tmp_path / "node-b", "dirs")
    got = reader.path(art)
    assert got == tmp_path / "node-b" / sha[:2] / sha
    for rel in ("adapter_model.safetensors", "sub/config.json"):
        assert (got / rel).read_bytes() == (source / rel).read_bytes()
    assert not [p for p in (tmp_path / "node-b").rglob("*") if ".tmp-" in p.name]


def test_damaged_object_is_refused_and_not_cached(
    s3: S3Server, database: Database, tmp_path: Path
) -> None:
    writer = _node(s3, database, tmp_path / "node-a", "damaged")
    art = writer.put_bytes(b"the real content", kind="corpus", media_type="text/plain")
    sha = art.sha256
    s3.client().put_object(Bucket=s3.bucket, Key=f"damaged/{sha[:2]}/{sha}", Body=b"tampered")
    reader = _node(s3, database, tmp_path / "node-b", "damaged")
    with pytest.raises(ConflictError, match="does not match its hash") as info:
        reader.read_bytes(art)
    assert f"s3://{s3.bucket}/damaged/{sha[:2]}/{sha}" in str(info.value)
    assert not list((tmp_path / "node-b").rglob(f"*{sha}*"))  # nothing half-trusted stays


def test_damaged_file_in_a_folder_is_refused(
    s3: S3Server, database: Database, tmp_path: Path
) -> None:
    writer = _node(s3, database, tmp_path / "node-a", "damaged-dir")
    art = writer.put_dir(_adapter(tmp_path / "adapter"), kind="adapter")
    sha = art.sha256
    key = f"damaged-dir/{sha[:2]}/{sha}/sub/config.json"
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=b'{"r": 64}')
    with pytest.raises(ConflictError, match="does not match its manifest hash"):
        _node(s3, database, tmp_path / "node-b", "damaged-dir").path(art)
    assert not (tmp_path / "node-b" / sha[:2] / sha).exists()


def test_concurrent_writers_on_two_nodes_publish_one_folder_once(
    s3: S3Server, database: Database, tmp_path: Path
) -> None:
    # The at-least-once case across nodes: a re-run races a presumed-dead worker on another
    # node storing the same adapter; both get the one record and the bucket holds one copy.
    source = _adapter(tmp_path / "adapter")
    stores = [_node(s3, database, tmp_path / f"node-{i % 2}", "race") for i in range(4)]
    barrier = threading.Barrier(len(stores))
    got: list[int] = []
    errors: list[BaseException] = []

    def write(store: ArtifactStore) -> None:
        barrier.wait()
        try:
            got.append(store.put_dir(source, kind="adapter").id)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(got) == 4 and len(set(got)) == 1
    keys = _keys(s3, "race")
    assert len(keys) == 3 and not [k for k in keys if ".tmp" in k]


def test_settings_pick_the_store_from_the_environment(
    s3: S3Server, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPECLAB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SPECLAB_ARTIFACTS", raising=False)
    monkeypatch.delenv("SPECLAB_ARTIFACTS_ENDPOINT", raising=False)
    default = ArtifactStore.from_settings(Settings.from_env(), database)
    # The default is the home's folder, read in place, exactly as before.
    assert default.remote is None and default.root == tmp_path / "home" / "artifacts"

    monkeypatch.setenv("SPECLAB_ARTIFACTS", s3.url("env"))
    monkeypatch.setenv("SPECLAB_ARTIFACTS_ENDPOINT", s3.endpoint)
    settings = Settings.from_env()
    remote = ArtifactStore.from_settings(settings, database)
    assert remote.remote is not None and remote.root == settings.artifact_cache_dir
    art = remote.put_bytes(b"hello", kind="note", media_type="text/plain")
    assert _keys(s3, "env") == [f"{art.sha256[:2]}/{art.sha256}"]

    shared = ArtifactStore.from_settings(
        replace(settings, artifacts_url=f"file://{tmp_path / 'nfs'}"), database
    )
    assert shared.remote is None and shared.root == tmp_path / "nfs"


def test_unknown_store_scheme_is_a_config_error(database: Database, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SPECLAB_ARTIFACTS='nosuch://x'"):
        ArtifactStore("nosuch://x", database, cache=tmp_path)
