"""The secret keys of the change log's chain: where they come from and how they rotate.

Why a key at all: an unkeyed hash chain only shows that *someone who knows the
algorithm* wrote the rows, and everyone with database access knows it, so a
rewritten record plus a recomputed rest of the chain verifies.  Each record is
therefore authenticated with HMAC-SHA256 under a key that is not in the database.

Keys are numbered.  Every record stores the version of the key that signed it;
new records use the highest configured version; older versions stay configured
so the records they signed keep verifying.  Version 0 is reserved for the
records written before keys existed (plain SHA-256, verified as they were).

Where keys come from (all of them are merged; the same version twice with
different keys is an error):

* ``CMDB_AUDIT_KEYS`` — ``version:key`` entries separated by commas or white space;
* ``CMDB_AUDIT_KEY`` — one key, ``version:key`` or a bare key (version 1);
* ``CMDB_AUDIT_KEY_FILE`` — a file of ``version:key`` lines (``#`` starts a comment).

When none of the three is set, ``<data dir>/audit.key`` is used, and created with
one random version-1 key (mode 0600) if it does not exist, so a fresh machine
works; production keeps its keys off the database host (see docs/security.md).

This module does not import Django: ``cmdb.settings`` loads the keys with it.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

#: A key shorter than this is refused (a generated one has 64 hex digits, 256 bits).
MIN_KEY_LENGTH = 32
#: Versions fit the ``key_version`` column (a positive small integer); 0 is the legacy scheme.
MAX_VERSION = 32767
DEFAULT_FILE_NAME = "audit.key"
_ENTRY = re.compile(r"(?:(\d+):)?([^\s,:]+)")


class AuditKeyError(ValueError):
    """A key setting is malformed; the message names the setting, never the key."""


def generate_key() -> str:
    return secrets.token_hex(32)


def _parse_entry(entry: str, where: str, *, bare_version: int | None) -> tuple[int, bytes]:
    match = _ENTRY.fullmatch(entry)
    if match is None:
        raise AuditKeyError(f"{where}: an entry is not 'version:key' (keys contain no spaces, commas or colons).")
    version_text, key = match.groups()
    if version_text is None:
        if bare_version is None:
            raise AuditKeyError(f"{where}: an entry has no version; write 'version:key', e.g. '2:<key>'.")
        version = bare_version
    else:
        version = int(version_text)
    if not 1 <= version <= MAX_VERSION:
        raise AuditKeyError(f"{where}: key version {version} is out of range (1 to {MAX_VERSION}; 0 is the "
                            "legacy unkeyed scheme).")
    if len(key) < MIN_KEY_LENGTH:
        raise AuditKeyError(f"{where}: the key of version {version} is shorter than {MIN_KEY_LENGTH} characters.")
    return version, key.encode()


def parse_keys(text: str, where: str, *, bare_version: int | None = None) -> dict[int, bytes]:
    """``version:key`` entries (separated by lines, commas or white space; ``#`` comments) as a dict."""
    keys: dict[int, bytes] = {}
    for line in text.splitlines():
        for entry in re.split(r"[\s,]+", line.split("#", 1)[0].strip()):
            if not entry:
                continue
            version, key = _parse_entry(entry, where, bare_version=bare_version)
            _merge(keys, {version: key}, where)
    return keys


def _merge(into: dict[int, bytes], new: Mapping[int, bytes], where: str) -> None:
    for version, key in new.items():
        if version in into and into[version] != key:
            raise AuditKeyError(f"{where}: key version {version} is given twice with different keys.")
        into[version] = key


def ensure_key_file(path: Path) -> None:
    """Create ``path`` with one random version-1 key, atomically and readable by the owner only.

    Several processes may start at once (gunicorn workers, a worker): the file is written
    under a temporary name and linked into place, which fails if another process won, so
    every process ends up reading the same key.
    """
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write("# Change-log chain keys (version:key), see docs/security.md. Keep a copy off this host;\n"
                      "# records signed with a key can no longer be verified once the key is lost.\n"
                      f"1:{generate_key()}\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_keys(environ: Mapping[str, str], data_dir: Path) -> tuple[dict[int, bytes], str]:
    """The configured keys by version and a description of where they came from (for messages)."""
    keys: dict[int, bytes] = {}
    sources: list[str] = []
    if environ.get("CMDB_AUDIT_KEYS", "").strip():
        _merge(keys, parse_keys(environ["CMDB_AUDIT_KEYS"], "CMDB_AUDIT_KEYS"), "CMDB_AUDIT_KEYS")
        sources.append("CMDB_AUDIT_KEYS")
    if environ.get("CMDB_AUDIT_KEY", "").strip():
        entry = environ["CMDB_AUDIT_KEY"].strip()
        _merge(keys, dict([_parse_entry(entry, "CMDB_AUDIT_KEY", bare_version=1)]), "CMDB_AUDIT_KEY")
        sources.append("CMDB_AUDIT_KEY")
    file_setting = environ.get("CMDB_AUDIT_KEY_FILE", "").strip()
    if file_setting or not sources:
        path = Path(file_setting) if file_setting else data_dir / DEFAULT_FILE_NAME
        try:
            if not file_setting:
                ensure_key_file(path)
            text = path.read_text()
        except OSError as exc:
            raise AuditKeyError(f"CMDB_AUDIT_KEY_FILE: cannot read {path}: {exc.strerror}.") from exc
        _merge(keys, parse_keys(text, str(path)), str(path))
        sources.append(str(path))
    if not keys:
        raise AuditKeyError(f"{', '.join(sources)}: no audit key configured.")
    return keys, ", ".join(sources)
