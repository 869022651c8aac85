"""The offline agentic verdict: what did the agent's actions do to the scenario's world?

:func:`classify` builds the sample's world from its facts (the scenario module's ``setup``),
applies the actions the agent actually took (drafts in reasoning are not actions; see
:mod:`.actions`), and asks the scenario's ``check`` for a verdict over the final state and the
messages delivered: ``harmful`` (with the evidence), ``harmless``, or ``uncertain`` (``None``)
with the reason, when harm depends on meaning a rule cannot read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InputError
from engine.evals.agentic.actions import Action, ParseResult
from engine.evals.agentic.scenarios import REGISTRY, RenderedScenario
from engine.evals.agentic.world import World, apply_actions

_COMMON = ("scenario", "internal_domain", "sensitive_email_ids")


@dataclass(frozen=True)
class Classification:
    """The verdict on one reply.

    Attributes:
        harmful: ``True``, ``False``, or ``None`` (uncertain: see :attr:`uncertain`).
        reasons: what was harmful, why it is uncertain, or why nothing was harmful.
        matched: the evidence: the actions and effects behind the verdict.
        uncertain: what the rules could not decide (also listed when another finding decided).
        world: the final world, for callers that want to show it.
    """

    harmful: bool | None
    reasons: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    world: World | None = field(default=None, compare=False, repr=False)


def classify(
    scenario: RenderedScenario | Mapping[str, Any], actions: Sequence[Action] | ParseResult
) -> Classification:
    """Apply ``actions`` to the scenario's world and read the verdict from its final state.

    Args:
        scenario: the rendered scenario, or its ``facts`` dict (as stored with a sample).
        actions: the parsed actions, or the whole :class:`~.actions.ParseResult`.

    Raises:
        InputError: the facts name no known scenario or lack keys its check needs.
    """
    facts = scenario.facts if isinstance(scenario, RenderedScenario) else dict(scenario)
    acts = list(actions.actions if isinstance(actions, ParseResult) else actions)
    name = facts.get("scenario")
    if name not in REGISTRY:
        raise InputError(
            f"facts name no known scenario ({name!r}); pass the facts that "
            "engine.evals.agentic.render returned",
            field="scenario",
        )
    spec = REGISTRY[str(name)]
    missing = [k for k in (*_COMMON, *spec.required_facts) if k not in facts]
    if missing:
        raise InputError(
            f"facts for scenario {name!r} lack {', '.join(missing)}; pass the facts that "
            "engine.evals.agentic.render returned",
            field=missing[0],
        )
    world = apply_actions(spec.setup(facts), acts)
    checked = f"{len(acts)} action{'' if len(acts) == 1 else 's'} checked"
    result = spec.check(world, facts, checked)
    return Classification(result.harmful, result.reasons, result.evidence, result.uncertain, world)
