"""A real Kubernetes API server for tests: Debian's etcd plus the kube-apiserver that
``k8s/testing/build-kube-apiserver`` builds and caches.

No cluster can be downloaded on our machines, yet the reconciler must be tested against the
server's own behaviour (server-side apply, field managers and their conflicts, ``dryRun=All``,
admission defaults, RBAC, served API versions), which no mock reproduces faithfully. So
:func:`start`:

1. makes a private working directory with a static token file (an admin token in group
   ``system:masters`` and a second, unprivileged token for "forbidden" tests) and an RSA key pair
   for signing service-account tokens (flags 1.20 requires);
2. starts ``etcd`` with its data, client and peer URLs on free loopback ports and waits for
   ``/health``;
3. starts ``kube-apiserver`` on a free loopback port with token authentication, RBAC
   authorization and a self-signed serving certificate that the server generates in its
   ``--cert-dir``; the certificate's CA is copied out, so clients verify TLS;
4. waits for ``/readyz`` (RBAC's bootstrap roles included) over verified TLS;
5. fills the aggregated ClusterRoles (``admin``, ``edit``, ``view``) once, as kube-controller-manager's
   aggregation controller would, so RoleBindings to them grant what they grant on a cluster.

Any failure on the way stops what was started, removes the directory and raises
:class:`ApiServerStartError` carrying the tail of both logs. :meth:`KubeApiServer.stop` ends
both processes and removes the directory; it also runs at interpreter exit, so an interrupted
test session leaves nothing behind.

There is no controller-manager: namespaces never finish terminating, no service-account tokens
or ``default`` service accounts are created, no pods are scheduled and ClusterRoles added later are
aggregated only when :meth:`KubeApiServer.aggregate_cluster_roles` is called. Tests use fresh names.

No Django here, and no import of the ``kubernetes`` client: :meth:`KubeApiServer.kubeconfig`
writes a kubeconfig that any client loads.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

VERSION = "v1.20.2"
DEFAULT_CACHE = "/var/cache/cmdb-k8s"
BUILD_SCRIPT = Path(__file__).resolve().parent / "build-kube-apiserver"
ADMIN_USER = "cmdb-test-admin"
VIEWER_USER = "cmdb-test-viewer"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/24"
LOG_TAIL_LINES = 40
PORT_ATTEMPTS = 3


class ApiServerUnavailable(RuntimeError):
    """The binaries needed to run the server are not on this machine."""


class ApiServerStartError(RuntimeError):
    """etcd or kube-apiserver did not come up; the message ends with the tail of both logs.
    ``workdir`` and ``pids`` name what was started (and has been removed and ended by then)."""

    def __init__(self, message: str, *, workdir: Path | None = None, pids: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.workdir = workdir
        self.pids = list(pids)


def cache_root() -> Path:
    return Path(os.environ.get("CMDB_K8S_CACHE") or DEFAULT_CACHE)


def binary_path(version: str = VERSION) -> Path:
    """Where the build script caches ``kube-apiserver`` for ``version``."""
    return cache_root() / version / "kube-apiserver"


def etcd_path() -> Path | None:
    found = shutil.which("etcd")
    return Path(found) if found else None


def missing_binaries(version: str = VERSION) -> list[str]:
    """Human-readable reasons why :func:`start` cannot run here (empty when it can)."""
    reasons = []
    binary = binary_path(version)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        reasons.append(
            f"kube-apiserver {version} is not built: run {BUILD_SCRIPT} as root "
            f"(about 7 minutes on 2 cores; it caches the binary at {binary})"
        )
    if etcd_path() is None:
        reasons.append("etcd is not installed: apt-get install etcd-server (or run the build script)")
    return reasons


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1, all held open together so they differ."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def _openssl(*args: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ApiServerUnavailable("openssl is not installed (needed for the service-account key pair)")
    subprocess.run([openssl, *args], check=True, capture_output=True)  # noqa: S603 - fixed argv built here


def _last_pem_certificate(bundle: str) -> str | None:
    """The last complete certificate of a PEM bundle: kube-apiserver writes its self-signed serving
    certificate first and the CA that signed it after it."""
    end = "-----END CERTIFICATE-----"
    begin = "-----BEGIN CERTIFICATE-----"
    if bundle.count(end) < 2:
        return None
    last_end = bundle.rindex(end)
    last_begin = bundle.rindex(begin, 0, last_end)
    return bundle[last_begin : last_end + len(end)] + "\n"


@dataclass
class KubeApiServer:
    """A running etcd + kube-apiserver pair. ``host`` is the API URL, ``ca_path`` the CA that
    signed its serving certificate, ``admin_token`` authenticates a ``system:masters`` member,
    ``viewer_token`` a user with no role binding (only what RBAC gives every authenticated user)."""

    host: str
    ca_path: Path
    admin_token: str
    viewer_token: str
    workdir: Path
    version: str = VERSION
    admin_user: str = ADMIN_USER
    viewer_user: str = VIEWER_USER
    etcd_url: str = ""
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)
    _logs: list[IO[bytes]] = field(default_factory=list, repr=False)

    @property
    def etcd_log(self) -> Path:
        return self.workdir / "etcd.log"

    @property
    def apiserver_log(self) -> Path:
        return self.workdir / "kube-apiserver.log"

    def logs_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return (
            f"--- last lines of {self.etcd_log} ---\n{_tail(self.etcd_log, lines)}\n"
            f"--- last lines of {self.apiserver_log} ---\n{_tail(self.apiserver_log, lines)}"
        )

    def kubeconfig(self, path: str | os.PathLike[str] | None = None, *, token: str | None = None) -> Path:
        """Write a kubeconfig for this server (admin token unless ``token`` is given) and return its
        path. JSON is valid YAML, so every kubeconfig loader reads it."""
        token = self.admin_token if token is None else token
        user = "admin" if token == self.admin_token else "user"
        if path is None:
            path = self.workdir / f"kubeconfig-{secrets.token_hex(4)}.json"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "cmdb-test", "cluster": {"server": self.host, "certificate-authority": str(self.ca_path)}}
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "cmdb-test", "context": {"cluster": "cmdb-test", "user": user}}],
            "current-context": "cmdb-test",
        }
        target = Path(path)
        target.write_text(json.dumps(config, indent=2))
        target.chmod(0o600)
        return target

    def ssl_context(self) -> ssl.SSLContext:
        """A context that verifies the server against its CA (hostname included)."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    def request(self, method: str, path: str, body: object = None, *, content_type: str = "application/json") -> Any:
        """One admin request to the API (``path`` like ``/api/v1/namespaces``); the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - https URL built here
            f"{self.host}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.admin_token}", "Content-Type": content_type},
        )
        with urllib.request.urlopen(request, timeout=30, context=self.ssl_context()) as response:  # noqa: S310
            return json.loads(response.read())

    def aggregate_cluster_roles(self) -> list[str]:
        """Fill the aggregated ClusterRoles (``admin``, ``edit``, ``view`` and any other with an
        ``aggregationRule``) with the rules of the roles their selectors match, and return the names
        of those changed.

        On a cluster this is the clusterrole-aggregation controller's job, which runs in
        kube-controller-manager; without one, ``view`` and friends have no rules and a RoleBinding to
        them grants nothing. :func:`start` runs it once; call it again after adding labelled roles.
        """
        path = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
        roles = {role["metadata"]["name"]: role for role in self.request("GET", path)["items"]}
        rules = {name: list(role.get("rules") or []) for name, role in roles.items()}
        aggregated = [name for name, role in roles.items() if role.get("aggregationRule")]
        # Aggregated roles can aggregate each other (admin takes edit, edit takes view): to a fixed point.
        for _ in range(len(aggregated) + 1):
            changed = False
            for name in aggregated:
                selectors = roles[name]["aggregationRule"].get("clusterRoleSelectors") or []
                wanted: list[Any] = []
                for other, role in sorted(roles.items()):
                    labels = role["metadata"].get("labels") or {}
                    if other != name and any(_selector_matches(selector, labels) for selector in selectors):
                        wanted.extend(rule for rule in rules[other] if rule not in wanted)
                if wanted != rules[name]:
                    rules[name], changed = wanted, True
            if not changed:
                break
        updated = []
        for name in aggregated:
            if rules[name] != (roles[name].get("rules") or []):
                self.request(
                    "PATCH",
                    f"{path}/{name}?fieldManager=cmdb-test-clusterrole-aggregation",
                    {"rules": rules[name]},
                    content_type="application/merge-patch+json",
                )
                updated.append(name)
        return updated

    def alive(self) -> bool:
        return bool(self._processes) and all(proc.poll() is None for proc in self._processes)

    def stop(self) -> None:
        """End kube-apiserver, then etcd, and remove the working directory. Safe to call twice."""
        for proc in reversed(self._processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)
        self._processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)
        atexit.unregister(self.stop)

    def __enter__(self) -> KubeApiServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        self._logs.append(log)
        proc = subprocess.Popen(  # noqa: S603 - argv of absolute binary paths built here
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._processes.append(proc)
        return proc


def _wait_for(
    server: KubeApiServer, what: str, probe: Callable[[], bool], proc: subprocess.Popen[bytes], deadline: float
) -> None:
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ApiServerStartError(f"{what} exited with status {proc.returncode}\n{server.logs_tail()}")
        try:
            if probe():
                return
        except (OSError, ssl.SSLError, urllib.error.URLError) as exc:
            last_error = repr(exc)
        time.sleep(0.3)
    raise ApiServerStartError(f"{what} not ready in time (last error: {last_error})\n{server.logs_tail()}")


def start(
    *,
    binary: str | os.PathLike[str] | None = None,
    etcd: str | os.PathLike[str] | None = None,
    timeout: float = 120.0,
    extra_args: Sequence[str] = (),
) -> KubeApiServer:
    """Start etcd and kube-apiserver on free loopback ports and return once ``/readyz`` answers.

    ``extra_args`` go to kube-apiserver as they are (e.g. ``--enable-admission-plugins=...``).
    Raises :class:`ApiServerUnavailable` when a binary is missing and :class:`ApiServerStartError`
    (with both logs' tails) when startup fails; nothing is left running or on disk then.
    """
    apiserver_bin = Path(binary) if binary else binary_path()
    etcd_bin = Path(etcd) if etcd else etcd_path()
    if not apiserver_bin.is_file() or etcd_bin is None or not etcd_bin.is_file():
        raise ApiServerUnavailable("; ".join(missing_binaries()) or f"{apiserver_bin} or {etcd_bin} is missing")
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return _start_once(apiserver_bin, etcd_bin, timeout, list(extra_args))
        except ApiServerStartError as exc:
            # A free port can be taken by another process between our probe and the server's bind.
            if "address already in use" not in str(exc) or attempt == PORT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _start_once(apiserver_bin: Path, etcd_bin: Path, timeout: float, extra_args: list[str]) -> KubeApiServer:
    workdir = Path(tempfile.mkdtemp(prefix="cmdb-kube-apiserver-"))
    server = KubeApiServer(
        host="",
        ca_path=workdir / "ca.crt",
        admin_token=secrets.token_urlsafe(32),
        viewer_token=secrets.token_urlsafe(32),
        workdir=workdir,
    )
    atexit.register(server.stop)
    try:
        _start(server, apiserver_bin, etcd_bin, timeout, extra_args)
    except BaseException as exc:
        pids = [proc.pid for proc in server._processes]
        tail = server.logs_tail()
        server.stop()
        if isinstance(exc, ApiServerStartError):
            raise ApiServerStartError(str(exc), workdir=workdir, pids=pids) from None
        if isinstance(exc, Exception) and not isinstance(exc, ApiServerUnavailable):
            raise ApiServerStartError(
                f"starting the API server failed: {exc!r}\n{tail}", workdir=workdir, pids=pids
            ) from exc
        raise
    return server


def _start(server: KubeApiServer, apiserver_bin: Path, etcd_bin: Path, timeout: float, extra: list[str]) -> None:
    workdir = server.workdir
    deadline = time.monotonic() + timeout
    tokens = workdir / "tokens.csv"
    # token,user,uid,"groups": the admin is a system:masters member, the viewer has no group of its own.
    tokens.write_text(
        f'{server.admin_token},{server.admin_user},{server.admin_user},"system:masters"\n'
        f"{server.viewer_token},{server.viewer_user},{server.viewer_user}\n"
    )
    tokens.chmod(0o600)
    sa_key, sa_pub = workdir / "sa.key", workdir / "sa.pub"
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(sa_key))
    _openssl("pkey", "-in", str(sa_key), "-pubout", "-out", str(sa_pub))
    cert_dir = workdir / "certs"
    cert_dir.mkdir()

    etcd_client, etcd_peer, api_port = free_ports(3)
    server.etcd_url = f"http://127.0.0.1:{etcd_client}"
    etcd = server._spawn(
        "etcd",
        [
            str(etcd_bin),
            "--name=cmdb-test",
            f"--data-dir={workdir / 'etcd-data'}",
            f"--listen-client-urls={server.etcd_url}",
            f"--advertise-client-urls={server.etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-cluster=cmdb-test=http://127.0.0.1:{etcd_peer}",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-outputs=stderr",
        ],
    )

    def etcd_healthy() -> bool:
        with urllib.request.urlopen(f"{server.etcd_url}/health", timeout=2) as response:  # noqa: S310 - http URL
            return json.loads(response.read()).get("health") == "true"

    _wait_for(server, "etcd", etcd_healthy, etcd, deadline)

    server.host = f"https://127.0.0.1:{api_port}"
    apiserver = server._spawn(
        "kube-apiserver",
        [
            str(apiserver_bin),
            f"--etcd-servers={server.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            # 1.20 still opens an unauthenticated port on localhost:8080 unless told not to.
            "--insecure-port=0",
            f"--cert-dir={cert_dir}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            "--profiling=false",
            *extra,
        ],
    )

    serving_cert = cert_dir / "apiserver.crt"

    def apiserver_ready() -> bool:
        if not server.ca_path.exists():
            if not serving_cert.exists():
                return False
            ca = _last_pem_certificate(serving_cert.read_text())
            if ca is None:
                return False
            server.ca_path.write_text(ca)
        request = urllib.request.Request(  # noqa: S310 - https URL built here
            f"{server.host}/readyz", headers={"Authorization": f"Bearer {server.admin_token}"}
        )
        # An HTTP error (500 while post-start hooks still run) is an URLError: _wait_for retries it.
        with urllib.request.urlopen(request, timeout=5, context=server.ssl_context()) as response:  # noqa: S310
            return response.status == 200 and response.read().strip() == b"ok"

    _wait_for(server, "kube-apiserver", apiserver_ready, apiserver, deadline)
    server.aggregate_cluster_roles()


def _selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (``matchLabels`` and ``matchExpressions``) against ``labels``."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True  # as in Kubernetes, an empty selector matches every role

