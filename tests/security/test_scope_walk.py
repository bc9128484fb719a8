"""The scope walk: every model declares whose its rows are, and no endpoint lets tenant A's
administrator (alice) see or change tenant B's objects, nor the campus viewer write anything.

Endpoints are discovered from the URLconf (every API router and view, every web page), so a
new one is walked without anyone remembering to add it.  What the walk cannot do on its own is
invent data: each model an endpoint serves needs a sample creator in :data:`SAMPLES` (and,
for writable endpoints, a create payload), and each API view outside the routers a walker in
:data:`VIEW_WALKERS`.  An endpoint without one fails with a message that says where to add it.

Tenant B's samples carry the marker ``bsecret`` in their names or texts; alice's answers must
never contain it (nor the world's other tenant-B names).  A few links an administrator made
across tenants (alice's address on bob's interface, her device owned by his contact, her
device depending on his VM) check that a visible row never names what it points at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from cmdb.api.serializers import _related_fields, generic_specs
from cmdb.api.viewsets import CMDBModelViewSet
from cmdb.core.context import change_logging
from cmdb.core.scope import check_scopes, declared_scope, scope_of, scope_problems
from cmdb.users.permissions import restrict
from tests import factories

from .conftest import fresh, token_client

pytestmark = pytest.mark.django_db

MARK = {"a": "asample", "b": "bsecret"}
B_MARKERS = ("bsecret", "srv-b", "vm-b", "Bea B", "Faculty B", "SER-B", "bob@b.example")
REFUSED = {400, 403, 404, 405}


def leaks(text: str) -> list[str]:
    return [m for m in B_MARKERS if m in text]


# --- 1. models ------------------------------------------------------------------------------------------------


def test_every_model_declares_a_sound_scope():
    problems = [p for model in apps.get_models() for p in scope_problems(model)]
    assert not problems, "\n".join(problems)
    assert check_scopes() == []


def test_a_model_without_a_declaration_is_reported_and_fails_closed(world):
    from django.apps.registry import Apps

    from cmdb.users.permissions import NOTHING, has_action, rows_filter

    isolated = Apps(["django.contrib.contenttypes"])
    meta = type("Meta", (), {"app_label": "tests_scope", "apps": isolated})
    forgotten = type("Forgotten", (models.Model,), {"__module__": __name__, "Meta": meta,
                                                    "name": models.CharField(max_length=10)})
    assert declared_scope(forgotten) is None
    assert "declares no tenant scope" in scope_problems(forgotten)[0]
    assert scope_of(forgotten).kind == "admin"
    # A legacy "tenant_path = None" is not a declaration either.
    legacy = type("Legacy", (models.Model,), {"__module__": __name__, "Meta": type("Meta", (), {
        "app_label": "tests_scope", "apps": isolated}), "tenant_path": None})
    assert declared_scope(legacy) is None
    # Until it declares one, a tenant-limited grant reaches nothing of it: hidden, never leaked.
    from cmdb.dcim.models import Device

    assert has_action(world.alice, Device, "view")
    assert not has_action(world.alice, forgotten, "view")
    assert rows_filter(forgotten, world.alice, "view") is NOTHING
    assert rows_filter(forgotten, world.viewer, "view") is None  # an unconstrained grant: an administrator


# --- samples ----------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    """How to make the object of one side ("a", "b"; "s" for shared and admin-only data) and a create payload."""

    make: Callable[[Any, str], Any]
    payload: Callable[[Any, str, int], dict[str, Any]] | None = None
    #: Whether alice's valid payload for her own side is accepted (not for new tenants, say).
    alice_creates: bool = True


def tenant(w: Any, side: str) -> Any:
    return {"a": w.a, "b": w.b}[side]


def admin(w: Any, side: str) -> Any:
    return {"a": w.alice, "b": w.bob}[side]


def get(w: Any, label: str, side: str) -> Any:
    """The sample of ``label`` for ``side``, made once per world (shared and admin-only models have one)."""
    sample = SAMPLES.get(label)
    if sample is None:
        raise LookupError(label)
    kind = scope_of(apps.get_model(label)).kind
    side = "s" if kind in ("shared", "admin") else side
    key = (label, side)
    if key not in w.samples:
        w.samples[key] = sample.make(w, side)
    return w.samples[key]


def pk(w: Any, label: str, side: str) -> Any:
    return get(w, label, side).pk


def _save(obj: Any) -> Any:
    obj.save()
    return obj


def _named(model: Any, prefix: str, **extra: Any) -> Callable[[Any, str], Any]:
    def make(w: Any, side: str) -> Any:
        m = MARK.get(side, "shared")
        fields = {"name": f"{prefix}-{m}", **({"slug": f"{prefix}-{m}"} if _has(model, "slug") else {})}
        for key, value in extra.items():
            fields[key] = value(w, side) if callable(value) else value
        return _save(model(**fields))
    return make


def _has(model: Any, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def _ci(w: Any, side: str) -> int:
    return get(w, "dcim.device", side).ci_id


def _fresh_ci(w: Any, side: str, n: int) -> int:
    return factories.device(f"x{n}-{MARK[side]}", tenant=tenant(w, side)).ci_id


def _object_change(w: Any, side: str) -> Any:
    from cmdb.core.models import ObjectChange

    device = get(w, "dcim.device", side)
    with change_logging(user=admin(w, side), source="test"):
        device.description = f"changed {MARK[side]}"
        device.save()
    return ObjectChange.objects.filter(changed_object_id=device.pk, object_repr=device.name).latest("id")


def _samples() -> dict[str, Sample]:
    from cmdb.core.models import ConfigurationItem
    from cmdb.dcim.models import Interface, Location, Platform, Rack, Site
    from cmdb.extras.models import ConfigContext, CustomField, JournalEntry, Tag
    from cmdb.ipam.models import IPAddress, Prefix
    from cmdb.jobs.models import Job, Schedule
    from cmdb.reconcile.models import CIDrift, Plan, PlanItem, ReconcileRun
    from cmdb.services.models import RedundancyGroup, RedundancyMember, Relationship, RelationshipType, Service
    from cmdb.software.models import License, LicenseAssignment, SoftwareInstallation, SoftwareProduct, SoftwareVersion
    from cmdb.tenancy.models import Contact, ContactAssignment, ContactRole, TenantGroup
    from cmdb.users.models import ObjectPermission
    from cmdb.users.services import token_create
    from cmdb.virtualization.models import Cluster, ClusterGroup, VirtualMachine, VMInterface
    from discovery.models import AttributeSource, Host, IngestRecord
    from k8s.models import Cluster as K8sCluster
    from k8s.models import K8sSubject, Node, RoleMapping, Workload
    from k8s.models import Namespace as K8sNamespace
    from monitoring.models import ExporterType, Incident, Monitor

    now = timezone.now
    t = tenant
    m = MARK.get

    def named(prefix: str, side: str, n: int) -> dict[str, Any]:
        return {"name": f"{prefix}-{m(side, 'shared')}-{n}"}

    def slugged(prefix: str, side: str, n: int) -> dict[str, Any]:
        return {"name": f"{prefix}-{m(side, 'shared')}-{n}", "slug": f"{prefix}-{m(side, 'shared')}-{n}"}

    def net(side: str, n: int) -> str:
        return f"10.{1 if side == 'a' else 2}.{n}"

    return {
        # --- organization
        "tenancy.tenantgroup": Sample(_named(TenantGroup, "tg"), lambda w, s, n: slugged("tg", s, n)),
        "tenancy.tenant": Sample(lambda w, s: t(w, s), lambda w, s, n: slugged("ten", s, n), alice_creates=False),
        "tenancy.contactrole": Sample(_named(ContactRole, "role"), lambda w, s, n: slugged("cr", s, n)),
        "tenancy.contact": Sample(
            lambda w, s: _save(Contact(name=f"contact-{m(s)}", tenant=t(w, s))),
            lambda w, s, n: {**named("contact", s, n), "tenant": t(w, s).pk}),
        "tenancy.contactassignment": Sample(
            lambda w, s: ContactAssignment.objects.create(
                object=get(w, "dcim.device", s), contact=get(w, "tenancy.contact", s),
                role=get(w, "tenancy.contactrole", s)),
            lambda w, s, n: {"object_type": "dcim.device", "object_id": _fresh_device(w, s, n),
                             "contact": pk(w, "tenancy.contact", s), "role": pk(w, "tenancy.contactrole", s)}),
        "dcim.site": Sample(
            lambda w, s: _save(Site(name=f"site-{m(s)}", slug=f"site-{m(s)}", tenant=t(w, s))),
            lambda w, s, n: {**slugged("site", s, n), "tenant": t(w, s).pk}),
        "dcim.location": Sample(
            lambda w, s: _save(Location(name=f"loc-{m(s)}", slug=f"loc-{m(s)}", site=get(w, "dcim.site", s),
                                        tenant=t(w, s))),
            lambda w, s, n: {**slugged("loc", s, n), "site": pk(w, "dcim.site", s), "tenant": t(w, s).pk}),
        "dcim.rack": Sample(
            lambda w, s: _save(Rack(name=f"rack-{m(s)}", site=get(w, "dcim.site", s), tenant=t(w, s))),
            lambda w, s, n: {**named("rack", s, n), "site": pk(w, "dcim.site", s), "tenant": t(w, s).pk}),
        # --- devices
        "dcim.manufacturer": Sample(lambda w, s: factories.manufacturer("Dell"),
                                    lambda w, s, n: slugged("mfr", s, n)),
        "dcim.devicetype": Sample(lambda w, s: w.dtype, lambda w, s, n: {
            "manufacturer": pk(w, "dcim.manufacturer", s), "model": f"m{n}", "slug": f"m{n}"}),
        "dcim.interfacetemplate": Sample(lambda w, s: w.dtype.interface_templates.get(name="eth0"),
                                         lambda w, s, n: {"device_type": w.dtype.pk, "name": f"if{n}"}),
        "dcim.devicerole": Sample(lambda w, s: factories.role(), lambda w, s, n: slugged("dr", s, n)),
        "dcim.platform": Sample(_named(Platform, "platform"), lambda w, s, n: slugged("pf", s, n)),
        "dcim.device": Sample(
            lambda w, s: factories.device(f"dev-{m(s)}", tenant=t(w, s), at=get(w, "dcim.site", s),
                                          rack=get(w, "dcim.rack", s)),
            lambda w, s, n: {**named("dev", s, n), "device_type": w.dtype.pk, "role": pk(w, "dcim.devicerole", s),
                             "site": pk(w, "dcim.site", s), "rack": pk(w, "dcim.rack", s), "tenant": t(w, s).pk,
                             "owner": pk(w, "tenancy.contact", s),
                             "cluster": pk(w, "virtualization.cluster", s)}),
        "dcim.interface": Sample(
            lambda w, s: Interface.objects.create(device=get(w, "dcim.device", s), name=f"if-{m(s)}"),
            lambda w, s, n: {"device": pk(w, "dcim.device", s), "name": f"if{n}"}),
        # --- IPAM
        "ipam.prefix": Sample(
            lambda w, s: _save(Prefix(prefix=f"{net(s, 0)}.0/24", tenant=t(w, s), description=m(s))),
            lambda w, s, n: {"prefix": f"{net(s, n)}.0/24", "tenant": t(w, s).pk, "site": pk(w, "dcim.site", s)}),
        "ipam.ipaddress": Sample(
            lambda w, s: _save(IPAddress(address=f"{net(s, 0)}.1/24", tenant=t(w, s),
                                         interface=get(w, "dcim.interface", s), dns_name=f"{m(s)}.example")),
            lambda w, s, n: {"address": f"{net(s, n)}.1/24", "tenant": t(w, s).pk,
                             "assigned_object_type": "dcim.interface",
                             "assigned_object_id": pk(w, "dcim.interface", s)}),
        # --- virtualization
        "virtualization.clustertype": Sample(lambda w, s: w.cluster.type, lambda w, s, n: slugged("ct", s, n)),
        "virtualization.clustergroup": Sample(_named(ClusterGroup, "cg"), lambda w, s, n: slugged("cg", s, n)),
        "virtualization.cluster": Sample(
            lambda w, s: _save(Cluster(name=f"cl-{m(s)}", type=w.cluster.type, tenant=t(w, s))),
            lambda w, s, n: {**named("cl", s, n), "type": w.cluster.type_id, "tenant": t(w, s).pk,
                             "site": pk(w, "dcim.site", s)}),
        "virtualization.virtualmachine": Sample(
            lambda w, s: _save(VirtualMachine(name=f"vm-{m(s)}", cluster=get(w, "virtualization.cluster", s),
                                              tenant=t(w, s))),
            lambda w, s, n: {**named("vm", s, n), "cluster": pk(w, "virtualization.cluster", s),
                             "tenant": t(w, s).pk, "owner": pk(w, "tenancy.contact", s)}),
        "virtualization.vminterface": Sample(
            lambda w, s: VMInterface.objects.create(virtual_machine=get(w, "virtualization.virtualmachine", s),
                                                    name=f"vif-{m(s)}"),
            lambda w, s, n: {"virtual_machine": pk(w, "virtualization.virtualmachine", s), "name": f"vif{n}"}),
        # --- extras and core
        "extras.tag": Sample(_named(Tag, "tag"), lambda w, s, n: slugged("tag", s, n)),
        "extras.customfield": Sample(
            lambda w, s: _save(CustomField(name="shared_cf", object_types=["dcim.device"])),
            lambda w, s, n: {"name": f"cf_{n}", "object_types": ["dcim.device"]}),
        "extras.journalentry": Sample(
            lambda w, s: _save(JournalEntry(assigned_object=get(w, "dcim.device", s), comments=f"note {m(s)}",
                                            created_by=admin(w, s))),
            lambda w, s, n: {"assigned_object_type": "dcim.device", "assigned_object_id": pk(w, "dcim.device", s),
                             "comments": f"note {n}"}),
        "extras.configcontext": Sample(
            lambda w, s: _with_tenants(_save(ConfigContext(name="ctx-bsecret", data={"k": "bsecret"})), [w.b]),
            lambda w, s, n: {**named("ctx", s, n), "data": {}}),
        "core.objectchange": Sample(_object_change),
        "core.configurationitem": Sample(lambda w, s: ConfigurationItem.objects.get(pk=_ci(w, s))),
        # --- users
        "auth.user": Sample(lambda w, s: admin(w, s)),
        "users.token": Sample(lambda w, s: token_create(user=admin(w, s), description=f"token {m(s)}")[0],
                              lambda w, s, n: {"user": admin(w, s).pk, "description": f"t{n}"}),
        "users.objectpermission": Sample(
            lambda w, s: ObjectPermission.objects.create(name="perm-bsecret", object_types=["*"], actions=["view"]),
            lambda w, s, n: {**named("perm", s, n), "object_types": ["dcim.device"], "actions": ["view"]}),
        # --- jobs and reconcile
        "jobs.job": Sample(
            lambda w, s: Job.objects.create(name="jobs.echo", kwargs={"message": m(s)}, user=admin(w, s),
                                            tenant=t(w, s), log=[{"message": m(s)}], result={"message": m(s)}),
            lambda w, s, n: {"name": "jobs.echo", "kwargs": {"message": f"m{n}"}}),
        "jobs.schedule": Sample(
            lambda w, s: _save(Schedule(name="sched-bsecret", job_name="jobs.echo", cron="0 0 * * *",
                                        kwargs={"message": "bsecret"})),
            lambda w, s, n: {**named("sched", s, n), "job_name": "jobs.echo", "cron": "0 0 * * *"}),
        "reconcile.reconcilerun": Sample(
            lambda w, s: ReconcileRun.objects.create(reconciler="ansible", scope=f"ci:{_ci(w, s)}",
                                                     user=admin(w, s), tenant=t(w, s),
                                                     summary={f"dev-{m(s)}": {"changes": 1}}),
            lambda w, s, n: {"reconciler": "ansible", "scope": f"ci:{_ci(w, s)}", "dry_run": True}),
        "reconcile.plan": Sample(
            lambda w, s: Plan.objects.create(reconciler="ansible", scope=f"ci:{_ci(w, s)}", fingerprint=m(s),
                                             created_by=admin(w, s), tenant=t(w, s))),
        "reconcile.planitem": Sample(
            lambda w, s: PlanItem.objects.create(plan=get(w, "reconcile.plan", s), index=0,
                                                 ci_id=_ci(w, s), target=f"dev-{m(s)}",
                                                 operation="update", resource=m(s))),
        "reconcile.cidrift": Sample(
            lambda w, s: CIDrift.objects.create(reconciler="ansible", ci_id=_ci(w, s), status="drifted",
                                                run=get(w, "reconcile.reconcilerun", s), message=m(s),
                                                checked=now())),
        # --- monitoring
        "monitoring.exportertype": Sample(_named(ExporterType, "node", port=9100),
                                          lambda w, s, n: {**slugged("exp", s, n), "port": 9100}),
        "monitoring.monitor": Sample(
            lambda w, s: Monitor.objects.create(ci_id=_ci(w, s), exporter_type=get(w, "monitoring.exportertype", s),
                                                description=m(s)),
            lambda w, s, n: {"ci": _fresh_ci(w, s, n), "exporter_type": pk(w, "monitoring.exportertype", s)}),
        "monitoring.incident": Sample(
            lambda w, s: Incident.objects.create(fingerprint=f"fp-{m(s)}", alertname=f"alert-{m(s)}",
                                                 ci_id=_ci(w, s), started_at=now())),
        # --- backup
        **_backup_samples(now, t, m, named),
        # --- software
        "software.softwareproduct": Sample(
            lambda w, s: _save(SoftwareProduct(vendor="ACME", name="Widget", slug="widget")),
            lambda w, s, n: {"vendor": "ACME", "name": f"p{n}", "slug": f"p{n}"}),
        "software.softwareversion": Sample(
            lambda w, s: _save(SoftwareVersion(product=get(w, "software.softwareproduct", s), version="1.0")),
            lambda w, s, n: {"product": pk(w, "software.softwareproduct", s), "version": f"9.{n}"}),
        "software.softwareinstallation": Sample(
            lambda w, s: _save(SoftwareInstallation(ci_id=_ci(w, s), version=get(w, "software.softwareversion", s),
                                                    source=m(s))),
            lambda w, s, n: {"ci": _fresh_ci(w, s, n), "version": pk(w, "software.softwareversion", s)}),
        "software.license": Sample(
            lambda w, s: _save(License(name=f"lic-{m(s)}", product=get(w, "software.softwareproduct", s),
                                       tenant=t(w, s))),
            lambda w, s, n: {**named("lic", s, n), "product": pk(w, "software.softwareproduct", s),
                             "tenant": t(w, s).pk}),
        "software.licenseassignment": Sample(
            lambda w, s: LicenseAssignment.objects.create(license=get(w, "software.license", s), ci_id=_ci(w, s),
                                                          description=m(s)),
            lambda w, s, n: {"license": pk(w, "software.license", s), "ci": _fresh_ci(w, s, n)}),
        # --- services
        "services.service": Sample(
            lambda w, s: _save(Service(name=f"svc-{m(s)}", slug=f"svc-{m(s)}", tenant=t(w, s))),
            lambda w, s, n: {**slugged("svc", s, n), "tenant": t(w, s).pk}),
        "services.relationshiptype": Sample(
            lambda w, s: _save(RelationshipType(name="feeds", slug="feeds", inverse_name="fed by")),
            lambda w, s, n: {**slugged("rt", s, n), "inverse_name": "x"}),
        "services.relationship": Sample(
            lambda w, s: Relationship.objects.create(
                source_id=_ci(w, s), target_id=get(w, "virtualization.virtualmachine", s).ci_id,
                type=get(w, "services.relationshiptype", s), description=m(s)),
            lambda w, s, n: {"source": _ci(w, s), "target": _fresh_ci(w, s, n),
                             "type": pk(w, "services.relationshiptype", s)}),
        "services.redundancygroup": Sample(
            lambda w, s: _save(RedundancyGroup(name=f"rg-{m(s)}", tenant=t(w, s))),
            lambda w, s, n: {**named("rg", s, n), "tenant": t(w, s).pk}),
        "services.redundancymember": Sample(
            lambda w, s: RedundancyMember.objects.create(group=get(w, "services.redundancygroup", s),
                                                         ci_id=_ci(w, s)),
            lambda w, s, n: {"group": pk(w, "services.redundancygroup", s), "ci": _fresh_ci(w, s, n)}),
        # --- discovery
        "discovery.host": Sample(
            lambda w, s: _save(Host(name=f"host-{m(s)}", tenant=t(w, s))),
            lambda w, s, n: {**named("host", s, n), "tenant": t(w, s).pk}),
        "discovery.attributesource": Sample(
            lambda w, s: AttributeSource.objects.create(ci_id=get(w, "discovery.host", s).ci_id, attribute="name",
                                                        source="agent", source_name=f"agent-{m(s)}",
                                                        value_digest="0" * 32, set_at=now())),
        "discovery.ingestrecord": Sample(
            lambda w, s: IngestRecord.objects.create(ci_id=get(w, "discovery.host", s).ci_id, received=now(),
                                                     collected_at=now(), source="agent",
                                                     source_name=f"agent-{m(s)}", action="create")),
        # --- k8s
        "k8s.cluster": Sample(
            lambda w, s: _save(K8sCluster(name=f"k8s-{m(s)}", api_url="https://k8s.example.org",
                                          credentials="env:CMDB_K8S_TOKEN", tenant=t(w, s))),
            lambda w, s, n: {**named("k8s", s, n), "api_url": "https://k8s.example.org",
                             "credentials": "env:CMDB_K8S_TOKEN", "tenant": t(w, s).pk}),
        "k8s.namespace": Sample(
            lambda w, s: _save(K8sNamespace(cluster=get(w, "k8s.cluster", s), name=f"ns-{m(s)}", tenant=t(w, s))),
            lambda w, s, n: {"name": f"ns-{m(s)}-{n}", "cluster": pk(w, "k8s.cluster", s), "tenant": t(w, s).pk}),
        "k8s.node": Sample(
            lambda w, s: _save(Node(cluster=get(w, "k8s.cluster", s), name=f"node-{m(s)}", tenant=t(w, s))),
            lambda w, s, n: {"name": f"node-{m(s)}-{n}", "cluster": pk(w, "k8s.cluster", s), "tenant": t(w, s).pk}),
        "k8s.workload": Sample(
            lambda w, s: _save(Workload(cluster=get(w, "k8s.cluster", s), namespace=get(w, "k8s.namespace", s),
                                        kind="Deployment", name=f"wl-{m(s)}", tenant=t(w, s))),
            lambda w, s, n: {"name": f"wl-{m(s)}-{n}", "kind": "Deployment", "cluster": pk(w, "k8s.cluster", s),
                             "namespace": pk(w, "k8s.namespace", s), "tenant": t(w, s).pk}),
        "k8s.rolemapping": Sample(
            lambda w, s: _save(RoleMapping(contact_role=f"role-{m(s, 'shared')}", cluster_role="view")),
            lambda w, s, n: {"contact_role": f"r-{m(s, 'shared')}-{n}", "cluster_role": "view"}),
        "k8s.k8ssubject": Sample(
            lambda w, s: K8sSubject.objects.create(contact=get(w, "tenancy.contact", s), name=f"user-{m(s)}"),
            lambda w, s, n: {"contact": _save(Contact(name=f"k8s-{m(s)}-{n}", tenant=t(w, s))).pk,
                             "name": f"user-{m(s)}-{n}"}),
        # --- vdi
        **_vdi_samples(),
        # --- change management
        **_changes_samples(),
    }


VDI_ICS = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260112T100000Z\nDTEND:20260112T110000Z\nEND:VEVENT\nEND:VCALENDAR"


def _vdi_samples() -> dict[str, Sample]:
    from cmdb.software.models import License
    from cmdb.virtualization.models import Cluster
    from vdi.models import (
        ClusterPolicy,
        Desktop,
        GpuProfile,
        HostCapacity,
        LicencePolicy,
        Pool,
        PoolScheduleRule,
        TimetableSource,
    )

    t, m = tenant, MARK.get

    def host(w: Any, s: str, n: int) -> int:
        return factories.device(f"hv{n}-{m(s)}", tenant=t(w, s), cluster=get(w, "virtualization.cluster", s)).pk

    def cluster(w: Any, s: str, n: int) -> int:
        return _save(Cluster(name=f"clx{n}-{m(s)}", type=w.cluster.type, tenant=t(w, s))).pk

    def licence(w: Any, s: str, n: int) -> int:
        return _save(License(name=f"licx{n}-{m(s)}", product=get(w, "software.softwareproduct", s), tenant=t(w, s))).pk

    def pool(w: Any, s: str) -> dict[str, Any]:
        return {"golden_image": get(w, "virtualization.virtualmachine", s).ci_id,
                "cluster": pk(w, "virtualization.cluster", s), "tenant": t(w, s).pk}

    return {
        "vdi.gpuprofile": Sample(_named(GpuProfile, "gpu", gpu_model="A16", frame_buffer_mb=2048),
                                 lambda w, s, n: {"name": f"gpu{n}", "slug": f"gpu{n}", "gpu_model": "A16",
                                                  "frame_buffer_mb": 1024}),
        "vdi.hostcapacity": Sample(
            lambda w, s: _save(HostCapacity(host=get(w, "dcim.device", s), cpu_cores=8, memory_mb=1024,
                                            uri=f"test:///{m(s)}")),
            lambda w, s, n: {"host": host(w, s, n), "cpu_cores": 4, "memory_mb": 512}),
        "vdi.clusterpolicy": Sample(
            lambda w, s: _save(ClusterPolicy(cluster=get(w, "virtualization.cluster", s))),
            lambda w, s, n: {"cluster": cluster(w, s, n), "cpu_overcommit": "2"}),
        "vdi.pool": Sample(
            lambda w, s: _save(Pool(name=f"pool-{m(s)}", golden_image_id=pool(w, s)["golden_image"],
                                    cluster_id=pool(w, s)["cluster"], tenant=t(w, s), description=m(s))),
            lambda w, s, n: {"name": f"pool{n}-{m(s)}", **pool(w, s)}),
        "vdi.poolschedulerule": Sample(
            lambda w, s: _save(PoolScheduleRule(pool=get(w, "vdi.pool", s), weekday=0, start="08:00",
                                                end="09:00", size=1)),
            lambda w, s, n: {"pool": pk(w, "vdi.pool", s), "weekday": 1, "start": "08:00", "end": "09:00",
                             "size": 0}),
        "vdi.timetablesource": Sample(
            lambda w, s: _save(TimetableSource(pool=get(w, "vdi.pool", s), name=f"tt-{m(s)}", content=VDI_ICS,
                                               size=1)),
            lambda w, s, n: {"pool": pk(w, "vdi.pool", s), "name": f"tt{n}", "content": VDI_ICS, "size": 0}),
        "vdi.desktop": Sample(
            lambda w, s: _save(Desktop(name=f"desk-{m(s)}", pool=get(w, "vdi.pool", s), description=m(s))),
            lambda w, s, n: {"name": f"desk{n}-{m(s)}", "pool": pk(w, "vdi.pool", s), "tenant": t(w, s).pk}),
        "vdi.licencepolicy": Sample(
            lambda w, s: _save(LicencePolicy(license=get(w, "software.license", s))),
            lambda w, s, n: {"license": licence(w, s, n), "on_exceed": "warn"}),
    }


def _changes_samples() -> dict[str, Sample]:
    import datetime as dt

    from cmdb.changes.models import (
        Approval,
        ApprovalGroup,
        Change,
        ChangeCollision,
        ChangePlan,
        ChangeTemplate,
        ChangeTransition,
        Freeze,
        UnauthorizedChange,
    )

    t, m, now = tenant, MARK.get, timezone.now

    def change(w: Any, s: str, prefix: str = "chg") -> Any:
        made = Change.objects.create(title=f"{prefix}-{m(s)}", description=m(s), tenant=t(w, s),
                                     requester=admin(w, s), window_start=now(),
                                     window_end=now() + dt.timedelta(hours=1))
        made.cis.set([_ci(w, s)])
        return made

    def later(hours: int) -> str:
        return (now() + dt.timedelta(hours=hours)).isoformat()

    return {
        "changes.change": Sample(
            change, lambda w, s, n: {"title": f"chg-{m(s)}-{n}", "tenant": t(w, s).pk, "cis": [_ci(w, s)]}),
        "changes.changetemplate": Sample(
            _named(ChangeTemplate, "tmpl", max_duration=dt.timedelta(hours=1)),
            lambda w, s, n: {"name": f"tmpl-{m(s, 'shared')}-{n}", "max_duration": "01:00:00"}),
        "changes.freeze": Sample(
            _named(Freeze, "freeze", start=lambda w, s: now(), end=lambda w, s: now() + dt.timedelta(days=1)),
            lambda w, s, n: {"name": f"freeze-{m(s, 'shared')}-{n}", "start": later(1), "end": later(2)}),
        "changes.approvalgroup": Sample(
            _named(ApprovalGroup, "cab", tenant=t, description=lambda w, s: m(s)),
            lambda w, s, n: {"name": f"cab-{m(s)}-{n}", "tenant": t(w, s).pk}),
        "changes.approval": Sample(
            lambda w, s: Approval.objects.create(change=get(w, "changes.change", s), user=admin(w, s),
                                                 decision="approve", comment=m(s))),
        "changes.changeplan": Sample(
            lambda w, s: ChangePlan.objects.create(change=get(w, "changes.change", s), message=m(s),
                                                   plan=get(w, "reconcile.plan", s))),
        "changes.changetransition": Sample(
            lambda w, s: ChangeTransition.objects.create(change=get(w, "changes.change", s), from_state="draft",
                                                         to_state="submitted", reason=m(s), at=now())),
        "changes.changecollision": Sample(
            lambda w, s: ChangeCollision.objects.create(change_a=get(w, "changes.change", s),
                                                        change_b=change(w, s, "chg2"), shared_ci_ids=[_ci(w, s)],
                                                        detected_at=now())),
        "changes.unauthorizedchange": Sample(
            lambda w, s: UnauthorizedChange.objects.create(ci_id=_ci(w, s), source="reconcile",
                                                           source_ref=f"ref-{m(s)}", detected_at=now(),
                                                           detail={"note": m(s)})),
    }


def _backup_samples(now: Any, t: Any, m: Any, named: Any) -> dict[str, Sample]:
    from backup.models import Policy, PolicyAttachment, Repository, RestoreTest, Run, Snapshot

    ref = "env:CMDB_RESTIC_PASSWORD"
    return {
        "backup.repository": Sample(
            lambda w, s: _save(Repository(name=f"repo-{m(s)}", repo_url=f"/srv/restic/{m(s)}", password_ref=ref,
                                          tenant=t(w, s))),
            lambda w, s, n: {**named("repo", s, n), "repo_url": f"/srv/restic/{n}", "password_ref": ref,
                             "tenant": t(w, s).pk}),
        "backup.policy": Sample(
            lambda w, s: _save(Policy(name=f"bpol-{m(s)}", paths=["/srv"], repository=get(w, "backup.repository", s),
                                      tenant=t(w, s))),
            lambda w, s, n: {**named("bpol", s, n), "paths": ["/srv"], "repository": pk(w, "backup.repository", s),
                             "tenant": t(w, s).pk}),
        "backup.policyattachment": Sample(
            lambda w, s: PolicyAttachment.objects.create(policy=get(w, "backup.policy", s), ci_id=_ci(w, s),
                                                         description=m(s)),
            lambda w, s, n: {"policy": pk(w, "backup.policy", s), "ci": _fresh_ci(w, s, n)}),
        "backup.snapshot": Sample(
            lambda w, s: Snapshot.objects.create(repository=get(w, "backup.repository", s), snapshot_id=m(s) * 8,
                                                 short_id=m(s)[:8], time=now(), hostname=f"host-{m(s)}",
                                                 ci_id=_ci(w, s), policy=get(w, "backup.policy", s))),
        "backup.run": Sample(
            lambda w, s: Run.objects.create(operation="backup", status="failed", ci_id=_ci(w, s), started=now(),
                                            repository=get(w, "backup.repository", s), message=m(s))),
        "backup.restoretest": Sample(
            lambda w, s: RestoreTest.objects.create(ci_id=_ci(w, s), repository=get(w, "backup.repository", s),
                                                    passed=True, tested_at=now(), message=m(s))),
    }


def _fresh_device(w: Any, side: str, n: int) -> int:
    return factories.device(f"y{n}-{MARK[side]}", tenant=tenant(w, side)).pk


def _with_tenants(context: Any, tenants: list[Any]) -> Any:
    context.tenants.set(tenants)
    return context


SAMPLES: dict[str, Sample] = {}


def _cross_links(w: Any) -> None:
    """Links an administrator made across tenants: visible to alice on her side, naming bob's objects.

    (A cross-tenant relationship is made only in the test about such links: its change record
    names both CIs, see docs/security.md.)
    """
    from cmdb.ipam.models import IPAddress

    w.cross_ip = _save(IPAddress(address="10.3.0.1/24", tenant=w.a, interface=get(w, "dcim.interface", "b"),
                                 description="cross asample"))
    w.cross_dev = factories.device("dev-cross-asample", tenant=w.a, owner=get(w, "tenancy.contact", "b"))


@pytest.fixture
def walk(world: Any, superuser: Any) -> Any:
    """The security world plus one sample per side of every model an endpoint serves."""
    w = world
    w.superuser = superuser
    w.su_api = token_client(superuser)
    # Write-enabled, so that the grant (not a read-only token) is what refuses the viewer's writes.
    w.viewer_rw = token_client(world.viewer)
    add_samples(w)
    _cross_links(w)
    w.n = 0
    return w


def add_samples(w: Any) -> Any:
    """One sample per side (or one shared) of every model in :data:`SAMPLES`, in ``w.samples``."""
    if not SAMPLES:
        SAMPLES.update(_samples())
    w.samples = {}
    for label in SAMPLES:
        kind = scope_of(apps.get_model(label)).kind
        for side in ("s",) if kind in ("shared", "admin") else ("a", "b"):
            get(w, label, side)
    return w


def _next(w: Any) -> int:
    w.n += 1
    return w.n


# --- endpoint discovery -----------------------------------------------------------------------------------------


def _patterns(resolver: Any = None, prefix: str = "", namespace: str = "") -> Any:
    """(path, pattern, namespaced name) of every URL."""
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p, prefix + str(p.pattern), f"{p.namespace}:" if p.namespace else namespace)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p, f"{namespace}{p.name}"


@dataclass
class Endpoint:
    viewset: type
    basename: str
    detail_actions: list[str]  # url names of extra GET actions on one object

    @property
    def model(self) -> type[models.Model]:
        return self.viewset.queryset.model

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    def list_url(self) -> str:
        return reverse(f"{self.basename}-list")

    def detail_url(self, pk: Any) -> str:
        return reverse(f"{self.basename}-detail", kwargs={"pk": pk})


def router_endpoints() -> list[Endpoint]:
    found: dict[str, Endpoint] = {}
    extra: list[tuple[str, Any]] = []
    for path, p, _name in _patterns():
        cls = getattr(p.callback, "cls", None)
        if not path.startswith("api/") or cls is None or not issubclass(cls, CMDBModelViewSet):
            continue
        if p.name.endswith("-list"):
            found[p.name[: -len("-list")]] = Endpoint(cls, p.name[: -len("-list")], [])
        elif not p.name.endswith("-detail"):
            extra.append((path, p))
    for path, p in extra:
        owner = max((b for b in found if p.name.startswith(f"{b}-")), key=len)
        if "(?P<pk>" in path and "get" in p.callback.actions:
            found[owner].detail_actions.append(p.name)
    return sorted(found.values(), key=lambda e: e.basename)


def other_api_views() -> list[tuple[str, Any, Any]]:
    """(path, name, view class) of every API URL that is not a router's list or detail."""
    out = []
    for path, p, _name in _patterns():
        if not path.startswith("api/"):
            continue
        cls = getattr(p.callback, "cls", None) or getattr(p.callback, "view_class", None)
        if cls is not None and isinstance(cls, type) and issubclass(cls, CMDBModelViewSet):
            continue
        out.append((path, p.name, cls))
    return out


