"""Choosing a generation backend: ``auto``, ``transformers``, ``vllm`` or ``openai``.

``auto`` picks vLLM when it is installed and a CUDA GPU is visible (earlier adapters merged
into a cached base, the last one served as LoRA), and transformers otherwise. ``auto`` never
picks ``openai``: a remote endpoint must be asked for by name, with its URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.backends.base import GenerationBackend
from engine.errors import ConfigError, InputError

#: The backend kinds :func:`make_backend` accepts.
KINDS = ("auto", "transformers", "vllm", "openai")


def _check_kind(kind: str) -> str:
    k = kind.strip().lower()
    if k not in KINDS:
        raise InputError(
            f"unknown generation backend {kind!r}; choose one of {', '.join(KINDS)}",
            field="backend",
        )
    return k


def make_backend(
    kind: str = "auto",
    *,
    model_path: str,
    adapters: Sequence[Path] = (),
    base_url: str | None = None,
    model_name: str | None = None,
) -> GenerationBackend:
    """A backend for ``model_path`` plus ``adapters`` (earlier stages first).

    Args:
        kind: ``auto``, ``transformers``, ``vllm`` or ``openai``.
        model_path: the base checkpoint folder or hub id (for ``openai``: the served model
            name, unless ``model_name`` is given).
        adapters: LoRA adapter folders in training order.
        base_url: the endpoint's API root, for ``openai`` only (e.g. ``http://host:8000/v1``).
        model_name: the model name the endpoint serves, for ``openai`` only.

    Raises:
        InputError: unknown kind, or ``openai`` without ``base_url``.
        ConfigError: ``vllm`` asked for where it cannot run.
    """
    k = _check_kind(kind)
    adapters = tuple(Path(a) for a in adapters)
    if k == "openai":
        if not base_url:
            raise InputError(
                "the openai backend needs the endpoint's base URL, e.g. http://127.0.0.1:8000/v1",
                field="base_url",
            )
        if adapters:
            raise InputError(
                "the openai backend cannot apply local adapters; serve the adapted model "
                "(speclab serve-model MODEL --adapter A) and point base_url at it",
                field="adapters",
            )
        from engine.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(base_url, model_name or model_path)

    from engine.backends.vllm_backend import VLLMBackend, vllm_status

    if k == "vllm" or (k == "auto" and vllm_status()[0]):
        ok, reason = vllm_status()
        if not ok:
            raise ConfigError(f"the vllm backend cannot run here: {reason}")
        return VLLMBackend(
            model_path,
            adapter=adapters[-1] if adapters else None,
            merged_adapters=adapters[:-1],
        )

    from engine.backends.transformers_backend import TransformersBackend

    return TransformersBackend(model_path, adapters)


def describe(kind: str = "auto") -> str:
    """One line saying which backend ``kind`` resolves to here, and why."""
    k = _check_kind(kind)
    if k == "openai":
        return "openai: an OpenAI-compatible endpoint, as asked (base URL given by the caller)"
    from engine.backends.vllm_backend import vllm_status

    ok, reason = vllm_status()
    if k == "vllm":
        return f"vllm: {reason}" if ok else f"vllm (unavailable): {reason}"
    if k == "transformers":
        return "transformers: as asked (batched, CPU or GPU)"
    if ok:
        return f"vllm (auto): {reason}"
    return f"transformers (auto): vLLM not used because {reason}"


__all__ = ["KINDS", "describe", "make_backend"]
