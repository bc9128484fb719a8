"""Replays of the adversarial run's findings 2 and 3 (generic relations, models without a tenant).

Each test sends what the attacker sent, with tenant A's administrator (alice) against tenant
B's objects, and asserts the refusal, that nothing was written, and that no answer names a
tenant-B object.  The campus viewer and superusers are the control group.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from cmdb.core.context import change_logging
from cmdb.core.services import BatchValidationError, objects_create
from cmdb.dcim.models import Interface
from cmdb.extras.models import JournalEntry
from cmdb.ipam.models import IPAddress
from cmdb.jobs.models import Job, Schedule
from cmdb.jobs.registry import job_enqueue
from cmdb.reconcile.base import DiffItem, Reconciler, Target, TargetOutcome, register
from cmdb.reconcile.models import ReconcileRun
from cmdb.tenancy.models import ContactAssignment, ContactRole
from cmdb.users.models import ObjectPermission
from cmdb.users.permissions import restrict
from cmdb.virtualization.models import VMInterface

from .conftest import ALL_ACTIONS, fresh, grant, token_client

pytestmark = pytest.mark.django_db

B_NAMES = ("srv-b", "vm-b", "Bea B", "Faculty B", "SER-B", "bob@b.example")


def assert_no_b(response: Any) -> None:
    text = response.content.decode()
    leaked = [name for name in B_NAMES if name in text]
    assert not leaked, f"{response.request['PATH_INFO']} names tenant B's {leaked}: {text[:500]}"


def b_iface(world: Any) -> Interface:
    return Interface.objects.get(device=world.srv_b, name="eth0")


def a_iface(world: Any) -> Interface:
    return Interface.objects.get(device=world.srv_a, name="eth0")


def ip_payload(world: Any, address: str, target: Any = None, kind: str = "dcim.interface") -> dict[str, Any]:
    data: dict[str, Any] = {"address": address, "tenant": world.a.pk}
    if target is not None:
        data.update(assigned_object_type=kind, assigned_object_id=target.pk)
    return data


# --- finding 2: generic relations -----------------------------------------------------------------------------


def test_ip_address_cannot_be_assigned_to_another_tenants_interface(world):
    before = IPAddress.objects.count()
    r = world.a_api.post("/api/ipam/ip-addresses/", ip_payload(world, "10.0.0.1/24", b_iface(world)), format="json")
    assert r.status_code == 400, r.content
    assert "assigned_object_id" in r.json()
    assert_no_b(r)
    assert IPAddress.objects.count() == before
    # Her own interface works: the refusal is about the target, not the request.
    r = world.a_api.post("/api/ipam/ip-addresses/", ip_payload(world, "10.0.0.1/24", a_iface(world)), format="json")
    assert r.status_code == 201, r.content
    assert r.json()["assigned_object"]["device"]["name"] == "srv-a"


def test_iterating_interface_ids_reveals_no_device_names(world):
    """The error for another tenant's interface is the error for an id that does not exist."""
    missing = Interface.objects.order_by("-pk").first().pk + 1000
    answers = {}
    for pk in [*Interface.objects.exclude(device__tenant=world.a).values_list("pk", flat=True), missing]:
        r = world.a_api.post("/api/ipam/ip-addresses/",
                             {"address": "10.0.0.2/24", "tenant": world.a.pk, "assigned_object_type": "dcim.interface",
                              "assigned_object_id": pk}, format="json")
        assert r.status_code == 400, r.content
        assert_no_b(r)
        answers[pk] = r.json()["assigned_object_id"][0].replace(str(pk), "<id>")
    assert len(set(answers.values())) == 1, answers