def _kind(label: str) -> str:
    return scope_of(apps.get_model(label)).kind


def _tenanted(label: str) -> bool:
    return _kind(label) in ("tenant", "owner", "target")


def _sample_or_problem(w: Any, label: str, where: str, problems: list[str]) -> bool:
    if label in SAMPLES:
        return True
    problems.append(f"{where} serves {label}, which has no sample creator: add one to SAMPLES in "
                    "tests/security/test_scope_walk.py (a tenant-A and a tenant-B object, or one shared object).")
    return False


def _body(r: Any) -> str:
    return b"".join(r.streaming_content).decode() if getattr(r, "streaming", False) else r.content.decode()


def _check_text(problems: list[str], what: str, r: Any, ignore: str = "") -> None:
    if r.status_code >= 500:
        problems.append(f"{what}: HTTP {r.status_code}")
        return
    text = _body(r)
    if ignore:
        text = text.replace(ignore, "")
    found = leaks(text)
    if found:
        problems.append(f"{what}: answer names tenant B ({', '.join(found)}): {text[:300]}")


def _ids(r: Any) -> set[Any]:
    data = r.json()
    rows = data.get("results", data) if isinstance(data, dict) else data
    return {row.get("id") for row in rows if isinstance(row, dict)}


# --- 2. API reads -----------------------------------------------------------------------------------------------


