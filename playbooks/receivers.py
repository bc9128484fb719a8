"""What the Ansible domain answers: the CMDB's Ansible inventory for a scope (see cmdb/core/hooks.py)."""

from __future__ import annotations

from typing import Any

from cmdb.core import hooks


def ansible_inventory(sender: Any = None, *, scope: str = "all", user: Any = None, **kwargs: Any) -> dict[str, Any]:
    """The devices and VMs in ``scope`` (the reconcile framework's grammar) that ``user`` may see (all when
    None), in ansible-runner's dict form."""
    from .inventory import runner_inventory
    from .reconcilers import inventory_for_scope

    return runner_inventory(inventory_for_scope(scope, user=user))


def connect() -> None:
    hooks.ansible_inventory_requested.connect(ansible_inventory, dispatch_uid="playbooks.ansible_inventory")