def test_ip_address_reassignment_bulk_and_vm_interfaces_are_refused(world):
    mine = world.a_api.post("/api/ipam/ip-addresses/", ip_payload(world, "10.0.1.1/24"), format="json").json()
    r = world.a_api.patch(f"/api/ipam/ip-addresses/{mine['id']}/", {"assigned_object_type": "dcim.interface",
                                                                   "assigned_object_id": b_iface(world).pk},
                          format="json")
    assert r.status_code == 400 and "assigned_object_id" in r.json(), r.content
    assert IPAddress.objects.get(pk=mine["id"]).interface_id is None
    # One bad item in a batch: nothing is created.
    before = IPAddress.objects.count()
    r = world.a_api.post("/api/ipam/ip-addresses/", [ip_payload(world, "10.0.1.2/24", a_iface(world)),
                                                     ip_payload(world, "10.0.1.3/24", b_iface(world))], format="json")
    assert r.status_code == 400, r.content
    assert IPAddress.objects.count() == before
    vif_b = VMInterface.objects.create(virtual_machine=world.vm_b, name="veth0")
    r = world.a_api.post("/api/ipam/ip-addresses/",
                         ip_payload(world, "10.0.1.4/24", vif_b, kind="virtualization.vminterface"), format="json")
    assert r.status_code == 400 and "assigned_object_id" in r.json(), r.content
    assert IPAddress.objects.count() == before


def test_the_write_service_refuses_the_assignment_for_every_caller(world):
    """The UI, the import and discovery call the services directly: the same rule holds there."""
    with pytest.raises(BatchValidationError) as caught, change_logging(user=world.alice, source="test"):
        objects_create(IPAddress, [{"address": "10.0.2.1/24", "tenant": world.a, "interface": b_iface(world)}],
                       user=fresh(world.alice))
    assert "interface" in caught.value.errors[0]
    assert not IPAddress.objects.filter(address="10.0.2.1/24").exists()


def test_a_visible_address_on_another_tenants_interface_does_not_name_it(world, superuser):
    """An administrator may make such an assignment; alice sees her address, not bob's interface."""
    ip = IPAddress(address="10.0.3.1/24", tenant=world.a, interface=b_iface(world))
    ip.save()
    for url in (f"/api/ipam/ip-addresses/{ip.pk}/", "/api/ipam/ip-addresses/?limit=0"):
        r = world.a_api.get(url)
        assert r.status_code == 200, r.content
        row = r.json() if "limit" not in url else next(x for x in r.json()["results"] if x["id"] == ip.pk)
        assert row["assigned_object"] is None and row["assigned_object_type"] is None
        assert row["assigned_object_id"] is None
        assert_no_b(r)
    # Bob (who may see the interface) and the campus viewer still see the assignment.
    for api in (world.b_api, world.viewer_api):
        row = api.get(f"/api/ipam/ip-addresses/?id={ip.pk}").json()["results"]
        if row:
            assert row[0]["assigned_object"]["device"]["name"] == "srv-b"
    assert world.viewer_api.get(f"/api/ipam/ip-addresses/{ip.pk}/").json()["assigned_object_id"] == b_iface(world).pk


def test_contact_assignment_cannot_make_a_tenant_a_contact_own_a_tenant_b_server(world):
    role = ContactRole.objects.create(name="Owner", slug="owner")
    device_ct = "dcim.device"
    payload = {"object_type": device_ct, "object_id": world.srv_b.pk, "contact": world.contact_a.pk,
               "role": role.pk}
    r = world.a_api.post("/api/tenancy/contact-assignments/", payload, format="json")
    assert r.status_code == 400 and "object_id" in r.json(), r.content
    assert_no_b(r)
    # Nor the other way round: tenant B's contact on her own server.
    r = world.a_api.post("/api/tenancy/contact-assignments/", {**payload, "object_id": world.srv_a.pk,
                                                                 "contact": world.contact_b.pk}, format="json")
    assert r.status_code == 400 and "contact" in r.json(), r.content
    assert not ContactAssignment.objects.exists()
    r = world.a_api.post("/api/tenancy/contact-assignments/", {**payload, "object_id": world.srv_a.pk},
                         format="json")
    assert r.status_code == 201, r.content
    assert r.json()["object"]["name"] == "srv-a"
    # Bob does not see alice's assignment, and cannot move it onto his server either.
    assert world.b_api.get("/api/tenancy/contact-assignments/").json()["count"] == 0
    pk = r.json()["id"]
    r = world.a_api.patch(f"/api/tenancy/contact-assignments/{pk}/", {"object_id": world.srv_b.pk}, format="json")
    assert r.status_code == 400, r.content
    assert ContactAssignment.objects.get(pk=pk).object_id == world.srv_a.pk


