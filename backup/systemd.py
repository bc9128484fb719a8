"""A policy rendered for one host: a systemd timer, its service and the script the service runs.

The backup reconciler (:mod:`backup.reconcilers`) computes these files here, in Python, so the desired
state is plain text the plan can show and fingerprint; the Ansible role ``cmdb_backup`` (package data
in ``backup/ansible/``) only writes them, removes stale ones and enables the timers.

**No secret is ever written.**  A repository's password and backend variables are references
(``env:NAME``, ``file:/path``) and stay references on the host: ``file:`` becomes restic's own
``RESTIC_PASSWORD_FILE`` (``--from-password-file`` for the copy), ``env:NAME`` becomes
``RESTIC_PASSWORD_COMMAND='printenv NAME'``, the variable coming from the operator's
``/etc/cmdb-backup/secrets.env`` (``EnvironmentFile=`` of every service), which the CMDB never writes.

**Schedules.** Cron's five fields become ``OnCalendar=`` lines.  Cron ORs day-of-month and weekday
when both are restricted while systemd ANDs the parts of one expression, so that case becomes two
lines (a timer fires on the union of its ``OnCalendar=`` lines).  ``Persistent=true``: a run missed
while the host was off happens at boot.

**The script** (bash, ``set -euo pipefail``) runs, in order: ``restic backup`` of the policy's paths
(tags ``cmdb-policy=<id>`` and ``cmdb-ci=<registry id>``, ``--host`` the CI's name, so the CMDB's
inventory sync attributes the snapshots), ``restic forget --prune`` with the policy's keep-* rules
for this host's snapshots of this policy, and with an archive tier ``restic copy`` of them into the
archive repository followed by ``forget --keep-yearly <archive_years>`` there -- unless the archive
is append-only, which refuses deletes by design (its retention then runs where it is served
without ``--append-only``; the script says so).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from croniter import croniter

#: Every managed file's name starts with this, so the role can find (and remove) stale ones.
PREFIX = "cmdb-backup-"
UNIT_DIR = "/etc/systemd/system"
SCRIPT_DIR = "/etc/cmdb-backup"
#: Written by the operator (never by the CMDB): the variables that ``env:`` references name.
SECRETS_FILE = f"{SCRIPT_DIR}/secrets.env"
_WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


class RenderError(ValueError):
    """The policy cannot be rendered for a host (a cron feature systemd has no equivalent for ...)."""


def _field(values: list[Any], width: int = 2) -> str:
    if values == ["*"]:
        return "*"
    if not all(isinstance(v, int) for v in values):
        raise RenderError(f"cron values {values} have no systemd calendar equivalent")
    return ",".join(f"{v:0{width}d}" for v in sorted(set(values)))


def on_calendar(cron: str) -> list[str]:
    """The ``OnCalendar=`` values that fire exactly when the five-field ``cron`` does."""
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise RenderError(f"{cron!r} is not a five-field cron expression")
    (minutes, hours, days, months, weekdays), _ = croniter.expand(cron)
    time = f"{_field(hours)}:{_field(minutes)}:00"
    date = f"*-{_field(months)}-{_field(days)}"
    if weekdays == ["*"]:
        return [f"{date} {time}"]
    if not all(isinstance(v, int) for v in weekdays):
        raise RenderError(f"cron weekdays {weekdays} have no systemd calendar equivalent")
    names = ",".join(_WEEKDAYS[v % 7] for v in sorted({v % 7 for v in weekdays}))
    if days == ["*"]:
        return [f"{names} *-{_field(months)}-* {time}"]
    # Both day fields restricted: cron fires on either, so two expressions.
    return [f"{date} {time}", f"{names} *-{_field(months)}-* {time}"]


def unit_name(policy_id: int, policy_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", policy_name.lower()).strip("-")[:60] or "policy"
    return f"{PREFIX}{policy_id}-{slug}"


@dataclass(frozen=True)
class RepositoryAccess:
    """What a host needs to open a repository: its URL and the *references* to its secrets."""

    url: str
    password_ref: str
    credentials: dict[str, str]
    append_only: bool = False


@dataclass(frozen=True)
class PolicyOnHost:
    """One policy as it applies to one host (the inputs of :func:`render`)."""

    policy_id: int
    policy_name: str
    ci_id: int
    host: str
    schedule: str
    paths: tuple[str, ...]
    excludes: tuple[str, ...]
    retention: dict[str, int]
    repository: RepositoryAccess
    archive: RepositoryAccess | None = None
    archive_years: int = 0
    explanation: str = ""


def _password(ref: str, prefix: str) -> list[str]:
    """Shell lines exporting restic's password option for ``ref`` (``prefix`` RESTIC or RESTIC_FROM)."""
    scheme, _, target = ref.partition(":")
    if scheme == "file":
        return [f"export {prefix}_PASSWORD_FILE={shlex.quote(target)}"]
    if scheme == "env":
        return [f': "${{{target}:?{target} is not set: provision it in {SECRETS_FILE}}}"',
                f"export {prefix}_PASSWORD_COMMAND={shlex.quote(f'printenv {target}')}"]
    raise RenderError(f"a {scheme}: secret reference cannot be used on a host")


