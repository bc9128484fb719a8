"""The static shape of the demo university (see /work/shared/DEMO.md).

Everything here is plain data: who the tenants are, which buildings and rooms
exist, which hardware models are bought, which services run as which VMs.
The generator (:mod:`cmdb.demo.generator`) turns it into objects, adding the
variable parts (serials, dates, addresses) from a seeded random generator and
multiplying the countable parts by ``--scale``.  Keeping the story in one data
module means every part of the demo (services, licenses, a domain's demo step)
extends it by reading the same names instead of guessing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DOMAIN = "uni.example"

# --- organisation -------------------------------------------------------------------------

#: (name, slug, description)
TENANT_GROUPS: list[tuple[str, str, str]] = [
    ("Computing center", "computing-center", "Central IT: data centers, network and central services"),
    ("Administration", "administration", "Central administration of the university"),
    ("Faculties", "faculties", "Faculties with their own labs, servers and staff"),
]


@dataclass(frozen=True)
class TenantSpec:
    """A tenant and the facts the generator needs about it."""

    name: str
    slug: str
    group: str
    code: str  # short code used in host names (e.g. ``ei-srv01``)
    home: str  # site slug of the tenant's home campus
    laptops: int  # staff laptops at scale 1
    description: str = ""


TENANTS: list[TenantSpec] = [
    TenantSpec("Computing Center", "computing-center", "computing-center", "rz", "zittau", 60,
               "Runs both data centers, the network and the central services"),
    TenantSpec("Student Office", "student-office", "administration", "sb", "zittau", 25,
               "Applications, enrolment and student records"),
    TenantSpec("Examination Office", "examination-office", "administration", "pa", "zittau", 15,
               "Examination registration, grades and certificates"),
    TenantSpec("Human Resources", "human-resources", "administration", "hr", "zittau", 20,
               "Staff administration, time recording and absence management"),
    TenantSpec("Finance and Procurement", "finance-and-procurement", "administration", "fi", "zittau", 25,
               "Budget, procurement and e-invoicing"),
    TenantSpec("Library", "library", "administration", "bib", "zittau", 20,
               "University library on both campuses"),
    TenantSpec("Faculty of Business", "faculty-business", "faculties", "wi", "zittau", 70),
    TenantSpec("Faculty of Electrical Engineering and Computer Science", "faculty-eecs", "faculties", "ei",
               "zittau", 110),
    TenantSpec("Faculty of Mechanical Engineering", "faculty-mechanical-engineering", "faculties", "mb",
               "zittau", 80),
    TenantSpec("Faculty of Natural Sciences", "faculty-natural-sciences", "faculties", "nw", "zittau", 60),
    TenantSpec("Faculty of Social Sciences", "faculty-social-sciences", "faculties", "sw", "goerlitz", 55),
    TenantSpec("Faculty of Management and Cultural Studies", "faculty-management-cultural-studies", "faculties",
               "mk", "goerlitz", 50),
]

CC = "computing-center"

#: (name, slug, description)
CONTACT_ROLES: list[tuple[str, str, str]] = [
    ("Owner", "owner", "Accountable for the object; decides about changes"),
    ("Technical contact", "technical-contact", "Operates the object; first call in an incident"),
]

#: Teams of the computing center that own infrastructure CIs: (key, name, e-mail local part, phone).
CC_TEAMS: list[tuple[str, str, str, str]] = [
    ("server", "CC Server Team", "rz-server", "+49 3583 612-4100"),
    ("network", "CC Network Team", "rz-netz", "+49 3583 612-4200"),
    ("client", "CC Client Team", "rz-client", "+49 3583 612-4300"),
    ("storage", "CC Storage and Backup Team", "rz-storage", "+49 3583 612-4400"),
    ("identity", "CC Identity Team", "rz-idm", "+49 3583 612-4500"),
    ("database", "CC Database Team", "rz-db", "+49 3583 612-4600"),
    ("platform", "CC Platform Team", "rz-platform", "+49 3583 612-4700"),
]

FIRST_NAMES = [
    "Anna", "Ben", "Clara", "David", "Elena", "Felix", "Greta", "Hannes", "Ida", "Jonas", "Katrin", "Lukas",
    "Marie", "Niklas", "Olga", "Paul", "Quirin", "Rosa", "Stefan", "Tanja", "Ulrich", "Vera", "Wolfgang",
    "Xenia", "Yannick", "Zoe", "Matthias", "Sabine", "Thomas", "Petra", "Andreas", "Kerstin", "Michael",
    "Susanne", "Frank", "Heike", "Jens", "Birgit", "Uwe", "Claudia",
]
LAST_NAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger",
    "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Köhler", "Walter", "Mayer", "Kaiser", "Fuchs",
    "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Vogel", "Friedrich", "Günther",
]

#: (name, slug, colour, description)
TAGS: list[tuple[str, str, str, str]] = [
    ("monitoring", "monitoring", "4caf50", "Monitored by the central Prometheus"),
    ("backup", "backup", "2196f3", "Included in the daily backup"),
    ("exam-critical", "exam-critical", "f44336", "Must not fail during examination periods"),
    ("gpu", "gpu", "9c27b0", "Has GPUs (vGPU, CUDA)"),
    ("dmz", "dmz", "ff9800", "Reachable from the internet"),
    ("ansible-managed", "ansible-managed", "607d8b", "Configuration managed by Ansible"),
]

# --- places -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteSpec:
    name: str
    slug: str
    code: str  # short code used in host names (zi, gr)
    facility: str
    address: str
    latitude: str
    longitude: str
    net: int  # second octet of the campus /16 (10.<net>.0.0/16)
    racks: int  # racks in the data-center room at scale 1
    description: str


SITES: list[SiteSpec] = [
    SiteSpec("Zittau", "zittau", "zi", "Campus Zittau", "Hochschulring 1, 02763 Zittau, Germany",
             "50.896000", "14.807000", 10, 8, "Main campus with the primary data center"),
    SiteSpec("Görlitz", "goerlitz", "gr", "Campus Görlitz", "Campusstraße 2, 02826 Görlitz, Germany",
             "51.153000", "14.987000", 20, 4, "Second campus; secondary data center and backup target"),
]


@dataclass(frozen=True)
class RoomSpec:
    """A room; ``kind`` says what the generator puts there."""

    name: str
    slug: str
    kind: str  # datacenter, network, pool, lab, library, office, cad
    clients: int = 0  # client devices at scale 1
    client_role: str = "pc"  # pc or thin-client
    tenant: str = CC
    platform: str = "windows-11"


@dataclass(frozen=True)
class BuildingSpec:
    site: str
    name: str
    slug: str
    printers: int
    rooms: list[RoomSpec] = field(default_factory=list)
    description: str = ""


BUILDINGS: list[BuildingSpec] = [
    BuildingSpec("zittau", "Building Z I", "z1", 6, [
        RoomSpec("Data center DC1", "z1-dc1", "datacenter"),
        RoomSpec("Network room Z I", "z1-net", "network"),
        RoomSpec("PC pool Z I 105", "z1-105", "pool", 30),
        RoomSpec("PC pool Z I 106", "z1-106", "pool", 30),
    ], "Main building with the primary data center"),
    BuildingSpec("zittau", "Building Z II", "z2", 5, [
        RoomSpec("PC pool Z II 201", "z2-201", "pool", 24, tenant="faculty-eecs", platform="ubuntu-2404"),
        RoomSpec("PC pool Z II 202", "z2-202", "pool", 24, tenant="faculty-business"),
        RoomSpec("Electronics lab", "z2-elab", "lab", 16, tenant="faculty-eecs"),
        RoomSpec("Automation lab", "z2-alab", "lab", 12, tenant="faculty-eecs"),
    ], "Electrical engineering and computer science, business"),
    BuildingSpec("zittau", "Library Zittau", "z3", 4, [
        RoomSpec("Reading room", "z3-reading", "library", 30, "thin-client", "library", "igel-os-12"),
        RoomSpec("Library PC pool", "z3-pool", "pool", 20, tenant="library"),
    ], "University library"),
    BuildingSpec("zittau", "Building Z IV", "z4", 4, [
        RoomSpec("Mechanical engineering lab", "z4-mlab", "lab", 14, tenant="faculty-mechanical-engineering"),
        RoomSpec("Chemistry lab", "z4-clab", "lab", 10, tenant="faculty-natural-sciences"),
        RoomSpec("Physics lab", "z4-plab", "lab", 10, tenant="faculty-natural-sciences"),
    ], "Laboratories"),
    BuildingSpec("zittau", "Administration building", "z5", 6, [
        RoomSpec("Student office", "z5-sb", "office", 25, "thin-client", "student-office", "igel-os-12"),
        RoomSpec("Examination office", "z5-pa", "office", 15, "thin-client", "examination-office", "igel-os-12"),
        RoomSpec("Human resources", "z5-hr", "office", 15, "thin-client", "human-resources", "igel-os-12"),
        RoomSpec("Finance and procurement", "z5-fi", "office", 15, "thin-client", "finance-and-procurement",
                 "igel-os-12"),
    ], "Central administration"),
    BuildingSpec("goerlitz", "Building G I", "g1", 5, [
        RoomSpec("Data center DC2", "g1-dc2", "datacenter"),
        RoomSpec("Network room G I", "g1-net", "network"),
        RoomSpec("PC pool G I 101", "g1-101", "pool", 30),
        RoomSpec("PC pool G I 102", "g1-102", "pool", 30, tenant="faculty-social-sciences"),
    ], "Main building Görlitz with the secondary data center"),
    BuildingSpec("goerlitz", "Building G II", "g2", 4, [
        RoomSpec("CAD lab", "g2-cad", "cad", 24, "thin-client", "faculty-mechanical-engineering", "igel-os-12"),
        RoomSpec("PC pool G II 110", "g2-110", "pool", 24, tenant="faculty-management-cultural-studies"),
        RoomSpec("Media lab", "g2-media", "lab", 12, tenant="faculty-management-cultural-studies"),
    ], "CAD lab (VDI with vGPU) and PC pools"),
]

# --- hardware catalogue -------------------------------------------------------------------

#: (name, slug) — server vendors first.
MANUFACTURERS: list[tuple[str, str]] = [
    ("Dell", "dell"), ("HPE", "hpe"), ("Lenovo", "lenovo"), ("Fujitsu", "fujitsu"),
    ("Cisco", "cisco"), ("Juniper", "juniper"), ("Fortinet", "fortinet"), ("Aruba", "aruba"), ("HP", "hp"),
]

#: Serial number shape per manufacturer: (prefix, number of random characters).
SERIAL_FORMAT: dict[str, tuple[str, int]] = {
    "dell": ("", 7), "hpe": ("CZ", 8), "lenovo": ("J", 7), "fujitsu": ("YL", 8), "cisco": ("FOC", 8),
    "juniper": ("XK", 10), "fortinet": ("FG6H0F", 9), "aruba": ("CN", 8), "hp": ("CNB", 7),
    "rack": ("RIT", 8),  # racks (no manufacturer object; serials only for the inventory)
}

#: First three octets of MAC addresses per manufacturer (a real OUI of the vendor).
OUI: dict[str, str] = {
    "dell": "D0:94:66", "hpe": "94:40:C9", "lenovo": "08:94:EF", "fujitsu": "00:19:99", "cisco": "00:1B:54",
    "juniper": "F4:A7:39", "fortinet": "00:09:0F", "aruba": "00:0B:86", "hp": "3C:52:82",
    "vmware": "00:50:56", "proxmox": "BC:24:11",
}


@dataclass(frozen=True)
class DeviceTypeSpec:
    manufacturer: str
    model: str
    slug: str
    part_number: str
    u_height: int
    profile: str  # interface profile, see INTERFACE_PROFILES
    full_depth: bool = True


DEVICE_TYPES: list[DeviceTypeSpec] = [
    DeviceTypeSpec("dell", "PowerEdge R650", "poweredge-r650", "210-AYJZ", 1, "server-dell"),
    DeviceTypeSpec("dell", "PowerEdge R750", "poweredge-r750", "210-AYCG", 2, "server-dell"),
    DeviceTypeSpec("dell", "PowerEdge R760xa", "poweredge-r760xa", "210-BDZY", 2, "server-dell"),
    DeviceTypeSpec("dell", "PowerStore 1200T", "powerstore-1200t", "PS1200T", 2, "storage"),
    DeviceTypeSpec("dell", "PowerProtect DD6400", "powerprotect-dd6400", "DD6400", 2, "storage"),
    DeviceTypeSpec("dell", "OptiPlex 7010", "optiplex-7010", "", 0, "pc", False),
    DeviceTypeSpec("dell", "Latitude 5440", "latitude-5440", "", 0, "laptop", False),
    DeviceTypeSpec("hpe", "ProLiant DL360 Gen10 Plus", "proliant-dl360-gen10-plus", "P39882-B21", 1, "server-hpe"),
    DeviceTypeSpec("hpe", "ProLiant DL380 Gen10 Plus", "proliant-dl380-gen10-plus", "P39884-B21", 2, "server-hpe"),
    DeviceTypeSpec("hpe", "ProLiant DL380 Gen9", "proliant-dl380-gen9", "719064-B21", 2, "server-hpe"),
    DeviceTypeSpec("hpe", "Alletra 6010", "alletra-6010", "R7A85A", 4, "storage"),
    DeviceTypeSpec("lenovo", "ThinkSystem SR630 V2", "thinksystem-sr630-v2", "7Z71", 1, "server-lenovo"),
    DeviceTypeSpec("lenovo", "ThinkSystem SR650 V2", "thinksystem-sr650-v2", "7Z73", 2, "server-lenovo"),
    DeviceTypeSpec("lenovo", "ThinkCentre M90q Gen 4", "thinkcentre-m90q-gen-4", "", 0, "pc", False),
    DeviceTypeSpec("lenovo", "ThinkPad T14 Gen 4", "thinkpad-t14-gen-4", "", 0, "laptop", False),
    DeviceTypeSpec("fujitsu", "PRIMERGY RX2530 M6", "primergy-rx2530-m6", "VFY:R2536SC", 1, "server-fujitsu"),
    DeviceTypeSpec("fujitsu", "PRIMERGY RX2540 M6", "primergy-rx2540-m6", "VFY:R2546SC", 2, "server-fujitsu"),
    DeviceTypeSpec("fujitsu", "PRIMERGY RX2540 M4", "primergy-rx2540-m4", "VFY:R2544SC", 2, "server-fujitsu"),
    DeviceTypeSpec("fujitsu", "ESPRIMO D7012", "esprimo-d7012", "", 0, "pc", False),
    DeviceTypeSpec("fujitsu", "FUTRO S9011", "futro-s9011", "", 0, "thin-client", False),
    DeviceTypeSpec("cisco", "Catalyst 9500-48Y4C", "c9500-48y4c", "C9500-48Y4C", 1, "core-cisco"),
    DeviceTypeSpec("cisco", "Catalyst 9300-48P", "c9300-48p", "C9300-48P", 1, "access-cisco"),
    DeviceTypeSpec("juniper", "EX4400-48P", "ex4400-48p", "EX4400-48P", 1, "access-juniper"),
    DeviceTypeSpec("fortinet", "FortiGate 600F", "fortigate-600f", "FG-600F", 1, "firewall"),
    DeviceTypeSpec("aruba", "7210 Mobility Controller", "aruba-7210", "JW743A", 1, "wlc", False),
    DeviceTypeSpec("hp", "LaserJet Enterprise M611dn", "laserjet-m611dn", "7PS84A", 0, "printer", False),
    DeviceTypeSpec("hp", "Color LaserJet Enterprise M555dn", "color-laserjet-m555dn", "7ZU78A", 0, "printer", False),
    DeviceTypeSpec("hp", "EliteBook 840 G10", "elitebook-840-g10", "", 0, "laptop", False),
    DeviceTypeSpec("hp", "t640 Thin Client", "hp-t640", "", 0, "thin-client", False),
]

G1, G10, G25, G100 = "1000base-t", "10gbase-x-sfpp", "25gbase-x-sfp28", "100gbase-x-qsfp28"


def _server(bmc: str) -> list[tuple[str, str, bool]]:
    # Four interfaces; the first carries the primary address, the last is the BMC.
    return [("eno1", G1, False), ("ens1f0", G25, False), ("ens1f1", G25, False), (bmc, G1, True)]


#: Interface templates per profile: (name, type, mgmt_only); the first interface carries the primary IP.
INTERFACE_PROFILES: dict[str, list[tuple[str, str, bool]]] = {
    "server-dell": _server("idrac"),
    "server-hpe": _server("ilo"),
    "server-lenovo": _server("xcc"),
    "server-fujitsu": _server("irmc"),
    "storage": [("mgmt0", G1, True)] + [(f"ctrl-{c}-p{p}", G25, False) for c in "ab" for p in (0, 1)],
    "core-cisco": [("GigabitEthernet0/0", G1, True)]
    + [(f"TwentyFiveGigE1/0/{i}", G25, False) for i in range(1, 49)]
    + [(f"HundredGigE1/0/{i}", G100, False) for i in range(49, 53)],
    "access-cisco": [("GigabitEthernet0/0", G1, True)]
    + [(f"GigabitEthernet1/0/{i}", G1, False) for i in range(1, 49)]
    + [(f"TenGigabitEthernet1/1/{i}", G10, False) for i in range(1, 5)],
    "access-juniper": [("em0", G1, True)]
    + [(f"ge-0/0/{i}", G1, False) for i in range(48)]
    + [(f"xe-0/2/{i}", G10, False) for i in range(4)],
    "firewall": [("mgmt", G1, True)] + [(f"port{i}", G1, False) for i in range(1, 17)]
    + [(f"x{i}", G10, False) for i in range(1, 5)],
    "wlc": [("mgmt", G1, True)] + [(f"0/0/{i}", G10, False) for i in range(6)],
    "pc": [("eth0", G1, False)],
    "laptop": [("eth0", G1, False), ("wlan0", "ieee802.11ax", False)],
    "thin-client": [("eth0", G1, False)],
    "printer": [("eth0", G1, False)],
}

#: (name, slug, colour, usable for VMs, description)
DEVICE_ROLES: list[tuple[str, str, str, bool, str]] = [
    ("Server", "server", "2196f3", True, "General-purpose server"),
    ("Hypervisor", "hypervisor", "3f51b5", False, "Virtualization cluster host"),
    ("Kubernetes node", "kubernetes-node", "326ce5", False, "Node of the Kubernetes platform"),
    ("Storage", "storage", "795548", False, "Storage array"),
    ("Backup appliance", "backup-appliance", "8d6e63", False, "Backup target / deduplication appliance"),
    ("VDI host", "vdi-host", "009688", False, "Host for virtual desktops"),
    ("Database server", "database-server", "ff5722", True, "Database server"),
    ("Core switch", "core-switch", "f44336", False, "Campus core switch"),
    ("Access switch", "access-switch", "ff9800", False, "Building access switch"),
    ("Firewall", "firewall", "b71c1c", False, "Perimeter firewall"),
    ("WLAN controller", "wlan-controller", "ffc107", False, "Wireless LAN controller"),
    ("PC", "pc", "9e9e9e", False, "Desktop PC (PC pools, labs)"),
    ("Laptop", "laptop", "bdbdbd", False, "Staff laptop"),
    ("Thin client", "thin-client", "cfd8dc", False, "Thin client for VDI"),
    ("Printer", "printer", "757575", False, "Network printer"),
]

#: (name, slug, manufacturer slug or None)
PLATFORMS: list[tuple[str, str, str | None]] = [
    ("Debian 12", "debian-12", None),
    ("Ubuntu 22.04", "ubuntu-2204", None),
    ("Ubuntu 24.04", "ubuntu-2404", None),
    ("RHEL 8", "rhel-8", None),
    ("RHEL 9", "rhel-9", None),
    ("Windows Server 2019", "windows-server-2019", None),
    ("Windows Server 2022", "windows-server-2022", None),
    ("Windows 11", "windows-11", None),
    ("IGEL OS 12", "igel-os-12", None),
    ("VMware ESXi 8", "vmware-esxi-8", None),
    ("Proxmox VE 8", "proxmox-ve-8", None),
    ("Cisco IOS-XE", "cisco-ios-xe", "cisco"),
    ("Junos", "junos", "juniper"),
    ("FortiOS", "fortios", "fortinet"),
    ("ArubaOS", "arubaos", "aruba"),
]

# --- clusters -----------------------------------------------------------------------------

#: (name, slug, description)
CLUSTER_TYPES: list[tuple[str, str, str]] = [
    ("VMware vSphere", "vmware-vsphere", ""),
    ("Proxmox VE", "proxmox-ve", ""),
    ("Kubernetes", "kubernetes", ""),
    ("Slurm", "slurm", "HPC batch cluster"),
]
CLUSTER_GROUPS: list[tuple[str, str, str]] = [
    ("Production", "production", "Server virtualization for central and faculty services"),
    ("VDI", "vdi", "Virtual desktops: PC pools, CAD lab with vGPU, administration, home office"),
    ("Container platform", "container-platform", "Kubernetes"),
    ("HPC", "hpc", "High-performance computing"),
]


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster and its hosts; ``scaled`` clusters are repeated ``scale`` times (suffix -02, -03, ...)."""

    name: str
    type: str
    group: str
    site: str
    description: str
    scaled: bool = False
    vm_host: bool = False  # runs the demo's VMs
    criticality: str = "high"