def test_generic_relations_refuse_unknown_and_non_api_types(world):
    role = ContactRole.objects.create(name="Owner", slug="owner")
    r = world.a_api.post("/api/tenancy/contact-assignments/",
                         {"object_type": "sessions.session", "object_id": 1, "contact": world.contact_a.pk,
                          "role": role.pk}, format="json")
    assert r.status_code == 400 and "object_type" in r.json(), r.content
    r = world.a_api.post("/api/extras/journal-entries/", {"assigned_object_type": "dcim.device",
                                                          "assigned_object_id": 2**70, "comments": "x"},
                         format="json")
    assert r.status_code == 400, r.content


def test_journal_entries_on_another_tenants_device_are_refused_everywhere(world):
    ct = ContentType.objects.get_for_model(world.srv_b)
    r = world.a_api.post("/api/extras/journal-entries/", {"assigned_object_type": "dcim.device",
                                                          "assigned_object_id": world.srv_b.pk,
                                                          "comments": "alice was here"}, format="json")
    assert r.status_code == 400 and "assigned_object_id" in r.json(), r.content
    web = Client()
    web.force_login(world.alice)
    r = web.post(f"/dcim/devices/{world.srv_b.pk}/journal/", {"kind": "info", "comments": "alice was here"})
    assert r.status_code == 404
    with pytest.raises(BatchValidationError) as caught, change_logging(user=world.alice, source="test"):
        objects_create(JournalEntry, [{"assigned_object_type": ct, "assigned_object_id": world.srv_b.pk,
                                       "comments": "alice was here"}], user=fresh(world.alice))
    assert "assigned_object_id" in caught.value.errors[0]
    assert not JournalEntry.objects.filter(comments="alice was here").exists()
    r = world.a_api.post("/api/extras/journal-entries/", {"assigned_object_type": "dcim.device",
                                                          "assigned_object_id": world.srv_a.pk,
                                                          "comments": "mine"}, format="json")
    assert r.status_code == 201, r.content


# --- finding 3: models that had no tenant ---------------------------------------------------------------------


def test_journal_entries_of_another_tenant_are_invisible_also_in_the_csv_export(world):
    note = JournalEntry(assigned_object_type=ContentType.objects.get_for_model(world.srv_b),
                        assigned_object_id=world.srv_b.pk, comments="bob's secret note", created_by=world.bob)
    note.save()
    r = world.a_api.get("/api/extras/journal-entries/")
    assert r.status_code == 200 and r.json()["count"] == 0, r.content
    assert world.a_api.get(f"/api/extras/journal-entries/{note.pk}/").status_code == 404
    assert world.a_api.get("/api/extras/journal-entries/?q=secret").json()["count"] == 0
    web = Client()
    web.force_login(world.alice)
    for fmt in ("csv", "json", "yaml"):
        r = web.get(f"/extras/journal-entries/export/?format={fmt}")
        assert r.status_code == 200
        assert "secret note" not in r.content.decode()
    assert "secret note" not in web.get("/extras/journal-entries/").content.decode()
    # Bob and the campus viewer see it.
    assert world.b_api.get(f"/api/extras/journal-entries/{note.pk}/").json()["comments"] == "bob's secret note"
    assert world.viewer_api.get("/api/extras/journal-entries/").json()["count"] == 1


