"""Document and demonstration sets in the formats people use: JSON Lines, Hugging Face
``datasets`` folders (Arrow, what ``Dataset.save_to_disk`` writes and ``load_from_disk``
reads) and single Parquet files.

A stored set is content-addressed on its **canonical JSONL**: one JSON object per line, keys
sorted, UTF-8 (no ``\\u`` escapes for non-ASCII), and ``null`` values left out at every level
of an object. Arrow has no "absent": a column that some rows lack reads back as ``null`` in
the others, so dropping nulls is what makes a set exported to Arrow (or Parquet) and imported
again land on the very same hash as its JSONL.

Imports validate with the parsers the rest of SpecLab uses (:func:`engine.data.card.parse_docs`
and :func:`engine.data.demos.parse_demos_jsonl`), so a bad row gets the same message, naming
the file, the row and the field. An uploaded archive is unpacked only after every member has
been checked (safe relative names, no links, bounded count and size), into a fresh temporary
folder, with paths built from the checked name parts, never from the raw member names.
A folder's Arrow shards are read with pyarrow, not ``datasets.load_from_disk``, which would
honour the saved format (a ``state.json`` saying ``torch`` imports torch) and read whatever
files the state names: only plain file names inside the folder are read.

``datasets``/``pyarrow`` are imported inside the functions that need them: the dashboard
process imports this module without paying for them.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.data import card as cardmod
from engine.data import demos as demodata
from engine.errors import InputError
from engine.textfile import json_line, json_value, jsonl_records

#: Export formats: JSON Lines, a Hugging Face ``datasets`` folder, one Parquet file.
FORMATS = ("jsonl", "hf", "parquet")
FORMAT_HELP = {
    "jsonl": "JSON Lines, the stored bytes (one object per line)",
    "hf": "a Hugging Face datasets folder (Arrow; datasets.load_from_disk) with a README card",
    "parquet": "one Parquet file",
}


@dataclass(frozen=True)
class Download:
    """One file a stored set can be downloaded as, built only when asked for.

    Attributes:
        label: the button's text. filename: the file's name (from the set's hash only).
        media_type: its MIME type. build: makes the bytes.
    """

    label: str
    filename: str
    media_type: str
    build: Callable[[], bytes]


#: (label, file name suffix, media type) of each download format.
DOWNLOADS = {
    "jsonl": ("JSONL", ".jsonl", "application/jsonl"),
    "hf": ("Hugging Face folder (.zip)", ".zip", "application/zip"),
    "parquet": ("Parquet", ".parquet", "application/vnd.apache.parquet"),
}


@dataclass(frozen=True)
class SetKind:
    """A family of stored sets.

    Attributes:
        name: what a user types (``docs``, ``demos``).
        noun: what a row is, in messages.
        imported: the stored dataset kind of an imported set of this family.
        stored: every stored kind in the family (stage outputs and imports).
        max_bytes: the largest set accepted (the family parser's own bound).
    """

    name: str
    noun: str
    imported: str
    stored: tuple[str, ...]
    max_bytes: int


KINDS: dict[str, SetKind] = {
    "docs": SetKind(
        "docs",
        "documents",
        "msm_docs_import",
        ("msm_docs", "msm_docs_import"),
        cardmod.MAX_DOCS_BYTES,
    ),
    "demos": SetKind(
        "demos",
        "demonstrations",
        "aft_demos_import",
        ("aft_demos", "aft_demos_import"),
        demodata.MAX_IMPORT_BYTES,
    ),
}

#: Most members an uploaded archive may hold.
MAX_ZIP_MEMBERS = 1000
#: A member name part: letters, digits, ``._-``, not starting with a dot (no ``..``, no
#: hidden files), at most 128 characters.
_SAFE_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_ZIP_MAGIC = b"PK\x03\x04"
_STATE = "state.json"
_DICT = "dataset_dict.json"
_COPY_CHUNK = 1 << 20


def set_kind(name: str) -> SetKind:
    """The family called ``name`` (``docs`` or ``demos``), or an error naming the choices."""
    if name not in KINDS:
        raise InputError(f"unknown kind {name!r}; use one of {', '.join(KINDS)}", field="kind")
    return KINDS[name]


def family_of(stored_kind: str) -> SetKind | None:
    """The family a stored dataset kind belongs to (``None`` for other kinds)."""
    return next((k for k in KINDS.values() if stored_kind in k.stored), None)


# -- canonical JSONL ------------------------------------------------------------------------


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def canonical_jsonl(rows: Iterable[Mapping[str, Any]], source: str) -> bytes:
    """The canonical JSONL of ``rows`` (see the module docstring); a value JSON cannot hold
    (NaN, infinity, a date from an Arrow column) is an error naming its row."""
    out = []
    for number, row in enumerate(rows, start=1):
        try:
            out.append(
                json.dumps(
                    _without_nulls(dict(row)), sort_keys=True, ensure_ascii=False, allow_nan=False
                )
            )
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"holds a value JSON cannot represent ({exc})", source=f"{source} row {number}"
            ) from None
    return "".join(line + "\n" for line in out).encode("utf-8")


def stored_rows(data: bytes) -> list[dict[str, Any]]:
    """The rows of a stored set's JSONL artifact (validated when stored; imports stored
    before canonical JSONL kept the uploaded bytes, BOM and CRLF included)."""
    text = data.decode("utf-8-sig")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def _raw_rows(data: bytes, source: str, limit: int) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL upload, one per non-blank line."""
    records = jsonl_records(
        data,
        source,
        max_bytes=limit,
        max_lines=cardmod.MAX_DOCS,
        parse=lambda line, number, src: (number, json_line(line, number, src)),
        record_id=lambda record: str(record[0]),
    )
    return [obj for _, obj in records]


@dataclass(frozen=True)
class ParsedSet:
    """A validated set, ready to store.

    Attributes:
        kind: its family.
        rows: the canonical rows (what the stored JSONL holds, in order).
        data: the canonical JSONL bytes (what the set's hash is taken of).
        demos: the parsed demonstrations (demonstration sets only).
    """

    kind: SetKind
    rows: list[dict[str, Any]]
    data: bytes
    demos: tuple[demodata.Demo, ...] = ()


def parse_jsonl(data: bytes, source: str, kind: SetKind) -> ParsedSet:
    """Validate a JSONL upload with the family's parser and canonicalise it.

    Raises:
        InputError: from the family's parser, naming ``source``, the line and the field.
    """
    if kind.name == "docs":
        rows = [_without_nulls(r) for r in cardmod.parse_docs(data, source)]
        return ParsedSet(kind, rows, canonical_jsonl(rows, source))
    demos = demodata.parse_demos_jsonl(data, source=source)
    rows = [_without_nulls(r) for r in _raw_rows(data, source, kind.max_bytes)]
    canonical = canonical_jsonl(rows, source)
    if canonical != data:
        # What a study will read is the stored form: a line without an id is named by its
        # line number, which shifts when blank lines go, so the stored form is parsed too.
        demos = demodata.parse_demos_jsonl(canonical, source=f"{source} (canonical form)")
    return ParsedSet(kind, rows, canonical, tuple(demos))


def _parse_rows(rows: list[dict[str, Any]], source: str, kind: SetKind) -> ParsedSet:
    """Validate rows read from Arrow: the canonical JSONL of them goes through the family's
    parser, whose line numbers are then row numbers (the canonical form has no blank lines)."""
    data = canonical_jsonl(rows, source)
    try:
        return parse_jsonl(data, source, kind)
    except InputError as exc:
        where = f"{source} row {exc.line}" if exc.line is not None else source
        raise InputError(exc.detail, source=where, field=exc.field) from None


# -- Hugging Face folders -------------------------------------------------------------------


def _quiet_datasets() -> Any:
    import datasets

    datasets.disable_progress_bars()
    return datasets


def _arrow(rows: Sequence[Mapping[str, Any]]) -> Any:
    """A ``datasets.Dataset`` of ``rows``, with a column for every key any row has
    (``Dataset.from_list`` would keep only the first row's keys)."""
    datasets = _quiet_datasets()
    import pyarrow as pa

    columns: dict[str, list[Any]] = {}
    for row in rows:
        for key in row:
            columns.setdefault(key, [])
    for key, values in columns.items():
        values.extend(row.get(key) for row in rows)
    try:
        return datasets.Dataset.from_dict(columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise InputError(
            f"the rows cannot be one Arrow table: a column mixes types ({str(exc)[:300]})"
        ) from None


def readme(
    *,
    name: str,
    kind: str,
    sha256: str,
    n_rows: int,
    features: list[dict[str, Any]],
    data_files: str,
    provenance: Mapping[str, Any],
) -> str:
    """The dataset card: YAML front matter the Hugging Face Hub reads (``configs``,
    ``dataset_info``, license), then SpecLab's card in Markdown."""
    front = {
        # SpecLab does not know under which terms the texts may be shared: the Hub's
        # "unknown" says exactly that, and the text below asks the owner to set it.
        "license": "unknown",
        "pretty_name": name,
        "tags": ["speclab", kind.replace("_", "-")],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": data_files}],
            }
        ],
        "dataset_info": {
            "features": features,
            "splits": [{"name": "train", "num_examples": n_rows}],
        },
    }
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip("\n"),
        "---",
        "",
        f"# {name}",
        "",
        f"A SpecLab `{kind}` set of {n_rows} rows, content hash (SHA-256 of its canonical "
        f"JSONL) `{sha256}`.",
        "",
        "**License: unknown.** SpecLab does not record under which terms these texts may be "
        "shared; whoever publishes this set should set `license` above.",
        "",
    ]
    stats = provenance.get("card")
    family = family_of(kind)
    if isinstance(stats, dict):
        lines += ["## Corpus card", "", "```", *cardmod.CorpusCard.from_dict(stats).lines(), "```"]
        lines.append("")
    elif family is not None and family.name == "docs":
        lines += ["## Corpus card", "", card_note(), ""]
    rest = {k: v for k, v in provenance.items() if k != "card"}
    if rest:
        lines += [
            "## Provenance",
            "",
            "```json",
            json.dumps(rest, indent=2, sort_keys=True, ensure_ascii=False),
            "```",
            "",
        ]
    return "\n".join(lines)


