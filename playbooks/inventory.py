"""The Ansible inventory, built from the CMDB in a fixed number of queries.

Hosts are devices and virtual machines (names must be unique across both; a
VM that shares a device's name is listed as ``name.vm``).  Groups (Ansible-safe
names): ``site_<slug>``, ``location_<slug>``, ``role_<slug>``,
``platform_<slug>``, ``tenant_<slug>``, ``tag_<slug>``, ``status_<value>``,
``kind_device``/``kind_vm`` and, when the services app is installed,
``service_<slug>`` for hosts directly related to a service.  Host variables:
``ansible_host`` (primary IPv4, else IPv6), ``cmdb`` (the CI's attributes),
``cmdb_owner_ssh_keys`` (from the owner contact's ``ssh_keys`` custom field) and
the merged config context's keys at top level.

About fifteen queries whatever the number of hosts; contexts are merged once
per distinct (site, location, role, platform, tenant, tags) combination.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from django.apps import apps
from django.db.models import QuerySet

from cmdb.dcim.models import Device, DeviceRole, Location, Platform, Site
from cmdb.extras.configcontexts import ContextIndex
from cmdb.extras.models import Tag
from cmdb.ipam.models import IPAddress
from cmdb.tenancy.models import Contact, Tenant
from cmdb.users.permissions import restrict
from cmdb.virtualization.models import Cluster, VirtualMachine

#: Attributes copied into ``cmdb`` host variable, besides the resolved names.
_COLUMNS = ("id", "ci_id", "name", "status", "site_id", "role_id", "platform_id", "tenant_id", "primary_ip4_id",
            "primary_ip6_id", "serial", "cluster_id", "local_context_data", "criticality", "owner_id",
            "custom_field_data", "description")
#: Config-context keys that may not overwrite the variables the inventory sets itself.
_RESERVED = {"ansible_host", "cmdb", "cmdb_owner_ssh_keys"}


def group_name(prefix: str, value: str) -> str:
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', str(value)).lower()}"


def _slugs(model: Any) -> dict[int, str]:
    field = "slug" if any(f.name == "slug" for f in model._meta.fields) else "name"
    return dict(model.objects.values_list("pk", field))


def _scoped(qs: QuerySet, user: Any) -> QuerySet:
    return restrict(qs, user) if user is not None else qs


def _host_rows(user: Any, device_filter: dict[str, Any] | None, vm_filter: dict[str, Any] | None) -> list[tuple]:
    rows: list[tuple] = []
    if device_filter is not None:
        devices = _scoped(Device.objects.filter(**device_filter), user).order_by("name", "id")
        rows += [("device", *r) for r in devices.values_list(*_COLUMNS, "location_id")]
    if vm_filter is not None:
        vms = _scoped(VirtualMachine.objects.filter(**vm_filter), user).order_by("name", "id")
        rows += [("vm", *r, None) for r in vms.values_list(*_COLUMNS)]
    return rows


def _tags(rows: list[tuple]) -> dict[tuple[str, int], list[int]]:
    out: dict[tuple[str, int], list[int]] = defaultdict(list)
    for kind, model in (("device", Device), ("vm", VirtualMachine)):
        if not any(r[0] == kind for r in rows):
            continue
        through = model._meta.get_field("tags").remote_field.through
        src = f"{model._meta.model_name}_id"
        for pk, tag_id in through.objects.order_by("tag__name").values_list(src, "tag_id"):
            out[(kind, pk)].append(tag_id)
    return out


def _services(ci_ids: set[int]) -> dict[int, list[str]]:
    """Service slugs per CI id through direct relationships (either direction); {} without the services app."""
    if not apps.is_installed("cmdb.services"):
        return {}
    try:
        service_model = apps.get_model("services", "Service")
        relationship_model = apps.get_model("services", "Relationship")
    except LookupError:
        return {}
    services = dict(service_model.objects.values_list("ci_id", "slug"))
    out: dict[int, list[str]] = defaultdict(list)
    for source, target in relationship_model.objects.values_list("source_id", "target_id"):
        for host, other in ((source, target), (target, source)):
            if other in services and host in ci_ids:
                out[host].append(services[other])
    return out


def _ssh_keys(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(k).strip() for k in value if str(k).strip()]
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return []


def build_inventory(*, user: Any = None, device_filter: dict[str, Any] | None = None,
                    vm_filter: dict[str, Any] | None = None) -> dict[str, Any]:
    """Ansible's ``--list`` JSON: groups with hosts, ``_meta.hostvars``.  ``user`` limits it to what they see."""
    rows = _host_rows(user, {} if device_filter is None else device_filter, {} if vm_filter is None else vm_filter)
    names = {"site": _slugs(Site), "location": _slugs(Location), "role": _slugs(DeviceRole),
             "platform": _slugs(Platform), "tenant": _slugs(Tenant), "tag": _slugs(Tag)}
    clusters = dict(Cluster.objects.values_list("pk", "name"))
    ip_ids = {r[9] for r in rows} | {r[10] for r in rows}
    ip_ids.discard(None)
    addresses = {pk: str(addr).split("/")[0] for pk, addr in
                 IPAddress.objects.filter(pk__in=list(ip_ids)).values_list("pk", "address")} if ip_ids else {}
    owners = {pk: _ssh_keys((cf or {}).get("ssh_keys")) for pk, cf in
              Contact.objects.filter(pk__in={r[15] for r in rows if r[15]}).values_list("pk", "custom_field_data")}
    tags = _tags(rows)
    services = _services({r[2] for r in rows if r[2]})
    index = ContextIndex()

    groups: dict[str, set[str]] = defaultdict(set)
    hostvars: dict[str, dict[str, Any]] = {}
    for row in rows:
        (kind, pk, ci_id, name, status, site_id, role_id, platform_id, tenant_id, ip4, ip6, serial, cluster_id,
         local, criticality, owner_id, custom_fields, description, location_id) = row
        host = name if name not in hostvars else f"{name}.{kind}"
        tag_ids = tags.get((kind, pk), [])
        ids = {"site": site_id, "location": location_id, "role": role_id, "platform": platform_id,
               "tenant": tenant_id}
        attrs = {key: names[key].get(value) for key, value in ids.items()}
        tag_slugs = [names["tag"][t] for t in tag_ids if t in names["tag"]]
        context = index.render({f"{k}_id": v for k, v in ids.items()}, frozenset(tag_ids), local)
        for key, value in attrs.items():
            if value:
                groups[group_name(key, value)].add(host)
        for slug in tag_slugs:
            groups[group_name("tag", slug)].add(host)
        for slug in services.get(ci_id, ()):
            groups[group_name("service", slug)].add(host)
        groups[group_name("status", status)].add(host)
        groups[f"kind_{kind}"].add(host)
        cmdb = {"id": pk, "ci_id": ci_id, "kind": kind, "name": name, "status": status, **attrs,
                "tags": tag_slugs, "services": services.get(ci_id, []), "serial": serial,
                "cluster": clusters.get(cluster_id), "criticality": criticality, "description": description,
                "custom_fields": custom_fields or {}}
        hv: dict[str, Any] = {k: v for k, v in context.items() if k not in _RESERVED}
        hv["cmdb"] = cmdb
        hv["cmdb_owner_ssh_keys"] = owners.get(owner_id, [])
        address = addresses.get(ip4) or addresses.get(ip6)
        if address:
            hv["ansible_host"] = address
        hostvars[host] = hv

    inventory: dict[str, Any] = {"_meta": {"hostvars": hostvars}}
    for group in sorted(groups):
        inventory[group] = {"hosts": sorted(groups[group])}
    inventory["all"] = {"children": ["ungrouped", *sorted(groups)]}
    return inventory


def host_vars(name: str, *, user: Any = None) -> dict[str, Any]:
    """Ansible's ``--host NAME``: that host's variables ({} if unknown)."""
    base = name.removesuffix(".vm").removesuffix(".device")
    inventory = build_inventory(user=user, device_filter={"name": base}, vm_filter={"name": base})
    return inventory["_meta"]["hostvars"].get(name, {})


def runner_inventory(inventory: dict[str, Any], hosts: set[str] | None = None) -> dict[str, Any]:
    """:func:`build_inventory`'s script form turned into the YAML-inventory dict ansible-runner accepts,
    limited to ``hosts`` (all when None): host variables under ``all.hosts``, groups as children."""
    hostvars = {h: v for h, v in inventory["_meta"]["hostvars"].items() if hosts is None or h in hosts}
    out: dict[str, Any] = {"all": {"hosts": {h: hostvars[h] for h in sorted(hostvars)}, "children": {}}}
    for group, body in inventory.items():
        if group in ("_meta", "all"):
            continue
        members = [h for h in body.get("hosts", []) if h in hostvars]
        if members:
            out["all"]["children"][group] = {"hosts": {h: {} for h in members}}
    return out
