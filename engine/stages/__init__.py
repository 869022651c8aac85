"""Pipeline stages: one module per stage kind, and the table of them.

``engine/stages/<kind>.py`` defines a kind's code and its :class:`StageKind` declaration
(typed config, code version, resources, retries, inputs, outputs, key fields, suite);
:mod:`engine.stages.table` lists them. :class:`StageSpec` is the typed stage every part of
the pipeline passes around.
"""

from engine.stages.kind import StageKind
from engine.stages.spec import SpecRef, StageSpec, VariantRef
from engine.stages.table import STAGES, SUITES, get

__all__ = ["STAGES", "SUITES", "SpecRef", "StageKind", "StageSpec", "VariantRef", "get"]
