"""The study description: a grid of variants × arms × seeds on one base model or several
(``models:``; each model is its own set of runs, and variants are compared within a model).

The same typed object is read from a study file (``speclab study launch study.yaml``), built
by the dashboard's New-study form and stored as JSON with the study, so a study can be
re-launched exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.errors import InputError
from engine.pipeline import presets
from engine.stages.table import STAGES, SUITES
from engine.train.registry import BUILTIN_ID
from engine.yamlsafe import load_yaml


@dataclass(frozen=True)
class Arm:
    """A pipeline shape: which training a run goes through before it is evaluated."""

    name: str
    msm: bool
    aft: bool
    cot: bool
    help: str


ARMS: dict[str, Arm] = {
    a.name: a
    for a in (
        Arm("base", False, False, False, "no training: the base model as it is"),
        Arm("aft", False, True, False, "AFT on demonstrations without reasoning"),
        Arm("aft_cot", False, True, True, "AFT on demonstrations with reasoning citing the spec"),
        Arm("msm", True, False, False, "midtraining on spec documents only"),
        Arm("msm+aft", True, True, False, "midtraining, then AFT without reasoning"),
        Arm("msm+aft_cot", True, True, True, "midtraining, then AFT with reasoning"),
    )
}
PRESETS = tuple(presets.PRESETS)
NAME_RE = re.compile(r"[\w][\w .+-]{0,199}")
STUDY_KEYS = (
    "name", "spec", "variants", "arms", "seeds", "model", "models", "preset", "evals",
    "overrides",
)  # fmt: skip
#: Base models one study may compare (each is its own set of runs).
MAX_MODELS = 8
#: Above this many runs the estimate warns; above MAX_RUNS launching is refused.
WARN_RUNS = 100
MAX_RUNS = 1000
MAX_SEED = 2**31 - 1


def arm_uses_cot(arm: str) -> bool:
    return ARMS[arm].cot


@dataclass(frozen=True)
class StudyConfig:
    """What to run: every variant × arm × seed becomes one run."""

    name: str = field(metadata={"help": "a name for the study"})
    spec: str = field(metadata={"help": "spec name (latest version) or name@version"})
    variants: tuple[str, ...] = field(metadata={"help": "variant names of that spec version"})
    arms: tuple[str, ...] = field(
        metadata={
            "help": "pipeline shapes: " + "; ".join(f"{a.name} ({a.help})" for a in ARMS.values())
        }
    )
    seeds: tuple[int, ...] = field(default=(0,), metadata={"help": "training seeds (replicates)"})
    model: str = field(
        default=BUILTIN_ID,
        metadata={"help": "base model: builtin:…, a local Hugging Face folder, or a hub id"},
    )
    models: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "several base models, each its own set of runs (variants are compared "
            "within each model); `model` is the first of them. Empty: just `model`"
        },
    )
    preset: str = field(
        default="cpu-smoke", metadata={"help": "stage settings: " + ", ".join(PRESETS)}
    )
    evals: tuple[str, ...] = field(
        default=("spec_qa", "agentic"),
        metadata={"help": "evaluation suites run on every run's final model: " + ", ".join(SUITES)},
    )
    overrides: Mapping[str, Mapping[str, Any]] = field(
        default_factory=dict,
        metadata={"help": "per-stage settings over the preset, e.g. {aft: {max_steps: 5}}"},
    )

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_RE.fullmatch(self.name):
            raise InputError("must be 1-200 letters, digits, spaces or _ . + -", field="name")
        if len(self.models) > MAX_MODELS:
            raise InputError(f"at most {MAX_MODELS} models per study", field="models")
        for i, m in enumerate(self.models):
            if not isinstance(m, str) or not m or len(m) > 1000:
                raise InputError(
                    "must be a non-empty text of at most 1000 characters", field=f"models[{i}]"
                )
        if len(set(self.models)) != len(self.models):
            raise InputError("has duplicate entries", field="models")
        # `models` lists every base model and `model` is its first. With one model, `model`
        # decides (so `replace(config, model=…)` works); with several, `models` does.
        if len(self.models) <= 1:
            object.__setattr__(self, "models", (self.model,))
        elif self.model != self.models[0]:
            object.__setattr__(self, "model", self.models[0])
        for key in ("spec", "model", "preset"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value or len(value) > 1000:
                raise InputError("must be a non-empty text of at most 1000 characters", field=key)
        for key, items in (
            ("variants", self.variants),
            ("arms", self.arms),
            ("seeds", self.seeds),
            ("evals", self.evals),
        ):
            if key != "evals" and not items:
                raise InputError("needs at least one entry", field=key)
            for i, item in enumerate(items):
                if key == "seeds":
                    if isinstance(item, bool) or not isinstance(item, int):
                        raise InputError("must be a non-negative integer", field=f"seeds[{i}]")
                    if not 0 <= item <= MAX_SEED:
                        raise InputError(f"must be between 0 and {MAX_SEED}", field=f"seeds[{i}]")
                elif not isinstance(item, str) or not item or len(item) > 200:
                    raise InputError("must be a name", field=f"{key}[{i}]")
            if len(set(items)) != len(items):
                raise InputError("has duplicate entries", field=key)
        for i, arm in enumerate(self.arms):
            if arm not in ARMS:
                raise InputError(
                    f"unknown arm {arm!r}; known: {', '.join(ARMS)}", field=f"arms[{i}]"
                )
        for i, suite in enumerate(self.evals):
            if suite not in SUITES:
                raise InputError(
                    f"unknown suite {suite!r}; known: {', '.join(SUITES)}", field=f"evals[{i}]"
                )
        if self.preset not in PRESETS:
            raise InputError(
                f"unknown preset {self.preset!r}; known: {', '.join(PRESETS)}", field="preset"
            )
        if not isinstance(self.overrides, Mapping):
            raise InputError("must map stage kinds to settings", field="overrides")
        for kind, settings in self.overrides.items():
            if kind not in STAGES:
                raise InputError(
                    f"unknown stage {str(kind)[:60]!r}; known: {', '.join(STAGES)}",
                    field=f"overrides.{str(kind)[:60]}",
                )
            if not isinstance(settings, Mapping):
                raise InputError("must be a mapping of settings", field=f"overrides.{kind}")
        self.spec_name_and_version()
        self.stage_configs()  # every override is checked against its setting's type and bounds
        if self.n_runs > MAX_RUNS:
            raise InputError(
                f"{self.n_runs:,} runs (variants × arms × seeds × models) is more than the "
                f"{MAX_RUNS:,} "
                "a study may launch; split it into several studies",
                field="seeds",
            )

    @property
    def n_runs(self) -> int:
        return len(self.variants) * len(self.arms) * len(self.seeds) * len(self.models)

    def stage_configs(self) -> presets.StageConfigs:
        """The preset's settings of every stage kind with this study's overrides applied."""
        return presets.resolve(self.preset, self.overrides)

    def spec_name_and_version(self) -> tuple[str, int | None]:
        name, _, version = self.spec.partition("@")
        if not version:
            return name, None
        if not re.fullmatch(r"[0-9]{1,9}", version):
            raise InputError(f"version in {self.spec!r} must be a number", field="spec")
        return name, int(version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec,
            "variants": list(self.variants),
            "arms": list(self.arms),
            "seeds": list(self.seeds),
            "model": self.model,
            # Written only for several models: a one-model study's record stays as it was.
            **({"models": list(self.models)} if len(self.models) > 1 else {}),
            "preset": self.preset,
            "evals": list(self.evals),
            "overrides": {k: dict(v) for k, v in self.overrides.items()},
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> StudyConfig:
        """Validate a mapping (from YAML/JSON or a form), naming the key at fault."""
        if not isinstance(data, Mapping):
            raise InputError("a study file must be a mapping of settings", source=source)
        unknown = [str(k)[:60] for k in data if k not in STUDY_KEYS]
        if unknown:
            raise InputError(
                f"unknown key {unknown[0]!r}; known: {', '.join(STUDY_KEYS)}",
                source=source,
                field=unknown[0],
            )
        for key in ("name", "spec", "variants", "arms"):
            if key not in data:
                raise InputError("is required", source=source, field=key)
        values: dict[str, Any] = dict(data)
        if "models" in values and "model" in values:
            if isinstance(values["models"], list | tuple) and list(values["models"])[:1] == [
                values["model"]
            ]:
                del values["model"]  # a stored record: `model` repeats the first of `models`
            else:
                raise InputError(
                    "give `model` (one) or `models` (several), not both",
                    source=source,
                    field="models",
                )
        for key in ("variants", "arms", "seeds", "evals", "models"):
            if key in values:
                value = values[key]
                if isinstance(value, str | int) and not isinstance(value, bool):
                    value = [value]
                if not isinstance(value, list | tuple):
                    raise InputError("must be a list", source=source, field=key)
                values[key] = tuple(value)
        values["overrides"] = values.get("overrides") or {}
        models = values.get("models")
        if isinstance(models, tuple) and models and isinstance(models[0], str):
            values["model"] = models[0]  # `model` is always the first of `models`
        try:
            return cls(**values)
        except InputError as exc:
            raise InputError(exc.detail, source=source, field=exc.field) from None


def parse_study_file(data: bytes, *, filename: str) -> StudyConfig:
    """Read a study YAML/JSON file; errors name the file, line and key."""
    if not data.strip():
        raise InputError("the study file is empty", source=filename)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", source=filename) from None
    try:
        raw = load_yaml(text, source=filename)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}", source=filename, line=line
        ) from None
    try:
        return StudyConfig.from_dict(raw, source=filename)
    except InputError as exc:
        line = _key_line(text, exc.field)
        raise InputError(exc.detail, source=filename, line=line, field=exc.field) from None


def _key_line(text: str, field_path: str | None) -> int | None:
    """1-based line of the top-level key of ``field_path`` in a YAML text, if found."""
    if not field_path:
        return None
    top = re.split(r"[.\[]", field_path, maxsplit=1)[0]
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(rf"^{re.escape(top)}\s*:", line):
            return i
    return None
