"""Read use cases of the services app that other apps join into their own answers."""

from __future__ import annotations

from collections import defaultdict

from cmdb.services.models import Relationship, Service


def service_names_by_ci() -> dict[int, str]:
    """{ci_id: service names} for the CIs a service uses directly, and for each service's own CI.

    Why: metrics and service discovery label every CI with the service it belongs to
    (``service="Learning platform"``), one query for all CIs. A CI shared by several
    services gets their names sorted and joined with commas, so the label stays bounded
    and deterministic; deeper layers (hosts under a cluster) are the job of impact analysis.
    """
    names: dict[int, set[str]] = defaultdict(set)
    for ci_id, name in Service.objects.values_list("ci_id", "name"):
        names[ci_id].add(name)
    kind = Service.ci_kind()
    for target_id, name in Relationship.objects.filter(source__kind=kind).values_list("target_id", "source__name"):
        names[target_id].add(name)
    return {ci_id: ",".join(sorted(v)) for ci_id, v in names.items()}