def test_every_api_endpoint_walks(walk):
    """Sanity of the walk itself: the endpoints it discovers, and a sample for each."""
    endpoints = router_endpoints()
    assert len(endpoints) > 40
    problems: list[str] = []
    for ep in endpoints:
        _sample_or_problem(walk, ep.label, ep.list_url(), problems)
    assert not problems, "\n".join(problems)


def test_alice_reads_nothing_of_tenant_b(walk):
    w, api, problems = walk, walk.a_api, []
    for ep in router_endpoints():
        if not _sample_or_problem(w, ep.label, ep.list_url(), problems):
            continue
        kind, url = _kind(ep.label), ep.list_url()
        for query in ("?limit=0", "?limit=0&brief=1", "?q=bsecret"):
            r = api.get(url + query)
            _check_text(problems, f"GET {url}{query}", r)
            if kind == "admin" and r.status_code != 403:
                problems.append(f"GET {url}{query}: admin-only data answered {r.status_code} to a tenant admin")
        r = api.get(url + "?limit=0")
        if _tenanted(ep.label):
            a, b = get(w, ep.label, "a"), get(w, ep.label, "b")
            if r.status_code != 200:
                problems.append(f"GET {url}: {r.status_code} for alice")
            else:
                ids = _ids(r)
                if a.pk not in ids:
                    problems.append(f"GET {url}: alice's own {ep.label} {a.pk} is missing (is the walk vacuous?)")
                if b.pk in ids:
                    problems.append(f"GET {url}: lists tenant B's {ep.label} {b.pk}")
            rb = api.get(ep.detail_url(b.pk))
            if rb.status_code not in (403, 404):
                problems.append(f"GET {ep.detail_url(b.pk)} (tenant B): {rb.status_code}")
            ra = api.get(ep.detail_url(a.pk))
            _check_text(problems, f"GET {ep.detail_url(a.pk)}", ra)
            if ra.status_code != 200:
                problems.append(f"GET {ep.detail_url(a.pk)} (alice's own): {ra.status_code}")
            for name in ep.detail_actions:
                rb = api.get(reverse(name, kwargs={"pk": b.pk}))
                if rb.status_code not in (403, 404):
                    problems.append(f"GET {reverse(name, kwargs={'pk': b.pk})} (tenant B): {rb.status_code}")
                _check_text(problems, f"GET {reverse(name, kwargs={'pk': a.pk})}",
                            api.get(reverse(name, kwargs={"pk": a.pk})))
        else:
            s = get(w, ep.label, "s")
            r = api.get(ep.detail_url(s.pk))
            if kind == "admin" and r.status_code not in (403, 404):
                problems.append(f"GET {ep.detail_url(s.pk)}: admin-only data answered {r.status_code}")
            _check_text(problems, f"GET {ep.detail_url(s.pk)}", r)
    assert not problems, "\n".join(problems)


