"""Checkpoints of the change log's head, kept outside the database.

Why: a chain only proves that the records it has belong together.  Someone with
database access can still delete the newest records (the chain that is left is
intact) or, for the legacy unkeyed records, rewrite everything.  A checkpoint
states "at this time the chain reached record *id* with hash *h*" somewhere the
database cannot reach; :func:`cmdb.core.changelog.verify` compares the chain
with the checkpoints and reports a database that ends before the latest one.

A checkpoint is one self-describing JSON line (its fields are those of
:class:`Checkpoint`), authenticated with HMAC-SHA256 under the current audit
key, so a line cannot be forged or edited without the key either.  It is
written to every configured **sink**:

* ``file`` — ``AUDIT_CHECKPOINT_FILE``, opened with ``O_APPEND`` (one write
  per line, under an exclusive ``flock`` that also numbers the lines); the
  sink verification reads;
* ``syslog`` — ``AUDIT_CHECKPOINT_SYSLOG``, through :class:`logging.handlers.SysLogHandler`
  (UDP, TCP or a unix socket), e.g. to a log host the CMDB's administrators
  cannot rewrite; write-only;
* any sink another app registers with :func:`register_sink` (e.g. the backup
  archive): an object with ``name``, ``describe()`` and ``write(line)``, and
  optionally ``read()``/``last_line()`` (then verification reads it too) and
  ``lock()`` (held while a checkpoint is numbered and written).

When: on demand (``cmdb audit checkpoint``) and from the job scheduler, which
calls :func:`checkpoint_if_due` after each tick: the scheduler-lease holder
writes one every ``AUDIT_CHECKPOINT_INTERVAL`` seconds when the chain has
grown.  Records appended after the latest checkpoint are not covered yet: the
interval is the window in which a deleted tail goes unnoticed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import logging
import logging.handlers
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from cmdb.core import changelog
from cmdb.core.models.changelog import ObjectChange

logger = logging.getLogger(__name__)

LINE_TYPE = "cmdb.audit.checkpoint"
LINE_FORMAT = 1
_MAC_TAG = b"cmdb.audit.checkpoint\x00"
LEASE = "core.audit_checkpoint"


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment, as written to the sinks."""

    #: Sequence number: one more than the latest checkpoint in the readable sinks.
    n: int
    #: The head record (0 and the genesis hash for an empty chain), its time and key version.
    id: int
    hash: str
    time: str | None
    key_version: int
    #: Hash of the chain's first record: tells checkpoints of this chain from another instance's.
    anchor: str
    written: str
    reason: str
    host: str
    #: Version of the key that signed this line, and the signature.
    mac_key: int = 0
    mac: str = ""

    def body(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("mac")
        return {"type": LINE_TYPE, "format": LINE_FORMAT, **data}

    def line(self) -> str:
        return json.dumps({**self.body(), "mac": self.mac}, sort_keys=True, separators=(",", ":"))


def _mac(body: dict[str, Any], key: bytes) -> str:
    return hmac.digest(key, _MAC_TAG + changelog.canonical(body), "sha256").hex()


def sign(checkpoint: Checkpoint) -> Checkpoint:
    version, key = changelog.current_key()
    unsigned = replace(checkpoint, mac_key=version, mac="")
    return replace(unsigned, mac=_mac(unsigned.body(), key))


class CheckpointLineError(ValueError):
    pass


def parse_line(line: str, keys: dict[int, bytes]) -> Checkpoint:
    """The checkpoint in ``line``, after checking its signature; :class:`CheckpointLineError` if not authentic."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise CheckpointLineError("is not JSON") from exc
    if not isinstance(data, dict) or data.get("type") != LINE_TYPE or data.get("format") != LINE_FORMAT:
        raise CheckpointLineError(f"is not a {LINE_TYPE} line of format {LINE_FORMAT}")
    names = [f for f in Checkpoint.__dataclass_fields__ if f != "mac"]
    fields = {name: data.get(name) for name in names}
    mac, version = data.get("mac"), fields["mac_key"]
    if set(data) != {"type", "format", "mac", *names} or not isinstance(mac, str) or type(version) is not int:
        raise CheckpointLineError("has missing or unexpected fields")
    key = keys.get(version)
    if key is None:
        raise CheckpointLineError(f"is signed with audit key version {version}, which is not configured")
    checkpoint = Checkpoint(**fields, mac=mac)
    if not hmac.compare_digest(_mac(checkpoint.body(), key), mac):
        raise CheckpointLineError("has a wrong signature (forged or altered)")
    if type(checkpoint.n) is not int or type(checkpoint.id) is not int or not isinstance(checkpoint.hash, str):
        raise CheckpointLineError("has malformed fields")
    return checkpoint


# --- sinks ----------------------------------------------------------------------------------


class CheckpointSink(Protocol):
    """Where checkpoints go.  Readable sinks also have ``read()`` and ``last_line()``."""

    name: str

    def describe(self) -> str: ...

    def write(self, line: str) -> None: ...


class FileSink:
    """An append-only file of checkpoint lines, one ``write(2)`` per line with ``O_APPEND``."""

    name = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def describe(self) -> str:
        return str(self.path)

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the file exclusively while a checkpoint is numbered and written (several processes)."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._fd = fd
            yield
        finally:
            self._fd = None
            os.close(fd)

    def write(self, line: str) -> None:
        data = (line.replace("\n", " ") + "\n").encode()
        fd = self._fd if self._fd is not None else self._open()
        try:
            if self._fd is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write to {self.path} ({written} of {len(data)} bytes)")
            os.fsync(fd)
        finally:
            if fd != self._fd:
                os.close(fd)

    def read(self) -> Iterator[tuple[str, str]]:
        """``(where, line)`` for every complete line (a line still being written is left out)."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            for number, raw in enumerate(handle, 1):
                if raw.endswith(b"\n") and raw.strip():
                    yield f"{self.path}:{number}", raw.decode("utf-8", "replace").rstrip("\n")

    def last_line(self) -> str | None:
        """The last complete line, read from the end (the file grows for years)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                chunk = min(size, 64 * 1024)
                handle.seek(size - chunk)
                lines = handle.read(chunk).split(b"\n")
        except FileNotFoundError:
            return None
        complete = [x for x in lines[:-1] if x.strip()]  # after the last newline: an unfinished line
        return complete[-1].decode("utf-8", "replace") if complete else None


class _RaisingSysLogHandler(logging.handlers.SysLogHandler):
    """A handler whose send errors reach the caller instead of being printed to stderr, and whose
    sockets time out: a log host that does not answer must not stall the scheduler."""

    timeout = 5.0

    def createSocket(self) -> None:
        if isinstance(self.address, tuple) and self.socktype == socket.SOCK_STREAM:
            self.unixsocket = False
            self.socket = socket.create_connection(self.address, timeout=self.timeout)
            return
        super().createSocket()
        if self.socket is not None:
            self.socket.settimeout(self.timeout)

    def handleError(self, record: logging.LogRecord) -> None:
        raise  # the error emit() is handling


class SyslogSink:
    """Checkpoint lines as syslog messages (``cmdb-audit: {...}``) to a UDP, TCP or unix-socket address."""

    name = "syslog"

    def __init__(self, address: str, facility: str = "auth") -> None:
        self.address_text = address
        self.facility = facility
        self.address, self.socktype = parse_syslog_address(address)
        if facility not in logging.handlers.SysLogHandler.facility_names:
            raise ValueError(f"unknown syslog facility {facility!r}")

    def describe(self) -> str:
        return self.address_text

    def write(self, line: str) -> None:
        # Over TCP a newline ends the message (RFC 6587 non-transparent framing).
        message = line + "\n" if self.socktype == socket.SOCK_STREAM else line
        handler: logging.handlers.SysLogHandler | None = None
        try:
            handler = _RaisingSysLogHandler(address=self.address, facility=self.facility, socktype=self.socktype)
            handler.ident = "cmdb-audit: "
            handler.append_nul = False
            handler.emit(logging.makeLogRecord({"name": "cmdb.audit", "msg": message, "levelno": logging.INFO,
                                                "levelname": "INFO"}))
        except Exception as exc:  # an unreachable unix socket surfaces as an AttributeError inside logging
            raise OSError(f"cannot send to syslog at {self.address_text}: {exc}") from exc
        finally:
            if handler is not None:
                handler.close()


def parse_syslog_address(text: str) -> tuple[str | tuple[str, int], int | None]:
    """``udp://host:port``, ``tcp://host:port`` or ``unix:/path`` (also a bare ``/path``) → handler arguments."""
    if text.startswith("/"):
        return text, None
    parts = urlsplit(text)
    if parts.scheme == "unix" and (parts.path or parts.netloc):
        return parts.netloc + parts.path, None
    if parts.scheme in ("udp", "tcp") and parts.hostname:
        try:
            port = parts.port or 514
        except ValueError as exc:
            raise ValueError(f"bad port in syslog address {text!r}") from exc
        return (parts.hostname, port), socket.SOCK_DGRAM if parts.scheme == "udp" else socket.SOCK_STREAM
    raise ValueError(f"syslog address {text!r} is not udp://host:port, tcp://host:port or unix:/path")


SinkFactory = Callable[[], CheckpointSink | None]
_FACTORIES: dict[str, SinkFactory] = {}


def register_sink(name: str, factory: SinkFactory) -> None:
    """Add a sink: ``factory()`` returns the sink as configured now, or None when it is not configured."""
    existing = _FACTORIES.get(name)
    if existing is not None and existing is not factory:
        raise ValueError(f"a checkpoint sink named {name!r} is already registered")
    _FACTORIES[name] = factory


def configured_sinks() -> list[CheckpointSink]:
    return [sink for factory in _FACTORIES.values() if (sink := factory()) is not None]


def _file_sink() -> FileSink | None:
    path = str(getattr(settings, "AUDIT_CHECKPOINT_FILE", "") or "")
    return FileSink(path) if path else None


def _syslog_sink() -> SyslogSink | None:
    address = str(getattr(settings, "AUDIT_CHECKPOINT_SYSLOG", "") or "")
    if not address:
        return None
    try:
        return SyslogSink(address, getattr(settings, "AUDIT_CHECKPOINT_SYSLOG_FACILITY", "auth"))
    except ValueError as exc:
        raise ImproperlyConfigured(f"CMDB_AUDIT_CHECKPOINT_SYSLOG: {exc}") from exc


register_sink("file", _file_sink)
register_sink("syslog", _syslog_sink)


@checks.register(checks.Tags.security)
def check_sinks(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Start-up check: the sinks are configured correctly, and at least one is readable by verify."""
    try:
        sinks = configured_sinks()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="cmdb.audit.E001")]
    if not _readable(sinks):
        return [checks.Warning("No readable audit checkpoint sink (CMDB_AUDIT_CHECKPOINT_FILE is empty): "
                               "'cmdb audit verify' cannot detect a deleted tail of the change log.",
                               id="cmdb.audit.W001")]
    return []


def _readable(sinks: Iterable[CheckpointSink]) -> list[Any]:
    return [s for s in sinks if callable(getattr(s, "read", None))]


# --- reading --------------------------------------------------------------------------------


@dataclass
class CheckpointLog:
    """The authentic checkpoints of the readable sinks, and what was wrong with the other lines."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def latest(self) -> Checkpoint | None:
        return max(self.checkpoints, key=lambda c: (c.n, c.id), default=None)


def read_checkpoints(sinks: Iterable[CheckpointSink] | None = None) -> CheckpointLog:
    log = CheckpointLog()
    keys = changelog.audit_keys()
    for sink in _readable(configured_sinks() if sinks is None else sinks):
        log.sources.append(f"{sink.name} ({sink.describe()})")
        for where, line in sink.read():
            try:
                log.checkpoints.append(parse_line(line, keys))
            except CheckpointLineError as exc:
                log.problems.append(f"checkpoint line {where} {exc}")
    return log


# --- writing --------------------------------------------------------------------------------


class NoSinkError(RuntimeError):
    pass


@dataclass
class WriteReport:
    checkpoint: Checkpoint
    written: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def chain_head() -> tuple[int, str, str | None, int, str]:
    """(id, hash, time, key version) of the last record and the first record's hash: two indexed reads."""
    head = ObjectChange.objects.order_by("-id").values_list("id", "chain_hash", "time", "key_version").first()
    if head is None:
        return 0, changelog.GENESIS, None, 0, changelog.GENESIS
    first = ObjectChange.objects.order_by("id").values_list("chain_hash", flat=True).first()
    return head[0], head[1], head[2].isoformat(), head[3], first or changelog.GENESIS


def _last_checkpoint_fields(sinks: Iterable[CheckpointSink]) -> dict[str, Any]:
    """The fields of the newest line in the readable sinks (unchecked: only for numbering and skipping)."""
    best: dict[str, Any] = {}
    for sink in _readable(sinks):
        reader = getattr(sink, "last_line", None)
        line = reader() if callable(reader) else None
        with contextlib.suppress(ValueError, TypeError):
            data = json.loads(line) if line else {}
            if isinstance(data, dict) and type(data.get("n")) is int and data["n"] >= best.get("n", 0):
                best = data
    return best


def checkpoint_write(*, reason: str = "manual", sinks: list[CheckpointSink] | None = None) -> WriteReport:
    """Write a checkpoint of the current head to every sink; a failing sink does not stop the others."""
    sinks = configured_sinks() if sinks is None else sinks
    if not sinks:
        raise NoSinkError("no checkpoint sink is configured (CMDB_AUDIT_CHECKPOINT_FILE, CMDB_AUDIT_CHECKPOINT_SYSLOG)")
    with contextlib.ExitStack() as stack:
        for sink in sinks:
            lock = getattr(sink, "lock", None)
            if callable(lock):
                stack.enter_context(lock())
        head_id, head_hash, head_time, head_version, anchor = chain_head()
        checkpoint = sign(Checkpoint(
            n=_last_checkpoint_fields(sinks).get("n", 0) + 1, id=head_id, hash=head_hash, time=head_time,
            key_version=head_version, anchor=anchor, written=timezone.now().isoformat(), reason=reason,
            host=socket.gethostname(),
        ))
        report = WriteReport(checkpoint)
        line = checkpoint.line()
        for sink in sinks:
            try:
                sink.write(line)
            except (OSError, ValueError) as exc:
                report.failed[f"{sink.name} ({sink.describe()})"] = f"{type(exc).__name__}: {exc}"
            else:
                report.written.append(f"{sink.name} ({sink.describe()})")
    return report


def checkpoint_if_due(holder: str, *, now: Any = None) -> WriteReport | None:
    """The scheduler's hook: write a checkpoint when this worker holds the scheduler lease, the last
    one is ``AUDIT_CHECKPOINT_INTERVAL`` ago (a lease shared by all workers) and the chain has grown."""
    from cmdb.jobs.leases import lease_acquire, lease_holder
    from cmdb.jobs.scheduler import SCHEDULER_LEASE

    interval = int(getattr(settings, "AUDIT_CHECKPOINT_INTERVAL", 600))
    now = now or timezone.now()
    if interval <= 0 or lease_holder(SCHEDULER_LEASE, now) != holder:
        return None
    # A fresh holder name each time: the lease is taken only once the previous one expired.
    if not lease_acquire(LEASE, f"{holder}:{uuid.uuid4().hex[:8]}", ttl=interval, now=now):
        return None
    sinks = configured_sinks()
    if not sinks:
        return None
    last = _last_checkpoint_fields(sinks)
    head = ObjectChange.objects.order_by("-id").values_list("id", "chain_hash").first() or (0, changelog.GENESIS)
    if last and (last.get("id"), last.get("hash")) == tuple(head):
        return None
    report = checkpoint_write(reason="scheduled", sinks=sinks)
    for sink, error in report.failed.items():
        logger.error("audit checkpoint #%s could not be written to %s: %s", report.checkpoint.n, sink, error)
    return report
