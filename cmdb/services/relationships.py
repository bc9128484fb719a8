"""Write services for relationships (the API, discovery and imports all use these)."""

from __future__ import annotations

from typing import Any

from cmdb.core.context import change_logging
from cmdb.core.services import objects_create

from .models import Relationship, RelationshipType

BUILTIN_TYPES = [
    # slug, name, inverse name, propagation (see migration 0002)
    ("depends_on", "depends on", "required by", "to_source"),
    ("runs_on", "runs on", "runs", "to_source"),
    ("hosted_on", "hosted on", "hosts", "to_source"),
    ("connected_to", "connected to", "connects", "to_source"),
    ("backs_up", "backs up", "backed up by", "none"),
    ("licensed_by", "licensed by", "licenses", "none"),
    ("member_of", "member of", "has member", "none"),
]


def ensure_builtin_types() -> dict[str, RelationshipType]:
    """The built-in relationship types (created by migration; again after a test flush)."""
    existing = {t.slug: t for t in RelationshipType.objects.filter(slug__in=[b[0] for b in BUILTIN_TYPES])}
    for slug, name, inverse, propagation in BUILTIN_TYPES:
        if slug not in existing:
            existing[slug] = RelationshipType.objects.create(
                slug=slug, name=name, inverse_name=inverse, propagation=propagation, builtin=True
            )
    return existing


def relationship_ensure(*, source_ci_id: int, target_ci_id: int, type_slug: str, source: str = "manual",
                        description: str = "", user: Any = None) -> tuple[Relationship, bool]:
    """Idempotent create of ``source <type> target``; returns (relationship, created).

    ``source`` records who asserted the edge (``discovery``, ``manual``, ...).
    """
    rtype = RelationshipType.objects.filter(slug=type_slug).first()
    if rtype is None:
        rtype = ensure_builtin_types().get(type_slug)
        if rtype is None:
            raise ValueError(f"Unknown relationship type {type_slug!r}")
    found = Relationship.objects.filter(source_id=source_ci_id, target_id=target_ci_id, type=rtype).first()
    if found is not None:
        return found, False
    with change_logging(user=user, source=source or "api"):
        created = objects_create(Relationship, [{"source_id": source_ci_id, "target_id": target_ci_id,
                                                 "type": rtype, "origin": source, "description": description}],
                                 user=user)
    return created[0], True