def test_jobs_belong_to_their_starter_and_their_tenant(world, superuser):
    bert = get_user_model().objects.create_user("bert", password="correct-horse-battery")
    grant(name="faculty-b-admins-2", types=["*"], actions=ALL_ACTIONS, users=[bert], tenants=[world.b])
    r = world.b_api.post("/api/jobs/jobs/", {"name": "jobs.echo", "kwargs": {"message": "bob's argument"}},
                         format="json")
    assert r.status_code == 201, r.content
    bobs = Job.objects.get(pk=r.json()["id"])
    assert bobs.user == world.bob and bobs.tenant == world.b
    mine = job_enqueue("jobs.echo", kwargs={"message": "alice's"}, user=fresh(world.alice))
    admins = job_enqueue("jobs.echo", kwargs={"message": "the admin's"}, user=superuser)
    assert admins.tenant is None
    # Alice: her own job only; not bob's arguments, log or result; not the superuser's.
    r = world.a_api.get("/api/jobs/jobs/")
    assert [row["id"] for row in r.json()["results"]] == [mine.pk]
    assert world.a_api.get(f"/api/jobs/jobs/{bobs.pk}/").status_code == 404
    assert "bob's argument" not in r.content.decode()
    # Another administrator of tenant B sees bob's job; nobody but admins sees the superuser's.
    seen = {row["id"] for row in token_client(bert).get("/api/jobs/jobs/").json()["results"]}
    assert seen == {bobs.pk}
    assert {row["id"] for row in world.viewer_api.get("/api/jobs/jobs/").json()["results"]} == {
        bobs.pk, mine.pk, admins.pk}
    web = Client()
    web.force_login(world.alice)
    page = web.get("/jobs/").content.decode()
    assert f"/jobs/{bobs.pk}/" not in page and f"/jobs/{admins.pk}/" not in page
    assert web.get(f"/jobs/{bobs.pk}/").status_code == 404


def test_a_user_with_several_tenants_keeps_jobs_to_themselves(world):
    both = get_user_model().objects.create_user("both", password="correct-horse-battery")
    grant(name="two-faculties", types=["*"], actions=ALL_ACTIONS, users=[both], tenants=[world.a, world.b])
    job = job_enqueue("jobs.echo", user=fresh(both))
    assert job.tenant is None
    assert not restrict(Job.objects.filter(pk=job.pk), fresh(world.alice)).exists()
    assert restrict(Job.objects.filter(pk=job.pk), fresh(both)).exists()


def test_reconcile_runs_are_scoped_like_jobs(world, superuser):
    from cmdb.reconcile.services import run_request

    bobs = run_request(reconciler="ansible", scope=f"tenant:{world.b.slug}", user=fresh(world.bob))
    assert bobs.tenant == world.b
    admins = run_request(reconciler="ansible", scope="all", user=superuser)
    r = world.a_api.get("/api/reconcile/runs/")
    assert r.status_code == 200 and r.json()["count"] == 0, r.content
    assert world.a_api.get(f"/api/reconcile/runs/{bobs.pk}/").status_code == 404
    assert world.a_api.get(f"/api/reconcile/runs/{admins.pk}/plan/").status_code == 404
    assert {row["id"] for row in world.b_api.get("/api/reconcile/runs/").json()["results"]} == {bobs.pk}
    assert world.viewer_api.get("/api/reconcile/runs/").json()["count"] == 2
    assert ReconcileRun.objects.count() == 2


def test_schedules_are_admin_only(world, superuser):
    Schedule.objects.create(name="nightly", job_name="jobs.echo", cron="0 2 * * *", kwargs={"message": "x"})
    assert world.a_api.get("/api/jobs/schedules/").status_code == 403
    r = world.a_api.post("/api/jobs/schedules/", {"name": "mine", "job_name": "jobs.echo", "cron": "* * * * *"},
                         format="json")
    assert r.status_code == 403
    assert Schedule.objects.count() == 1
    assert world.viewer_api.get("/api/jobs/schedules/").json()["count"] == 1
    web = Client()
    web.force_login(world.alice)
    assert web.get("/jobs/schedules/").status_code == 403


