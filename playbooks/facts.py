"""Which ansible-runner events carry a host's facts.

The reconciler reads the facts of its own check run from the events (no fact cache to configure)
and hands them to the core's hook; what they become (discovery reports) is discovery's business.
The discovery agent for Ansible (``discovery.agents.ansible_facts``) reads its runs the same way
but stays installable without the CMDB, so each side keeps this small piece of Ansible knowledge.
"""

from __future__ import annotations

from typing import Any

#: Actions whose ``ansible_facts`` describe the host (``set_fact`` results also carry ``ansible_facts``).
FACT_ACTIONS = frozenset({"setup", "ansible.builtin.setup", "gather_facts", "ansible.builtin.gather_facts",
                          "package_facts", "ansible.builtin.package_facts"})


def facts_from_event(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(host, facts)`` from a runner event of a fact-gathering task, else None."""
    data = event.get("event_data") or {}
    if event.get("event") != "runner_on_ok" or data.get("task_action") not in FACT_ACTIONS:
        return None
    facts = (data.get("res") or {}).get("ansible_facts")
    if not isinstance(facts, dict) or not data.get("host"):
        return None
    return str(data["host"]), facts
