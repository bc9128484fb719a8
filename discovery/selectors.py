"""Reads for the reconciliation view (API and page): who set which attribute of a CI, and when."""

from __future__ import annotations

from typing import Any

from discovery.models import AttributeSource, Host, IngestRecord
from discovery.services import HOST_FIELDS


def reconciliation(host: Host, *, history: int = 20) -> dict[str, Any]:
    """Three queries: the claims, the recent ingests, and the host itself (already loaded)."""
    claims = {a.attribute: a for a in AttributeSource.objects.filter(ci_id=host.ci_id)}
    attributes = []
    for name in sorted(set(HOST_FIELDS) | set(claims) | set(host.facts or {})):
        value = getattr(host, name) if name in HOST_FIELDS else (host.facts or {}).get(name)
        claim = claims.get(name)
        attributes.append({
            "attribute": name,
            "value": value,
            "source": claim.source if claim else None,
            "source_name": claim.source_name if claim else None,
            "set_at": claim.set_at if claim else None,
        })
    records = list(IngestRecord.objects.filter(ci_id=host.ci_id).order_by("-received", "-id")[:history])
    return {
        "host": host.pk,
        "ci": host.ci_id,
        "name": host.name,
        "identified_by": host.identified_by,
        "stale": host.stale,
        "last_seen": host.last_seen,
        "attributes": attributes,
        "ingests": [{"received": r.received, "source": r.source, "source_name": r.source_name, "rule": r.rule,
                     "action": r.action, "changed": r.changed, "skipped": r.skipped, "software": r.software,
                     "conflicts": r.conflicts} for r in records],
    }
