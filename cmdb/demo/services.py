"""Demo data for software, licenses, services and relationships (``cmdb demo`` calls :func:`extend`).

Builds on what the generator wrote: every VM and server gets its operating
system (from its platform) and middleware (from its name), clients get office,
antivirus and CAD; ~150 products with versions, some past end of support;
license pools over all metrics, some over-used, some expiring within 30 days,
some with idle seats; the services of the demo university with SLA targets,
and relationships that make realistic stacks: service -> VMs -> cluster ->
host group (all but one host) -> hosts -> racks, core switch pair per campus
(1 of 2), access switches, storage arrays and the backup appliance.
Deterministic (seeded), idempotent (skipped when the services exist) and bulk.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count

from cmdb.core import bulk
from cmdb.core.context import change_logging
from cmdb.dcim.models import Device
from cmdb.services.graph import bump
from cmdb.services.models import RedundancyGroup, RedundancyMember, Relationship, RelationshipType, Service
from cmdb.services.relationships import ensure_builtin_types
from cmdb.software.models import License, SoftwareInstallation, SoftwareProduct, SoftwareVersion
from cmdb.tenancy.models import Tenant
from cmdb.virtualization.models import Cluster, VirtualMachine

CC, SO, EO, HR, FI, LIB = ("computing-center", "student-office", "examination-office", "human-resources",
                           "finance-and-procurement", "library")

# name, slug, tenant, type, criticality, SLA %, support hours, VM name prefixes, depends on services
SERVICES = [
    ("Identity and single sign-on (MFA)", "identity", CC, "technical", "critical", "99.95", "24x7",
     ["idm-", "ad-dc"], []),
    ("Federal citizen-ID login gateway", "eid-gateway", CC, "technical", "high", "99.5", "extended", ["eid-gw"],
     ["identity"]),
    ("Campus management", "campus-management", SO, "business", "critical", "99.8", "extended",
     ["his-", "apply-"], ["identity"]),
    ("Examination management", "examinations", EO, "business", "critical", "99.8", "extended",
     ["exam-", "eexam-"], ["identity", "campus-management"]),
    ("Applicant management", "applicants", SO, "business", "high", "99.5", "business", ["apply-"], ["identity"]),
    ("Learning platform (Moodle)", "learning-platform", CC, "business", "critical", "99.8", "24x7", ["moodle-"],
     ["identity"]),
    ("Campus app and digital student ID", "campus-app", CC, "business", "high", "99.5", "extended",
     ["campusapp-", "studid-"], ["identity", "campus-management"]),
    ("Forms service", "forms", CC, "business", "medium", "99.0", "business", ["forms-"], ["identity"]),
    ("Document management (ECMS/DMS)", "dms", CC, "business", "high", "99.5", "business", ["dms-"], ["identity"]),
    ("E-invoicing", "e-invoicing", FI, "business", "high", "99.5", "business", ["einvoice-", "erp-"],
     ["dms", "identity"]),
    ("Time recording and absence management", "time-recording", HR, "business", "high", "99.5", "business",
     ["time-", "hr-"], ["identity"]),
    ("E-mail", "e-mail", CC, "business", "critical", "99.9", "24x7", ["mail-"], ["identity"]),
    ("Web sites", "web", CC, "business", "high", "99.5", "extended", ["web-", "cms-"], []),
    ("Central REST API gateway", "api-gateway", CC, "technical", "high", "99.8", "24x7", ["api-", "apigw-"],
     ["identity"]),
    ("Library system", "library", LIB, "business", "medium", "99.0", "business", ["lib-"], ["identity"]),
    ("Course booking (sports)", "course-booking", CC, "business", "low", "98.0", "business", ["sport-"],
     ["identity"]),
    ("Kubernetes platform", "kubernetes", CC, "technical", "critical", "99.9", "24x7", [], []),
    ("VDI", "vdi", CC, "technical", "high", "99.5", "extended", ["vdi-", "horizon-"], ["identity"]),
    ("Backup and long-term archive", "backup", CC, "technical", "high", "99.0", "business", ["bkp-", "backup-"],
     []),
    ("Monitoring", "monitoring", CC, "technical", "high", "99.5", "24x7", ["mon-", "prom-", "graf-"], []),
]

# vendor, name, category, scheme, versions (oldest first), end of support of the oldest (years from today)
BASE_PRODUCTS = [
    ("Debian", "Debian GNU/Linux", "os", "debian", ["11", "12"], -1),
    ("Canonical", "Ubuntu", "os", "debian", ["22.04", "24.04"], 2),
    ("Red Hat", "Red Hat Enterprise Linux", "os", "rpm", ["8.10", "9.4"], 3),
    ("Microsoft", "Windows Server", "os", "generic", ["2019", "2022"], 2),
    ("Microsoft", "Windows 11", "os", "generic", ["23H2", "24H2"], 0),
    ("IGEL", "IGEL OS", "os", "semver", ["12.3.0", "12.4.1"], 1),
    ("Broadcom", "VMware ESXi", "virtualization", "generic", ["8.0U2", "8.0U3"], 2),
    ("Proxmox", "Proxmox VE", "virtualization", "generic", ["8.1", "8.2"], 2),
    ("PostgreSQL", "PostgreSQL", "database", "semver", ["13.16.0", "15.8.0", "16.4.0"], -1),
    ("MariaDB", "MariaDB Server", "database", "semver", ["10.6.18", "10.11.9"], 1),
    ("Oracle", "Oracle Database EE", "database", "generic", ["19c", "23ai"], 3),
    ("Microsoft", "SQL Server", "database", "generic", ["2019", "2022"], 3),
    ("Redis", "Redis", "database", "semver", ["6.2.14", "7.2.5"], -1),
    ("Debian", "openssl", "security", "debian", ["3.0.11-1~deb12u2", "3.0.14-1~deb12u2"], -1),
    ("Red Hat", "openssl", "security", "rpm", ["1:3.0.7-25.el9", "1:3.0.7-27.el9"], -1),
    ("Apache", "Tomcat", "middleware", "semver", ["9.0.85", "10.1.28"], 1),
    ("nginx", "nginx", "middleware", "semver", ["1.22.1", "1.24.0"], 1),
    ("Moodle", "Moodle", "application", "semver", ["4.1.12", "4.4.3"], 1),
    ("HIS eG", "HISinOne", "application", "generic", ["2023.12", "2024.06"], 1),
    ("Postfix", "Postfix", "application", "debian", ["3.7.11-0+deb12u1"], 2),
    ("Dovecot", "Dovecot", "application", "debian", ["1:2.3.19.1+dfsg1-2.1"], 2),
    ("Keycloak", "Keycloak", "security", "semver", ["24.0.5", "25.0.4"], 0),
    ("Microsoft", "Microsoft 365 Apps", "office", "generic", ["2408", "2409"], 1),
    ("The Document Foundation", "LibreOffice", "office", "semver", ["7.6.7", "24.2.5"], 1),
    ("Sophos", "Intercept X", "security", "semver", ["2024.1.0", "2024.2.1"], 1),
    ("Dassault Systèmes", "SOLIDWORKS", "cad", "generic", ["2023 SP5", "2024 SP2"], 1),
    ("Autodesk", "AutoCAD", "cad", "generic", ["2024", "2025"], 1),
    ("PTC", "Creo", "cad", "generic", ["10.0", "11.0"], 1),
    ("IBM", "SPSS Statistics", "statistics", "generic", ["29.0", "30.0"], 1),
    ("MathWorks", "MATLAB", "statistics", "generic", ["R2023b", "R2024a"], 1),
    ("Veeam", "Backup & Replication", "backup", "generic", ["12.1", "12.2"], 1),
    ("Prometheus", "node_exporter", "monitoring", "semver", ["1.7.0", "1.8.2"], 1),
    ("Omnissa", "Horizon Agent", "virtualization", "generic", ["2312", "2406"], 1),
]
PLATFORM_OS = {"debian-12": ("Debian GNU/Linux", "12"), "ubuntu-2204": ("Ubuntu", "22.04"),
               "ubuntu-2404": ("Ubuntu", "24.04"), "rhel-8": ("Red Hat Enterprise Linux", "8.10"),
               "rhel-9": ("Red Hat Enterprise Linux", "9.4"), "windows-server-2019": ("Windows Server", "2019"),
               "windows-server-2022": ("Windows Server", "2022"), "windows-11": ("Windows 11", "24H2"),
               "igel-os-12": ("IGEL OS", "12.4.1"), "vmware-esxi-8": ("VMware ESXi", "8.0U3"),
               "proxmox-ve-8": ("Proxmox VE", "8.2")}
# VM name fragment -> products (name, version index -1 newest / 0 oldest) installed on it
MIDDLEWARE = [("-db", [("PostgreSQL", -1)]), ("moodle-", [("Moodle", -1), ("nginx", -1)]),
              ("his-", [("HISinOne", -1), ("Tomcat", 0)]), ("mail-mx", [("Postfix", -1)]),
              ("mail-mbx", [("Dovecot", -1)]), ("idm-sso", [("Keycloak", 0)]), ("-cache", [("Redis", 0)]),
              ("exam-db", [("Oracle Database EE", -1)]), ("dms-db", [("SQL Server", -1)]),
              ("erp-db", [("SQL Server", 0)]), ("-web", [("nginx", 0)])]


def extend(seed: int = 20240501) -> int:
    """Add the software, license and service landscape; returns the number of relationships made."""
    if Service.objects.filter(slug="identity").exists():
        return 0
    rng = random.Random(seed)
    today = dt.date.today()
    with change_logging(source="demo-services"):
        products, versions = _software(rng, today)
        _installations(rng, versions)
        _licenses(products, today)
        edges = _services_and_relationships(rng)
        _ha_restart()
        bump()
    return edges


def _software(rng: random.Random, today: dt.date) -> tuple[dict[str, SoftwareProduct], dict[str, list]]:
    specs = list(BASE_PRODUCTS)
    # Round the catalogue up to ~150 products with the long tail every university has.
    tail = ["7-Zip", "Firefox", "Chrome", "Thunderbird", "VLC", "GIMP", "Inkscape", "R", "RStudio", "Python",
            "Anaconda", "Eclipse", "IntelliJ IDEA", "Visual Studio Code", "Git", "Zoom", "Teams", "Acrobat Reader",
            "Citavi", "Zotero", "LaTeX (TeX Live)", "Notepad++", "PuTTY", "WinSCP", "KeePassXC", "OpenJDK",
            "Node.js", "PHP", "Apache httpd", "HAProxy", "Elasticsearch", "RabbitMQ", "Grafana", "Prometheus",
            "Alertmanager", "Ansible", "Terraform", "Docker Engine", "containerd", "Kubernetes", "Helm", "Harbor",
            "GitLab", "Jenkins", "SonarQube", "Nextcloud", "Jitsi", "BigBlueButton", "Mattermost", "WordPress",
            "TYPO3", "Matomo", "Shibboleth IdP", "FreeRADIUS", "OpenLDAP", "Samba", "Bind9", "ISC Kea", "Chrony",
            "Icinga", "Zabbix agent", "restic", "Bacula", "Veeam Agent", "ClamAV", "Wireshark", "Nmap", "LTspice",
            "KiCad", "MATLAB Runtime", "Simulink", "LabVIEW", "Origin", "Stata", "SAS", "NVivo", "MAXQDA",
            "ArcGIS Pro", "QGIS", "Blender", "Unity", "Unreal Engine", "Adobe Creative Cloud", "Affinity Designer",
            "SketchUp", "Rhino", "ANSYS", "COMSOL", "Abaqus", "Siemens NX", "CATIA", "Inventor", "Revit",
            "Fusion 360", "Mathematica", "Maple", "Minitab", "JMP", "GraphPad Prism", "EndNote", "Office LTSC",
            "Visio", "Project", "Power BI Desktop", "Tableau", "SAP GUI", "DATEV", "Moodle Desktop", "Horizon Client",
            "Citrix Workspace", "FortiClient", "Cisco Secure Client", "Duo Authentication", "privacyIDEA",
            "Keepass", "BitLocker"]
    for name in tail[: max(0, 150 - len(specs))]:
        specs.append((name.split()[0] if " " in name else name, name, "application", "semver",
                      ["1.0.0", "1.1.0", "2.0.0"][: rng.randint(1, 3)], rng.randint(-1, 3)))
    products = [SoftwareProduct(vendor=vendor, name=name, slug=_slug(vendor, name), category=category,
                                version_scheme=scheme) for vendor, name, category, scheme, _v, _e in specs]
    products = bulk.bulk_create(SoftwareProduct, products)
    by_name = {p.name if p.name != "openssl" else f"openssl-{p.version_scheme}": p for p in products}
    rows = []
    for p, (_vendor, _name, _c, _s, vers, eos_years) in zip(products, specs, strict=True):
        for k, v in enumerate(vers):
            eos = today + dt.timedelta(days=365 * eos_years + 120 * k) if k == 0 else None
            sv = SoftwareVersion(product=p, version=v, end_of_support=eos)
            sv.compute_key()
            rows.append(sv)
    created = bulk.bulk_create(SoftwareVersion, rows)
    versions: dict[str, list] = defaultdict(list)
    names = {p.pk: key for key, p in by_name.items()}
    for sv in created:
        versions[names[sv.product_id]].append(sv)
    return by_name, versions


def _slug(vendor: str, name: str) -> str:
    import re

    raw = name if vendor.lower() in name.lower() or vendor == name.split()[0] else f"{vendor} {name}"
    return re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")[:100]


def _installations(rng: random.Random, versions: dict[str, list]) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rows: dict[tuple[int, int], SoftwareInstallation] = {}

    def add(ci_id: int | None, product: str, index: int = -1, source: str = "ansible") -> None:
        vers = versions.get(product)
        if ci_id is None or not vers:
            return
        v = vers[index if -len(vers) <= index < len(vers) else -1]
        rows.setdefault((ci_id, v.pk), SoftwareInstallation(
            ci_id=ci_id, version=v, product_id=v.product_id, first_seen=now - dt.timedelta(days=rng.randint(10, 900)),
            last_seen=now - dt.timedelta(hours=rng.randint(0, 48)), source=source))

    for name, ci_id, platform in VirtualMachine.objects.values_list("name", "ci_id", "platform__slug"):
        os_ = PLATFORM_OS.get(platform or "")
        if os_:
            add(ci_id, os_[0], versions_index(versions, os_))
        if platform and platform.startswith("debian"):
            add(ci_id, "openssl-debian", rng.choice([0, -1]))
        if platform and platform.startswith("rhel"):
            add(ci_id, "openssl-rpm", rng.choice([0, -1]))
        for fragment, prods in MIDDLEWARE:
            if fragment in name:
                for prod, idx in prods:
                    add(ci_id, prod, idx)
        add(ci_id, "node_exporter", rng.choice([0, -1]))
    for name, ci_id, platform, role in Device.objects.values_list("name", "ci_id", "platform__slug", "role__slug"):
        os_ = PLATFORM_OS.get(platform or "")
        if os_:
            add(ci_id, os_[0], versions_index(versions, os_), source="agent")
        if role in ("pc", "laptop"):
            add(ci_id, "Microsoft 365 Apps", -1, "agent")
            add(ci_id, "Intercept X", rng.choice([0, -1]), "agent")
            if rng.random() < 0.3:
                add(ci_id, "SPSS Statistics", -1, "agent")
            if rng.random() < 0.5:
                add(ci_id, "MATLAB", rng.choice([0, -1]), "agent")
            if "cad" in name or rng.random() < 0.08:
                add(ci_id, "SOLIDWORKS", -1, "agent")
                add(ci_id, "AutoCAD", rng.choice([0, -1]), "agent")
        if role in ("server", "database-server", "hypervisor", "vdi-host"):
            add(ci_id, "Intercept X", -1, "agent")
        if role == "database-server":
            add(ci_id, "Oracle Database EE", -1, "agent")
        if role == "vdi-host":
            add(ci_id, "Horizon Agent", -1, "agent")
        if role == "backup-appliance":
            add(ci_id, "Backup & Replication", -1, "agent")
    bulk.bulk_create(SoftwareInstallation, list(rows.values()))


def versions_index(versions: dict[str, list], os_: tuple[str, str]) -> int:
    for k, v in enumerate(versions.get(os_[0], [])):
        if v.version == os_[1]:
            return k
    return -1


def _licenses(products: dict[str, SoftwareProduct], today: dt.date) -> None:
    tenants = {t.slug: t for t in Tenant.objects.all()}
    cc = tenants.get(CC)
    eng = next((t for slug, t in tenants.items() if "mechanical" in slug or "engineering" in slug), None)
    installs = dict(SoftwareInstallation.objects.order_by().values_list("product_id")
                    .annotate(n=Count("ci_id", distinct=True)))

    def used(name: str) -> int:
        return installs.get(products[name].pk, 0)

    d = dt.timedelta
    specs = [
        # name, product, metric, quantity, cost, tenant, end date
        ("Sophos Intercept X campus", "Intercept X", "device", max(1, used("Intercept X") - 40), "18500", cc,
         today + d(days=400)),
        ("Microsoft 365 A3 staff", "Microsoft 365 Apps", "device", used("Microsoft 365 Apps") + 150, "96000", cc,
         today + d(days=21)),
        ("SPSS site license", "SPSS Statistics", "site", 1, "12000", None, today + d(days=200)),
        ("MATLAB campus (concurrent)", "MATLAB", "concurrent", 120, "24000", None, today + d(days=14)),
        ("SOLIDWORKS CAD lab", "SOLIDWORKS", "device", max(1, used("SOLIDWORKS") - 5), "30000", eng,
         today + d(days=300)),
        ("AutoCAD education", "AutoCAD", "device", used("AutoCAD") + 60, "0", None, today + d(days=500)),
        ("Oracle EE processor", "Oracle Database EE", "core", 64, "140000", cc, today + d(days=600)),
        ("SQL Server Enterprise core", "SQL Server", "core", 32, "60000", cc, today + d(days=27)),
        ("RHEL academic site", "Red Hat Enterprise Linux", "site", 1, "8000", cc, today + d(days=150)),
        ("Windows Server Datacenter", "Windows Server", "core", 512, "45000", cc, today + d(days=380)),
        ("VMware vSphere Foundation", "VMware ESXi", "core", 640, "160000", cc, today + d(days=90)),
        ("Veeam Universal", "Backup & Replication", "device", 20, "22000", cc, today - d(days=5)),
        ("Horizon VDI concurrent", "Horizon Agent", "concurrent", 400, "36000", cc, today + d(days=250)),
        ("Creo teaching", "Creo", "subscription", 50, "9000", eng, today + d(days=12)),
        ("Adobe Creative Cloud shared device", "Adobe Creative Cloud", "subscription", 100, "15000", None,
         today + d(days=45)),
    ]
    rows = []
    for name, product, metric, qty, cost, tenant, end in specs:
        p = products.get(product)
        if p is None:
            continue
        rows.append(License(name=name, product=p, vendor=p.vendor, metric=metric, quantity=qty, cost=Decimal(cost),
                            tenant=tenant, start_date=min(today - d(days=30), end - d(days=365)), end_date=end,
                            contract_number=f"RV-{len(rows) + 1:04d}",
                            peak_usage=131 if product == "MATLAB" else (350 if product == "Horizon Agent" else None),
                            criticality="high" if metric in ("core", "site") else "medium"))
    bulk.bulk_create(License, rows)


def _ha_restart() -> None:
    """The custom field impact analysis reads (``cmdb.services.impact.HA_FIELD``) and its values: the
    vSphere clusters restart the VMs of a failed host elsewhere (vSphere HA), the Proxmox cluster in
    Görlitz does not, so its VMs go down with their host."""
    from cmdb.core.services import objects_create, objects_update
    from cmdb.extras.models import CustomField
    from cmdb.services.impact import HA_FIELD

    if not CustomField.objects.filter(name=HA_FIELD).exists():
        objects_create(CustomField, [{
            "name": HA_FIELD, "label": "HA restart", "type": "boolean", "object_types": ["virtualization.cluster"],
            "description": "The cluster restarts the VMs of a failed host on its other hosts (vSphere HA, "
                           "Proxmox HA); impact analysis counts such VMs degraded instead of down"}])
    clusters = list(Cluster.objects.filter(type__slug__in=["vmware-vsphere", "proxmox-ve"]).select_related("type"))
    objects_update(clusters, [{"custom_field_data": {**c.custom_field_data,
                                                     HA_FIELD: c.type.slug == "vmware-vsphere"}} for c in clusters])


def _services_and_relationships(rng: random.Random) -> int:
    types = ensure_builtin_types()
    located = RelationshipType.objects.filter(slug="located_in").first() or bulk.bulk_create(RelationshipType, [
        RelationshipType(name="located in", slug="located_in", inverse_name="contains", propagation="to_source",
                         allowed_source_kinds=["dcim.device"], allowed_target_kinds=["dcim.rack"],
                         description="Rack power and cooling: a rack outage takes its devices down")])[0]
    tenants = {t.slug: t for t in Tenant.objects.all()}
    services = bulk.bulk_create(Service, [
        Service(name=name, slug=slug, tenant=tenants.get(tenant), service_type=stype, criticality=crit,
                sla_availability=Decimal(sla), support_hours=hours, description=f"{name} ({stype} service)")
        for name, slug, tenant, stype, crit, sla, hours, _p, _d in SERVICES])
    svc = {s.slug: s for s in services}
    edges: set[tuple[int, int, int]] = set()
    dep, hosted, con, backs = (types[k].pk for k in ("depends_on", "hosted_on", "connected_to", "backs_up"))
    vms = list(VirtualMachine.objects.values_list("name", "ci_id", "cluster_id"))
    clusters = {pk: (ci, site, name) for pk, ci, site, name in Cluster.objects.values_list("pk", "ci_id", "site_id",
                                                                                           "name")}
    for _name, slug, _t, _st, _c, _s, _h, prefixes, needs in SERVICES:
        for vm_name, vm_ci, _cl in vms:
            if any(vm_name.startswith(p) for p in prefixes):
                edges.add((svc[slug].ci_id, vm_ci, dep))
        for other in needs:
            edges.add((svc[slug].ci_id, svc[other].ci_id, dep))
    for _name, vm_ci, cluster_id in vms:
        if cluster_id in clusters:
            edges.add((vm_ci, clusters[cluster_id][0], hosted))
    devices = list(Device.objects.values_list("ci_id", "role__slug", "site_id", "rack__ci_id", "cluster_id", "name"))
    by_role: dict[tuple[str, int], list[int]] = defaultdict(list)
    for ci, role, site, _rack, _cl, _n in devices:
        by_role[(role, site)].append(ci)
    groups: list[tuple[RedundancyGroup, list[int]]] = []
    core_group: dict[int, RedundancyGroup] = {}
    for (role, site), cis in sorted(by_role.items()):
        if role == "core-switch" and len(cis) >= 2:
            g = RedundancyGroup(name=f"core switch pair (site {site})", min_up=1, criticality="critical",
                                description="Campus core: one of two switches carries the traffic")
            groups.append((g, cis))
            core_group[site] = g
    hosts_of: dict[int, list[int]] = defaultdict(list)
    for ci, _role, _site, _rack, cluster_id, _n in devices:
        if cluster_id:
            hosts_of[cluster_id].append(ci)
    cluster_group: dict[int, RedundancyGroup] = {}
    for cluster_id, cis in sorted(hosts_of.items()):
        g = RedundancyGroup(name=f"hosts of {clusters[cluster_id][2]}", min_up=max(1, len(cis) - 1),
                            criticality="critical", description="N+1: the cluster survives one host failure")
        groups.append((g, cis))
        cluster_group[cluster_id] = g
    created = bulk.bulk_create(RedundancyGroup, [g for g, _cis in groups])
    bulk.bulk_create(RedundancyMember, [RedundancyMember(group=g, ci_id=ci) for g, (_x, cis) in
                                        zip(created, groups, strict=True) for ci in cis])
    for cluster_id, g in cluster_group.items():
        edges.add((clusters[cluster_id][0], g.ci_id, dep))
    storage = {site: cis for (role, site), cis in by_role.items() if role == "storage"}
    backup = [ci for (role, _site), cis in by_role.items() if role == "backup-appliance" for ci in cis]
    for cl_ci, site, _name in clusters.values():
        for arr in storage.get(site, []):
            edges.add((cl_ci, arr, dep))
    for arrays in storage.values():
        for arr in arrays:
            for b in backup:
                edges.add((b, arr, backs))
    server_roles = {"server", "hypervisor", "kubernetes-node", "storage", "backup-appliance", "vdi-host",
                    "database-server", "access-switch", "firewall", "wlan-controller"}
    for ci, role, site, rack_ci, _cl, _name in devices:
        if role in server_roles and site in core_group:
            edges.add((ci, core_group[site].ci_id, con))
        if rack_ci and role != "pc":
            edges.add((ci, rack_ci, located.pk))
    k8s = next((ci for ci, _s, name in clusters.values() if name.startswith("k8s")), None)
    if k8s:
        edges.add((svc["kubernetes"].ci_id, k8s, dep))
        for slug in ("campus-app", "api-gateway", "forms"):
            edges.add((svc[slug].ci_id, svc["kubernetes"].ci_id, dep))
    vdi = [ci for ci, _s, name in clusters.values() if name.startswith("vdi")]
    for ci in vdi:
        edges.add((svc["vdi"].ci_id, ci, dep))
    for b in backup:
        edges.add((svc["backup"].ci_id, b, dep))
    rows = [Relationship(source_id=s, target_id=t, type_id=ty, origin="demo") for s, t, ty in sorted(edges)]
    bulk.bulk_create(Relationship, rows)
    return len(rows)