def test_filters_by_related_objects_do_not_reveal_tenant_b(walk):
    """``?<fk>_id=<tenant B's object>`` answers exactly like an id that does not exist."""
    from cmdb.api.filters import RelatedFilter

    w, api, problems = walk, walk.a_api, []
    for ep in router_endpoints():
        filterset = getattr(ep.viewset, "filterset_class", None)
        if filterset is None or not has_view(w.alice, ep.model):
            continue
        for name, flt in filterset.base_filters.items():
            if not isinstance(flt, RelatedFilter) or flt.exclude:
                continue
            label = flt.related._meta.label_lower
            if not _tenanted(label) or not _sample_or_problem(w, label, f"filter {ep.list_url()}?{name}=", problems):
                continue
            target = get(w, label, "b")
            value = target.pk if flt.to_field == "pk" else getattr(target, flt.to_field)
            if flt.to_field != "pk" and restrict(flt.related._default_manager.filter(**{flt.to_field: value}),
                                                 fresh(w.alice)).exists():
                continue  # alice has her own object of that name (two jobs are both "jobs.echo")
            unknown = 987654321 if flt.to_field == "pk" else "no-such-thing-zz"
            foreign, missing = api.get(ep.list_url(), {name: value}), api.get(ep.list_url(), {name: unknown})
            what = f"GET {ep.list_url()}?{name}=<tenant B's {label}>"
            _check_text(problems, what, foreign, ignore=str(value))
            if foreign.status_code != missing.status_code:
                problems.append(f"{what}: {foreign.status_code}, but {missing.status_code} for an unknown value")
            elif foreign.status_code == 400 and foreign.content.decode().replace(str(value), "X") != \
                    missing.content.decode().replace(str(unknown), "X"):
                problems.append(f"{what}: the error differs from an unknown value's: {foreign.content[:200]}")
    assert not problems, "\n".join(problems)


