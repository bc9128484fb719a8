"""The Kubernetes domain's demo step: the university's container platform as the CMDB wants it.

A cluster ``campus-k8s`` (its API URL from ``CMDB_DEMO_K8S_URL``, else a placeholder address; its token from
``env:CMDB_K8S_TOKEN``), a managed namespace with quota and limit defaults for a few of the demo's services,
and the schedules that keep it honest (``k8s.verify`` every 15 minutes, ``k8s.discover`` hourly, both enabled
only when a cluster URL was given).  That is the desired state; the step then asks the cluster for a plan.

The demo must work on a laptop without any cluster: when the cluster cannot be reached (no token, no server)
the step records that as every demo namespace's sync status (the namespace pages and ``/metrics`` show it),
prints one line saying so and what to set, and succeeds.  With a reachable cluster it prints how many
changes the plan holds; applying stays a reviewed ``cmdb reconcile`` run, never a side effect of the demo.

Deterministic; idempotent (an existing cluster, namespace or schedule is kept); a fixed number of queries.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.db import transaction

from cmdb.core import bulk
from cmdb.core.context import change_logging

from .models import Cluster, Namespace

CLUSTER = "campus-k8s"
PLACEHOLDER_URL = "https://k8s.hszg.example:6443"
#: service slug → (namespace, requests.cpu, requests.memory, limits.cpu, limits.memory, pods)
NAMESPACES = [
    ("campus-app", "campus-app", "4", "8Gi", "8", "16Gi", 40),
    ("learning-platform", "moodle", "8", "32Gi", "16", "64Gi", 60),
    ("examinations", "exams", "4", "16Gi", "8", "32Gi", 40),
    ("applicants", "applicants", "2", "4Gi", "4", "8Gi", 20),
]
SCHEDULES = [
    ("Kubernetes verify", "k8s.verify", "*/15 * * * *", {"scope": "all"},
     "Plan the managed namespaces (nothing applied) and record the drift that is left"),
    ("Kubernetes discovery", "k8s.discover", "40 * * * *", {},
     "Nodes, namespaces, workloads and images of every cluster back into the CMDB"),
]


def _say(message: str) -> None:
    print(f"k8s demo: {message}", file=sys.stderr)


def desired_state() -> tuple[Cluster, list[Namespace]]:
    """Create what is missing of the demo cluster, its namespaces and the schedules; return cluster and namespaces."""
    from cmdb.jobs.models import Schedule
    from cmdb.services.models import Service

    url = os.environ.get("CMDB_DEMO_K8S_URL", "").strip()
    with change_logging(source="demo-k8s"), transaction.atomic():
        cluster = Cluster.objects.filter(name=CLUSTER).first()
        if cluster is None:
            cluster = Cluster(name=CLUSTER, api_url=url or PLACEHOLDER_URL, credentials="env:CMDB_K8S_TOKEN",
                              description="The university's container platform (demo)")
            cluster.validated_save()
        services = {s.slug: s for s in Service.objects.filter(slug__in=[n[0] for n in NAMESPACES])}
        have = set(Namespace.objects.filter(cluster=cluster).values_list("name", flat=True))
        new = []
        for slug, name, req_cpu, req_mem, lim_cpu, lim_mem, pods in NAMESPACES:
            service = services.get(slug)
            if service is None or name in have:
                continue
            ns = Namespace(cluster=cluster, name=name, service=service, tenant_id=service.tenant_id,
                           criticality=service.criticality, requests_cpu=req_cpu, requests_memory=req_mem,
                           limits_cpu=lim_cpu, limits_memory=lim_mem, pods=pods, default_cpu="500m",
                           default_memory="512Mi", default_request_cpu="100m", default_request_memory="128Mi",
                           description=f"Namespace of {service.name}")
            ns.full_clean(exclude=["service", "cluster", "tenant", "owner"], validate_unique=False,
                          validate_constraints=False)
            new.append(ns)
        bulk.bulk_create(Namespace, new)
        existing = set(Schedule.objects.filter(name__in=[s[0] for s in SCHEDULES]).values_list("name", flat=True))
        for name, job_name, cron, kwargs, description in SCHEDULES:
            if name not in existing:
                Schedule(name=name, job_name=job_name, cron=cron, kwargs=kwargs, enabled=bool(url),
                         description=description if url else f"{description}; enable once a cluster is registered",
                         ).validated_save()
    return cluster, list(Namespace.objects.filter(cluster=cluster, managed=True).order_by("name"))


def demo_step(seed: int) -> dict[str, Any]:
    """Record the desired state, then plan it against the cluster if one answers (see the module docstring)."""
    from . import sync

    cluster, namespaces = desired_state()
    plans = sync.plan(scope=f"cluster:{cluster.name}")
    sync.record_status(plans)
    errors = [p.error for p in plans if p.error]
    if errors or not plans:
        _say(f"no cluster reachable ({'; '.join(errors) or 'nothing planned'}). The desired state of "
             f"{len(namespaces)} namespaces is recorded; set CMDB_DEMO_K8S_URL and CMDB_K8S_TOKEN (and the "
             f"cluster's CA) and run the k8s reconciler to see its plan.")
        return {"cluster": cluster.name, "namespaces": len(namespaces), "reachable": False}
    changes = sum(len(p.changes) for p in plans)
    _say(f"cluster {cluster.name} answered ({plans[0].served_version}): {changes} changes planned for "
         f"{len(namespaces)} namespaces; apply them with a reviewed k8s reconcile run.")
    return {"cluster": cluster.name, "namespaces": len(namespaces), "reachable": True, "changes": changes}
