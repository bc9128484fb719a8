"""The libvirt driver and the pool runs against libvirt's test driver (test:///default): real libvirt-python,
real domain XML, real define/start/destroy/undefine."""

from __future__ import annotations

import threading

import libvirt
import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from vdi.models import Desktop, HostCapacity
from vdi.runs import assign, release, run_pool

from .conftest import at, make_pool

GOLDEN_XML = """<domain type='test'>
  <name>golden-cad</name>
  <memory unit='MiB'>2048</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>
  </devices>
</domain>"""


@pytest.fixture
def hypervisor():
    conn = libvirt.open("test:///default")
    conn.defineXML(GOLDEN_XML)
    yield conn
    for dom in conn.listAllDomains():
        if dom.name().startswith(("lab-", "cad-", "golden-")):
            if dom.isActive():
                dom.destroy()
            dom.undefine()
    conn.close()


def ours(conn, prefix: str = "lab-") -> dict[str, object]:
    return {d.name(): d for d in conn.listAllDomains() if d.name().startswith(prefix)}


@pytest.fixture
def lab(vdi_world, hypervisor):
    return make_pool(vdi_world, "lab", pool_type="pooled", vcpus=2, memory_mb=1024, min_size=2, max_size=6, spare=1)


@pytest.mark.django_db
def test_scale_up_to_the_spare_count_cloning_the_golden_image(lab, hypervisor, vdi_world):
    result = run_pool(lab, at=at(0, 3))
    assert result.wanted == 2
    assert [(o.item.action, o.item.desktop, o.status, o.host) for o in result.outcomes] == [
        ("create", "lab-001", "ok", "hv1"), ("create", "lab-002", "ok", "hv1")]
    domains = ours(hypervisor)
    assert sorted(domains) == ["lab-001", "lab-002"] and all(d.isActive() for d in domains.values())
    xml = domains["lab-001"].XMLDesc()
    assert "52:54:00:aa:bb:cc" not in xml and "<vcpu placement='static'>2</vcpu>" in xml and "1048576" in xml
    rows = list(Desktop.objects.filter(pool=lab).values_list("name", "state", "host__name", "tenant_id"))
    assert rows == [("lab-001", "ready", "hv1", vdi_world.tenant.pk), ("lab-002", "ready", "hv1",
                                                                      vdi_world.tenant.pk)]
    assert Desktop.objects.get(name="lab-001").ci_id  # a CI
    # Two desktops in use: the spare desktop is added on the next run; the run after that plans nothing.
    users = get_user_model().objects
    alice, bob = users.create(username="alice"), users.create(username="bob")
    assert assign(lab, alice).name == "lab-001" and assign(lab, bob).name == "lab-002"
    assert assign(lab, users.create(username="carol")) is None
    result = run_pool(lab, at=at(0, 3))
    assert [(o.item.action, o.item.desktop) for o in result.outcomes] == [("create", "lab-003")]
    assert run_pool(lab, at=at(0, 3)).items == []


@pytest.mark.django_db
def test_release_recycles_a_pooled_desktop_and_a_broken_one_is_replaced(lab, hypervisor, vdi_world):
    run_pool(lab, at=at(0, 3))
    user = get_user_model().objects.create(username="alice")
    desktop = assign(lab, user)
    old_uuid = desktop.domain_uuid
    release(desktop)
    desktop.refresh_from_db()
    assert desktop.state == "draining" and desktop.assigned_user is None
    result = run_pool(lab, at=at(0, 3))
    assert [(o.item.action, o.item.desktop, o.item.reason, o.status) for o in result.outcomes] == [
        ("replace", "lab-001", "released: recycled", "ok")]
    desktop.refresh_from_db()
    assert desktop.state == "ready" and desktop.domain_uuid != old_uuid  # a fresh clone
    # A domain that vanished behind the CMDB's back, and a desktop marked broken: both replaced.
    ours(hypervisor)["lab-002"].destroy()
    ours(hypervisor)["lab-002"].undefine()
    Desktop.objects.filter(name="lab-001").update(state="broken")
    result = run_pool(lab, at=at(0, 3))
    assert sorted((o.item.desktop, o.item.reason, o.status) for o in result.outcomes) == [
        ("lab-001", "broken", "ok"), ("lab-002", "domain missing", "ok")]
    assert sorted(ours(hypervisor)) == ["lab-001", "lab-002"]
    assert set(Desktop.objects.values_list("state", flat=True)) == {"ready"}


@pytest.mark.django_db
def test_a_persistent_desktop_stays_with_its_user_until_the_assignment_expires(vdi_world, hypervisor):
    from django.utils import timezone

    pool = make_pool(vdi_world, "cad-thesis", pool_type="persistent", vcpus=1, memory_mb=1024, min_size=1,
                     max_size=2)
    run_pool(pool, at=at(0, 3))
    user = get_user_model().objects.create(username="thesis")
    desktop = assign(pool, user, expires=timezone.now() + timezone.timedelta(days=120))
    release(desktop)
    desktop.refresh_from_db()
    assert desktop.state == "assigned" and desktop.assigned_user == user
    assert assign(pool, user) == desktop  # the same desktop again
    desktop.assignment_expires = timezone.now() - timezone.timedelta(minutes=1)
    desktop.save()
    release(desktop)
    desktop.refresh_from_db()
    assert desktop.state == "draining" and desktop.assigned_user is None


