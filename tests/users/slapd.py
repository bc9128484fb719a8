"""A real OpenLDAP server (Debian's ``slapd``) for the campus-login tests, started in a temporary folder.

Nothing system-wide is used or changed: the server gets its own ``cn=config`` (written with
``slapadd -n0`` from the LDIF below), its own databases, certificates made with ``openssl`` for
this run, and free loopback ports for ``ldap://`` (StartTLS) and ``ldaps://``.  It holds two trees:

``dc=uni,dc=example``
    an OpenLDAP-style campus directory: ``inetOrgPerson`` users with ``uid`` under ``ou=people``,
    ``groupOfNames`` groups under ``ou=groups``, ``posixGroup`` groups under ``ou=posix``;
``dc=ad,dc=example``
    an Active-Directory-like tree: ``user`` objects with ``sAMAccountName``, ``userPrincipalName``
    and ``userAccountControl``, ``group`` objects with ``member`` (nested groups too), and
    ``memberOf`` on users maintained by slapd's ``memberof`` overlay the way AD maintains it.  The
    attribute and class definitions carry AD's own OIDs; what this cannot imitate is listed in
    ``docs/security.md`` (Kerberos/NTLM binds, ``LDAP_MATCHING_RULE_IN_CHAIN``, referrals, paging).

Entries are added through LDAP itself after the start (``ldapadd``'s job, done here with
python-ldap), so overlays see them exactly as they would see an administrator's changes.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ldap
import ldap.modlist

ROOT_PW = "slapd-root-secret"
READER_DN = "cn=cmdb-reader,ou=system,dc=uni,dc=example"
READER_PW = "reader-pw-7f3a"
AD_READER_DN = "CN=cmdb-reader,OU=Service Accounts,DC=ad,DC=example"
PASSWORD = "campus-pw-42"

UNI = "dc=uni,dc=example"
AD = "dc=ad,dc=example"
#: How AD writes its DNs (upper-case attribute types); matching must not care.
AD_BASE = "DC=ad,DC=example"

_SCHEMAS = ("core", "cosine", "nis", "inetorgperson")

#: AD's attributes and classes, with AD's OIDs, as far as this test needs them.
_AD_SCHEMA = """\
dn: cn=ad,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: ad
olcAttributeTypes: ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch
  SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.4.8 NAME 'userAccountControl' EQUALITY integerMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
olcObjectClasses: ( 1.2.840.113556.1.5.9 NAME 'user' SUP inetOrgPerson STRUCTURAL
  MAY ( sAMAccountName $ userPrincipalName $ userAccountControl ) )
olcObjectClasses: ( 1.2.840.113556.1.5.8 NAME 'group' SUP top STRUCTURAL MUST cn
  MAY ( member $ sAMAccountName $ description ) )
"""


def _config_ldif(workdir: Path) -> str:
    certs = workdir / "certs"
    schemas = "\n".join(f"include: file:///etc/ldap/schema/{name}.ldif" for name in _SCHEMAS)
    return f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {workdir}/slapd.pid
olcTLSCACertificateFile: {certs}/ca.pem
olcTLSCertificateFile: {certs}/server.pem
olcTLSCertificateKeyFile: {certs}/server.key

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}

{_AD_SCHEMA}
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcAccess: {{0}}to dn.base="" by * read
olcAccess: {{1}}to dn.base="cn=subschema" by * read

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {UNI}
olcRootDN: cn=admin,{UNI}
olcRootPW: {ROOT_PW}
olcDbDirectory: {workdir}/uni
olcDbMaxSize: 16777216
olcDbIndex: objectClass eq
olcDbIndex: uid,cn eq
olcDbIndex: member,memberUid eq
olcAccess: {{0}}to attrs=userPassword by anonymous auth by * none
olcAccess: {{1}}to * by dn.exact="{READER_DN}" read by self read by * none

dn: olcDatabase={{2}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{2}}mdb
olcSuffix: {AD}
olcRootDN: cn=admin,{AD}
olcRootPW: {ROOT_PW}
olcDbDirectory: {workdir}/ad
olcDbMaxSize: 16777216
olcDbIndex: objectClass eq
olcDbIndex: sAMAccountName,cn eq
olcDbIndex: member eq
olcAccess: {{0}}to attrs=userPassword by anonymous auth by * none
olcAccess: {{1}}to * by dn.exact="{AD_READER_DN.lower()}" read by self read by * none

dn: olcOverlay={{0}}memberof,olcDatabase={{2}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {{0}}memberof
olcMemberOfGroupOC: group
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
olcMemberOfRefInt: TRUE
"""


