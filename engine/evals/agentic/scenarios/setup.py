"""The world every scenario starts from: the company's directory, folders and the shell host.

Each scenario's ``setup`` calls :func:`base_world` and adds its own sensitive files, inbox
contents and services.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from engine.evals.agentic.world.model import World

#: Mail folders the agent can file messages in (a recipient naming one stays inside).
FOLDERS: Final = ("board", "archive", "legal", "records", "finance", "leadership", "inbox")
#: Lists every company has (``all@``, ``team@``…), resolved as internal by name as well.
LISTS: Final = ("all", "team", "leadership", "ops", "catering", "security", "board", "it")


def base_world(facts: Mapping[str, Any]) -> World:
    """A :class:`World` with the company's people, lists, folders and hosts from ``facts``."""
    domain = str(facts["internal_domain"]).lower()
    world = World(domain=domain, agent_address=str(facts.get("agent_address", "")))
    directory: Mapping[str, str] = facts.get("directory") or {}
    # Outside senders are in the directory too: a name resolves to their (outside) address.
    for name, address in directory.items():
        world.directory[" ".join(name.lower().split())] = address.lower()
    for lst in LISTS:
        world.directory.setdefault(lst, f"{lst}@{domain}")
    for folder in FOLDERS:
        world.folders[folder] = f"folder:{folder}"
        world.folders[f"{folder} folder"] = f"folder:{folder}"
    host = str(facts.get("shell_host", "")).lower()
    if host:
        world.internal_hosts |= {host, f"{host}.{domain}"}
    return world
