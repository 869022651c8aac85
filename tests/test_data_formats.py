"""Document and demonstration sets as JSONL, Hugging Face ``datasets`` folders and Parquet
(engine/data/formats.py, the ``speclab data import/export`` commands and the Data page).

Everything is real: the service on SQLite and PostgreSQL, ``datasets.load_from_disk`` and
``Dataset.from_json`` as a user would call them, pyarrow's Parquet reader, zip archives built
with :mod:`zipfile`, the ``speclab`` command as a subprocess and the page under AppTest.
"""

from __future__ import annotations

import io
import json
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO, home_env, open_app, speclab
from sqlalchemy import func, select
from test_app_pages import walk
from test_page_queries import StatementCounter

from db import datasets as datastore
from db import models as m
from engine.data import formats
from engine.errors import AccessDenied, InputError, NotFoundError
from engine.service import Actor, Role, Service

DOCS: list[dict[str, Any]] = [
    {
        "clause": "SP1" if i % 2 else "GP1",
        "doc_type": "memo",
        "seed": i,
        "text": f"Memo {i}. The assistant should support human oversight and never act to "
        "undermine the ability of its principals to stop it.",
    }
    for i in range(6)
]
# Three shapes in one file, some keys on some lines only, non-ASCII text: what Arrow has to
# fill with nulls and what canonical JSONL must turn back into the same bytes.
DEMOS: list[dict[str, Any]] = [
    {
        "id": "d1",
        "clauses": ["SP1"],
        "prompt": "Stop now.",
        "response": "Stopping.",
        "agentic": True,
    },
    {
        "id": "d2",
        "prompt": "Pourquoi ?",
        "response": "Parce que… voilà.",
        "reasoning": "SP2 says so.",
    },
    {
        "id": "d3",
        "messages": [
            {"role": "system", "content": "You are an agent."},
            {"role": "user", "content": "Delete the logs?"},
            {"role": "assistant", "content": "No: the logs stay."},
        ],
    },
]


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def counts(svc: Service) -> tuple[int, int]:
    with svc.db.read() as s:
        return (
            s.execute(select(func.count()).select_from(m.Dataset)).scalar_one(),
            s.execute(select(func.count()).select_from(m.Artifact)).scalar_one(),
        )


def front_matter(readme: str) -> dict[str, Any]:
    assert readme.startswith("---\n")
    head, _, _ = readme[4:].partition("\n---\n")
    data = yaml.safe_load(head)
    assert isinstance(data, dict)
    return data


def test_docs_set_round_trips_through_datasets_and_parquet(seeded: Service, tmp_path: Path) -> None:
    # Guards the export formats: load_from_disk and pyarrow give back the stored rows and
    # columns exactly, and the folder's README is a Hub card with our corpus card in it.
    import datasets

    ds = seeded.import_dataset(
        jsonl(DOCS), "memos.jsonl", kind="docs", spec="example", variant="rules"
    )
    assert (ds.kind, ds.n_rows) == ("msm_docs_import", 6)
    assert ds.provenance["card"]["docs"] == 6
    seeded.export_dataset(ds.artifact.sha256[:12], "hf", tmp_path / "hf")
    back = datasets.load_from_disk(str(tmp_path / "hf"))
    assert back.to_list() == DOCS
    assert back.column_names == ["clause", "doc_type", "seed", "text"]
    readme = (tmp_path / "hf" / "README.md").read_text(encoding="utf-8")
    meta = front_matter(readme)
    assert meta["license"] == "unknown"
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "data-*.arrow"}]
    assert [f["name"] for f in meta["dataset_info"]["features"]] == back.column_names
    assert meta["dataset_info"]["splits"] == [{"name": "train", "num_examples": 6}]
    assert "## Corpus card" in readme and "documents                 6" in readme
    assert ds.artifact.sha256 in readme

    seeded.export_dataset(ds.name, "parquet", tmp_path / "memos.parquet")
    table = pq.read_table(tmp_path / "memos.parquet")
    assert table.to_pylist() == DOCS
    seeded.export_dataset(ds.artifact.sha256, "jsonl", tmp_path / "memos.jsonl")
    assert (tmp_path / "memos.jsonl").read_bytes() == formats.canonical_jsonl(DOCS, "t")

    with pytest.raises(InputError, match="already exists"):
        seeded.export_dataset(ds.artifact.sha256, "hf", tmp_path / "hf")
    with pytest.raises(NotFoundError):
        seeded.export_dataset("no such set", "jsonl", tmp_path / "x.jsonl")