CLUSTERS: list[ClusterSpec] = [
    ClusterSpec("zittau-prod", "vmware-vsphere", "production", "zittau",
                "Production virtualization, campus Zittau", scaled=True, vm_host=True, criticality="critical"),
    ClusterSpec("goerlitz-prod", "proxmox-ve", "production", "goerlitz",
                "Production virtualization, campus Görlitz", scaled=True, vm_host=True, criticality="critical"),
    ClusterSpec("k8s-prod", "kubernetes", "container-platform", "zittau", "Kubernetes platform"),
    ClusterSpec("vdi-zittau", "vmware-vsphere", "vdi", "zittau", "VDI for PC pools, administration, home office"),
    ClusterSpec("vdi-cad", "vmware-vsphere", "vdi", "goerlitz", "VDI with vGPU for the CAD lab"),
    ClusterSpec("hpc", "slurm", "hpc", "zittau", "HPC cluster for research and teaching", criticality="medium"),
]

# --- physical servers ---------------------------------------------------------------------


@dataclass(frozen=True)
class ServerGroup:
    """A group of alike physical servers.

    ``name`` is a pattern with ``{n}`` (running number) and ``{code}``
    (tenant code); ``scaled`` groups are multiplied by ``--scale``;
    ``cluster`` names a :data:`CLUSTERS` entry (hosts of scaled clusters are
    split into clusters of ``per_cluster``).
    """

    name: str
    count: int
    site: str
    role: str
    device_types: tuple[str, ...]
    platforms: tuple[str, ...]
    criticality: str
    tenant: str = CC
    owner: str = "server"  # CC team key, or "tenant" for the tenant's technical contact
    tags: tuple[str, ...] = ("monitoring", "ansible-managed")
    cluster: str | None = None
    scaled: bool = True
    description: str = ""
    years: tuple[int, int] = (2020, 2025)  # purchase years
    width: int = 2  # digits of the running number


