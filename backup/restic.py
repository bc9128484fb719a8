"""Running restic: through ``resticpy`` (the wrapper this product chose), and directly where it falls short.

resticpy keeps its configuration in module globals (``restic.repository``, ``restic.password_file``,
``restic.binary_path``) and runs restic with the process's environment, so every call here holds one
lock while it points those globals (and the backend variables) at one repository, and puts the
password into a private temporary file that is removed afterwards.  Where resticpy lacks what we
need, restic is called *the same way*: the base command resticpy would build
(``restic._make_base_command()``) plus the subcommand, under the same lock:

* ``check`` -- resticpy returns ``None`` on failure and drops restic's error message;
* ``ls``, ``dump`` -- not wrapped (restore tests compare restored files with the snapshot's content);
* ``restore`` with several ``--include`` -- resticpy takes one;
* ``copy`` of selected snapshots (``--tag``) -- resticpy copies everything;
* ``backup --stdin`` (database dumps) -- not wrapped;
* ``forget --dry-run`` output is a JSON list on one line; resticpy's parser reads only the first
  line, which is right, so forget goes through resticpy.

Every failure becomes :class:`ResticError` naming the repository and carrying restic's own message;
a locked repository is retried (restic 0.14 has no ``--retry-lock``) before it is reported.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import restic
import restic.errors
from restic.internal import backup as _resticpy_backup

BINARY = os.environ.get("CMDB_RESTIC_BINARY", "restic")
_LOCK = threading.RLock()
LOCKED_MARKERS = ("repository is already locked", "unable to create lock")


class ResticError(Exception):
    """restic failed against ``repository``; ``message`` is restic's own error text."""

    def __init__(self, repository: str, message: str, *, exit_code: int | None = None) -> None:
        self.repository = repository
        self.message = message.strip()
        self.exit_code = exit_code
        super().__init__(f"{repository}: {self.message}")

    @property
    def locked(self) -> bool:
        return any(marker in self.message for marker in LOCKED_MARKERS)


@dataclass
class Target:
    """An opened repository: its URL, password and backend variables (resolved secrets, never stored)."""

    url: str
    password: str
    env: dict[str, str] = field(default_factory=dict)
    #: How often and how long to wait for a lock another restic holds.
    lock_retries: int = 3
    lock_wait: float = 2.0
    timeout: float | None = None


def _private_file(folder: str, name: str, content: str) -> str:
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content + "\n")
    return path


@contextlib.contextmanager
def _configured(target: Target, source: Target | None = None) -> Iterator[dict[str, str]]:
    """resticpy's globals and the environment pointed at ``target`` (``source``: the other end of a copy)."""
    with _LOCK:
        folder = tempfile.mkdtemp(prefix="cmdb-restic-")
        saved = (restic.binary_path, restic.repository, restic.password_file, restic.use_cache)
        variables = {**(source.env if source else {}), **target.env}
        old_env = {name: os.environ.get(name) for name in variables}
        extra: dict[str, str] = {}
        try:
            restic.binary_path = BINARY
            restic.repository = target.url
            restic.password_file = _private_file(folder, "password", target.password)
            restic.use_cache = False  # no cache shared between repositories of different owners
            if source is not None:
                extra["from_password_file"] = _private_file(folder, "from-password", source.password)
            os.environ.update(variables)
            yield extra
        finally:
            restic.binary_path, restic.repository, restic.password_file, restic.use_cache = saved
            for name, value in old_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            shutil.rmtree(folder, ignore_errors=True)


def _retrying(target: Target, call: Any) -> Any:
    """``call()`` with restic's failures turned into :class:`ResticError`; a locked repository retried."""
    attempt = 0
    while True:
        try:
            return call()
        except ResticError as exc:
            error = exc
        except restic.errors.ResticFailedError as exc:
            text = str(exc)
            code = None
            prefix = "Restic failed with exit code "
            if text.startswith(prefix):
                number, _, text = text[len(prefix):].partition(": ")
                code = int(number) if number.lstrip("-").isdigit() else None
                if code is not None and code < 0:
                    text = f"restic was killed (signal {-code}). {text}"
            error = ResticError(target.url, text or "restic failed without a message", exit_code=code)
        except restic.errors.NoResticBinaryEror:
            raise ResticError(target.url, f"the restic binary ({BINARY}) is not installed") from None
        except (restic.errors.UnexpectedResticResponse, _resticpy_backup.UnexpectedResticResult,
                json.JSONDecodeError) as exc:
            raise ResticError(target.url, f"unexpected output from restic: {str(exc)[:500]}") from None
        if not error.locked or attempt >= target.lock_retries:
            if error.locked:
                raise ResticError(target.url, f"still locked after {attempt + 1} attempts: {error.message}",
                                  exit_code=error.exit_code)
            raise error
        attempt += 1
        time.sleep(target.lock_wait * attempt)


def run(target: Target, *args: str, stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None,
        source: Target | None = None) -> str:
    """restic called directly, as resticpy would (its base command), for what resticpy lacks."""

    def call() -> str:
        with _configured(target, source) as extra:
            origin = ["--from-repo", source.url, "--from-password-file", extra["from_password_file"]] if source else []
            cmd = [*restic._make_base_command(), args[0], *origin, *args[1:]]
            try:
                process = subprocess.run(  # noqa: S603 (an argument list, no shell)
                    cmd, stdin=stdin, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE,
                    timeout=target.timeout, check=False)
            except FileNotFoundError:
                raise restic.errors.NoResticBinaryEror(BINARY) from None
            except subprocess.TimeoutExpired:
                raise ResticError(target.url, f"restic {args[0]} timed out after {target.timeout} s") from None
        err = process.stderr.decode("utf-8", "replace")
        if process.returncode != 0:
            raise restic.errors.ResticFailedError(f"Restic failed with exit code {process.returncode}: {err}")
        return process.stdout.decode("utf-8", "replace") if stdout is None else ""

    return _retrying(target, call)