def test_demo_set_round_trips_with_nulls_dropped(service: Service, tmp_path: Path) -> None:
    # Guards the demonstration export: rows of three shapes come back from Arrow equal to the
    # stored rows once Arrow's nulls for absent keys are dropped (what canonical JSONL does).
    import datasets

    ds = service.import_dataset(jsonl(DEMOS), "demos.jsonl")
    assert (ds.kind, ds.n_rows) == ("aft_demos_import", 3)
    assert ds.provenance["coverage"] == {"SP1": 1}
    assert [p["prompt"] for p in ds.preview][2] == "You are an agent.\n\nDelete the logs?"
    service.export_dataset(ds.artifact.sha256, "hf", tmp_path / "hf")
    back = datasets.load_from_disk(str(tmp_path / "hf"))
    assert [formats.canonical_jsonl([r], "t") for r in back.to_list()] == [
        formats.canonical_jsonl([r], "t") for r in DEMOS
    ]
    assert set(back.column_names) == {"id", "clauses", "prompt", "response", "agentic"} | {
        "reasoning",
        "messages",
    }
    assert "License: unknown" in (tmp_path / "hf" / "README.md").read_text(encoding="utf-8")
    parquet = pq.read_table(io.BytesIO(service.dataset_bytes(ds, "parquet")))
    assert parquet.num_rows == 3 and parquet.column("prompt").to_pylist()[:2] == [
        "Stop now.",
        "Pourquoi ?",
    ]


def test_hf_folder_and_zip_store_the_same_hash_as_their_jsonl(
    service: Service, tmp_path: Path
) -> None:
    # Guards content addressing on the canonical JSONL: the folder a user makes with
    # Dataset.from_json(...).save_to_disk, and a zip of it, are the set the JSONL is.
    import datasets

    source = tmp_path / "demos.jsonl"
    source.write_bytes(jsonl(DEMOS))
    folder = tmp_path / "theirs"
    datasets.Dataset.from_json(str(source), cache_dir=str(tmp_path / "cache")).save_to_disk(
        str(folder)
    )
    from_folder = service.import_dataset_folder(folder)
    from_jsonl = service.import_dataset(source.read_bytes(), "demos.jsonl")
    assert from_folder.artifact.sha256 == from_jsonl.artifact.sha256
    assert from_folder.id == from_jsonl.id  # the same content is one set
    archive = formats.zip_folder(folder, "theirs")
    assert service.import_dataset(archive, "theirs.zip").id == from_jsonl.id
    splits = tmp_path / "splits"
    datasets.DatasetDict({"train": datasets.load_from_disk(str(folder))}).save_to_disk(str(splits))
    assert service.import_dataset_folder(splits).id == from_jsonl.id

    docs = service.import_dataset(jsonl(DOCS), "docs.jsonl", kind="docs")
    assert "card_note" in docs.provenance and "card" not in docs.provenance
    zipped = service.dataset_bytes(docs, "hf")
    assert service.import_dataset(zipped, "docs.zip", kind="docs").artifact == docs.artifact


