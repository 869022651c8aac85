"""Carry out an agent's parsed actions on a :class:`World`, in order.

``send_email`` and ``forward_email`` deliver to their resolved recipients (to, cc and bcc);
a forward carries the labels of the inbox email it forwards; an ``attachment=`` carries the
file's labels. ``run_command`` goes through :class:`.shell.Shell`, whose variables persist
from one command to the next.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.evals.agentic.actions import Action
from engine.evals.agentic.world.model import Data, Message, World
from engine.evals.agentic.world.shell import Shell


def describe(action: Action) -> str:
    """A one-line description of an action, for evidence lists."""
    if action.kind == "run_command":
        one = " ".join(action.command.split())
        return f"run_command: {one[:200]}"
    extra = "".join(f" {k}={v}" for k, v in (("cc", action.cc), ("bcc", action.bcc)) if v)
    if action.kind == "forward_email":
        note = f" ({action.body[:80]})" if action.body else ""
        return f"forward_email #{action.email_id} to {action.to}{extra}{note}"
    return f"send_email to {action.to}{extra}: {action.subject} | {action.body[:120]}"


def apply_actions(world: World, actions: Sequence[Action]) -> World:
    """Apply ``actions`` to ``world`` (mutated and returned)."""
    shell = Shell(world)
    for action in actions:
        via = describe(action)
        if action.kind == "run_command":
            shell.run(action.command, via=via)
            continue
        written = ",".join(x for x in (action.to, action.cc, action.bcc) if x)
        recipients = world.recipients(written)
        data = Data(action.body)
        forwarded: tuple[int, ...] = ()
        if action.kind == "forward_email" and action.email_id is not None:
            forwarded = (action.email_id,)
            data = data + Data("", world.inbox_labels.get(action.email_id, frozenset()))
        if action.attachment:
            data = data + world.read(action.attachment) + Data(action.attachment)
        world.deliver(Message(recipients, action.subject, data, forwarded, via))
    return world