def has_view(user: Any, model: Any) -> bool:
    from cmdb.users.permissions import has_action

    return has_action(get_user_model().objects.get(pk=user.pk), model, "view")


def test_cross_tenant_links_are_shown_without_the_other_side(walk):
    """Rows alice may see that an administrator pointed at tenant B's objects."""
    from cmdb.services.models import Relationship

    w, api = walk, walk.a_api
    w.cross_rel = Relationship.objects.create(
        source_id=w.cross_dev.ci_id, target_id=get(w, "virtualization.virtualmachine", "b").ci_id,
        type=get(w, "services.relationshiptype", "s"), description="cross asample")
    web = _web(w.alice)
    for url in ("/services/relationships/", "/services/relationships/export/?format=json"):
        assert not leaks(web.get(url).content.decode()), url
    ip = api.get(f"/api/ipam/ip-addresses/{w.cross_ip.pk}/").json()
    assert ip["assigned_object"] is None and ip["assigned_object_id"] is None
    dev = api.get(f"/api/dcim/devices/{w.cross_dev.pk}/").json()
    assert dev["owner"] is None and dev["tenant"]["id"] == w.a.pk
    ci = api.get(f"/api/core/configuration-items/{w.cross_dev.ci_id}/").json()
    assert ci["owner"] is None
    rel = api.get(f"/api/services/relationships/{w.cross_rel.pk}/").json()
    assert rel["target"] is None and rel["source"]["id"] == w.cross_dev.ci_id
    stack = api.get(f"/api/services/stack/?ci={w.cross_dev.ci_id}")
    assert stack.status_code == 200 and not leaks(stack.content.decode()), stack.content
    # The administrators who made the links still see both ends.
    assert w.su_api.get(f"/api/services/relationships/{w.cross_rel.pk}/").json()["target"]["name"] == "vm-bsecret"
    assert w.viewer_api.get(f"/api/dcim/devices/{w.cross_dev.pk}/").json()["owner"]["name"] == "contact-bsecret"


