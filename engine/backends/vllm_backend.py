"""Generation with vLLM on a CUDA GPU, serving the last LoRA adapter without merging it.

SpecLab's stages each train a LoRA adapter on top of the previous stages' merged weights.
vLLM serves "one base + LoRA adapters" natively, so this backend merges the *earlier* stages'
adapters once into a cached base folder (:func:`prepare_base`) and passes the *last* adapter
as a :class:`vllm.lora.request.LoRARequest` on every generate call.

vLLM is CUDA-only and an optional extra (``pip install speclab[gpu]``): it is imported inside
functions only, never at module import, so this module is safe to import anywhere.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.backends.base import GenerationParams, Message, cut_at_stop
from engine.config import Settings
from engine.errors import ConfigError

#: Written last into a merged base folder; its presence means the folder is complete.
MERGED_MARKER = ".speclab-merged"
#: Version of the merged-folder recipe; bump it to invalidate every cached merge.
MERGED_VERSION = 1

# LoRA ranks vLLM accepts for max_lora_rank (it refuses other values).
_VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


@functools.cache
def vllm_status() -> tuple[bool, str]:
    """Whether vLLM can run here, and a one-line reason either way.

    Cheap when vLLM is not installed (no torch import). Cached for the process.
    """
    try:
        found = importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return False, "the vllm package is not installed (pip install 'speclab[gpu]' on a GPU host)"
    try:
        import torch
    except ImportError as exc:
        return False, f"torch cannot be imported: {exc}"
    if not torch.cuda.is_available():
        return False, "vllm is installed but no CUDA GPU is visible (vLLM needs a CUDA GPU)"
    try:
        import vllm
    except Exception as exc:  # a broken CUDA/driver install fails vllm's import in many ways
        return False, f"vllm is installed but failed to import: {type(exc).__name__}: {exc}"
    gpu = torch.cuda.get_device_name(0)
    return True, f"vllm {getattr(vllm, '__version__', '?')} with CUDA GPU {gpu}"


def vllm_available() -> bool:
    """True when vllm imports and a CUDA GPU is visible."""
    return vllm_status()[0]


def _default_cache_dir() -> Path:
    return Settings.from_env().models_dir / "merged"


def _fingerprint(path: Path) -> list[tuple[str, int, int]]:
    """Cheap identity of a checkpoint folder: names, sizes and mtimes of its files."""
    return sorted(
        (str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in path.rglob("*")
        if p.is_file()
    )


def _adapter_digest(adapter: Path) -> str:
    """SHA-256 over an adapter folder's files (adapters are small: megabytes)."""
    h = hashlib.sha256()
    for p in sorted(q for q in adapter.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(adapter)).encode("utf-8") + b"\0")
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def merge_key(model_path: str, merged_adapters: Sequence[Path]) -> str:
    """The cache key of a merge: the base (folder fingerprint or hub id) and adapter contents."""
    base = Path(model_path).expanduser()
    base_id: Any = (
        {"folder": str(base.resolve()), "files": _fingerprint(base)}
        if base.is_dir()
        else {"hub": model_path}
    )
    for adapter in merged_adapters:
        if not (Path(adapter) / "adapter_config.json").is_file():
            raise ConfigError(
                f"{adapter} is not a LoRA adapter folder (no adapter_config.json); "
                "pass the folder that the training stage saved"
            )
    recipe = {
        "version": MERGED_VERSION,
        "base": base_id,
        "adapters": [_adapter_digest(Path(a)) for a in merged_adapters],
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode("utf-8")).hexdigest()


def _checkpoint_dtype(model_path: str) -> str | None:
    """The dtype a local checkpoint was saved in (``config.json``), if stated."""
    config = Path(model_path).expanduser() / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("dtype") or data.get("torch_dtype")
    return str(value) if isinstance(value, str) else None