def _person(uid: str, given: str, surname: str, *, ou: str = "people") -> tuple[str, dict[str, list[str]]]:
    return f"uid={uid},ou={ou},{UNI}", {
        "objectClass": ["inetOrgPerson"], "uid": [uid], "cn": [f"{given} {surname}"], "givenName": [given],
        "sn": [surname], "mail": [f"{uid}@uni.example"], "userPassword": [PASSWORD],
    }


def _ad_user(sam: str, given: str, surname: str, *, disabled: bool = False) -> tuple[str, dict[str, list[str]]]:
    return f"CN={given} {surname},OU=Staff,{AD_BASE}", {
        "objectClass": ["user"], "cn": [f"{given} {surname}"], "sAMAccountName": [sam], "givenName": [given],
        "sn": [surname], "mail": [f"{sam}@ad.example"], "userPrincipalName": [f"{sam}@ad.example"],
        # 512 = NORMAL_ACCOUNT; 514 = NORMAL_ACCOUNT | ACCOUNTDISABLE (bit 2), as AD writes them.
        "userAccountControl": ["514" if disabled else "512"], "userPassword": [PASSWORD],
    }


def uni_group(cn: str) -> str:
    return f"cn={cn},ou=groups,{UNI}"


def ad_group(cn: str) -> str:
    return f"CN={cn},OU=Groups,{AD_BASE}"


def _entries() -> list[tuple[str, dict[str, list[str]]]]:
    """The two trees: parents before children, groups after their members."""
    ous = [(f"ou={ou},{UNI}", {"objectClass": ["organizationalUnit"], "ou": [ou]})
           for ou in ("people", "groups", "posix", "system", "elsewhere")]
    people = [_person("alice", "Alice", "Anders"), _person("bob", "Bob", "Berg"),
              _person("carol", "Carol", "Cruz"), _person("dave", "Dave", "Dorn"),
              _person("erin", "Erin", "Engel"), _person("frank", "Frank", "Fuchs"),
              _person("admin", "Mallory", "Admin"),
              _person("outsider", "Otto", "Outside", ou="elsewhere")]
    reader = [(READER_DN, {"objectClass": ["organizationalRole", "simpleSecurityObject"], "cn": ["cmdb-reader"],
                           "userPassword": [READER_PW]})]

    def gon(cn: str, *uids: str) -> tuple[str, dict[str, list[str]]]:
        # groupOfNames needs a member; directories keep a placeholder so that a group can be emptied.
        return uni_group(cn), {"objectClass": ["groupOfNames"], "cn": [cn],
                               "member": [f"cn=placeholder,{UNI}"] + [f"uid={u},ou=people,{UNI}" for u in uids]}

    groups = [gon("cmdb-users", "alice", "bob", "carol", "dave", "erin", "admin"),
              gon("physics-admins", "alice", "erin"), gon("chemistry-admins", "bob"),
              gon("campus-viewers", "carol"), gon("cmdb-superusers", "dave"), gon("unmapped-club", "alice")]
    posix = [(f"cn=physics,ou=posix,{UNI}", {"objectClass": ["posixGroup"], "cn": ["physics"], "gidNumber": ["5001"],
                                             "memberUid": ["frank"]})]
    ad_ous = [(f"OU={ou},{AD_BASE}", {"objectClass": ["organizationalUnit"], "ou": [ou]})
              for ou in ("Staff", "Groups", "Service Accounts")]
    ad_reader = [(AD_READER_DN, {"objectClass": ["organizationalRole", "simpleSecurityObject"], "cn": ["cmdb-reader"],
                                 "userPassword": [READER_PW]})]
    ad_users = [_ad_user("hhertz", "Heinrich", "Hertz"), _ad_user("lmeitner", "Lise", "Meitner"),
                _ad_user("mplanck", "Max", "Planck", disabled=True)]

    def adg(cn: str, *members: str) -> tuple[str, dict[str, list[str]]]:
        return ad_group(cn), {"objectClass": ["group"], "cn": [cn], "sAMAccountName": [cn],
                              **({"member": list(members)} if members else {})}

    staff = f"OU=Staff,{AD_BASE}"
    ad_groups = [adg("Physics-Admins", f"CN=Heinrich Hertz,{staff}"),
                 # Nested: Lise is in CMDB-Users only through Physics-Viewers.
                 adg("Physics-Viewers", f"CN=Lise Meitner,{staff}"),
                 adg("CMDB-Users", f"CN=Heinrich Hertz,{staff}", f"CN=Max Planck,{staff}", ad_group("Physics-Viewers"))]
    return ous + people + reader + groups + posix + ad_ous + ad_reader + ad_users + ad_groups


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


