"""What discovery listens to: precedence and software-cache signals, and the Ansible hooks of the core."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from cmdb.core import hooks


def connect() -> None:
    from cmdb.software.models import SoftwareProduct, SoftwareVersion

    from . import precedence
    from .linking import machines_by_system_uuid
    from .runs import ingest_ansible_facts
    from .software import clear_cache_on_change

    precedence.connect()
    for model in (SoftwareProduct, SoftwareVersion):
        post_save.connect(clear_cache_on_change, sender=model, dispatch_uid=f"discovery_cache_{model.__name__}_s")
        post_delete.connect(clear_cache_on_change, sender=model, dispatch_uid=f"discovery_cache_{model.__name__}_d")
    # Facts an Ansible run gathered become discovery reports (see cmdb/core/hooks.py).
    hooks.ansible_facts_gathered.connect(ingest_ansible_facts, dispatch_uid="discovery.ingest_ansible_facts")
    # Another domain's machines known by system UUID: the device or VM a discovered host with it is linked to.
    hooks.machines_by_system_uuid.connect(machines_by_system_uuid, dispatch_uid="discovery.machines_by_system_uuid")
    # A reconcile dry run ingests facts and rolls them back: versions read meanwhile are gone again.
    hooks.writes_rolled_back.connect(clear_cache_on_change, dispatch_uid="discovery.cache_writes_rolled_back")