def prepare_base(model_path: str, merged_adapters: Sequence[Path], cache_dir: Path) -> str:
    """A checkpoint folder holding ``model_path`` with ``merged_adapters`` merged in, in order.

    With no adapters, ``model_path`` itself. Otherwise the merge (via
    :func:`engine.train.sft.load_model`, in fp32, saved back in the base's dtype) is done once
    and cached under ``cache_dir/<hash of the inputs>``; the folder is written under a
    temporary name and renamed into place, so an interrupted merge never looks complete.

    Raises:
        ConfigError: an adapter path is not a LoRA adapter folder.
    """
    if not merged_adapters:
        return model_path
    key = merge_key(model_path, merged_adapters)
    target = Path(cache_dir) / key[:24]
    if (target / MERGED_MARKER).is_file():
        return str(target)

    import torch

    from engine.train.sft import load_model

    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:24]}.tmp-", dir=cache_dir))
    try:
        model, tokenizer = load_model(model_path, list(merged_adapters), dtype=torch.float32)
        saved_dtype = getattr(torch, _checkpoint_dtype(model_path) or "float32", None)
        if isinstance(saved_dtype, torch.dtype) and saved_dtype != torch.float32:
            model = model.to(saved_dtype)  # keep a 16-bit base 16-bit on disk
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        marker = {
            "version": MERGED_VERSION,
            "key": key,
            "base": model_path,
            "adapters": [str(a) for a in merged_adapters],
        }
        (tmp / MERGED_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process finished the same merge first: its folder is as good as ours.
            if not (target / MERGED_MARKER).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(target)


def _lora_rank(adapter: Path) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that fits the adapter's rank."""
    try:
        config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read {adapter / 'adapter_config.json'}: {exc}; pass the folder that the "
            "training stage saved"
        ) from None
    rank = int(config.get("r") or 8)
    return next((r for r in _VLLM_LORA_RANKS if r >= rank), rank)


class VLLMBackend:
    """A model served by vLLM's offline engine, with an optional LoRA adapter served unmerged.

    Args:
        model_path: the base checkpoint (folder or hub id).
        adapter: the LoRA adapter to apply per request (the last stage's), or ``None``.
        merged_adapters: earlier stages' adapters, merged into the base first
            (:func:`prepare_base`).
        cache_dir: where merged bases are kept (default ``<models_dir>/merged``).
        gpu_memory_utilization: share of GPU memory vLLM may take.
        max_model_len: context length limit (default: the model's).
        engine_kwargs: further keyword arguments for :class:`vllm.LLM`.
    """

    name = "vllm"

    def __init__(
        self,
        model_path: str,
        adapter: Path | None = None,
        merged_adapters: Sequence[Path] = (),
        *,
        cache_dir: Path | None = None,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        engine_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.model_path = model_path
        self.adapter = Path(adapter) if adapter is not None else None
        self.merged_adapters = tuple(Path(a) for a in merged_adapters)
        self.cache_dir = cache_dir
        self.gpu_memory_utilization = gpu_memory_utilization
        self.max_model_len = max_model_len
        self.engine_kwargs = dict(engine_kwargs or {})
        self._llm: Any = None
        self._lora: Any = None

    def load(self) -> None:
        """Start the vLLM engine (once).

        Raises:
            ConfigError: vLLM or a CUDA GPU is missing; an adapter folder is not an adapter.
        """
        if self._llm is not None:
            return
        ok, reason = vllm_status()
        if not ok:
            raise ConfigError(f"the vllm backend cannot run here: {reason}")
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        base = prepare_base(
            self.model_path, self.merged_adapters, self.cache_dir or _default_cache_dir()
        )
        kwargs: dict[str, Any] = {
            "model": base,
            "dtype": "auto",
            "gpu_memory_utilization": self.gpu_memory_utilization,
        }
        if self.max_model_len is not None:
            kwargs["max_model_len"] = self.max_model_len
        if self.adapter is not None:
            kwargs.update(enable_lora=True, max_loras=1, max_lora_rank=_lora_rank(self.adapter))
        kwargs.update(self.engine_kwargs)
        self._llm = LLM(**kwargs)
        if self.adapter is not None:
            # lora_int_id must be a positive id unique per adapter within this engine.
            self._lora = LoRARequest(
                lora_name=f"speclab-{self.adapter.name or 'adapter'}",
                lora_int_id=1,
                lora_path=str(self.adapter.resolve()),
            )

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[str]:
        """One reply per conversation, in order; vLLM batches them itself."""
        convs = [list(c) for c in conversations]
        if not convs:
            return []
        self.load()
        from vllm import SamplingParams

        sampling = SamplingParams(
            n=1,
            temperature=params.temperature,
            top_p=params.top_p if params.temperature > 0 else 1.0,
            max_tokens=params.max_new_tokens,
            seed=params.seed,
            stop=list(params.stop) or None,
        )
        outputs = self._llm.chat(
            convs,
            sampling_params=sampling,
            use_tqdm=False,
            lora_request=self._lora,
            add_generation_prompt=True,
        )
        return [cut_at_stop(out.outputs[0].text, params.stop).strip() for out in outputs]


__all__ = [
    "MERGED_MARKER",
    "MERGED_VERSION",
    "VLLMBackend",
    "merge_key",
    "prepare_base",
    "vllm_available",
    "vllm_status",
]
