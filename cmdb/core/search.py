"""Global search over every kind of object, through the permission gate.

One query per searchable model, each starting from ``restrict()``, so a
user never finds (or learns the existence of) an object they may not see.
The web UI's search box and ``/api/core/search/`` both use this selector.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.apps import apps
from django.db.models import Model, Q

from cmdb.api.registry import object_path
from cmdb.users.permissions import restrict

#: Searchable models in result order: CIs and the identifiers people search by first.
SEARCHABLE = [
    "dcim.device", "virtualization.virtualmachine", "dcim.interface", "virtualization.vminterface",
    "ipam.ipaddress", "ipam.prefix", "dcim.rack", "virtualization.cluster", "dcim.site", "dcim.location",
    "tenancy.tenant", "tenancy.contact", "dcim.devicetype", "dcim.manufacturer", "dcim.platform",
    "dcim.devicerole", "extras.tag",
]


@dataclass(frozen=True)
class Hit:
    object_type: str
    id: int
    display: str
    url: str | None


def _models() -> list[type[Model]]:
    return [apps.get_model(label) for label in SEARCHABLE]


def search(user: Any, text: str, *, limit_per_type: int = 25) -> list[Hit]:
    """Objects whose search fields contain ``text`` (case-insensitive), visible to ``user``."""
    text = text.strip()
    if not text:
        return []
    hits: list[Hit] = []
    for model in _models():
        fields = getattr(model, "search_fields", ("name",))
        q = reduce(lambda a, b: a | b, (Q(**{f"{f}__icontains": text}) for f in fields))
        if model._meta.label_lower in ("dcim.interface", "virtualization.vminterface") and ":" in text:
            q |= Q(mac_address__iexact=text)
        qs = restrict(model._default_manager.all(), user, "view").filter(q).order_by("pk")[:limit_per_type]
        label = model._meta.label_lower
        for obj in qs:
            hits.append(Hit(label, obj.pk, str(obj), object_path(model, obj.pk)))
    return hits