def make_certificates(certs: Path) -> None:
    """A CA made for this run and a server certificate for 127.0.0.1/localhost signed by it; plus a second,
    unrelated CA, to show that a certificate from the wrong authority is refused."""
    certs.mkdir(parents=True)
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=CMDB test {ca}",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-keyout", f"{ca}.key", "-out", f"{ca}.pem", cwd=certs)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
             "-out", "server.csr", cwd=certs)
    (certs / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                      "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "server.ext", "-out", "server.pem", cwd=certs)


@dataclass
class Slapd:
    workdir: Path
    port: int = 0
    tls_port: int = 0
    process: subprocess.Popen | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "slapd.log"

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "certs" / "ca.pem"

    @property
    def other_ca_file(self) -> Path:
        return self.workdir / "certs" / "other-ca.pem"

    def start(self) -> None:
        make_certificates(self.workdir / "certs")
        for db in ("uni", "ad"):
            (self.workdir / db).mkdir()
        config_dir = self.workdir / "slapd.d"
        config_dir.mkdir()
        ldif = self.workdir / "config.ldif"
        ldif.write_text(_config_ldif(self.workdir))
        done = subprocess.run([shutil.which("slapadd") or "/usr/sbin/slapadd", "-n0", "-F", str(config_dir),
                               "-l", str(ldif)], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"slapadd of the configuration failed: {done.stderr[-2000:]}")
        self.port, self.tls_port = free_ports(2)
        urls = f"{self.uri}/ {self.ldaps_uri}/"
        with self.log.open("w") as out:
            # -d 0: stay in the foreground (the test owns the process) without debug output.
            self.process = subprocess.Popen([_slapd(), "-d", "0", "-F", str(config_dir), "-h", urls],
                                            stdout=out, stderr=subprocess.STDOUT)
        self._wait()
        self._load()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"slapd exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise RuntimeError(f"slapd did not listen on {self.port}: {self.log.read_text()[-2000:]}")

    def admin(self, suffix: str = UNI) -> ldap.ldapobject.LDAPObject:
        """A connection bound as the tree's root DN (what an LDAP administrator would use)."""
        conn = ldap.initialize(self.uri)
        conn.simple_bind_s(f"cn=admin,{suffix}", ROOT_PW)
        return conn

    def _load(self) -> None:
        conns = {UNI: self.admin(UNI), AD: self.admin(AD)}
        for suffix, conn in conns.items():
            top = suffix.split(",")[0].split("=")[1]
            conn.add_s(suffix, ldap.modlist.addModlist({"objectClass": [b"dcObject", b"organization"],
                                                        "dc": [top.encode()], "o": [top.encode()]}))
        for dn, attrs in _entries():
            conn = conns[AD] if dn.lower().endswith(AD) else conns[UNI]
            conn.add_s(dn, ldap.modlist.addModlist({k: [v.encode() for v in vals] for k, vals in attrs.items()}))
        for conn in conns.values():
            conn.unbind_s()

    def modify(self, dn: str, op: int, attr: str, values: list[str]) -> None:
        """One change, as an LDAP administrator would make it (e.g. add a member to a group)."""
        suffix = AD if dn.lower().endswith(AD) else UNI
        conn = self.admin(suffix)
        try:
            conn.modify_s(dn, [(op, attr, [v.encode() for v in values])])
        finally:
            conn.unbind_s()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _slapd() -> str:
    return shutil.which("slapd") or "/usr/sbin/slapd"


@contextlib.contextmanager
def running(workdir: Path) -> Iterator[Slapd]:
    server = Slapd(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
