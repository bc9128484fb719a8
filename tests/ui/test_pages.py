"""Every registered model's pages render for an administrator (list, detail, add, export, import form)."""

from __future__ import annotations

import pytest

from cmdb.ui.registry import all_views


def _complete(world):
    """Add the kinds the API test world lacks, so every page has an object to show."""
    from django.contrib.contenttypes.models import ContentType

    from cmdb.dcim.models import Device, Location
    from cmdb.extras.models import CustomField, JournalEntry
    from cmdb.ipam.models import Prefix
    from cmdb.tenancy.models import TenantGroup
    from tests.factories import contact_assignment
    from tests.services.world import add_software_and_services

    contact_assignment(world)
    Location.objects.create(name="Building A", slug="building-a", site=world.zittau)
    Prefix.objects.create(prefix="10.1.0.0/24", site=world.zittau)
    TenantGroup.objects.create(name="Faculties", slug="faculties")
    CustomField.objects.create(name="cost_center", object_types=["dcim.device"])
    JournalEntry.objects.create(assigned_object_type=ContentType.objects.get_for_model(Device),
                                assigned_object_id=world.devices["web01"].pk, comments="Replaced a disk")
    from monitoring.models import ExporterType, Monitor

    node = ExporterType.objects.create(name="node", slug="node", port=9100)
    Monitor.objects.create(ci_id=world.devices["web01"].ci_id, exporter_type=node)
    add_software_and_services(world)  # tests/services/world.py
    from tests.backup.pages import add_backup_objects

    add_backup_objects(world.devices["web01"].ci_id)  # tests/backup/pages.py
    from discovery.services import ingest_report
    from tests.discovery.helpers import report

    ingest_report(report(serial="UI-1", hostname="discovered-host", os_name="Debian"))
    from tests.vdi.world import add_vdi

    add_vdi(world)  # tests/vdi/world.py
    from cmdb.tenancy.models import Contact
    from k8s.models import Cluster as K8sCluster
    from k8s.models import K8sSubject
    from k8s.models import Namespace as K8sNamespace

    k8s_cluster = K8sCluster(name="campus", api_url="https://k8s.example.org", credentials="env:CMDB_K8S_TOKEN")
    k8s_cluster.save()
    k8s_namespace = K8sNamespace(cluster=k8s_cluster, name="physics-web", requests_cpu="2", pods=20)
    k8s_namespace.save()
    K8sSubject.objects.create(contact=Contact.objects.order_by("pk").first(), name="alice")
    from k8s.models import Node, Workload

    Node(cluster=k8s_cluster, name="k8s-node-1", kubelet_version="v1.20.2").save()
    Workload(cluster=k8s_cluster, namespace=k8s_namespace, kind="Deployment", name="physics-app").save()
    _add_changes(world)


def _add_changes(world):
    """Change management's reference data and an unauthorized change (the change pages have tests of their own)."""
    import datetime as dt

    from django.utils import timezone

    from cmdb.changes.models import ApprovalGroup, ChangeTemplate, Freeze, UnauthorizedChange

    now = timezone.now()
    ChangeTemplate.objects.create(name="Patch a web VM", max_duration=dt.timedelta(hours=2))
    Freeze.objects.create(name="Exam weeks", start=now, end=now + dt.timedelta(days=14), reason="exams")
    ApprovalGroup.objects.create(name="CAB", quorum=1)
    UnauthorizedChange.objects.create(ci_id=world.devices["web01"].ci_id, source="reconcile", source_ref="run 1",
                                      detected_at=now, detail={"note": "drift"})


def _views():
    return sorted(all_views(), key=lambda v: v.label)


@pytest.mark.django_db
@pytest.mark.parametrize("view", _views(), ids=lambda v: v.label)
def test_every_model_page_renders(admin_client, world, view):
    _complete(world)
    r = admin_client.get(view.url())
    assert r.status_code == 200, r.content[:500]
    obj = view.model._default_manager.order_by("pk").first()
    assert obj is not None, f"the test world has no {view.label}"
    r = admin_client.get(view.url("detail", obj.pk))
    assert r.status_code == 200
    assert str(obj) in r.content.decode() or view.label in ("extras.journalentry",)
    for fmt in ("csv", "json", "yaml"):
        r = admin_client.get(f"{view.url('export')}?format={fmt}")
        assert r.status_code == 200 and r["Content-Disposition"].endswith(f'.{fmt}"')
    if not view.read_only:
        assert admin_client.get(view.url("add")).status_code == 200
        assert admin_client.get(view.url("edit", obj.pk)).status_code == 200
        assert admin_client.get(view.url("import")).status_code == 200
        assert admin_client.get(view.url("delete", obj.pk)).status_code == 200
