"""What a stage kind is: one declaration that the table, the planner and the executors read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.jobs.kinds import Resources

if TYPE_CHECKING:
    from engine.jobs.context import JobContext
    from engine.stages.spec import StageSpec

StageRun = Callable[["JobContext", "StageSpec", int], dict[str, Any]]
"""``run(ctx, spec, stage_id) -> result summary``: the stage's work."""


@dataclass(frozen=True)
class StageKind:
    """One kind of pipeline stage, declared once in its module under :mod:`engine.stages`.

    Attributes:
        name: the kind's name (``gen_docs``, ``aft``…), also its job kind.
        description: one line for the dashboard, ``speclab stages`` and the README.
        config: the typed settings class (see :mod:`engine.typed_config`).
        code_version: bump when the code changes what the stage produces: stages keyed with
            the old version stop matching and are recomputed.
        resources: what one execution needs (the Ray executor's task options).
        max_attempts: how many attempts the queue gives a stage whose code fails (bad input
            fails at once); a lost worker does not use one up.
        inputs: role → the kinds whose output may fill it (``{"docs": ("gen_docs",)}``).
        outputs: the artifact roles the stage writes (training writes one of its roles).
        key_fields: which parts of a :class:`StageSpec` decide its output, hence its key.
        key_fields_when_set: parts that join the key only when the spec sets them (not
            empty): a kind gains an optional input without changing the keys of stages that
            do without it (``gen_demos``: the variant and model only when it generates).
        suite: for evaluation stages, the suite name a study's ``evals`` uses.
        run: the code; ``None`` only in the table's tests.
    """

    name: str
    description: str
    config: type[Any]
    code_version: int
    resources: Resources
    run: StageRun
    max_attempts: int = 3
    inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    key_fields: tuple[str, ...] = ("config",)
    key_fields_when_set: tuple[str, ...] = ()
    suite: str | None = None

    @property
    def trains(self) -> bool:
        """Whether the stage produces a model (an adapter or full weights)."""
        return "adapter" in self.outputs or "model" in self.outputs