SERVER_GROUPS: list[ServerGroup] = [
    ServerGroup("esx-zi-{n}", 10, "zittau", "hypervisor", ("poweredge-r750",), ("vmware-esxi-8",), "critical",
                cluster="zittau-prod", description="vSphere host"),
    ServerGroup("pve-gr-{n}", 6, "goerlitz", "hypervisor", ("proliant-dl380-gen10-plus",), ("proxmox-ve-8",),
                "critical", cluster="goerlitz-prod", description="Proxmox VE host"),
    ServerGroup("k8s-cp{n}", 3, "zittau", "kubernetes-node", ("thinksystem-sr630-v2",), ("ubuntu-2404",), "critical",
                owner="platform", cluster="k8s-prod", scaled=False, description="Kubernetes control plane"),
    ServerGroup("k8s-w{n}", 8, "zittau", "kubernetes-node", ("thinksystem-sr650-v2",), ("ubuntu-2404",), "high",
                owner="platform", cluster="k8s-prod", description="Kubernetes worker"),
    ServerGroup("stor-zi-{n}", 1, "zittau", "storage", ("powerstore-1200t",), (), "critical", owner="storage",
                tags=("monitoring",), scaled=False, description="Primary storage array (block/file)"),
    ServerGroup("stor-gr-{n}", 1, "goerlitz", "storage", ("alletra-6010",), (), "critical", owner="storage",
                tags=("monitoring",), scaled=False, description="Secondary storage array, replication target"),
    ServerGroup("bkp-gr-{n}", 1, "goerlitz", "backup-appliance", ("powerprotect-dd6400",), (), "high",
                owner="storage", tags=("monitoring",), scaled=False, description="Backup target (deduplication)"),
    ServerGroup("vdi-zi-{n}", 4, "zittau", "vdi-host", ("poweredge-r750",), ("vmware-esxi-8",), "high",
                cluster="vdi-zittau", scaled=False, description="VDI host"),
    ServerGroup("vdi-gr-gpu{n}", 2, "goerlitz", "vdi-host", ("poweredge-r760xa",), ("vmware-esxi-8",), "high",
                tags=("monitoring", "gpu"), cluster="vdi-cad", scaled=False, description="VDI host with vGPU (CAD)"),
    ServerGroup("db-zi-{n}", 3, "zittau", "database-server", ("proliant-dl380-gen10-plus",), ("rhel-9",), "critical",
                owner="database", tags=("monitoring", "backup", "exam-critical"), scaled=False,
                description="Bare-metal Oracle for campus management"),
    ServerGroup("db-gr-{n}", 1, "goerlitz", "database-server", ("proliant-dl380-gen10-plus",), ("rhel-9",), "high",
                owner="database", tags=("monitoring", "backup"), scaled=False, description="Oracle standby"),
    ServerGroup("hpc-login{n}", 2, "zittau", "server", ("thinksystem-sr630-v2",), ("rhel-9",), "medium",
                cluster="hpc", scaled=False, description="HPC login node"),
    ServerGroup("hpc-gpu{n}", 4, "zittau", "server", ("poweredge-r760xa",), ("rhel-9",), "medium",
                tags=("monitoring", "gpu"), cluster="hpc", description="HPC GPU node"),
    ServerGroup("hpc-c{n}", 96, "zittau", "server", ("thinksystem-sr630-v2",), ("rhel-9",), "low",
                cluster="hpc", description="HPC compute node", years=(2021, 2024), width=3),
    ServerGroup("bkp-proxy-zi-{n}", 2, "zittau", "server", ("primergy-rx2530-m6",), ("windows-server-2022",),
                "high", owner="storage", scaled=False, description="Backup proxy"),
    ServerGroup("bkp-proxy-gr-{n}", 2, "goerlitz", "server", ("primergy-rx2530-m6",), ("windows-server-2022",),
                "high", owner="storage", scaled=False, description="Backup proxy"),
    ServerGroup("archive-gr-{n}", 4, "goerlitz", "server", ("primergy-rx2540-m6",), ("rhel-9",), "high",
                owner="storage", tags=("monitoring",), scaled=False, description="Long-term archive (10 years)"),
    ServerGroup("log-zi-{n}", 2, "zittau", "server", ("proliant-dl360-gen10-plus",), ("debian-12",), "medium",
                scaled=False, description="Central log archive"),
    ServerGroup("mgmt-zi-{n}", 2, "zittau", "server", ("poweredge-r650",), ("debian-12",), "high",
                scaled=False, description="Management and jump host"),
    ServerGroup("ntp-zi-{n}", 1, "zittau", "server", ("poweredge-r650",), ("debian-12",), "high",
                owner="network", scaled=False, description="GPS-backed NTP server"),
    ServerGroup("ntp-gr-{n}", 1, "goerlitz", "server", ("poweredge-r650",), ("debian-12",), "high",
                owner="network", scaled=False, description="GPS-backed NTP server"),
    ServerGroup("{code}-srv{n}", 0, "", "server",
                ("primergy-rx2530-m6", "primergy-rx2540-m6", "proliant-dl360-gen10-plus", "poweredge-r650"),
                ("ubuntu-2404", "debian-12", "windows-server-2022", "ubuntu-2204"), "medium",
                owner="tenant", tags=("monitoring",), description="Faculty research and teaching server",
                years=(2018, 2025)),
    ServerGroup("legacy-zi-{n}", 16, "zittau", "server", ("primergy-rx2540-m4", "proliant-dl380-gen9"),
                ("rhel-8", "windows-server-2019"), "low", tags=(), description="Legacy server, to be replaced",
                years=(2014, 2018)),
    ServerGroup("legacy-gr-{n}", 8, "goerlitz", "server", ("primergy-rx2540-m4", "proliant-dl380-gen9"),
                ("rhel-8", "windows-server-2019"), "low", tags=(), description="Legacy server, to be replaced",
                years=(2014, 2018)),
]

