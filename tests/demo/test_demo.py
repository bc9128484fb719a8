"""The demo university: shape, integrity, determinism, idempotence and scaling.

The scale-1 demo is generated once for :class:`TestScaleOne` inside a
transaction that is rolled back afterwards, so the many integrity checks share
one generation and every other test still starts from an empty database.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import netaddr
import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models, transaction
from django.utils import timezone

from cmdb.core import changelog
from cmdb.core.models import CIModel, ConfigurationItem, ObjectChange
from cmdb.dcim.models import Device, DeviceType, Interface, InterfaceTemplate, Location, Rack, Site
from cmdb.demo import catalog, generator
from cmdb.ipam.models import IPAddress, Prefix
from cmdb.tenancy.models import ContactAssignment, Tenant
from cmdb.virtualization.models import Cluster, VirtualMachine, VMInterface

# Every CI model of every app (other apps' demo modules add services, licenses, redundancy groups, ...).
CI_MODELS: list[type[CIModel]] = [m for m in apps.get_models() if issubclass(m, CIModel)]


def _planned_roles(plan: generator.Plan) -> Counter[str]:
    return Counter(d.role.slug for d in plan["devices"])


# --- checks shared by the scale-1 and scale-2 tests ---------------------------------------


def check_racks() -> None:
    """Every mounted device fits its rack and no two devices share a unit (checked in Python, not by clean())."""
    by_rack: dict[int, list[Device]] = defaultdict(list)
    for d in Device.objects.filter(rack__isnull=False).select_related("rack", "device_type", "role"):
        by_rack[d.rack_id].append(d)
        assert d.position is not None and d.position >= 1, d.name
        assert d.face == "front", d.name
        assert d.rack.site_id == d.site_id, d.name
        assert d.location_id == d.rack.location_id, d.name
    for devices in by_rack.values():
        units: dict[int, str] = {}
        for d in devices:
            top = d.position + max(d.device_type.u_height, 1) - 1
            assert top <= d.rack.u_height, f"{d.name} U{d.position}-U{top} exceeds {d.rack.u_height}U"
            for u in range(d.position, top + 1):
                assert u not in units, f"{d.name} overlaps {units[u]} at U{u} in {d.rack.name}"
                units[u] = d.name
    # Servers are mounted, clients are not.
    roles = dict(Device.objects.values_list("name", "role__slug"))
    mounted = set(Device.objects.filter(rack__isnull=False).values_list("name", flat=True))
    assert {n for n, r in roles.items() if r in generator.SERVER_ROLES} <= mounted
    assert not {n for n, r in roles.items() if r in generator.CLIENT_ROLES} & mounted


def check_primary_ips() -> None:
    """Every server and VM has an IPv4 primary address on its own (first) interface."""
    first_iface: dict[int, int] = {}
    for device_id, iface_id in Interface.objects.order_by("-id").values_list("device_id", "id"):
        first_iface[device_id] = iface_id
    servers = Device.objects.filter(role__slug__in=generator.SERVER_ROLES).select_related("primary_ip4")
    assert servers.exists()
    for d in servers:
        ip = d.primary_ip4
        assert ip is not None, d.name
        assert ip.family == 4 and ip.interface_id == first_iface[d.pk], d.name
    vms = VirtualMachine.objects.select_related("primary_ip4__vminterface")
    assert vms.exists()
    for vm in vms:
        ip = vm.primary_ip4
        assert ip is not None, vm.name
        assert ip.family == 4 and ip.interface_id is None, vm.name
        assert ip.vminterface.virtual_machine_id == vm.pk, vm.name
    # Addresses are unique and lie in a /24 prefix of the owner's site.
    addresses = list(IPAddress.objects.values_list("address", flat=True))
    assert len(addresses) == len(set(addresses))
    nets = {
        (site_id, netaddr.IPNetwork(p)) for site_id, p in Prefix.objects.filter(prefix__endswith="/24")
        .values_list("site_id", "prefix")
    }
    by_net = {str(net.cidr): site_id for site_id, net in nets}
    owners = list(Device.objects.filter(primary_ip4__isnull=False).values_list("site_id", "primary_ip4__address"))
    owners += list(VirtualMachine.objects.values_list("site_id", "primary_ip4__address"))
    for site_id, address in owners:
        assert by_net.get(str(netaddr.IPNetwork(address).cidr)) == site_id, address
    # Prefixes of a campus do not overlap.
    cidrs = sorted((netaddr.IPNetwork(p) for p in Prefix.objects.filter(prefix__endswith="/24")
                    .values_list("prefix", flat=True)), key=lambda n: n.first)
    for a, b in itertools.pairwise(cidrs):
        assert a.last < b.first, f"{a} overlaps {b}"


def check_registry() -> None:
    """Every CI has exactly one registry row that mirrors its name, status, tenant, criticality and owner."""
    total = 0
    for model in CI_MODELS:
        fields = ("name", "status", "tenant_id", "criticality", "owner_id")
        rows = model.objects.values_list(*fields, *(f"ci__{f}" for f in fields), "ci__kind")
        for row in rows:
            assert row[:5] == row[5:10], row
            assert row[10] == model._meta.label_lower
        total += model.objects.count()
        assert not model.objects.filter(ci__isnull=True).exists()
    assert ConfigurationItem.objects.count() == total


# --- the scale-1 demo ---------------------------------------------------------------------


@pytest.fixture(scope="class")
def scale_one(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """Run ``cmdb demo`` once for the class and roll it back afterwards; yields the command's output."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = io.StringIO()
        call_command("demo", quiet=True, stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.mark.django_db
@pytest.mark.usefixtures("scale_one")
class TestScaleOne:
    def test_command_reports_success(self, scale_one: str) -> None:
        assert "Demo university loaded (scale 1" in scale_one

    def test_counts(self) -> None:
        counts = generator.counts()
        assert counts["sites"] == 2
        assert counts["tenants"] == 12
        assert 280 <= counts["  servers"] <= 320
        assert 950 <= counts["  clients"] <= 1050
        assert 750 <= counts["virtual machines"] <= 850
        assert counts["VM interfaces"] == counts["virtual machines"]
        assert counts["  printers"] >= 20
        assert counts["  network devices"] >= 20
        assert counts["devices"] == sum(counts[k] for k in ("  servers", "  network devices", "  clients",
                                                             "  printers"))

    def test_organisation(self) -> None:
        groups = dict(Tenant.objects.values_list("slug", "group__name"))
        assert Counter(groups.values()) == {"Computing center": 1, "Administration": 5, "Faculties": 6}
        roles = defaultdict(set)
        for object_id, role in ContactAssignment.objects.values_list("object_id", "role__slug"):
            roles[object_id].add(role)
        for tenant in Tenant.objects.all():
            assert roles[tenant.pk] == {"owner", "technical-contact"}, tenant.name

    def test_places(self) -> None:
        sites = {s.slug: s for s in Site.objects.all()}
        assert set(sites) == {"zittau", "goerlitz"}
        assert all(s.time_zone == "Europe/Berlin" and s.physical_address for s in sites.values())
        racks = Counter(Rack.objects.values_list("site__slug", flat=True))
        assert racks == {"zittau": 8, "goerlitz": 4}
        assert Location.objects.filter(parent__isnull=True).count() == len(catalog.BUILDINGS)
        assert Location.objects.filter(name="CAD lab", site__slug="goerlitz").exists()

    def test_infrastructure_shape(self) -> None:
        hosts = Counter(Device.objects.filter(role__slug="hypervisor").values_list("cluster__name", flat=True))
        assert hosts == {"zittau-prod": 10, "goerlitz-prod": 6}
        assert Device.objects.filter(cluster__name="k8s-prod").count() == 11
        assert Device.objects.filter(role__slug="storage").count() == 2
        assert Device.objects.filter(role__slug="backup-appliance", site__slug="goerlitz").count() == 1
        vdi = Device.objects.filter(role__slug="vdi-host")
        assert vdi.count() == 6 and vdi.filter(tags__slug="gpu").count() == 2
        core = Device.objects.filter(role__slug="core-switch")
        assert Counter(core.values_list("site__slug", flat=True)) == {"zittau": 2, "goerlitz": 2}
        assert set(core.values_list("criticality", flat=True)) == {"critical"}
        assert set(Device.objects.filter(role__slug="storage").values_list("criticality", flat=True)) == {"critical"}
        assert set(Device.objects.filter(role__slug="hypervisor").values_list("criticality", flat=True)) <= {
            "critical", "high"}
        assert Device.objects.filter(role__slug="firewall").count() == 2
        assert Device.objects.filter(role__slug="wlan-controller").exists()
        # VMs run on both clusters, each on a host of its own cluster.
        assert set(VirtualMachine.objects.values_list("cluster__name", flat=True)) == {"zittau-prod", "goerlitz-prod"}
        for vm in VirtualMachine.objects.select_related("device", "cluster"):
            assert vm.device.cluster_id == vm.cluster_id and vm.site_id == vm.cluster.site_id, vm.name
        assert VirtualMachine.objects.filter(name="moodle-app01").exists()

    def test_server_lifecycle_data(self) -> None:
        servers = Device.objects.filter(role__slug__in=generator.SERVER_ROLES)
        assert not servers.filter(purchase_date__isnull=True).exists()
        assert not servers.filter(warranty_end__isnull=True).exists()
        assert not servers.filter(serial="").exists() and not servers.filter(asset_tag__isnull=True).exists()
        expired = servers.filter(warranty_end__lt=generator.BASE_DATE).count()
        assert 0 < expired < servers.count()
        assert not Device.objects.filter(purchase_date__gt=generator.BASE_DATE).exists()
        assert servers.filter(owner__isnull=False).count() == servers.count()
        names = list(Device.objects.values_list("name", flat=True))
        assert len(names) == len(set(names))

    def test_interfaces_follow_templates(self) -> None:
        templates = Counter(InterfaceTemplate.objects.values_list("device_type_id", flat=True))
        per_device = Counter(Interface.objects.values_list("device_id", flat=True))
        for device_id, type_id in Device.objects.values_list("id", "device_type_id"):
            assert per_device[device_id] == templates[type_id]
        server_types = DeviceType.objects.filter(instances__role__slug="server").distinct()
        assert all(templates[t.pk] == 4 for t in server_types)
        macs = list(Interface.objects.values_list("mac_address", flat=True))
        macs += list(VMInterface.objects.values_list("mac_address", flat=True))
        assert len(macs) == len(set(macs)) and all(m == m.upper() and m.count(":") == 5 for m in macs)

    def test_racks(self) -> None:
        check_racks()

    def test_primary_ips(self) -> None:
        check_primary_ips()

    def test_registry(self) -> None:
        check_registry()

    def test_sample_passes_model_validation(self) -> None:
        """bulk_create skips clean(); a sample must still validate and clean() must not change it."""
        models_: list[type[models.Model]] = [Device, Interface, Rack, Location, VirtualMachine, VMInterface,
                                             IPAddress, Prefix, Cluster]
        for model in models_:
            for obj in model._default_manager.order_by("pk")[::23]:
                before = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
                try:
                    obj.full_clean()
                except ValidationError as exc:  # pragma: no cover - the message is the point
                    pytest.fail(f"{model.__name__} {obj}: {exc}")
                after = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
                assert before == after, f"clean() changed {model.__name__} {obj}"

    def test_change_log(self) -> None:
        demo_models = {m for m in generator._MODELS.values()}
        objects = sum(m._default_manager.count() for m in demo_models)
        changes = ObjectChange.objects.filter(source="demo")
        assert changes.count() >= objects
        assert changes.values("request_id").distinct().count() == 1
        assert set(changes.values_list("action", flat=True)) == {"create"}
        # The change records show the final state, primary address included.
        device = Device.objects.get(name="esx-zi-01")
        record = changes.get(changed_object_id=device.pk, changed_object_type__model="device")
        assert record.postchange_data["primary_ip4"] == device.primary_ip4_id
        assert "monitoring" in record.postchange_data["tags"]
        result = changelog.verify()
        assert result.ok, result.reason

    def test_discovery_reports_went_through_the_real_ingest(self) -> None:
        """Agents reported servers and VMs (linked to their records), a scan found unrecorded boxes,
        one VM went quiet (stale), and the discovery schedules are there."""
        from cmdb.jobs.models import Schedule
        from discovery.models import Host, IngestRecord

        hosts = Host.objects.all()
        assert hosts.filter(device__isnull=False, link_rule="serial").count() == 40
        assert hosts.filter(virtual_machine__isnull=False, link_rule="vm-name").count() == 30
        assert hosts.filter(device__isnull=True, virtual_machine__isnull=True).count() == 3
        assert hosts.filter(stale=True).count() == hosts.filter(stale=True, virtual_machine__isnull=False).count() == 1
        assert IngestRecord.objects.count() == 73  # 40 servers, 30 VMs (one six weeks ago), 3 scanned
        linked = hosts.filter(device__isnull=False).first()
        assert linked is not None and linked.device.serial.lower() == linked.serial.lower()
        assert ObjectChange.objects.filter(source="discovery:agent:cmdb-host-agent").exists()
        schedules = dict(Schedule.objects.filter(job_name__startswith="discovery.").values_list("job_name", "enabled"))
        assert schedules == {"discovery.network": False, "discovery.stale": True}

    def test_a_fresh_demo_has_only_its_named_stale_cis(self) -> None:
        """Issue 14: "last seen" counts back from the time the demo is loaded, so the dashboard's stale
        CIs and the CMDBCIStale alert name only the VM that went quiet six weeks ago (docs/discovery.md,
        "In the demo"): its record and its discovered host, nothing else."""
        import re
        import time

        from django.contrib.auth import get_user_model

        from cmdb.ui.selectors import dashboard_data
        from discovery.models import Host
        from monitoring.exposition import ci_families

        stale = {("bib-app01", "virtualization.virtualmachine"), ("bib-app01", "discovery.host")}
        cutoff = timezone.now() - dt.timedelta(days=30)
        board = ConfigurationItem.objects.filter(status="active", last_seen__lt=cutoff)
        assert set(board.values_list("name", "kind")) == stale
        admin = get_user_model().objects.create_superuser("stale-check", password="x-" * 8)
        assert dashboard_data(admin)["stale_count"] == len(stale)
        # CMDBCIStale, evaluated over the real exposition: (time() - last_seen) > 7d and status="active".
        text = "".join(ci_families(None))
        active = set(re.findall(r'cmdb_ci_info\{ci_id="(\d+)",kind="[^"]*",name="[^"]*".*?status="active"\} 1', text))
        seen = {ci: float(ts) for ci, ts in
                re.findall(r'cmdb_ci_last_seen_timestamp_seconds\{ci_id="(\d+)",kind="[^"]*"\} ([\d.]+)', text)}
        firing = {ci for ci, ts in seen.items() if time.time() - ts > 7 * 86400 and ci in active}
        names = dict((str(pk), (n, k)) for pk, n, k in ConfigurationItem.objects.values_list("pk", "name", "kind"))
        assert {names[ci] for ci in firing} == stale
        # A device's "last seen" and its discovered host's tell one story.
        for host in Host.objects.filter(device__isnull=False).select_related("device")[:10]:
            assert host.device.last_seen == host.last_seen, host.device.name
        quiet = Host.objects.get(stale=True)
        assert quiet.virtual_machine.last_seen == quiet.last_seen

    def test_matches_the_deterministic_plan(self) -> None:
        assert generator.db_digest() == generator.plan_digest(generator.build_plan())

    def test_second_run_changes_nothing(self) -> None:
        before = generator.counts()
        out = io.StringIO()
        call_command("demo", quiet=True, stdout=out)
        assert "already present" in out.getvalue()
        assert generator.counts() == before


# --- runs on an empty database ------------------------------------------------------------


@pytest.mark.django_db
def test_plan_is_deterministic() -> None:
    """Same seed, same plan; another seed changes serials but not the shape.

    (Building a plan reads content types, hence the database mark.)"""
    a, b = generator.build_plan(), generator.build_plan()
    assert generator.plan_digest(a) == generator.plan_digest(b)
    other = generator.build_plan(seed=7)
    assert generator.plan_digest(other) != generator.plan_digest(a)
    assert [d.name for d in other["devices"]] == [d.name for d in a["devices"]]


@pytest.mark.django_db
def test_second_run_in_a_fresh_transaction_writes_identical_data() -> None:
    """Names, serials and addresses do not depend on the run.

    TestScaleOne's run (rolled back since) matched the plan digest; this run,
    in a new transaction on an empty database, must match it too, so both runs
    stored the same data.  The rollback also leaves the change log consistent.
    """
    expected = generator.plan_digest(generator.build_plan())
    with transaction.atomic():
        assert generator.generate().created
        assert generator.db_digest() == expected
        transaction.set_rollback(True)
    assert not generator.demo_exists()
    assert changelog.verify().ok


@pytest.mark.django_db
def test_scale_two_doubles_the_variable_parts() -> None:
    base = generator.build_plan(scale=1)
    base_roles = _planned_roles(base)
    result = generator.generate(scale=2)
    assert result.created
    counts = result.counts
    servers_1 = sum(n for r, n in base_roles.items() if r in generator.SERVER_ROLES)
    clients_1 = sum(n for r, n in base_roles.items() if r in generator.CLIENT_ROLES)
    assert 1.8 * servers_1 <= counts["  servers"] <= 2.05 * servers_1
    assert counts["  clients"] == 2 * clients_1
    assert counts["virtual machines"] == 2 * len(base["vms"])
    assert Cluster.objects.filter(name="zittau-prod-02").exists()
    assert Rack.objects.count() > len(base["racks"])
    check_racks()
    check_primary_ips()
    check_registry()


@pytest.mark.django_db
def test_command_validates_scale() -> None:
    with pytest.raises(CommandError, match="at least 1"):
        call_command("demo", "--scale", "0")
    with pytest.raises(CommandError, match="whole number"):
        call_command("demo", "--scale", "x")
    assert not generator.demo_exists()


@pytest.mark.django_db
def test_clash_with_existing_data_writes_nothing() -> None:
    """A database that already has a demo tenant name (but no demo) gets a clear error and no partial demo."""
    Tenant.objects.create(name="Library", slug="library")
    with pytest.raises(CommandError, match="clash"):
        call_command("demo", quiet=True)
    assert Tenant.objects.count() == 1
    assert not Site.objects.exists() and not ObjectChange.objects.filter(source="demo").exists()


def test_help_explains_options() -> None:
    from cmdb.core.management.commands.demo import Command

    text = Command().create_parser("cmdb", "demo").format_help()
    for option in ("--scale", "--seed", "--quiet"):
        assert option in text
    assert "nothing is changed" in text
