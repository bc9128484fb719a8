"""What the permission gate costs: the same API pages for a superuser, an unconstrained viewer and
a tenant-limited administrator (whose rows are filtered and whose nested references are checked).

Creates the PostgreSQL database ``cmdb_bench_scope`` (dropped at the end unless ``--keep``),
loads the API benchmark's data set (``benchmarks/load.py``: devices with interfaces and primary
addresses in four tenants, VMs), adds journal entries and contact assignments on a share of the
devices, then sends each request ``--requests`` times in this process through Django's test
client (the whole middleware and DRF stack, without a network hop) and prints p50 and the number
of SQL queries per request.

Usage: ``.venv/bin/python -m benchmarks.scope [--devices 5000 --vms 2000 --requests 20]``
"""

from __future__ import annotations

import argparse
import time

from . import _pg

PAGES = [
    ("devices, limit=1000", "/api/dcim/devices/?limit=1000"),
    ("devices, brief, limit=1000", "/api/dcim/devices/?limit=1000&brief=1"),
    ("interfaces, limit=1000", "/api/dcim/interfaces/?limit=1000"),
    ("IP addresses, limit=1000", "/api/ipam/ip-addresses/?limit=1000"),
    ("journal entries, limit=1000", "/api/extras/journal-entries/?limit=1000"),
    ("contact assignments, limit=1000", "/api/tenancy/contact-assignments/?limit=1000"),
    ("one device", None),
]


def build(args: argparse.Namespace) -> dict[str, object]:
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType

    from benchmarks.load import load
    from cmdb.dcim.models import Device
    from cmdb.extras.models import JournalEntry
    from cmdb.tenancy.models import Contact, ContactAssignment, ContactRole, Tenant
    from cmdb.users.models import ObjectPermission

    info = load(args.devices, args.vms)
    tenant = Tenant.objects.get(slug="fcs")
    ct = ContentType.objects.get_for_model(Device)
    role = ContactRole.objects.create(name="Owner", slug="owner")
    contacts = {t.pk: Contact.objects.create(name=f"Admins of {t.name}", tenant=t) for t in Tenant.objects.all()}
    devices = list(Device.objects.order_by("pk").values_list("pk", "tenant_id")[: args.devices // 2])
    JournalEntry.objects.bulk_create([JournalEntry(assigned_object_type=ct, assigned_object_id=pk,
                                                   comments=f"note {pk}") for pk, _t in devices])
    ContactAssignment.objects.bulk_create([
        ContactAssignment(object_type=ct, object_id=pk, contact=contacts[t], role=role)
        for pk, t in devices if t is not None])
    User = get_user_model()
    users = {"superuser": User.objects.get(username="bench")}
    users["viewer (unconstrained)"] = User.objects.create_user("viewer")
    users["tenant admin (one of 4 tenants)"] = User.objects.create_user("faculty-admin")
    everything = ObjectPermission.objects.create(name="view all", object_types=["*"], actions=["view"])
    everything.users.set([users["viewer (unconstrained)"]])
    faculty = ObjectPermission.objects.create(name="faculty", object_types=["*"],
                                              actions=["view", "add", "change", "delete"])
    faculty.users.set([users["tenant admin (one of 4 tenants)"]])
    faculty.tenants.set([tenant])
    one = Device.objects.filter(tenant=tenant).order_by("pk").first()
    return {"users": users, "one": f"/api/dcim/devices/{one.pk}/", "info": info}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _pg.add_pg_arguments(parser, "cmdb_bench_scope")
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--vms", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    _pg.recreate(args)
    try:
        _pg.setup_django(args)
        from django.db import connection, reset_queries
        from rest_framework.test import APIClient

        from cmdb.users.services import token_create

        t0 = time.perf_counter()
        data = build(args)
        print(f"generated in {time.perf_counter() - t0:.1f} s", flush=True)
        rows = [["page", *data["users"]]]  # type: ignore[list-item]
        for title, url in PAGES:
            url = url or data["one"]  # type: ignore[assignment]
            row = [title]
            for user in data["users"].values():  # type: ignore[attr-defined]
                client = APIClient()  # a token, so every request loads the user and grants as in production
                client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user)[1]}")
                for _ in range(2):
                    assert client.get(url).status_code == 200, url
                times, queries, count = [], 0, 0
                for _ in range(args.requests):
                    connection.force_debug_cursor = True
                    reset_queries()
                    t = time.perf_counter()
                    r = client.get(url)
                    times.append((time.perf_counter() - t) * 1000)
                    queries = len(connection.queries)
                    connection.force_debug_cursor = False
                    body = r.json()
                    count = len(body["results"]) if "results" in body else 1
                row.append(f"{_pg.median(times):.0f} ms, {queries} q, {count} rows")
            rows.append(row)
            print(f"{title}: done", flush=True)
        text, md = _pg.render(rows)
        print(text)
        header = [f"Machine: {_pg.machine()}  ",
                  f"Data: {args.devices:,} devices (4 interfaces, a primary IPv4), {args.vms:,} VMs in 4 tenants, "
                  f"{args.devices // 2:,} journal entries and contact assignments; {args.requests} requests per "
                  "cell, in process (Django test client, no network), p50"]
        path = _pg.write_result("scope", "Permission gate benchmark", header, md, [
            "A tenant admin's pages carry the tenant filter and one small query per related model whose objects "
            "must be checked (`hide_unseen`); journal entries and contact assignments (scoped through their "
            "generic target) add one query for the target types in use. Superusers and unconstrained grants "
            "skip both."])
        print(f"written to {path}")
    finally:
        if not args.keep:
            _pg.drop(args)


if __name__ == "__main__":
    main()