#: Faculty servers (the ``{code}-srv{n}`` group) per tenant at scale 1; they stand at the tenant's home campus.
FACULTY_SERVERS: dict[str, int] = {
    "faculty-eecs": 40, "faculty-mechanical-engineering": 22, "faculty-natural-sciences": 18,
    "faculty-business": 10, "faculty-social-sciences": 16, "faculty-management-cultural-studies": 14,
}

# --- virtual machines ---------------------------------------------------------------------


@dataclass(frozen=True)
class VMGroup:
    """VMs of one function of one service, named ``<prefix><nn>`` (``moodle-app01``).

    ``placement``: ``zittau``, ``goerlitz`` or ``both`` (alternating, for
    redundancy); ``net``: which VM network the address comes from.
    """

    prefix: str
    tenant: str
    count: int
    vcpus: int
    memory_gb: int
    disk_gb: int
    platform: str
    criticality: str
    tags: tuple[str, ...]
    placement: str
    net: str  # services, dmz, faculty
    role: str
    description: str
    owner: str = "server"  # CC team key or "tenant"


MBE = ("monitoring", "backup", "exam-critical")
MB = ("monitoring", "backup")
M = ("monitoring",)
MBED, MBD, MD = (*MBE, "dmz"), (*MB, "dmz"), (*M, "dmz")