# --- 3. API writes ----------------------------------------------------------------------------------------------


def _row(model: Any, pk: Any) -> Any:
    return model._base_manager.filter(pk=pk).values().first()


def _refused(problems: list[str], what: str, r: Any, names: tuple[str, ...] = ()) -> None:
    if r.status_code not in REFUSED:
        problems.append(f"{what}: {r.status_code} {r.content[:300]!r}")
    elif r.status_code == 400 and names:
        body = r.content.decode()
        if not any(f'"{n}"' in body for n in names):
            problems.append(f"{what}: refused, but not for {'/'.join(names)}: {body[:300]}")


def _reference_fields(ep: Endpoint) -> dict[str, tuple[str, ...]]:
    """Payload keys that refer to other objects -> the error keys a refusal may name."""
    serializer = ep.viewset.serializer_class
    out = {name: (name,) for name, _model in _related_fields(serializer)}
    for spec in generic_specs(serializer):
        out[spec.id_field] = (spec.id_field, spec.type_field)
    return out


def test_alice_changes_nothing_of_tenant_b(walk):
    w, api, problems = walk, walk.a_api, []
    for ep in router_endpoints():
        if ep.label not in SAMPLES:
            continue  # reported by test_every_api_endpoint_walks
        methods = set(ep.viewset.http_method_names)
        model, url, sample = ep.model, ep.list_url(), SAMPLES[ep.label]
        victim = get(w, ep.label, "b" if _tenanted(ep.label) else "s")
        before = _row(model, victim.pk)
        for method, target, data in (
            ("patch", ep.detail_url(victim.pk), {"description": "pwned"}),
            ("put", ep.detail_url(victim.pk), {"description": "pwned"}),
            ("delete", ep.detail_url(victim.pk), None),
            ("patch", url, [{"id": victim.pk, "description": "pwned"}]),
            ("put", url, [{"id": victim.pk, "description": "pwned"}]),
            ("delete", url, [{"id": victim.pk}]),
        ):
            if method not in methods:
                continue
            r = getattr(api, method)(target, data, format="json")
            _refused(problems, f"{method.upper()} {target} on {ep.label} {victim.pk}", r)
            if _row(model, victim.pk) != before:
                problems.append(f"{method.upper()} {target}: changed {ep.label} {victim.pk}")
                before = _row(model, victim.pk)
        if "post" not in methods or sample.payload is None:
            continue
        payload = sample.payload
        own = payload(w, "a", _next(w))
        count = model._base_manager.count()
        r = api.post(url, own, format="json")
        if _tenanted(ep.label) and sample.alice_creates:
            if r.status_code != 201:
                problems.append(f"POST {url} (alice's own data): {r.status_code} {r.content[:300]!r}")
        else:
            _refused(problems, f"POST {url} ({_kind(ep.label)} data) by a tenant admin", r)
            ok = w.su_api.post(url, payload(w, "a", _next(w)), format="json")
            if ok.status_code != 201:
                problems.append(f"POST {url} as superuser (is the payload valid?): {ok.status_code} "
                                f"{ok.content[:200]!r}")
        if not _tenanted(ep.label):
            continue
        attempts = []
        for key, names in _reference_fields(ep).items():
            mine, theirs = payload(w, "a", _next(w)), payload(w, "b", _next(w))
            if key not in mine or mine[key] == theirs.get(key):
                continue
            attempts.append((f"{key} -> tenant B", {**mine, key: theirs[key]}, names))
            if not key.endswith("_id"):
                attempts.append((f"{key} -> {{'id': tenant B's}}", {**mine, key: {"id": theirs[key]}}, names))
        if attempts:  # the payloads differ in what they refer to, not only in names
            attempts.append(("tenant B's payload", payload(w, "b", _next(w)), ()))
            attempts.append(("a batch with one tenant-B item",
                             [payload(w, "a", _next(w)), payload(w, "b", _next(w))], ()))
        for what, data, names in attempts:
            count = model._base_manager.count()
            r = api.post(url, data, format="json")
            _refused(problems, f"POST {url} with {what}", r, names)
            if model._base_manager.count() != count:
                problems.append(f"POST {url} with {what}: created {model._base_manager.count() - count} rows")
    assert not problems, "\n".join(problems)


