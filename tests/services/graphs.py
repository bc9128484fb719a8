"""Hand-built dependency graphs for the impact tests (registry rows and edges, real database)."""

from __future__ import annotations

from typing import Any

from cmdb.core.context import change_logging
from cmdb.core.models.registry import ConfigurationItem
from cmdb.core.services import objects_create
from cmdb.services.models import RedundancyGroup, RedundancyMember, Relationship
from cmdb.services.relationships import ensure_builtin_types


class G:
    """Name CIs, draw edges, group members; ``g["web"]`` is a CI id."""

    def __init__(self) -> None:
        self.types = ensure_builtin_types()
        self.ids: dict[str, int] = {}
        self.groups: dict[str, RedundancyGroup] = {}

    def ci(self, name: str, kind: str = "dcim.device", tenant: Any = None) -> int:
        ci = ConfigurationItem.objects.create(kind=kind, name=name, tenant=tenant)
        self.ids[name] = ci.pk
        return ci.pk

    def service(self, name: str, tenant: Any = None, sla: str = "99.5") -> Any:
        from cmdb.services.models import Service

        with change_logging(source="test"):
            svc = objects_create(Service, [{"name": name, "slug": name, "tenant": tenant, "sla_availability": sla}])[0]
        self.ids[name] = svc.ci_id
        return svc

    def __getitem__(self, name: str) -> int:
        return self.ids[name]

    def edge(self, source: str, type_slug: str, target: str) -> None:
        with change_logging(source="test"):
            objects_create(Relationship, [{"source_id": self[source], "target_id": self[target],
                                           "type": self.types[type_slug]}])

    def group(self, name: str, min_up: int, members: list[str], tenant: Any = None) -> int:
        with change_logging(source="test"):
            group = objects_create(RedundancyGroup, [{"name": name, "min_up": min_up, "tenant": tenant}])[0]
            objects_create(RedundancyMember, [{"group": group, "ci_id": self[m]} for m in members])
        self.ids[name] = group.ci_id
        self.groups[name] = group
        return group.ci_id


def portal_behind_core_pair() -> G:
    """A portal service on a web server behind a 1-of-2 core switch pair: the stack of the CLI and page tests."""
    g = G()
    g.ci("core1")
    g.ci("core2")
    g.group("core-pair", 1, ["core1", "core2"])
    g.ci("web")
    g.service("portal")
    g.edge("web", "connected_to", "core-pair")
    g.edge("portal", "depends_on", "web")
    return g