def card_note() -> str:
    """What a document set without a card lacks."""
    return (
        "No corpus card: the card counts rule statements and rationale sentences against the "
        "spec and variant the documents were written about; import with a spec and a variant "
        "to compute it."
    )


#: Makes a README from the dataset's features (Hub YAML form) and its data-files pattern.
ReadmeFor = Callable[[list[dict[str, Any]], str], str]


def write_hf_folder(
    rows: Sequence[Mapping[str, Any]], dest: Path, *, readme_for: ReadmeFor
) -> None:
    """Write ``rows`` as a ``datasets`` folder at ``dest`` (which must not exist yet) with a
    ``README.md`` from ``readme_for(features, data_files)``."""
    if dest.exists():
        raise InputError(f"{str(dest)!r} already exists; name a new folder", field="output")
    ds = _arrow(rows)
    ds.save_to_disk(str(dest))
    # The Hub's YAML form of the features (datasets writes the same list into the cards it
    # pushes); save_to_disk names its Arrow shards data-NNNNN-of-NNNNN.arrow.
    features = ds.features._to_yaml_list()
    (dest / "README.md").write_text(readme_for(features, "data-*.arrow"), encoding="utf-8")


def parquet_bytes(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """``rows`` as one Parquet file."""
    buf = io.BytesIO()
    _arrow(rows).to_parquet(buf)
    return buf.getvalue()


def zip_folder(folder: Path, top: str) -> bytes:
    """The files under ``folder`` as a zip archive, inside one top-level folder ``top``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            zf.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    return buf.getvalue()


def _folder_bytes(folder: Path, source: str) -> int:
    total = 0
    for path in folder.rglob("*"):
        if path.is_symlink():
            raise InputError(
                f"holds a symbolic link ({path.relative_to(folder).as_posix()!r}); "
                "a dataset folder holds plain files",
                source=source,
            )
        if path.is_file():
            total += path.stat().st_size
    return total


def _data_files(folder: Path, source: str) -> list[Path]:
    """The Arrow files a saved ``Dataset``'s ``state.json`` lists, in order; each must be a
    plain file inside ``folder`` (a crafted name must not reach any other file)."""
    state = json_value(
        (folder / _STATE).read_text(encoding="utf-8", errors="replace"), f"{source}/{_STATE}"
    )
    files = state.get("_data_files") if isinstance(state, dict) else None
    if not isinstance(files, list) or not files:
        raise InputError("lists no data files", source=f"{source}/{_STATE}", field="_data_files")
    out = []
    for entry in files:
        name = entry.get("filename") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not _SAFE_PART.fullmatch(name):
            raise InputError(
                f"names a data file {str(name)[:80]!r} that is not a plain file name",
                source=f"{source}/{_STATE}",
                field="_data_files",
            )
        if not (folder / name).is_file():
            raise InputError(
                f"names {name!r}, which the folder does not hold",
                source=f"{source}/{_STATE}",
                field="_data_files",
            )
        out.append(folder / name)
    return out


def _split_files(folder: Path, source: str) -> list[Path]:
    """The Arrow files of the one split to import: ``folder``'s own (a saved ``Dataset``) or
    its only split's (a saved ``DatasetDict``)."""
    if (folder / _STATE).is_file():
        return _data_files(folder, source)
    if (folder / _DICT).is_file():
        info = json_value((folder / _DICT).read_text(encoding="utf-8", errors="replace"), source)
        splits = info.get("splits") if isinstance(info, dict) else None
        if not isinstance(splits, list) or not splits:
            raise InputError("lists no splits", source=f"{source}/{_DICT}", field="splits")
        if len(splits) != 1:
            raise InputError(
                f"holds {len(splits)} splits; import one split's folder at a time",
                source=f"{source}/{_DICT}",
                field="splits",
            )
        split = splits[0]
        if not isinstance(split, str) or not _SAFE_PART.fullmatch(split):
            raise InputError(
                "names a split that is not a plain folder name",
                source=f"{source}/{_DICT}",
                field="splits",
            )
        if not (folder / split / _STATE).is_file():
            raise InputError(f"split {split!r} has no {_STATE}", source=source)
        return _data_files(folder / split, f"{source}/{split}")
    raise InputError(
        f"is not a Hugging Face datasets folder: it holds neither {_STATE} (a saved Dataset) "
        f"nor {_DICT} (a saved DatasetDict)",
        source=source,
    )


def parse_hf_folder(folder: Path, source: str, kind: SetKind) -> ParsedSet:
    """Validate the set in a ``datasets`` folder (what ``save_to_disk`` wrote).

    Raises:
        InputError: the folder is not a dataset, is too big, its files are damaged or its
            rows fail the family's parser (naming the row and the field).
    """
    if not folder.is_dir():
        raise InputError("is not a folder", source=source)
    size = _folder_bytes(folder, source)
    if size > kind.max_bytes:
        raise InputError(
            f"is {size:,} bytes; the limit for {kind.noun} is {kind.max_bytes:,}", source=source
        )
    files = _split_files(folder, source)
    # The shards are read with pyarrow, not datasets.load_from_disk: the loader would honour
    # the state's format (``_format_type: torch`` imports torch into the dashboard process)
    # and its features; the rows are all an import needs. save_to_disk writes the shards as
    # Arrow IPC streams, with any index mapping already applied.
    import pyarrow as pa

    try:
        tables = []
        for path in files:
            with pa.OSFile(str(path), "rb") as src:  # read into memory: the folder may go
                tables.append(pa.ipc.open_stream(src).read_all())
        table = pa.concat_tables(tables)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(
            f"could not be read as a datasets folder ({str(exc)[:300]})", source=source
        ) from None
    if table.num_rows == 0:
        raise InputError(f"holds no {kind.noun}", source=source)
    if table.num_rows > cardmod.MAX_DOCS:
        raise InputError(
            f"holds {table.num_rows:,} rows; the limit is {cardmod.MAX_DOCS:,}", source=source
        )
    return _parse_rows(table.to_pylist(), source, kind)


# -- archives ---------------------------------------------------------------------------------


def is_zip(data: bytes) -> bool:
    return data.startswith(_ZIP_MAGIC)


def _member_parts(info: zipfile.ZipInfo, source: str) -> list[str] | None:
    """The checked name parts of an archive member (``None``: a folder entry or macOS
    metadata, skipped)."""
    name = info.filename
    shown = repr(name[:120])
    if name.startswith("__MACOSX/"):
        return None
    if name.startswith("/") or "\\" in name or re.match(r"[A-Za-z]:", name):
        raise InputError(f"member {shown} has an absolute or Windows path", source=source)
    parts = name.rstrip("/").split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise InputError(f"member {shown} climbs out of the archive ('..')", source=source)
        if not _SAFE_PART.fullmatch(part):
            raise InputError(
                f"member {shown} has a name part that is not letters, digits, '.', '_' or '-'",
                source=source,
            )
    mode = info.external_attr >> 16
    if (mode & 0o170000) == 0o120000:
        raise InputError(f"member {shown} is a symbolic link", source=source)
    if info.flag_bits & 0x1:
        raise InputError(f"member {shown} is encrypted", source=source)
    return None if info.is_dir() else parts


def extract_zip(data: bytes, dest: Path, source: str, *, max_bytes: int) -> None:
    """Unpack an uploaded archive into the empty folder ``dest``, after checking every
    member's name; stops as soon as the unpacked bytes pass ``max_bytes`` (a size declared
    in the archive is not trusted)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(f"is not a readable zip archive ({exc})", source=source) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise InputError(
                f"holds {len(infos):,} members; the limit is {MAX_ZIP_MEMBERS:,}", source=source
            )
        members = [(info, _member_parts(info, source)) for info in infos]
        declared = sum(info.file_size for info in infos)
        if declared > max_bytes:
            raise InputError(
                f"unpacks to {declared:,} bytes; the limit is {max_bytes:,}", source=source
            )
        total = 0
        for info, parts in members:
            if parts is None:
                continue
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, target.open("xb") as out:
                    while chunk := src.read(_COPY_CHUNK):
                        total += len(chunk)
                        if total > max_bytes:
                            raise InputError(
                                f"unpacks to more than {max_bytes:,} bytes", source=source
                            )
                        out.write(chunk)
            except FileExistsError:
                raise InputError(
                    f"member {info.filename[:120]!r} appears twice", source=source
                ) from None
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
                raise InputError(
                    f"member {info.filename[:120]!r} could not be unpacked ({exc})", source=source
                ) from None


def _archive_root(folder: Path, source: str) -> Path:
    """The dataset folder inside an unpacked archive: its top, or its one top-level folder."""
    if (folder / _STATE).is_file() or (folder / _DICT).is_file():
        return folder
    entries = list(folder.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    raise InputError(
        f"holds no Hugging Face datasets folder ({_STATE} or {_DICT} at its top or inside its "
        "one top-level folder)",
        source=source,
    )


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="speclab-data-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def parse_upload(data: bytes, source: str, kind: SetKind) -> ParsedSet:
    """Validate an uploaded set: JSON Lines, or a zipped ``datasets`` folder."""
    if not is_zip(data):
        return parse_jsonl(data, source, kind)
    with scratch() as folder:
        extract_zip(data, folder, source, max_bytes=kind.max_bytes)
        return parse_hf_folder(_archive_root(folder, source), source, kind)