def test_the_campus_viewer_cannot_write_anywhere(walk):
    w, api, problems = walk, walk.viewer_rw, []
    for ep in router_endpoints():
        if ep.label not in SAMPLES:
            continue
        methods = set(ep.viewset.http_method_names)
        model, url = ep.model, ep.list_url()
        victim = get(w, ep.label, "a" if _tenanted(ep.label) else "s")
        before, count = _row(model, victim.pk), model._base_manager.count()
        # A row the viewer may not even see (another user's token) is "not found" to them, as it is to anyone
        # else without sight of it; a row they see must be refused as a write.
        sees = api.get(ep.detail_url(victim.pk)).status_code == 200
        refusals = {403} if sees else {403, 404}
        payload = SAMPLES[ep.label].payload
        for method, target, data in (
            ("post", url, payload(w, "a", _next(w)) if payload else {}),
            ("post", url, [payload(w, "a", _next(w))] if payload else [{}]),
            ("patch", ep.detail_url(victim.pk), {"description": "viewer"}),
            ("put", ep.detail_url(victim.pk), {"description": "viewer"}),
            ("delete", ep.detail_url(victim.pk), None),
            ("patch", url, [{"id": victim.pk, "description": "viewer"}]),
            ("delete", url, [{"id": victim.pk}]),
        ):
            if method not in methods:
                continue
            r = getattr(api, method)(target, data, format="json")
            expected = {403} if method == "post" else refusals
            if r.status_code not in expected:
                problems.append(f"viewer {method.upper()} {target}: {r.status_code} {r.content[:200]!r}")
        if _row(model, victim.pk) != before or model._base_manager.count() != count:
            problems.append(f"viewer changed {ep.label}")
    assert not problems, "\n".join(problems)


# --- 4. API views outside the routers ---------------------------------------------------------------------------


def _no_data(w: Any, problems: list[str], path: str) -> None:
    """Describes the API (version, schema), holds no tenant data."""


def _get_clean(url: str) -> Callable[[Any, list[str], str], None]:
    def walker(w: Any, problems: list[str], path: str) -> None:
        _check_text(problems, f"GET {url}", w.a_api.get(url))
    return walker


def _search(w: Any, problems: list[str], path: str) -> None:
    r = w.a_api.get("/api/core/search/?q=secret")
    _check_text(problems, "GET /api/core/search/?q=secret", r)
    if r.status_code != 200 or r.json()["count"] != 0:
        problems.append(f"global search for tenant B's marker: {r.status_code} {r.content[:300]!r}")
    if not w.a_api.get("/api/core/search/?q=asample").json()["count"]:
        problems.append("global search does not find alice's own objects (is the walk vacuous?)")


def _ci_question(url: str) -> Callable[[Any, list[str], str], None]:
    def walker(w: Any, problems: list[str], path: str) -> None:
        r = w.a_api.get(url, {"ci": _ci(w, "b")})
        if r.status_code != 400:
            problems.append(f"GET {url}?ci=<tenant B's CI>: {r.status_code}")
        _check_text(problems, f"GET {url}?ci=<tenant B's CI>", r)
        for ci in (_ci(w, "a"), w.cross_dev.ci_id):
            r = w.a_api.get(url, {"ci": ci})
            _check_text(problems, f"GET {url}?ci={ci}", r)
            if r.status_code != 200:
                problems.append(f"GET {url}?ci=<alice's CI>: {r.status_code}")
    return walker


def _inventory(w: Any, problems: list[str], path: str) -> None:
    for query in ("", "?host=dev-bsecret"):
        _check_text(problems, f"GET /api/ansible/inventory/{query}", w.a_api.get(f"/api/ansible/inventory/{query}"))


def _service_discovery(w: Any, problems: list[str], path: str) -> None:
    from monitoring import discovery

    for source in discovery.SOURCES:
        url = f"/api/monitoring/sd/{source}/"
        _check_text(problems, f"GET {url}", w.a_api.get(url))


def _alertmanager(w: Any, problems: list[str], path: str) -> None:
    from monitoring.models import Incident

    alert = {"status": "firing", "labels": {"alertname": "Pwn", "ci_id": str(_ci(w, "b"))}, "annotations": {},
             "startsAt": timezone.now().isoformat(), "generatorURL": "", "fingerprint": "walkfp"}
    payload = {"version": "4", "status": "firing", "receiver": "cmdb", "groupLabels": {}, "commonLabels": {},
               "commonAnnotations": {}, "externalURL": "", "alerts": [alert]}
    r = w.a_api.post("/api/monitoring/alertmanager/", payload, format="json")
    _check_text(problems, "POST /api/monitoring/alertmanager/", r)
    if Incident.objects.filter(ci_id=_ci(w, "b"), fingerprint="walkfp").exists():
        problems.append("alice's Alertmanager token opened an incident on tenant B's CI")


def _reports(w: Any, problems: list[str], path: str) -> None:
    """GET is the report schema; ingest within the reporter's tenant is the discovery suite's (sec-discovery)."""
    _check_text(problems, "GET /api/discovery/reports/", w.a_api.get("/api/discovery/reports/"))


def _admin_only(url: str, method: str = "get") -> Callable[[Any, list[str], str], None]:
    """Superusers' views (the audit chain's status, erasure): a tenant administrator is refused outright."""
    def walker(w: Any, problems: list[str], path: str) -> None:
        r = getattr(w.a_api, method)(url, {}, format="json")
        if r.status_code != 403:
            problems.append(f"{method.upper()} {url} as alice: {r.status_code} {r.content[:200]!r}")
    return walker