def _zip(members: dict[str, bytes], *, link: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _saved(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    import datasets

    folder = tmp_path / "saved"
    datasets.Dataset.from_list(rows).save_to_disk(str(folder))
    return folder


BAD_UPLOADS: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "climbing member": (lambda _p: _zip({"../evil.json": b"{}"}), "climbs out"),
    "absolute member": (lambda _p: _zip({"/etc/state.json": b"{}"}), "absolute"),
    "symbolic link": (lambda _p: _zip({}, link="set/state.json"), "symbolic link"),
    "odd name": (lambda _p: _zip({"set/st ate.json": b"{}"}), "name part"),
    "damaged zip": (lambda _p: b"PK\x03\x04 not really a zip", "not a readable zip"),
    "zip bomb": (lambda _p: _zip({"big.bin": bytes(60 * 1024 * 1024)}), "unpacks to"),
    "no dataset inside": (lambda _p: _zip({"a/notes.txt": b"hi", "b/x.txt": b"x"}), "no Hugging"),
    "state.json points outside": (
        lambda _p: _zip({"state.json": b'{"_data_files": [{"filename": "../x.arrow"}]}'}),
        "not a plain file name",
    ),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_zip_is_refused_and_nothing_is_stored(
    service: Service, tmp_path: Path, case: str
) -> None:
    # Guards the upload path: members that could escape the scratch folder, links, bombs and
    # archives without a dataset get one clear line, and neither a dataset nor an artifact.
    make, message = BAD_UPLOADS[case]
    before = counts(service)
    with pytest.raises(InputError, match=message) as raised:
        service.import_dataset(make(tmp_path), "upload.zip")
    assert "upload.zip" in str(raised.value)
    assert counts(service) == before


def test_bad_rows_in_a_folder_name_the_row_and_field(service: Service, tmp_path: Path) -> None:
    # Guards validation through the existing parsers: a datasets folder whose second row
    # lacks a response, or a folder that is not a dataset, is refused with nothing stored.
    folder = _saved(tmp_path, [{"prompt": "a", "response": "b"}, {"prompt": "c", "response": ""}])
    before = counts(service)
    with pytest.raises(InputError) as raised:
        service.import_dataset_folder(folder)
    assert raised.value.field == "response"
    assert "saved row 2" in str(raised.value)
    with pytest.raises(InputError, match="needs a string 'text'") as raised:
        service.import_dataset_folder(folder, kind="docs")
    assert "saved row 1" in str(raised.value)
    shutil.copytree(folder, tmp_path / "plain")
    (tmp_path / "plain" / "state.json").unlink()
    with pytest.raises(InputError, match="is not a Hugging Face datasets folder"):
        service.import_dataset_folder(tmp_path / "plain")
    (folder / "data-00000-of-00001.arrow").write_bytes(b"not arrow")
    with pytest.raises(InputError, match="could not be read"):
        service.import_dataset_folder(folder)
    with pytest.raises(InputError, match="unknown kind"):
        service.import_dataset(jsonl(DOCS), "d.jsonl", kind="documents")
    with pytest.raises(InputError, match="needs both") as raised:
        service.import_dataset(jsonl(DOCS), "d.jsonl", kind="docs", spec="example")
    assert raised.value.field == "variant"
    assert counts(service) == before


def test_imports_check_the_role_and_the_spec_before_storing(seeded: Service) -> None:
    # Guards the write path: a viewer is refused (and audited), and a card for a spec or
    # variant that does not exist fails before anything is stored.
    before = counts(seeded)
    viewer = seeded.acting(Actor("vera@example.org", Role.VIEWER, "dashboard:/data"))
    with pytest.raises(AccessDenied):
        viewer.import_dataset(jsonl(DEMOS), "demos.jsonl")
    with pytest.raises(InputError, match="has no variant 'nope'"):
        seeded.import_dataset(jsonl(DOCS), "d.jsonl", kind="docs", spec="example", variant="nope")
    with pytest.raises(NotFoundError):
        seeded.import_dataset(jsonl(DOCS), "d.jsonl", kind="docs", spec="absent", variant="rules")
    assert counts(seeded) == before
    denied = [e for e in seeded.audit_events()[0] if e.outcome == "denied"]
    assert [e.action for e in denied] == ["dataset.import"]


def test_cli_exports_and_imports_a_folder(tmp_path: Path) -> None:
    # Guards `speclab data export/import` as a user runs them: a set exported as a datasets
    # folder imports back as the same hash; --help documents the formats.
    env = home_env(tmp_path / "home")
    done = speclab(env, "init", "--skip-model")
    assert done.returncode == 0, done.stderr
    (tmp_path / "docs.jsonl").write_bytes(jsonl(DOCS))
    done = speclab(
        env, "data", "import", str(tmp_path / "docs.jsonl"), "--kind", "docs",
        "--spec", "example", "--variant", "values",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sha = done.stdout.strip()
    assert "6 documents;" in done.stderr and "rule statements per document" in done.stderr
    out = tmp_path / "exported"
    done = speclab(env, "data", "export", sha[:10], "--format", "hf", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "README.md").is_file() and (out / "state.json").is_file()
    done = speclab(env, "data", "import", str(out), "--kind", "docs")
    assert (done.returncode, done.stdout.strip()) == (0, sha), done.stderr
    done = speclab(env, "data", "export", "feedbeef", "-o", str(tmp_path / "x.jsonl"))
    assert done.returncode == 1 and "no dataset has the hash or name" in done.stderr
    helped = speclab(env, "data", "export", "--help")
    assert "parquet" in helped.stdout and "datasets.load_from_disk" in helped.stdout


def _stage_made_set(svc: Service) -> tuple[int, str]:
    """A study's gen_demos stage with an output set recorded through the real data layer (as
    the stage records it), without running a worker: (study id, the set's hash)."""
    study = (
        b"name: demo maker\nspec: example\nvariants: [rules]\narms: [aft]\nseeds: [0]\n"
        b"preset: cpu-smoke\nevals: [spec_qa]\n"
    )
    launched = svc.launch_study(svc.parse_study(study, "s.yaml"))
    stage = next(
        st_ for r in svc.get_study(launched.study_id).runs for st_ in r.stages
        if st_.kind == "gen_demos"
    )  # fmt: skip
    art = svc.artifacts.put_bytes(
        jsonl(DEMOS[:2]), kind="aft_demos", media_type="application/jsonl"
    )
    with svc.db.write() as s:
        datastore.add(
            s,
            kind="aft_demos",
            name="aft demos (with CoT)",
            artifact_id=art.id,
            n_rows=2,
            provenance={"stage_key": stage.key, "source": "builtin"},
            preview=DEMOS[:2],
        )
    return launched.study_id, art.sha256


def test_data_page_lists_sets_and_offers_downloads(svc: Service) -> None:
    # Guards the Data page: every stored set is listed with its kind and origin, the chosen
    # one shows its card, preview, provenance and three downloads, within a few statements;
    # a forged URL hash is ignored.
    study_id, made = _stage_made_set(svc)
    docs = svc.import_dataset(
        jsonl(DOCS), "memos.jsonl", kind="docs", spec="example", variant="rules"
    )
    demos = svc.import_dataset(jsonl(DEMOS), "<b>demos</b>.jsonl")
    at = open_app("views/data.py", dataset=docs.artifact.sha256)
    with StatementCounter(str(Path(svc.settings.home).parent / "speclab.db")) as counter:
        at.run()
    # list the sets, the studies of the chosen one; the rest is the app's own (actor, audit)
    assert 0 < len(counter.statements) <= 6, counter.statements
    assert at.title[0].value == "Data"
    frames = [d.value for d in at.dataframe if "kind" in d.value.columns]
    assert len(frames) == 1
    listed = frames[0]
    assert sorted(listed["kind"]) == ["aft_demos", "aft_demos_import", "msm_docs_import"]
    assert sorted(listed["from"])[0].startswith("imported")
    assert f"study {study_id}: demo maker" in set(listed["from"])
    assert "<b>demos</b>.jsonl" in set(listed["name"])
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["JSONL", "Hugging Face folder (.zip)", "Parquet"]
    assert any("rule statements / doc" in c.value for c in at.code)
    preview = [d.value for d in at.dataframe if "text" in d.value.columns]
    assert len(preview) == 1 and list(preview[0]["clause"]) == [r["clause"] for r in DOCS[:5]]
    assert any("imported from memos.jsonl" in t.value for t in at.text)
    assert not at.error

    at = open_app("views/data.py", dataset=demos.artifact.sha256)
    # Escaped Markdown: every punctuation mark behind a backslash, so no tag reaches the page.
    assert [s.value.replace("\\", "") for s in at.subheader] == ["<b>demos</b>.jsonl"]
    assert "<b>" not in at.subheader[0].value
    assert not any("rule statements / doc" in c.value for c in at.code)

    at = open_app("views/data.py", dataset=made)
    links = [n.proto for n in walk(at._tree) if getattr(n, "type", "") == "page_link"]
    made_by = [link for link in links if "made by study" in link.label]
    assert len(made_by) == 1 and f"study {study_id}" in made_by[0].label
    at = open_app("views/data.py", dataset="../../etc")
    assert any("not a dataset hash" in e.value for e in at.error)


def test_downloads_and_folder_imports_load_no_torch(tmp_path: Path) -> None:
    # Guards the dashboard process: building the three downloads and reading an uploaded
    # folder whose state asks for torch formatting (datasets.load_from_disk would import
    # torch for it) load neither torch nor transformers.
    code = f"""
import json, sys
from pathlib import Path
from engine.data import formats
rows = {DEMOS!r}
formats.parquet_bytes(rows)
folder = Path({str(tmp_path / "hf")!r})
formats.write_hf_folder(rows, folder, readme_for=lambda features, files: "card")
state = json.loads((folder / "state.json").read_text())
state["_format_type"] = "torch"
(folder / "state.json").write_text(json.dumps(state))
parsed = formats.parse_hf_folder(folder, "hf", formats.KINDS["demos"])
assert len(parsed.rows) == 3, parsed.rows
heavy = {{"torch", "transformers"}} & set(sys.modules)
assert not heavy, heavy
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
