"""The ``backup`` reconciler: every host runs the backups its effective policies ask for.

- kinds: devices and virtual machines (the hosts that run restic); the framework resolves the scope;
- desired: per host, the files of each effective policy (:mod:`backup.coverage`: attached, or
  inherited from a service or group), rendered by :mod:`backup.systemd` -- a systemd timer with the
  policy's schedule, its service, and the script running ``restic backup``, ``forget --prune`` with
  the policy's keep-* rules and the archive copy with ``keep-yearly <archive_years>``.  A host
  without a policy wants no files, so the units of a detached policy are removed.  Policies that
  back up a dump command run on the CMDB's worker (the operator configures those commands there),
  not on hosts: they are left out, with a line in the run's log;
- observe: ``ansible-playbook --check --diff`` of the role ``cmdb_backup`` (``backup/ansible/``,
  package data), no side effects; each file the role would write or remove is one plan item with
  its diff; failed and unreachable hosts are recorded, not fatal;
- apply: the real run on the hosts of the plan's items; each item's outcome is that file's result
  (ok, failed with Ansible's message, skipped when the host never got there);
- verify: a second check run, which should plan nothing.

Host connection variables come from the CMDB's Ansible inventory through the core's hook
:data:`cmdb.core.hooks.ansible_inventory_requested` (the Ansible domain answers; this domain never
imports it).  Without an answer hosts are reached by name over SSH.

The rendered files travel to Ansible in an inventory file this module writes, every value tagged
``!unsafe``: a policy path or exclude such as ``{{ lookup('pipe', ...) }}`` is written literally,
never evaluated by Ansible's templating on the worker.

Kubernetes CronJobs for namespace policies are not rendered here (the k8s domain is not importable
from this one and no hook carries desired objects to it yet).
"""

from __future__ import annotations

import difflib
import os
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cmdb.core import hooks
from cmdb.core.models import ConfigurationItem
from cmdb.reconcile.base import DiffItem, ItemOutcome, Reconciler, Target, TargetOutcome, register
from cmdb.reconcile.scope import Selection

from . import coverage
from . import systemd as sd
from .models import Policy, Repository

ANSIBLE_DIR = Path(__file__).resolve().parent / "ansible"
PLAYBOOK = ANSIBLE_DIR / "backup.yml"
KINDS = ("dcim.device", "virtualization.virtualmachine")
#: The role's task names whose loop items are plan items (keep in step with roles/cmdb_backup/tasks/main.yml).
WRITE_TASK = "Write backup unit file"
REMOVE_TASK = "Remove stale backup unit file"


class _Unsafe(str):
    """A string Ansible must not template (YAML ``!unsafe``)."""


def _unsafe_representer(dumper: yaml.SafeDumper, value: _Unsafe) -> yaml.Node:
    return dumper.represent_scalar("!unsafe", str(value))


class _InventoryDumper(yaml.SafeDumper):
    pass


_InventoryDumper.add_representer(_Unsafe, _unsafe_representer)


def _unsafe(value: Any) -> Any:
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, dict):
        return {k: _unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsafe(v) for v in value]
    return value


def _access(repository: Repository) -> sd.RepositoryAccess:
    return sd.RepositoryAccess(url=repository.repo_url, password_ref=repository.password_ref,
                               credentials=dict(repository.credentials or {}), append_only=repository.append_only)


@dataclass
class Observation:
    """One check run: the plan items, each host's outcome, and the hosts whose files could not be rendered."""

    items: list[DiffItem] = field(default_factory=list)
    outcomes: dict[str, TargetOutcome] = field(default_factory=dict)
    item_outcomes: list[ItemOutcome] = field(default_factory=list)


def _diff(diff: Any) -> str:
    """Ansible's diff (a dict or a list of them) as a unified diff of the file's text."""
    out = []
    for d in diff if isinstance(diff, list) else [diff]:
        if not isinstance(d, dict):
            continue
        before, after = d.get("before", ""), d.get("after", "")
        if isinstance(before, dict) or isinstance(after, dict):  # the file module: states, not text
            out.append(f"state: {(before or {}).get('state', '?')} -> {(after or {}).get('state', '?')}")
            continue
        out.append("".join(difflib.unified_diff(
            str(before or "").splitlines(keepends=True), str(after or "").splitlines(keepends=True),
            fromfile=str(d.get("before_header", "before")), tofile=str(d.get("after_header", "after")))))
    return "\n".join(p for p in out if p)


def _item_path(res: dict[str, Any]) -> str:
    item = res.get("item")
    return str(item.get("path", "")) if isinstance(item, dict) else str(item or "")