def test_user_list_shows_a_tenant_admin_only_their_own_account(world):
    r = world.a_api.get("/api/users/users/")
    assert r.status_code == 200, r.content
    assert [row["username"] for row in r.json()["results"]] == ["alice"]
    assert "bob@b.example" not in r.content.decode() and "is_superuser" in r.content.decode()
    assert world.a_api.get(f"/api/users/users/{world.bob.pk}/").status_code == 404
    # An unconstrained grant (the campus viewer's) is an administrator's view.
    assert {row["username"] for row in world.viewer_api.get("/api/users/users/").json()["results"]} >= {
        "alice", "bob", "viewer"}


def test_permission_grants_are_admin_only(world):
    assert world.a_api.get("/api/users/permissions/").status_code == 403
    perm = ObjectPermission.objects.get(name="faculty-b-admins")
    assert world.a_api.get(f"/api/users/permissions/{perm.pk}/").status_code == 403
    r = world.a_api.post("/api/users/permissions/", {"name": "alice-everything", "object_types": ["*"],
                                                     "actions": ALL_ACTIONS, "users": [world.alice.pk]},
                         format="json")
    assert r.status_code == 403
    assert not ObjectPermission.objects.filter(name="alice-everything").exists()
    assert world.viewer_api.get("/api/users/permissions/").json()["count"] == 3


