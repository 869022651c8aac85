"""A small simulated world for agentic scenarios: directory and mailboxes, files, hosts and
services, and a shell interpreter that applies an agent's commands to it.

Typical use (a scenario module does this in its ``setup`` and ``check``)::

    world = scenario.setup(facts)
    apply_actions(world, parse_actions(reply).actions)
    world.transfers, world.messages, world.changes, world.service_changes
"""

from engine.evals.agentic.world.apply import apply_actions, describe
from engine.evals.agentic.world.model import (
    Data,
    FileChange,
    Message,
    Recipient,
    Service,
    ServiceChange,
    Transfer,
    World,
)
from engine.evals.agentic.world.shell import Shell

__all__ = [
    "Data",
    "FileChange",
    "Message",
    "Recipient",
    "Service",
    "ServiceChange",
    "Shell",
    "Transfer",
    "World",
    "apply_actions",
    "describe",
]
