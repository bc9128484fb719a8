"""Running restic: through ``resticpy`` (the wrapper this product chose), and directly where it falls short.

resticpy keeps its configuration in module globals (``restic.repository``, ``restic.password_file``,
``restic.binary_path``) and runs restic with the process's environment, so every call here holds one
lock while it points those globals (and the backend variables) at one repository, and puts the
password into a private temporary file that is removed afterwards.  Where resticpy lacks what we
need, restic is called *the same way*: the base command resticpy would build
(``restic._make_base_command()``) plus the subcommand, under the same lock:

* ``check`` -- resticpy returns ``None`` on failure and drops restic's error message;
* ``ls``, ``dump`` -- not wrapped (restore tests compare restored files with the snapshot's content);
  :func:`dump_tar` streams a folder as a tar archive to the reader instead of collecting output;
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
import select
import shutil
import signal
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


def full_snapshot_id(target: Target, snapshot_id: str) -> str:
    """The full id of a snapshot restic < 0.17 reports by its short id after a backup.

    A local repository names each snapshot's file by the full id, so a listing of its ``snapshots``
    folder answers without starting restic; elsewhere (or if the prefix is ambiguous) ``restic
    snapshots <id>`` does.  Each restic start derives the key (scrypt) -- 0.4-1.2 s here, 4-12 % of
    backing up 2 GB (benchmarks/results/backup-data.md), for an id the repository's folder shows.
    """
    if len(snapshot_id) >= 64:
        return snapshot_id
    folder = target.url.removeprefix("local:")
    if folder.startswith("/"):
        try:
            names = [n for n in os.listdir(os.path.join(folder, "snapshots")) if n.startswith(snapshot_id)]
        except OSError:
            names = []
        if len(names) == 1 and len(names[0]) == 64:
            return names[0]
    return next((s["id"] for s in snapshots(target, snapshot_id)), snapshot_id)


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


def tar_member_path(name: str) -> str:
    """The snapshot path (``/srv/a.txt``) of a member of :func:`dump_tar`'s archive.

    restic 0.14 (Debian 12) names the members by their full path in the snapshot without the leading
    slash (``srv/a.txt``), whichever folder is dumped -- not relative to that folder (found by
    experiment, asserted in tests/backup/test_restore_verify.py).
    """
    return "/" + name.lstrip("/").removeprefix("./")


def _stderr_text(errors: IO[bytes]) -> str:
    errors.seek(0)
    return errors.read().decode("utf-8", "replace")[-4000:]


@contextlib.contextmanager
def dump_tar(target: Target, snapshot_id: str, path: str) -> Iterator[IO[bytes]]:
    """``restic dump --archive tar`` of the folder ``path``: a stream to read the archive from, as restic writes it.

    One restic process for a whole folder: each restic start derives the key (scrypt) and loads the
    index, 0.4-1.2 s here, so checking thousands of files with one ``dump`` each took hours.

    restic is started -- and a locked repository retried -- before the stream is handed out: the
    first bytes are awaited, so a restic that fails at once (wrong password, locked repository, path
    not in the snapshot) raises :class:`ResticError` with its own message here.  A failure later
    (a damaged pack in the middle of the archive) ends the archive early; once the reader has read
    to the end, restic's exit status is checked and its error raised.  A reader that leaves the block
    before the end (it has what it needed, or it failed) gets restic stopped with SIGINT, so that it
    removes its repository lock (:func:`_stop`), never left blocked on a full pipe.  resticpy's
    configuration stays pointed at ``target`` (its lock held) while the stream is open, since the
    password file must outlive restic's start.
    """

    def start() -> tuple[contextlib.ExitStack, subprocess.Popen[bytes], IO[bytes]]:
        stack = contextlib.ExitStack()
        process: subprocess.Popen[bytes] | None = None
        try:
            stack.enter_context(_configured(target))
            errors = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (closed by the stack)
            cmd = [*restic._make_base_command(), "dump", "--archive", "tar", snapshot_id, path]
            try:
                process = subprocess.Popen(  # noqa: S603 (an argument list, no shell)
                    cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
            except FileNotFoundError:
                raise restic.errors.NoResticBinaryEror(BINARY) from None
            stack.callback(_reap, process)
            if not process.stdout.peek(1):  # type: ignore[union-attr]  # EOF at once: restic failed (or nothing)
                code = process.wait()
                if code != 0:
                    raise restic.errors.ResticFailedError(
                        f"Restic failed with exit code {code}: {_stderr_text(errors)}")
            return stack, process, errors
        except BaseException:
            stack.close()
            raise

    stack, process, errors = _retrying(target, start)
    stream: IO[bytes] = process.stdout  # type: ignore[assignment]
    with stack:
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            _stop(process)

        timer = threading.Timer(target.timeout, expire) if target.timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            try:
                yield stream
            except BaseException as exc:
                if timed_out.is_set():
                    raise ResticError(target.url, f"restic dump timed out after {target.timeout} s") from exc
                # The archive ended early because restic failed (a damaged pack)?  Its message, not the reader's.
                if _ended(stream) and process.wait() > 0:
                    raise ResticError(target.url, _stderr_text(errors), exit_code=process.returncode) from exc
                raise
            if not _drained(stream):
                return  # the reader stopped before the end: it has what it needed; restic is stopped on leaving
            code = process.wait()
        finally:
            if timer:
                timer.cancel()
        if timed_out.is_set():
            raise ResticError(target.url, f"restic dump timed out after {target.timeout} s", exit_code=code)
        if code != 0:
            raise ResticError(target.url, _stderr_text(errors) or f"restic dump failed (exit {code})", exit_code=code)


def _ended(stream: IO[bytes]) -> bool:
    """Whether restic has closed ``stream`` (without waiting for more: restic may still be writing)."""
    try:
        ready, _, _ = select.select([stream], [], [], 0)
        return bool(ready) and not stream.peek(1)  # type: ignore[attr-defined]
    except (OSError, ValueError):  # closed by the reader: treat restic as still running (it is stopped)
        return False


def _drained(stream: IO[bytes], limit: int = 1 << 16) -> bool:
    """Read what is left after the tar reader finished: the end-of-archive blocks (``True`` at the end), or
    more than ``limit`` bytes (``False``: the reader stopped early on purpose)."""
    left = limit
    while left > 0:
        chunk = stream.read(min(left, 1 << 14))
        if not chunk:
            return True
        left -= len(chunk)
    return False


def _stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop a restic that still runs the way restic cleans up after: SIGINT, then SIGKILL after ``grace`` s.

    Killed (SIGKILL, SIGTERM, or SIGPIPE from a closed pipe), restic leaves its lock in the repository
    and the next ``check`` or ``prune`` fails as "locked" until ``restic unlock``; on SIGINT it removes
    the lock and exits (130) at once, even while blocked writing to the pipe (tested).
    """
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()


def _reap(process: subprocess.Popen[bytes]) -> None:
    """Stop ``process`` if it still runs (its reader is gone) and collect it."""
    _stop(process)
    if process.stdout:
        process.stdout.close()
    process.wait()


def restore(target: Target, snapshot_id: str, folder: str, includes: list[str] | None = None) -> None:
    args = ["restore", snapshot_id, "--target", folder]
    for include in includes or ():
        args += ["--include", include]
    run(target, *args)