def via_resticpy(target: Target, command: str, /, *, source: Target | None = None, **kwargs: Any) -> Any:
    """``restic.<command>(**kwargs)`` of resticpy, pointed at ``target``."""

    def call() -> Any:
        with _configured(target, source) as extra:
            if source is not None:
                kwargs.update(from_repo=source.url, from_password_file=extra["from_password_file"])
            return getattr(restic, command)(**kwargs)

    return _retrying(target, call)


# --- the operations ---------------------------------------------------------------------------------------------


def init(target: Target) -> str:
    """Create the repository; its id."""
    return via_resticpy(target, "init")


def init_copy_target(target: Target, source: Target) -> str:
    """Create ``target`` with ``source``'s chunker parameters, so copies deduplicate."""
    return via_resticpy(target, "init", source=source, copy_chunker_params=True)


def backup(target: Target, paths: list[str], *, excludes: list[str] | None = None, tags: list[str] | None = None,
           host: str | None = None) -> dict[str, Any]:
    """Back up ``paths``; restic's summary (``snapshot_id``, ``total_files_processed``, ``total_bytes_processed``)."""
    return via_resticpy(target, "backup", paths=paths, exclude_patterns=excludes or None, tags=tags or None,
                        host=host)


def backup_stdin(target: Target, stream: IO[bytes], filename: str, *, tags: list[str] | None = None,
                 host: str | None = None) -> dict[str, Any]:
    """Back up what ``stream`` yields as one file (a database dump)."""
    args = ["backup", "--stdin", "--stdin-filename", filename]
    for tag in tags or ():
        args += ["--tag", tag]
    if host:
        args += ["--host", host]
    out = run(target, *args, stdin=stream)
    lines = [line for line in out.splitlines() if line.strip().startswith("{")]
    return json.loads(lines[-1])


def backup_command(target: Target, command: str | list[str], filename: str, *, what: str,
                   tags: list[str] | None = None, host: str | None = None, shell: bool = False,
                   env: dict[str, str] | None = None) -> dict[str, Any]:
    """Stream ``command``'s standard output into restic as ``filename`` (a database dump).

    A command that fails makes the backup fail even though restic stored what it received: that
    partial snapshot is forgotten, so the inventory never counts a truncated dump as a good backup.
    ``what`` names the command in the error (``pg_dump``, ``dump command``).
    """
    with tempfile.TemporaryFile() as errors:
        dump = subprocess.Popen(command, shell=shell, stdout=subprocess.PIPE, stderr=errors, env=env)  # noqa: S603
        try:
            summary = backup_stdin(target, dump.stdout, filename, tags=tags, host=host)  # type: ignore[arg-type]
        finally:
            dump.stdout.close()  # type: ignore[union-attr]
            code = dump.wait()
        if code != 0:
            errors.seek(0)
            if summary.get("snapshot_id"):
                run(target, "forget", summary["snapshot_id"])
            raise ResticError(target.url, f"{what} failed (exit {code}): "
                              f"{errors.read().decode('utf-8', 'replace')[-2000:]}")
    return summary


def snapshots(target: Target, snapshot_id: str | None = None) -> list[dict[str, Any]]:
    """Every snapshot of the repository (or the one ``snapshot_id`` names), as restic lists them."""
    return via_resticpy(target, "snapshots", snapshot_id=snapshot_id) or []


def forget(target: Target, retention: dict[str, int], *, tags: list[str] | None = None, prune: bool = False,
           dry_run: bool = False) -> list[dict[str, Any]]:
    """Apply ``retention`` (``keep_daily=7`` ...); restic's groups with ``keep`` and ``remove`` lists."""
    result = via_resticpy(target, "forget", tags=tags, prune=prune, dry_run=dry_run,
                          **{k: v for k, v in retention.items() if v})
    return result if isinstance(result, list) else []


def copy(target: Target, source: Target, *, tags: list[str] | None = None) -> str:
    """Copy ``source``'s snapshots (those with ``tags``) into ``target``; already copied ones are skipped."""
    args = ["copy"]
    for tag in tags or ():
        args += ["--tag", tag]
    return run(target, *args, source=source)


def check(target: Target, read_data_subset: str | None = None) -> str:
    """``restic check`` (reading a subset of the packs); raises :class:`ResticError` with restic's findings."""
    args = ["check"] + (["--read-data-subset", read_data_subset] if read_data_subset else [])
    return run(target, *args)


def ls(target: Target, snapshot_id: str) -> list[dict[str, Any]]:
    """The nodes (files, folders) of a snapshot."""
    nodes = []
    for line in run(target, "ls", snapshot_id).splitlines():
        if line.startswith("{"):
            node = json.loads(line)
            if node.get("struct_type") == "node":
                nodes.append(node)
    return nodes


def dump(target: Target, snapshot_id: str, path: str, out: IO[bytes]) -> None:
    """Write one file of the snapshot, as stored, to ``out``."""
    run(target, "dump", snapshot_id, path, stdout=out)


def restore(target: Target, snapshot_id: str, folder: str, includes: list[str] | None = None) -> None:
    args = ["restore", snapshot_id, "--target", folder]
    for include in includes or ():
        args += ["--include", include]
    run(target, *args)
