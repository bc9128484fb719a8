"""Bump the graph version on every write that changes the dependency graph.

Bulk services (``cmdb.core.bulk.bulk_create``) skip signals, so the services of
this app call :func:`cmdb.services.graph.bump` themselves after bulk inserts.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import RedundancyGroup, RedundancyMember, Relationship, RelationshipType


@receiver([post_save, post_delete], sender=Relationship)
@receiver([post_save, post_delete], sender=RelationshipType)
@receiver([post_save, post_delete], sender=RedundancyGroup)
@receiver([post_save, post_delete], sender=RedundancyMember)
def _graph_changed(sender: Any, **kwargs: Any) -> None:
    from .graph import bump

    bump()