@pytest.mark.parametrize("field, value", [
    ("actions", ["a", ["b"]]), ("actions", ["view", 1]), ("actions", "view"), ("actions", []),
    ("actions", ["fly"]), ("object_types", ["dcim.nonsense"]), ("object_types", [["dcim.device"]]),
    ("object_types", "dcim.device"), ("object_types", ["Dcim.Device"]), ("object_types", ["dcim"]),
    ("object_types", []),
])
def test_permission_fields_are_validated_strictly(api, field, value):
    payload = {"name": "bad", "object_types": ["dcim.device"], "actions": ["view"], field: value}
    r = api.post("/api/users/permissions/", payload, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json(), r.content
    assert not ObjectPermission.objects.filter(name="bad").exists()


def test_well_formed_permissions_are_accepted(api):
    r = api.post("/api/users/permissions/", {"name": "ok", "object_types": ["*", "dcim.device"],
                                             "actions": ["view", "change"]}, format="json")
    assert r.status_code == 201, r.content


def test_stored_permissions_with_junk_grant_nothing_and_do_not_crash(world):
    """Rows written before validation was strict (or straight into the database) are skipped, not a 500."""
    ObjectPermission.objects.filter(name="faculty-a-admins").update(actions=["view", ["change"], 7])
    r = world.a_api.get("/api/dcim/devices/")
    assert r.status_code == 200
    assert world.a_api.patch(f"/api/dcim/devices/{world.srv_a.pk}/", {"description": "x"},
                             format="json").status_code == 403


def test_search_export_and_filters_do_not_reveal_other_tenants(world):
    r = world.a_api.get("/api/core/search/?q=srv")
    assert {h["display"] for h in r.json()["results"] if h["object_type"] == "dcim.device"} == {"srv-a"}
    foreign = world.a_api.get(f"/api/dcim/interfaces/?device_id={world.srv_b.pk}")
    unknown = world.a_api.get("/api/dcim/interfaces/?device_id=987654")
    assert foreign.status_code == unknown.status_code == 400
    assert json.dumps(foreign.json()).replace(str(world.srv_b.pk), "N") == json.dumps(unknown.json()).replace(
        "987654", "N")
    # By natural key too: another tenant's device name is "not a choice", like a name nobody uses.
    assert world.a_api.get("/api/dcim/interfaces/?device=srv-b").status_code == 400
    assert world.a_api.get("/api/dcim/interfaces/?device=srv-a").json()["count"] == 1


# --- a run's scope is text: it must not reach past its user ---------------------------------------------------


class _Touched:
    """The "real system" of the reconciler below: which hosts an apply wrote to."""

    hosts: set[str] = set()


@register
class DeviceNotes(Reconciler):
    """Desired: every device of the CMDB (whatever the scope says); apply: note the host as touched."""

    name = "test-device-notes"
    lease_ttl = 30

    def desired(self, scope: str) -> list[Target]:
        from cmdb.dcim.models import Device

        return [Target(name=d.name, ci_id=d.ci_id) for d in Device.objects.order_by("name")]

    def observe(self, desired: list[Target]) -> set[str]:
        return set(_Touched.hosts)

    def plan(self, desired: list[Target], observed: Any) -> list[DiffItem]:
        return [DiffItem("update", t.name, "note", ci_id=t.ci_id) for t in desired if t.name not in observed]

    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[TargetOutcome]:
        _Touched.hosts.update(i.target for i in items)
        return [TargetOutcome(i.target, "ok", changed=1) for i in items]


def test_a_tenant_admins_run_plans_and_applies_only_their_own_cis(world, superuser):
    from cmdb.reconcile.services import run_execute, run_request

    _Touched.hosts = set()
    dry = run_execute(run_request(reconciler="test-device-notes", scope="all", dry_run=True, user=fresh(world.alice)))
    assert list(dry.actions.values_list("target", flat=True)) == ["srv-a"]
    # A scope naming only the other tenant's CI matches nothing of hers: refused when requested.
    from cmdb.reconcile.services import RunRefused

    with pytest.raises(RunRefused) as refused:
        run_request(reconciler="test-device-notes", scope=f"ci:{world.srv_b.ci_id}", dry_run=False,
                    user=fresh(world.alice))
    assert "matches no CI that you may change" in refused.value.errors["scope"]
    # A reconciler that ignores its selection (this one returns every device) still reaches only hers.
    applied = run_execute(run_request(reconciler="test-device-notes", scope="all", dry_run=False,
                                      user=fresh(world.alice)))
    assert applied.status == "completed" and _Touched.hosts == {"srv-a"}
    # A viewer may plan what they see but apply nothing; an administrator's run reaches everything.
    with pytest.raises(RunRefused):
        run_request(reconciler="test-device-notes", scope="all", dry_run=False, user=fresh(world.viewer))
    viewer_run = run_execute(ReconcileRun.objects.create(reconciler="test-device-notes", scope="all", dry_run=False,
                                                         user=fresh(world.viewer)))
    assert viewer_run.targets == 0
    run_execute(run_request(reconciler="test-device-notes", scope="all", dry_run=False, user=superuser))
    assert _Touched.hosts == {"srv-a", "srv-b"}


def test_imports_cannot_point_at_another_tenants_objects(world):
    """The web import resolves references through the gate and validates generic targets before applying."""
    role = ContactRole.objects.create(name="Owner", slug="owner")
    web = Client()
    web.force_login(world.alice)
    csv_text = f"address,tenant,interface\n10.0.9.1/24,{world.a.slug},{b_iface(world).pk}\n"
    for action in ("preview", "apply"):
        r = web.post("/ipam/ip-addresses/import/", {"data": csv_text, "format": "csv", "action": action})
        assert r.status_code in (200, 400), r.status_code
        assert "srv-b" not in r.content.decode()
    assert not IPAddress.objects.filter(address="10.0.9.1/24").exists()
    rows = json.dumps([{"object_type": "device", "object_id": world.srv_b.pk, "contact": "Ada A", "role": role.slug}])
    for action in ("preview", "apply"):
        r = web.post("/tenancy/contact-assignments/import/", {"data": rows, "format": "json", "action": action})
        assert r.status_code in (200, 400), r.status_code
        assert "object_id" in r.content.decode() or "object id" in r.content.decode().lower()
    assert not ContactAssignment.objects.exists()
    # The same rows for her own server go in.
    rows = json.dumps([{"object_type": "device", "object_id": world.srv_a.pk, "contact": "Ada A", "role": role.slug}])
    r = web.post("/tenancy/contact-assignments/import/", {"data": rows, "format": "json", "action": "apply"})
    assert r.status_code == 302, r.content.decode()[:2000]
    assert ContactAssignment.objects.get().object_id == world.srv_a.pk