def _credentials(credentials: dict[str, str]) -> list[str]:
    lines = []
    for name, ref in sorted(credentials.items()):
        scheme, _, target = ref.partition(":")
        if scheme == "env":
            lines.append(f'export {name}="${{{target}:?{target} is not set: provision it in {SECRETS_FILE}}}"')
        elif scheme == "file":
            lines.append(f'export {name}="$(cat {shlex.quote(target)})"')
        else:
            raise RenderError(f"a {scheme}: secret reference cannot be used on a host")
    return lines


def _keep(retention: dict[str, int]) -> str:
    return " ".join(f"--{k.replace('_', '-')} {v}" for k, v in sorted(retention.items()) if v)


def script(p: PolicyOnHost) -> str:
    """The bash script the service runs (see the module docstring)."""
    q = shlex.quote
    select = f"--host {q(p.host)} --tag {q(f'cmdb-policy={p.policy_id}')}"
    tags = f"--tag {q(f'cmdb-policy={p.policy_id}')} --tag {q(f'cmdb-ci={p.ci_id}')}"
    excludes = "".join(f" --exclude {q(e)}" for e in p.excludes)
    lines = [
        "#!/bin/bash",
        f"# Managed by the CMDB (backup reconciler): policy {p.policy_name} (id {p.policy_id}) on {p.host}"
        f" (CI {p.ci_id}).",
        *([f"# Why this host: {p.explanation}."] if p.explanation else []),
        "# Local changes are overwritten; change the policy in the CMDB instead.",
        "set -euo pipefail",
        "",
        "# The primary repository (secrets are references, resolved here at run time).",
        *_credentials(p.repository.credentials),
        f"export RESTIC_REPOSITORY={q(p.repository.url)}",
        *_password(p.repository.password_ref, "RESTIC"),
        "",
        f"restic backup --host {q(p.host)} {tags}{excludes} -- {' '.join(q(path) for path in p.paths)}",
        f"restic forget {select} --group-by host,paths {_keep(p.retention)} --prune",
    ]
    if p.archive is not None:
        lines += [
            "",
            "# The archive tier: this host's snapshots of the policy copied into the archive repository.",
            f"export RESTIC_FROM_REPOSITORY={q(p.repository.url)}",
            *_password(p.repository.password_ref, "RESTIC_FROM"),
            "unset RESTIC_PASSWORD_FILE RESTIC_PASSWORD_COMMAND",
            *_credentials(p.archive.credentials),
            f"export RESTIC_REPOSITORY={q(p.archive.url)}",
            *_password(p.archive.password_ref, "RESTIC"),
            f"restic copy {select}",
        ]
        if p.archive.append_only:
            lines.append(f"# The archive is append-only (it refuses deletes): keep-yearly {p.archive_years} is "
                         "enforced where it is served without --append-only.")
        else:
            lines.append(f"restic forget {select} --group-by host,paths --keep-yearly {p.archive_years} --prune")
    return "\n".join(lines) + "\n"


def service(p: PolicyOnHost, script_path: str) -> str:
    return (
        "[Unit]\n"
        f"Description=CMDB backup: policy {p.policy_name} on {p.host}\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"EnvironmentFile=-{SECRETS_FILE}\n"
        f"ExecStart={script_path}\n"
        "Nice=10\n"
        "IOSchedulingClass=idle\n"
        "PrivateTmp=true\n"
    )


def timer(p: PolicyOnHost, unit: str) -> str:
    calendar = "".join(f"OnCalendar={value}\n" for value in on_calendar(p.schedule))
    return (
        "[Unit]\n"
        f"Description=CMDB backup schedule: policy {p.policy_name} ({p.schedule})\n\n"
        "[Timer]\n"
        f"{calendar}"
        "Persistent=true\n"
        f"Unit={unit}.service\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


def render(p: PolicyOnHost, *, unit_dir: str = UNIT_DIR) -> list[dict[str, str]]:
    """The files of ``p`` on its host: ``[{"path", "content", "mode"}]`` (paths absolute on the host)."""
    if not p.paths:
        raise RenderError(f"policy {p.policy_name} has no paths to back up on a host")
    unit = unit_name(p.policy_id, p.policy_name)
    script_path = f"{SCRIPT_DIR}/{unit}.sh"
    return [
        {"path": script_path, "content": script(p), "mode": "0700"},
        {"path": f"{unit_dir}/{unit}.service", "content": service(p, script_path), "mode": "0644"},
        {"path": f"{unit_dir}/{unit}.timer", "content": timer(p, unit), "mode": "0644"},
    ]