def _vm(prefix: str, tenant: str, count: int, cpu: int, mem: int, disk: int, platform: str, crit: str,
        tags: tuple[str, ...], placement: str, net: str, description: str, role: str = "server",
        owner: str = "server") -> VMGroup:
    return VMGroup(prefix, tenant, count, cpu, mem, disk, platform, crit, tags, placement, net, role, description,
                   owner)


SO, EO, HR, FI, LIB = "student-office", "examination-office", "human-resources", "finance-and-procurement", "library"
DB = "database-server"

VM_GROUPS: list[VMGroup] = [
    # Campus management (student lifecycle: applications, enrolment, exams)
    _vm("his-web", SO, 3, 4, 8, 60, "rhel-9", "critical", MBED, "zittau", "dmz", "Campus management web"),
    _vm("his-app", SO, 6, 8, 32, 120, "rhel-9", "critical", MBE, "zittau", "services", "Campus management app"),
    _vm("his-batch", SO, 2, 4, 16, 100, "rhel-9", "high", MBE, "zittau", "services", "Campus management batch"),
    _vm("his-db", SO, 2, 16, 128, 1500, "rhel-9", "critical", MBE, "both", "services", "Campus management DB", DB,
        "database"),
    _vm("exam-app", EO, 4, 8, 32, 100, "rhel-9", "critical", MBE, "zittau", "services", "Examination management"),
    _vm("exam-db", EO, 2, 8, 64, 500, "rhel-9", "critical", MBE, "both", "services", "Examination DB", DB,
        "database"),
    _vm("eexam-app", EO, 6, 8, 16, 80, "debian-12", "critical", MBE, "zittau", "services", "E-examinations"),
    _vm("apply-web", SO, 2, 4, 8, 40, "ubuntu-2404", "high", MBD, "zittau", "dmz", "Applicant portal"),
    _vm("apply-app", SO, 2, 4, 16, 80, "ubuntu-2404", "high", MB, "zittau", "services", "Applicant management"),
    _vm("apply-db", SO, 1, 4, 32, 300, "ubuntu-2404", "high", MB, "zittau", "services", "Applicant DB", DB,
        "database"),
    # Learning platform
    _vm("moodle-web", CC, 4, 4, 8, 40, "debian-12", "critical", MBED, "zittau", "dmz", "Moodle front end"),
    _vm("moodle-app", CC, 8, 8, 16, 60, "debian-12", "critical", MBE, "both", "services", "Moodle application"),
    _vm("moodle-db", CC, 2, 16, 64, 800, "debian-12", "critical", MBE, "both", "services", "Moodle PostgreSQL", DB,
        "database"),
    _vm("moodle-cache", CC, 2, 4, 16, 40, "debian-12", "high", MBE, "zittau", "services", "Moodle Redis"),
    _vm("moodle-files", CC, 2, 4, 16, 4000, "debian-12", "critical", MBE, "zittau", "services", "Moodle data"),
    # Campus app, digital student ID, forms
    _vm("campusapp-api", CC, 3, 4, 8, 40, "ubuntu-2404", "high", MBD, "zittau", "dmz", "Campus app API"),
    _vm("campusapp-db", CC, 2, 4, 16, 200, "ubuntu-2404", "high", MB, "zittau", "services", "Campus app DB", DB,
        "database"),
    _vm("studid-app", SO, 2, 4, 8, 60, "ubuntu-2404", "high", MB, "zittau", "services", "Digital student ID"),
    _vm("forms-app", CC, 2, 4, 8, 60, "ubuntu-2404", "medium", MBD, "zittau", "dmz", "Forms service"),
    _vm("forms-db", CC, 1, 4, 16, 100, "ubuntu-2404", "medium", MB, "zittau", "services", "Forms DB", DB,
        "database"),
    # Document management, e-invoicing, ERP
    _vm("dms-app", CC, 4, 8, 32, 200, "windows-server-2022", "high", MB, "zittau", "services", "DMS/ECMS app"),
    _vm("dms-db", CC, 2, 8, 64, 1000, "windows-server-2022", "high", MB, "both", "services", "DMS SQL Server", DB,
        "database"),
    _vm("dms-idx", CC, 2, 4, 16, 500, "windows-server-2022", "medium", MB, "zittau", "services", "DMS full text"),
    _vm("dms-ocr", CC, 2, 8, 16, 100, "windows-server-2022", "low", M, "zittau", "services", "DMS OCR"),
    _vm("einvoice-app", FI, 2, 4, 16, 100, "ubuntu-2404", "high", MB, "zittau", "services", "E-invoicing"),
    _vm("einvoice-gw", FI, 2, 2, 4, 40, "ubuntu-2404", "high", MBD, "zittau", "dmz", "E-invoice gateway"),
    _vm("erp-app", FI, 3, 8, 32, 200, "windows-server-2022", "high", MB, "zittau", "services", "Finance ERP"),
    _vm("erp-db", FI, 2, 8, 64, 800, "windows-server-2022", "high", MB, "both", "services", "ERP database", DB,
        "database"),
    # Time recording, HR
    _vm("time-app", HR, 2, 4, 8, 60, "windows-server-2022", "high", MB, "zittau", "services",
        "Time recording and absence management"),
    _vm("time-db", HR, 1, 4, 16, 200, "windows-server-2022", "high", MB, "zittau", "services", "Time recording DB",
        DB, "database"),
    _vm("hr-app", HR, 2, 4, 16, 100, "windows-server-2022", "high", MB, "zittau", "services", "HR system"),
    _vm("hr-db", HR, 1, 8, 32, 300, "windows-server-2022", "high", MB, "zittau", "services", "HR DB", DB,
        "database"),
    # Identity and SSO with MFA, citizen-ID gateway
    _vm("idm-app", CC, 2, 4, 16, 80, "rhel-9", "critical", MBE, "both", "services", "Identity management",
        owner="identity"),
    _vm("idm-db", CC, 2, 8, 32, 200, "rhel-9", "critical", MBE, "both", "services", "IdM database", DB, "database"),
    _vm("idm-sso", CC, 4, 4, 8, 40, "rhel-9", "critical", MBED, "both", "dmz", "Single sign-on (SAML/OIDC)",
        owner="identity"),
    _vm("idm-mfa", CC, 2, 2, 4, 40, "rhel-9", "critical", MBE, "both", "services", "MFA server", owner="identity"),
    _vm("idm-ldap", CC, 4, 4, 8, 60, "rhel-9", "critical", MBE, "both", "services", "LDAP directory",
        owner="identity"),
    _vm("ad-dc", CC, 4, 4, 8, 80, "windows-server-2022", "critical", MBE, "both", "services", "Active Directory DC",
        owner="identity"),
    _vm("idm-radius", CC, 2, 2, 4, 20, "debian-12", "high", MB, "both", "services", "RADIUS (eduroam)",
        owner="identity"),
    _vm("eid-gw", CC, 2, 2, 4, 40, "rhel-9", "high", MBD, "both", "dmz",
        "Federal citizen-ID login gateway", owner="identity"),
    # E-mail, web, API gateway
    _vm("mail-mx", CC, 4, 4, 8, 80, "debian-12", "critical", MBD, "both", "dmz", "Mail exchanger"),
    _vm("mail-mbx", CC, 6, 8, 32, 2000, "debian-12", "critical", MB, "zittau", "services", "Mailbox server"),
    _vm("mail-web", CC, 2, 4, 8, 40, "debian-12", "high", MBD, "zittau", "dmz", "Webmail"),
    _vm("mail-av", CC, 2, 4, 8, 40, "debian-12", "high", M, "both", "services", "Mail virus scan"),
    _vm("mail-list", CC, 1, 2, 4, 60, "debian-12", "medium", MB, "zittau", "services", "Mailing lists"),
    _vm("web-cms", CC, 4, 4, 8, 100, "debian-12", "high", MBD, "zittau", "dmz", "Web CMS"),
    _vm("web-db", CC, 2, 4, 16, 200, "debian-12", "high", MB, "zittau", "services", "Web CMS DB", DB, "database"),
    _vm("web-proxy", CC, 4, 2, 4, 40, "debian-12", "high", MD, "both", "dmz", "Reverse proxy"),
    _vm("web-search", CC, 2, 4, 16, 200, "debian-12", "medium", M, "zittau", "services", "Web search"),
    _vm("api-gw", CC, 3, 4, 8, 40, "debian-12", "critical", MBD, "both", "dmz", "Central REST API gateway",
        owner="platform"),
    # Library, course booking
    _vm("lib-app", LIB, 2, 4, 16, 200, "ubuntu-2404", "high", MB, "zittau", "services", "Library system",
        owner="tenant"),
    _vm("lib-db", LIB, 1, 8, 32, 500, "ubuntu-2404", "high", MB, "zittau", "services", "Library DB", DB, "database"),
    _vm("lib-opac", LIB, 2, 2, 8, 40, "ubuntu-2404", "medium", MBD, "both", "dmz", "Library catalogue",
        owner="tenant"),
    _vm("sport-app", CC, 2, 2, 8, 60, "ubuntu-2404", "low", MBD, "zittau", "dmz", "Course booking"),
    # VDI, backup, monitoring
    _vm("vdi-broker", CC, 2, 4, 8, 60, "windows-server-2022", "high", MB, "zittau", "services", "VDI broker"),
    _vm("vdi-mgmt", CC, 2, 4, 16, 100, "windows-server-2022", "medium", MB, "zittau", "services", "VDI management"),
    _vm("vdi-lic", CC, 1, 2, 4, 40, "ubuntu-2404", "high", MB, "goerlitz", "services", "vGPU license server"),
    _vm("vdi-golden", CC, 1, 4, 8, 80, "windows-11", "low", M, "goerlitz", "services",
        "Golden image of the VDI pools (Windows 11, CAD software)"),
    _vm("bkp-srv", CC, 2, 8, 32, 200, "rhel-9", "high", M, "goerlitz", "services", "Backup server", owner="storage"),
    _vm("bkp-proxy", CC, 6, 8, 16, 100, "rhel-9", "high", M, "both", "services", "Backup proxy", owner="storage"),
    _vm("archive", CC, 2, 4, 16, 200, "rhel-9", "high", M, "goerlitz", "services", "Archive gateway",
        owner="storage"),
    _vm("mon-prom", CC, 4, 8, 32, 1000, "debian-12", "high", MB, "both", "services", "Prometheus"),
    _vm("mon-graf", CC, 2, 2, 8, 40, "debian-12", "medium", MB, "zittau", "services", "Grafana"),
    _vm("mon-alert", CC, 2, 2, 4, 20, "debian-12", "high", MB, "both", "services", "Alertmanager"),
    _vm("mon-log", CC, 4, 8, 32, 2000, "debian-12", "medium", M, "zittau", "services", "Log aggregation"),
    # Base services
    _vm("dns", CC, 4, 2, 4, 20, "debian-12", "critical", MB, "both", "services", "DNS resolver", owner="network"),
    _vm("dns-auth", CC, 2, 2, 4, 20, "debian-12", "critical", MBD, "both", "dmz", "Authoritative DNS",
        owner="network"),
    _vm("dhcp", CC, 2, 2, 4, 20, "debian-12", "critical", MB, "both", "services", "DHCP", owner="network"),
    _vm("ntp", CC, 2, 1, 2, 20, "debian-12", "high", M, "both", "services", "NTP", owner="network"),
    _vm("print", CC, 2, 4, 8, 100, "windows-server-2022", "medium", MB, "both", "services", "Print server",
        owner="client"),
    _vm("fs", CC, 4, 8, 32, 4000, "windows-server-2022", "high", MB, "both", "services", "File server"),
    _vm("lic-flex", CC, 2, 2, 4, 40, "windows-server-2022", "high", MB, "both", "services",
        "Network license server (CAD, MATLAB)"),
    _vm("kms", CC, 1, 2, 4, 60, "windows-server-2022", "medium", MB, "zittau", "services", "KMS activation",
        owner="client"),
    _vm("wsus", CC, 2, 4, 8, 500, "windows-server-2022", "medium", MB, "zittau", "services", "Windows updates",
        owner="client"),
    _vm("sccm", CC, 2, 8, 16, 800, "windows-server-2022", "medium", MB, "zittau", "services",
        "Client deployment", owner="client"),
    _vm("pki", CC, 2, 2, 4, 40, "rhel-9", "high", MB, "zittau", "services", "Certificate authority",
        owner="identity"),
    _vm("vault", CC, 3, 2, 4, 40, "debian-12", "critical", MB, "both", "services", "Secrets management",
        owner="platform"),
    _vm("proxy", CC, 2, 2, 4, 60, "debian-12", "high", MD, "both", "dmz", "Outbound web proxy",
        owner="network"),
    _vm("jump", CC, 2, 2, 4, 40, "debian-12", "high", MB, "both", "services", "Jump host"),
    _vm("awx", CC, 2, 4, 16, 100, "rhel-9", "high", MB, "zittau", "services", "Ansible automation",
        owner="platform"),
    _vm("cmdb", CC, 2, 4, 16, 100, "debian-12", "high", MB, "both", "services", "This CMDB", owner="platform"),
    _vm("git", CC, 2, 8, 32, 1000, "debian-12", "high", MB, "zittau", "services", "GitLab", owner="platform"),
    _vm("ci-runner", CC, 12, 8, 16, 200, "ubuntu-2404", "low", M, "both", "services", "CI runner",
        owner="platform"),
    _vm("registry", CC, 2, 4, 8, 2000, "debian-12", "high", MB, "zittau", "services", "Container registry",
        owner="platform"),
    _vm("wiki", CC, 2, 4, 8, 100, "debian-12", "medium", MB, "zittau", "services", "Wiki"),
    _vm("ticket-app", CC, 2, 4, 16, 100, "debian-12", "high", MB, "zittau", "services", "Ticket system"),
    _vm("ticket-db", CC, 1, 4, 16, 200, "debian-12", "high", MB, "zittau", "services", "Ticket DB", DB, "database"),
    _vm("bbb", CC, 12, 16, 32, 200, "ubuntu-2204", "medium", MD, "both", "dmz", "BigBlueButton"),
    _vm("cloud-app", CC, 4, 8, 16, 100, "debian-12", "high", MBD, "both", "dmz", "Nextcloud"),
    _vm("cloud-db", CC, 2, 8, 32, 500, "debian-12", "high", MB, "both", "services", "Nextcloud DB", DB, "database"),
    _vm("cloud-files", CC, 2, 4, 16, 8000, "debian-12", "high", MB, "zittau", "services", "Nextcloud storage"),
    _vm("pg", CC, 4, 8, 64, 1000, "debian-12", "high", MB, "both", "services", "Shared PostgreSQL", DB, "database"),
    _vm("maria", CC, 3, 8, 32, 500, "debian-12", "high", MB, "both", "services", "Shared MariaDB", DB, "database"),
    _vm("mssql", CC, 2, 8, 64, 1000, "windows-server-2022", "high", MB, "zittau", "services", "Shared SQL Server",
        DB, "database"),
    _vm("ora", CC, 2, 16, 128, 2000, "rhel-9", "high", MB, "both", "services", "Shared Oracle", DB, "database"),
    _vm("rds", CC, 10, 8, 32, 200, "windows-server-2022", "medium", M, "zittau", "services",
        "Remote desktop session host", owner="client"),
    # Staging copies of the key services
    _vm("his-test", SO, 4, 4, 16, 120, "rhel-9", "low", M, "zittau", "services", "Campus management staging"),
    _vm("moodle-test", CC, 4, 4, 8, 100, "debian-12", "low", M, "zittau", "services", "Moodle staging"),
    _vm("exam-test", EO, 2, 4, 16, 100, "rhel-9", "low", M, "zittau", "services", "Examination staging"),
    _vm("idm-test", CC, 4, 2, 8, 40, "rhel-9", "low", M, "zittau", "services", "IdM staging", owner="identity"),
    _vm("dms-test", CC, 2, 4, 16, 200, "windows-server-2022", "low", M, "zittau", "services", "DMS staging"),
    _vm("erp-test", FI, 2, 4, 16, 200, "windows-server-2022", "low", M, "zittau", "services", "ERP staging"),
    _vm("web-test", CC, 2, 2, 8, 60, "debian-12", "low", M, "zittau", "services", "Web CMS staging"),
    # Smaller applications of the administration
    _vm("sb-app", SO, 4, 2, 8, 80, "windows-server-2022", "medium", MB, "zittau", "services",
        "Student office applications", owner="tenant"),
    _vm("pa-app", EO, 2, 2, 8, 80, "windows-server-2022", "medium", MB, "zittau", "services",
        "Examination office applications", owner="tenant"),
    _vm("hr-tools", HR, 4, 2, 8, 80, "windows-server-2022", "medium", MB, "zittau", "services",
        "HR tools (travel expenses, applicant tracking)", owner="tenant"),
    _vm("fi-app", FI, 6, 2, 8, 80, "windows-server-2022", "medium", MB, "zittau", "services",
        "Finance applications (inventory, procurement)", owner="tenant"),
    _vm("bib-app", LIB, 3, 2, 8, 80, "ubuntu-2404", "medium", MB, "both", "services",
        "Library applications (discovery, ILL)", owner="tenant"),
    # Further central services
    _vm("siem", CC, 4, 8, 32, 2000, "debian-12", "high", MB, "both", "services", "Security monitoring"),
    _vm("vpn-gw", CC, 4, 4, 8, 40, "debian-12", "high", MD, "both", "dmz", "VPN gateway",
        owner="network"),
    _vm("sftp", CC, 2, 2, 4, 500, "debian-12", "medium", MBD, "zittau", "dmz", "File transfer"),
    _vm("matrix", CC, 2, 4, 8, 200, "debian-12", "medium", MBD, "zittau", "dmz", "Chat (Matrix)"),
    _vm("survey", CC, 2, 2, 8, 60, "debian-12", "medium", MBD, "zittau", "dmz", "Online surveys"),
    _vm("evasys", CC, 2, 4, 8, 100, "windows-server-2022", "medium", MB, "zittau", "services",
        "Course evaluation"),
    _vm("rdm-app", CC, 2, 4, 16, 100, "ubuntu-2404", "medium", MBD, "zittau", "dmz",
        "Research data repository"),
    _vm("rdm-store", CC, 2, 4, 16, 8000, "ubuntu-2404", "high", MB, "both", "services", "Research data storage",
        owner="storage"),
    _vm("hpc-mgmt", CC, 3, 4, 16, 200, "rhel-9", "medium", MB, "zittau", "services", "Slurm controller"),
    _vm("opencast", CC, 6, 8, 16, 4000, "ubuntu-2204", "medium", MB, "zittau", "services", "Lecture recording"),
    _vm("jupyter", CC, 4, 16, 64, 500, "ubuntu-2404", "low", MD, "zittau", "dmz", "JupyterHub"),
    _vm("overleaf", CC, 2, 8, 16, 200, "ubuntu-2404", "low", MBD, "zittau", "dmz", "LaTeX editor"),
]

#: Faculty VMs per tenant at scale 1: (lab/teaching VMs, student project VMs).  Each faculty also gets
#: two web servers, a file server, a database and a license server.
FACULTY_VMS: dict[str, tuple[int, int]] = {
    "faculty-eecs": (90, 70), "faculty-mechanical-engineering": (50, 25), "faculty-natural-sciences": (35, 20),
    "faculty-business": (28, 16), "faculty-social-sciences": (28, 16), "faculty-management-cultural-studies": (24, 14),
}
