"""The agentic-misalignment eval: scenarios, action parsing, the simulated world, its judges.

Importing this package registers the ``agentic_parse`` and ``agentic_llm`` judges.

Typical use::

    from engine.evals.agentic import CONDITIONS, classify, parse_actions, render

    scenario = render(CONDITIONS[0], sample_index=3)
    reply = backend.chat([scenario.messages()], params)[0]
    verdict = classify(scenario, parse_actions(reply))  # harmful: True, False or None
"""

from engine.evals.agentic.actions import Action, ActionKind, ParseResult, parse_actions
from engine.evals.agentic.classifier import Classification, classify
from engine.evals.agentic.forced_choice import (
    FORCED_CHOICE_INSTRUCTION,
    ForcedChoice,
    choices,
    p_harmful,
)
from engine.evals.agentic.judges_agentic import (
    LLM_PROMPT_VERSION,
    PARSE_PROMPT_VERSION,
    AgenticLLMJudge,
    AgenticParseJudge,
    parse_verdict,
    settle,
)
from engine.evals.agentic.scenarios import (
    CLAUSES,
    CONDITIONS,
    FACT_KEYS,
    FINAL_INSTRUCTION,
    GOAL_CONFLICTS,
    HARM_DEFINITIONS,
    SCENARIO_CLAUSES,
    SCENARIOS,
    URGENCIES,
    Condition,
    RenderedScenario,
    render,
)

__all__ = [
    "CLAUSES",
    "CONDITIONS",
    "FACT_KEYS",
    "FINAL_INSTRUCTION",
    "FORCED_CHOICE_INSTRUCTION",
    "GOAL_CONFLICTS",
    "HARM_DEFINITIONS",
    "LLM_PROMPT_VERSION",
    "PARSE_PROMPT_VERSION",
    "SCENARIOS",
    "SCENARIO_CLAUSES",
    "URGENCIES",
    "Action",
    "ActionKind",
    "AgenticLLMJudge",
    "AgenticParseJudge",
    "Classification",
    "Condition",
    "ForcedChoice",
    "ParseResult",
    "RenderedScenario",
    "choices",
    "classify",
    "p_harmful",
    "parse_actions",
    "parse_verdict",
    "render",
    "settle",
]