def _message(res: dict[str, Any]) -> str:
    return str(res.get("msg") or res.get("stderr") or res.get("reason") or "")[:2000]


@register
class BackupReconciler(Reconciler):
    """Policies rendered as systemd timers on hosts, through Ansible (see the module docstring)."""

    name = "backup"
    summary = "Installs each host's backup timers (restic backup, retention, archive copy) from its policies"
    kinds = KINDS
    lease_ttl = 600

    def __init__(self) -> None:
        self._hostvars: dict[str, dict[str, Any]] = {}
        self._unrenderable: dict[str, str] = {}

    # --- desired ------------------------------------------------------------------------------------------------

    def desired(self, selection: Selection) -> list[Target]:
        ci_ids = selection.ci_ids
        names = dict(ConfigurationItem.objects.filter(pk__in=ci_ids).values_list("pk", "name"))
        effective = coverage.effective_policies(ci_ids)
        wanted = {pk for e in effective.values() for pk in e.policy_ids}
        policies = Policy.objects.filter(pk__in=wanted).select_related("repository", "archive_repository")
        by_id = {p.pk: p for p in policies}
        skipped = sorted(p.name for p in by_id.values() if p.dump_command)
        if skipped:
            self.log(f"policies backing up a dump command run on the CMDB's worker, not on hosts: {', '.join(skipped)}")
        self._hostvars = self._inventory(selection.scope, set(names.values()))
        self._unrenderable = {}
        targets = []
        for ci_id, host in sorted(names.items(), key=lambda kv: (kv[1], kv[0])):
            found = effective.get(ci_id)
            files: list[dict[str, str]] = []
            policy_names: list[str] = []
            for pk in found.policy_ids if found else ():
                policy = by_id.get(pk)
                if policy is None or policy.dump_command or policy.status != "active":
                    continue
                on_host = sd.PolicyOnHost(
                    policy_id=policy.pk, policy_name=policy.name, ci_id=ci_id, host=host, schedule=policy.schedule,
                    paths=tuple(policy.paths), excludes=tuple(policy.excludes), retention=policy.retention(),
                    repository=_access(policy.repository),
                    archive=_access(policy.archive_repository) if policy.archive_repository else None,
                    archive_years=policy.archive_years, explanation=found.explanation if found else "")
                try:
                    files += sd.render(on_host, unit_dir=self._unit_dir(host))
                except sd.RenderError as exc:
                    self._unrenderable[host] = f"policy {policy.name}: {exc}"
                policy_names.append(policy.name)
            targets.append(Target(name=host, ci_id=ci_id, data={"policies": policy_names, "files": files}))
        return targets

    def _unit_dir(self, host: str) -> str:
        return str(self._hostvars.get(host, {}).get("cmdb_backup_unit_dir") or sd.UNIT_DIR)

    def _inventory(self, scope: str, hosts: set[str]) -> dict[str, dict[str, Any]]:
        """Host variables (connection, ``cmdb_root`` ...) from the CMDB's Ansible inventory, when the Ansible
        domain answers the hook; the framework already limited the scope to what the requester may reach."""
        try:
            answer = hooks.first_answer(hooks.ansible_inventory_requested, scope=scope, user=None)
        except ValueError as exc:
            self.log(f"no Ansible inventory for scope {scope!r}: {exc}; hosts are reached by name", level="error")
            answer = None
        found = ((answer or {}).get("all") or {}).get("hosts") or {}
        return {h: dict(found.get(h) or {}) for h in hosts}

    # --- Ansible ------------------------------------------------------------------------------------------------

    def _write_inventory(self, folder: Path, desired: list[Target]) -> Path:
        hosts = {}
        for t in desired:
            hostvars = {k: v for k, v in self._hostvars.get(t.name, {}).items() if k != "cmdb_backup_files"}
            hosts[t.name] = {**hostvars, "cmdb_backup_files": _unsafe(t.data["files"])}
        path = folder / "inventory.yml"
        path.write_text(yaml.dump({"all": {"hosts": hosts}}, Dumper=_InventoryDumper, sort_keys=True))
        return path

    def run_playbook(self, desired: list[Target], *, check: bool, items: list[DiffItem] | None = None) -> Observation:
        """One ansible-playbook run of ``backup.yml`` on ``desired``; with ``items`` (an apply) each item's outcome."""
        try:
            import ansible_runner
        except ModuleNotFoundError as exc:
            raise RuntimeError("The backup reconciler needs ansible-runner (and ansible-core): "
                               "pip install ansible-runner ansible-core") from exc
        result = Observation()
        for host, problem in self._unrenderable.items():
            result.outcomes[host] = TargetOutcome(host, "failed", message=problem)
        runnable = [t for t in desired if t.name not in self._unrenderable]
        if not runnable:
            return result
        pending: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for index, item in enumerate(items or []):
            pending[(item.target, item.resource, str(item.data.get("task", "")))].append(index)
        ci_of = {t.name: t.ci_id for t in runnable}
        workdir = Path(tempfile.mkdtemp(prefix="cmdb-backup-ansible-"))
        try:
            inventory = self._write_inventory(workdir, runnable)
            (workdir / "runner").mkdir()
            bin_dir = str(Path(sys.executable).parent)
            runner = ansible_runner.run(
                private_data_dir=str(workdir / "runner"), playbook=str(PLAYBOOK), inventory=str(inventory),
                cmdline="--check --diff" if check else "--diff", quiet=True,
                envvars={"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
                         "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
                         "ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles"),
                         "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"},
                settings={"suppress_ansible_output": True},
            )
            changed: dict[str, int] = defaultdict(int)
            for event in runner.events:
                kind = event.get("event")
                data = event.get("event_data") or {}
                host = data.get("host")
                if host is None:
                    continue
                res = data.get("res") or {}
                task = str(data.get("task") or "")
                if task in (WRITE_TASK, REMOVE_TASK) and kind and kind.startswith("runner_item_on_"):
                    path = _item_path(res)
                    if kind == "runner_item_on_ok" and res.get("changed"):
                        changed[host] += 1
                        result.items.append(self._item(host, ci_of.get(host), task, path, res))
                    waiting = pending.get((host, path, task))
                    if waiting:
                        status = {"runner_item_on_ok": "ok", "runner_item_on_failed": "failed"}.get(kind, "skipped")
                        result.item_outcomes.append(ItemOutcome(waiting.pop(0), status,
                                                                "" if status == "ok" else _message(res) or kind))
                elif kind == "runner_on_failed" and not data.get("ignore_errors"):
                    result.outcomes[host] = TargetOutcome(host, "failed", message=f"{task}: {_message(res)}")
                elif kind == "runner_on_unreachable":
                    result.outcomes[host] = TargetOutcome(host, "unreachable", message=_message(res))
            for t in runnable:
                result.outcomes.setdefault(t.name, TargetOutcome(t.name, "ok", changed=changed[t.name]))
            if runner.rc not in (0, 2, 4) and all(o.status == "ok" for o in result.outcomes.values()):
                raise RuntimeError(f"ansible-playbook exited {runner.rc}: {runner.stdout.read()[-2000:]}")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return result

    @staticmethod
    def _item(host: str, ci_id: int | None, task: str, path: str, res: dict[str, Any]) -> DiffItem:
        if task == REMOVE_TASK:
            operation = "delete"
        else:
            diffs = res.get("diff") if isinstance(res.get("diff"), list) else [res.get("diff") or {}]
            new = any(isinstance(d, dict) and d.get("before") in ("", None) and d.get("after") for d in diffs)
            operation = "create" if new else "update"
        return DiffItem(operation=operation, target=host, resource=path, diff=_diff(res.get("diff")) or "(changed)",
                        ci_id=ci_id, data={"task": task})

    # --- the steps ----------------------------------------------------------------------------------------------

    def observe(self, desired: list[Target]) -> Observation:
        return self.run_playbook(desired, check=True)

    def plan(self, desired: list[Target], observed: Observation) -> list[DiffItem]:
        # Ansible reports hosts in whatever order its forks finish: sorted, so equal plans fingerprint alike.
        return sorted(observed.items, key=lambda i: (i.target, i.resource, i.operation))

    def unhealthy(self, observed: Observation) -> list[TargetOutcome]:
        return [o for o in observed.outcomes.values() if o.status != "ok"]

    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[ItemOutcome | TargetOutcome]:
        """The real run on the hosts of ``items``; one outcome per item (its file's result on its host)."""
        hosts = {i.target for i in items}
        result = self.run_playbook([t for t in desired if t.name in hosts], check=False, items=items)
        broken: list[ItemOutcome | TargetOutcome] = [o for o in result.outcomes.values() if o.status != "ok"]
        unreachable = {o.target for o in result.outcomes.values() if o.status == "unreachable"}
        done = {o.item for o in result.item_outcomes}
        rest = [ItemOutcome(i, "failed", "host unreachable") if item.target in unreachable
                else ItemOutcome(i, "skipped", "the file was not reached on this host")
                for i, item in enumerate(items) if i not in done]
        return [*result.item_outcomes, *rest, *broken]