def _gate(w: Any, problems: list[str], path: str) -> None:
    """Asking the change gate about tenant B's CI or plan answers as if they did not exist."""
    r = w.a_api.post("/api/changes/gate/", {"ci_ids": [_ci(w, "b")]}, format="json")
    _check_text(problems, "POST /api/changes/gate/ (tenant B's CI)", r)
    if r.status_code != 200 or r.json()["allow"] or r.json()["reasons"] != [f"CI {_ci(w, 'b')} does not exist."]:
        problems.append(f"POST /api/changes/gate/ about tenant B's CI: {r.status_code} {r.content[:300]!r}")
    r = w.a_api.post("/api/changes/gate/", {"plan": pk(w, "reconcile.plan", "b")}, format="json")
    _check_text(problems, "POST /api/changes/gate/ (tenant B's plan)", r)
    if r.status_code != 400:
        problems.append(f"POST /api/changes/gate/ with tenant B's plan: {r.status_code}")


VIEW_WALKERS: dict[str | None, Callable[[Any, list[str], str], None]] = {
    "core-audit": _admin_only("/api/core/audit/"),
    "core-audit-erasures": _admin_only("/api/core/audit/erasures/", "post"),
    "api-root": _get_clean("/api/"),
    "api-status": _get_clean("/api/status/"),
    "api-schema": _no_data,
    "api-docs": _no_data,
    "api-redoc": _no_data,
    "core-search": _search,
    "services-impact": _ci_question("/api/services/impact/"),
    "services-stack": _ci_question("/api/services/stack/"),
    "software-compliance": _get_clean("/api/software/compliance/"),
    "reconcile-reconcilers": _get_clean("/api/reconcile/reconcilers/"),  # code metadata: names, options
    "ansible-inventory": _inventory,
    "monitoring-sd": _service_discovery,
    "monitoring-alertmanager": _alertmanager,
    "discovery-reports": _reports,
    "vdi-capacity": _get_clean("/api/vdi/capacity/"),
    "backup-coverage": _get_clean("/api/backup/coverage/"),
    "changes-gate": _gate,
}


def test_api_views_outside_the_routers_keep_tenant_b_from_alice(walk):
    from cmdb.api.routers import EmptyListView

    problems: list[str] = []
    for path, name, cls in other_api_views():
        if cls is EmptyListView:
            r = walk.a_api.get("/" + path.replace("^", "").replace("$", ""))
            if r.status_code != 200 or r.json()["count"] != 0:
                problems.append(f"GET /{path}: {r.status_code}")
            continue
        if cls is not None and cls.__name__.endswith("RootView"):  # an app's list of endpoints
            continue
        walker = VIEW_WALKERS.get(name)
        if walker is None:
            problems.append(f"/{path} (name {name!r}) has no walker: add one to VIEW_WALKERS in "
                            "tests/security/test_scope_walk.py that shows it answers tenant A only for tenant A.")
            continue
        walker(walk, problems, path)
    assert not problems, "\n".join(problems)


# --- 5. web pages and exports -----------------------------------------------------------------------------------


def _web(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_web_lists_details_and_exports_keep_tenant_b_from_alice(walk):
    from cmdb.ui.registry import all_views

    w, web, problems = walk, _web(walk.alice), []
    for view in all_views():
        if not _sample_or_problem(w, view.label, view.url(), problems):
            continue
        for url in [view.url(), f"{view.url()}?q=secret",
                    *(f"{reverse('ui:export', kwargs={'app': view.app, 'slug': view.slug})}?format={fmt}"
                      for fmt in ("csv", "json", "yaml"))]:
            r = web.get(url)
            _check_text(problems, f"GET {url}", r)
            if _kind(view.label) == "admin" and r.status_code != 403:
                problems.append(f"GET {url}: admin-only page answered {r.status_code}")
        if _tenanted(view.label):
            b, a = get(w, view.label, "b"), get(w, view.label, "a")
            for action in ("detail", "edit", "delete"):
                if view.read_only and action != "detail":
                    continue
                r = web.get(view.url(action, b.pk))
                if r.status_code not in (403, 404):
                    problems.append(f"GET {view.url(action, b.pk)} (tenant B): {r.status_code}")
            r = web.get(view.url("detail", a.pk))
            _check_text(problems, f"GET {view.url('detail', a.pk)}", r)
    for url in ("/dcim/devices/", f"/dcim/devices/{w.cross_dev.pk}/", "/ipam/ip-addresses/",
                f"/ipam/ip-addresses/{w.cross_ip.pk}/", "/dcim/devices/export/?format=csv",
                "/ipam/ip-addresses/export/?format=yaml", "/core/configuration-items/"):
        _check_text(problems, f"GET {url} (cross-tenant links)", web.get(url))
    assert not problems, "\n".join(problems)


def _page_with_pk(w: Any, name: str) -> tuple[str, Any] | None:
    """URL of another tenant's (or admin-only) object for a page that takes an id; None if not known."""
    objects = {
        "monitoring:incident-detail": ("monitoring.incident", "pk"),
        "reconcile:run_detail": ("reconcile.reconcilerun", "pk"),
        "reconcile:plan_detail": ("reconcile.plan", "pk"),
        "reconcile:plan_apply": ("reconcile.plan", "pk"),
        "jobs:job_detail": ("jobs.job", "pk"),
        "jobs:schedule_edit": ("jobs.schedule", "pk"),
        "discovery-reconciliation": ("discovery.host", "ci_id"),
        "ui:ci": ("core.configurationitem", "ci_id"),
        "changes:change_detail": ("changes.change", "pk"),
        "changes:change_transition": ("changes.change", "pk"),
        "changes:change_decide": ("changes.change", "pk"),
        "changes:change_apply": ("changes.change", "pk"),
    }
    if name not in objects:
        return None
    label, kwarg = objects[name]
    target = get(w, label, "b")
    return reverse(name, kwargs={kwarg: target.pk}), target


def test_every_other_web_page_keeps_tenant_b_from_alice(walk):
    w, web, problems = walk, _web(walk.alice), []
    skip = {"ui:login", "ui:login_verify", "ui:logout"}  # authentication, no data
    generic = {"ui:list", "ui:add", "ui:import", "ui:export", "ui:bulk_edit", "ui:bulk_delete", "ui:detail",
               "ui:edit", "ui:delete", "ui:journal_add"}  # walked per model above
    for path, p, name in _patterns():
        if path.startswith(("api/", "admin/")):
            continue
        if name in skip or name in generic:
            continue
        if p.pattern.converters:
            found = _page_with_pk(w, name)
            if found is None:
                problems.append(f"/{path} (name {name!r}) takes an id but the walk does not know which object to "
                                "try: add it to _page_with_pk in tests/security/test_scope_walk.py.")
                continue
            url, _target = found
            r = web.get(url)
            if r.status_code not in (403, 404):
                problems.append(f"GET {url} (tenant B's): {r.status_code}")
            _check_text(problems, f"GET {url}", r)
            continue
        url = "/" + path
        # The metrics endpoint takes a token, the pages a session.
        r = Client().get(url, HTTP_AUTHORIZATION=f"Token {w.a_api.key}") if name == "metrics" else web.get(url)
        _check_text(problems, f"GET {url}", r)
    _check_text(problems, "GET /search/?q=secret", web.get("/search/?q=secret"))
    assert not problems, "\n".join(problems)


def test_unused_names_are_kept_out(walk):
    """The samples registry names only real models (a renamed model must not leave a dead entry)."""
    unknown = [label for label in SAMPLES if not re.fullmatch(r"[a-z0-9_]+\.[a-z0-9]+", label)]
    for label in SAMPLES:
        apps.get_model(label)
    assert not unknown
    assert isinstance(walk, SimpleNamespace)