@pytest.mark.django_db
def test_a_dry_run_changes_nothing(lab, hypervisor):
    result = run_pool(lab, dry_run=True, at=at(0, 3))
    assert [i.action for i in result.items] == ["create", "create"] and result.outcomes == []
    assert ours(hypervisor) == {} and not Desktop.objects.exists()


@pytest.mark.django_db
def test_an_unreachable_host_leaves_its_desktops_broken_and_the_next_run_replaces_them_elsewhere(
        lab, hypervisor, vdi_world):
    # hv2 is tried first (fewer desktops, then by name): its URI names a test-driver file that is not there.
    HostCapacity.objects.filter(pk=vdi_world.cap2.pk).update(uri="test:///nonexistent/hv2.xml")
    vdi_world.cap1.uri = "test:///nonexistent/hv1.xml"
    vdi_world.cap1.save()
    result = run_pool(lab, at=at(0, 3))
    assert [o.status for o in result.outcomes] == ["failed", "failed"]
    assert set(result.unreachable) == {"hv1", "hv2"}
    assert set(Desktop.objects.values_list("state", flat=True)) == {"broken"}
    assert "unreachable" in Desktop.objects.first().description
    vdi_world.cap1.uri = "test:///default"  # hv1 is back; hv2 is still down
    vdi_world.cap1.save()
    result = run_pool(lab, at=at(0, 3))
    assert [(o.item.action, o.status, o.host) for o in result.outcomes] == [("replace", "ok", "hv1")] * 2
    assert result.unreachable.keys() == {"hv2"}
    assert set(Desktop.objects.values_list("state", flat=True)) == {"ready"}


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_provision_once(vdi_world, hypervisor):
    pool = make_pool(vdi_world, "lab", vcpus=1, memory_mb=512, min_size=4, max_size=6)
    barrier = threading.Barrier(2)
    results = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(run_pool(pool, at=at(0, 3)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = [o for r in results for o in r.outcomes if o.item.action == "create"]
    assert len(created) == 4 and all(o.status == "ok" for o in created)
    assert sorted(ours(hypervisor)) == ["lab-001", "lab-002", "lab-003", "lab-004"]
    assert Desktop.objects.filter(pool=pool).count() == 4
    held = [r for r in results if r.held_by]
    assert len(held) == 1 or any(r.items == [] for r in results)


@pytest.mark.django_db
def test_the_vdi_reconciler_plans_and_applies_a_stored_plan_through_the_framework(lab, hypervisor):
    from cmdb.reconcile.base import reconcilers
    from cmdb.reconcile.services import RunRefused, apply_request, run_execute, run_request

    assert reconcilers()["vdi"].kinds == ("vdi.pool",)
    dry = run_execute(run_request(reconciler="vdi", scope=f"name:{lab.name}", enqueue=False))
    assert (dry.status, dry.error, dry.targets, dry.drift_count) == ("completed", "", 1, 2)
    items = dry.plan.items.order_by("index")
    assert [(i.operation, i.target, i.resource, i.ci_id) for i in items] == [
        ("create", "lab", "lab-001", lab.ci_id), ("create", "lab", "lab-002", lab.ci_id)]
    assert ours(hypervisor) == {}  # observing and planning changed nothing

    applied = run_execute(apply_request(dry.plan, enqueue=False))
    assert (applied.status, applied.applied_count, applied.remaining_drift) == ("completed", 2, 0), applied.error
    outcomes = [(i.resource, i.outcome, i.message) for i in applied.plan.items.order_by("index")]
    assert [o[:2] for o in outcomes] == [("lab-001", "ok"), ("lab-002", "ok")]
    assert all(o[2].startswith("cloned from ") and o[2].endswith(" on hv1") for o in outcomes), outcomes
    assert sorted(ours(hypervisor)) == ["lab-001", "lab-002"]
    assert Desktop.objects.filter(pool=lab, state="ready").count() == 2

    again = run_execute(apply_request(dry.plan, enqueue=False))  # the stored plan is stale now
    assert again.status == "failed" and "re-plan" in again.error
    with pytest.raises(RunRefused, match="Unknown scope term 'pool:'"):
        run_request(reconciler="vdi", scope=f"pool:{lab.name}", enqueue=False)


@pytest.mark.django_db
def test_the_vdi_reconciler_skips_stored_items_a_racing_run_already_applied(lab, hypervisor):
    from cmdb.reconcile.base import get_reconciler
    from cmdb.reconcile.scope import resolve_scope

    rec = get_reconciler("vdi")
    targets = rec.desired(resolve_scope(f"ci:{lab.ci_id}", rec.kinds))
    items = rec.plan(targets, rec.observe(targets))
    assert [i.resource for i in items] == ["lab-001", "lab-002"]
    run_pool(lab)  # another run provisions the pool between plan and apply
    outcomes = rec.apply(targets, items)
    assert [(o.item, o.status, o.message) for o in outcomes] == [(0, "skipped", "no longer needed"),
                                                                 (1, "skipped", "no longer needed")]
    assert sorted(ours(hypervisor)) == ["lab-001", "lab-002"]
