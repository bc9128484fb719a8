"""Kubernetes reconciler benchmark: plan and apply 500 namespaces on the real kube-apiserver.

Creates the PostgreSQL database ``cmdb_bench_k8s``, migrates it, starts etcd + kube-apiserver
v1.20.2 (k8s/testing/apiserver.py; the binary must have been built by
``k8s/testing/build-kube-apiserver``) and writes ``--namespaces`` services, each with a managed
namespace carrying a quota and a limit range, an owner, a technical and a support contact (so 3
RoleBindings) and a ``depends_on`` to the next service (2 network policies per namespace, the allow
policy naming the dependent's namespace).  Then it times, with the API calls each step made:

1. the first plan (everything is a create) and its apply;
2. a no-change plan (must be one LIST per resource type and no other call but discovery);
3. one quota raised among all namespaces: plan and apply, once for the whole cluster and once for the
   scope of the edited namespace's CI (what a standard change of that CI runs).

Prints a table, writes ``benchmarks/results/k8s.md``, stops the server and drops the database
unless ``--keep``.

    .venv/bin/python -m benchmarks.k8s                    # 500 namespaces
    .venv/bin/python -m benchmarks.k8s --namespaces 50    # quick look
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections import Counter
from typing import Any

from . import _pg


def _calls(plans: list[Any]) -> Counter[str]:
    total: Counter[str] = Counter()
    for plan in plans:
        total.update(plan.calls)
    return total


def _fmt(calls: Counter[str]) -> str:
    return ", ".join(f"{calls[k]} {k}" for k in sorted(calls)) or "0"


def populate(count: int, server: Any) -> Any:
    from django.contrib.contenttypes.models import ContentType

    from cmdb.core.context import change_logging
    from cmdb.services.models import Relationship, RelationshipType, Service
    from cmdb.tenancy.models import Contact, ContactAssignment, ContactRole, Tenant
    from k8s.models import Cluster, K8sSubject, Namespace

    os.environ["CMDB_K8S_BENCH_TOKEN"] = server.admin_token
    with change_logging(user=None, source="benchmark"):
        tenant = Tenant.objects.create(name="Bench", slug="bench")
        cluster = Cluster(name="bench", api_url=server.host, ca_certificate=server.ca_path.read_text(),
                          credentials="env:CMDB_K8S_BENCH_TOKEN", tenant=tenant)
        cluster.validated_save()
        people = []
        for name in ("owner", "tech", "support"):
            contact = Contact.objects.create(name=f"bench {name}", email=f"{name}@example.org")
            K8sSubject.objects.create(contact=contact, name=f"bench-{name}")
            people.append(contact)
        technical, _ = ContactRole.objects.get_or_create(slug="technical", defaults={"name": "Technical"})
        support, _ = ContactRole.objects.get_or_create(slug="support", defaults={"name": "Support"})
        depends_on = RelationshipType.objects.get(slug="depends_on")
        service_type = ContentType.objects.get_for_model(Service)
        services = []
        for i in range(count):
            service = Service(name=f"bench {i}", slug=f"bench-{i}", tenant=tenant, owner=people[0])
            service.save()
            services.append(service)
            Namespace(cluster=cluster, name=f"bench-{i}", service=service, tenant=tenant, requests_cpu="2",
                      requests_memory="4Gi", limits_cpu="4", limits_memory="8Gi", pods=20, pvcs=5, storage="50Gi",
                      default_cpu="500m", default_memory="512Mi").save()
        ContactAssignment.objects.bulk_create(
            [ContactAssignment(object_type=service_type, object_id=s.pk, contact=people[1], role=technical)
             for s in services]
            + [ContactAssignment(object_type=service_type, object_id=s.pk, contact=people[2], role=support)
               for s in services])
        Relationship.objects.bulk_create([Relationship(source=a.ci, target=b.ci, type=depends_on)
                                          for a, b in itertools.pairwise(services)])
    return cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=500)
    _pg.add_pg_arguments(parser, "cmdb_bench_k8s")
    args = parser.parse_args()
    _pg.recreate(args)
    from k8s.testing import apiserver

    server = apiserver.start()
    try:
        _pg.setup_django(args)
        from k8s import sync
        from k8s.models import Namespace

        populate(args.namespaces, server)
        rows = [["step", "seconds", "items", "API calls", "goal"]]

        def timed(fn: Any) -> Any:
            started = time.perf_counter()
            result = fn()
            seconds = time.perf_counter() - started
            return result, seconds

        plans, seconds = timed(sync.plan)
        assert not any(p.error for p in plans), [p.error for p in plans]
        items = sum(len(p.items) for p in plans)
        rows.append([f"first plan, {args.namespaces} namespaces", f"{seconds:.2f}", str(items),
                     _fmt(_calls(plans)), ""])
        before = _calls(plans)
        outcomes, seconds = timed(lambda: sync.apply_plan(plans))
        failed = [o for o in outcomes if o.status != "ok"]
        assert not failed, failed[:3]
        rows.append([f"apply, {args.namespaces} namespaces", f"{seconds:.2f}", str(len(outcomes)),
                     _fmt(_calls(plans) - before), ""])
        plans, seconds = timed(sync.plan)
        calls = _calls(plans)
        assert sum(len(p.items) for p in plans) == 0
        rows.append(["no-change plan", f"{seconds:.2f}", "0", _fmt(calls), "< 3 s, ≤ 1 LIST per type"])
        ns = Namespace.objects.get(name=f"bench-{args.namespaces // 2}")
        ns.requests_cpu = "3"
        ns.save()
        started = time.perf_counter()
        plans = sync.plan()
        plan_seconds = time.perf_counter() - started
        one = sum(len(p.items) for p in plans)
        before = _calls(plans)
        outcomes = sync.apply_plan(plans)
        seconds = time.perf_counter() - started
        assert one == 1 and [o.status for o in outcomes] == ["ok"], (one, outcomes)
        rows.append(["one quota changed: plan", f"{plan_seconds:.2f}", "1", _fmt(before), ""])
        rows.append(["one quota changed: plan + apply", f"{seconds:.2f}", "1", _fmt(_calls(plans)), ""])
        ns.requests_cpu = "5"
        ns.save()
        started = time.perf_counter()
        plans = sync.plan(scope=f"ci:{ns.ci_id}")
        plan_seconds = time.perf_counter() - started
        before = _calls(plans)
        outcomes = sync.apply_plan(plans)
        seconds = time.perf_counter() - started
        assert [o.status for o in outcomes] == ["ok"], outcomes
        rows.append(["one quota changed, scope ci:<its id>: plan", f"{plan_seconds:.2f}", "1", _fmt(before), ""])
        rows.append(["one quota changed, scope ci:<its id>: plan + apply", f"{seconds:.2f}", "1",
                     _fmt(_calls(plans)), "< 1 s"])
        text, md = _pg.render(rows)
        print(text)
        header = [f"Machine: {_pg.machine()}  ", f"kube-apiserver {server.version} with etcd on loopback  ",
                  f"Namespaces: {args.namespaces}, each with a ResourceQuota, a LimitRange, 3 RoleBindings and "
                  "2 NetworkPolicies (7 objects)"]
        path = _pg.write_result("k8s", "Kubernetes reconciler benchmark", header, md, [
            "Calls: `discovery` = /version, /api, /apis; `list` = one label-selected LIST per resource type; "
            "`apply_dry_run` = server-side apply with dryRun=All (only for objects that differ, and not for objects "
            "in a namespace still to be created); `apply` = server-side apply.",
            "Reproduce: `.venv/bin/python -m benchmarks.k8s`.",
        ])
        print(f"\nwritten to {path}")
    finally:
        server.stop()
        if not args.keep:
            _pg.drop(args)


if __name__ == "__main__":
    main()
