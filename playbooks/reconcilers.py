"""The Ansible reconciler: a playbook run through ansible-runner, on the reconcile framework.

- kinds: devices and virtual machines; the framework resolves the scope to their CIs;
- desired: those hosts, with the CMDB inventory (groups, host variables, config contexts);
- observe: ``ansible-playbook --check --diff`` (no side effects: the facts it gathers stay in the
  result); every task that would change a host is one plan item with the task's diff; failed and
  unreachable hosts are recorded, not fatal;
- apply: the real run (``--diff``); each plan item's outcome comes from that task's result on that
  host (ok, failed with the task's message, or skipped when the host never reached it);
- writeback: reachable hosts get ``last_seen``, and the gathered facts go to the core's hook
  :data:`cmdb.core.hooks.ansible_facts_gathered` (discovery ingests them as reports of source
  ``ansible``, name ``reconcile:ansible``); the framework runs writeback in a savepoint that a dry
  run rolls back, so a dry run changes nothing in the CMDB, facts included;
- verify: a second check run, which should plan nothing.

Options (declared, validated when a run or schedule is stored): ``playbook`` (one of this package's
playbooks, ``baseline.yml`` by default), ``facts`` (gather facts and packages in the first check
run; also needs the ``ANSIBLE_DISCOVERY_FACTS`` setting and a listener of the hook) and ``tags``
(Ansible tags to limit every run to, comma-separated).
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from cmdb.core import hooks
from cmdb.reconcile.base import DiffItem, ItemOutcome, Option, Reconciler, Target, TargetOutcome, register
from cmdb.reconcile.scope import Selection

from .facts import facts_from_event
from .inventory import build_inventory, runner_inventory

#: The playbooks, roles and ansible.cfg: package data of this app, so an installed CMDB finds them.
PLAYBOOK_DIR = Path(__file__).resolve().parent
#: Source name of the discovery reports built from a reconcile's facts (change log ``discovery:ansible:<this>``).
FACTS_SOURCE = "reconcile:ansible"


def discovery_facts_enabled() -> bool:
    """Feed discovery from reconcile runs: the setting (default on) and someone to take the facts (the
    discovery app connects to :data:`cmdb.core.hooks.ansible_facts_gathered` when it is installed)."""
    return bool(getattr(settings, "ANSIBLE_DISCOVERY_FACTS", True)) and hooks.ansible_facts_gathered.has_listeners()


DEFAULT_PLAYBOOK = "baseline.yml"
KINDS = ("dcim.device", "virtualization.virtualmachine")


def playbooks() -> tuple[str, ...]:
    """The playbooks a run may name: the ``*.yml`` of this package (never a path from the request)."""
    return tuple(sorted(p.name for p in PLAYBOOK_DIR.glob("*.yml")))


def playbook_path(name: str = DEFAULT_PLAYBOOK) -> Path:
    return PLAYBOOK_DIR / name


def _tags_error(value: str) -> str | None:
    """Tags go on the ansible-playbook command line: names only, no spaces or options."""
    name = r"[A-Za-z0-9_][A-Za-z0-9_\-]*"
    return None if re.fullmatch(rf"({name}(,{name})*)?", value) else "Give tag names separated by commas."


def inventory_for_scope(scope: str, *, user: Any = None) -> dict[str, Any]:
    """The inventory (``--list`` form) of the devices and VMs in ``scope`` (the framework's grammar) that
    ``user`` may see (all when None); :class:`ValueError` for a scope that does not parse."""
    from cmdb.reconcile.scope import ScopeError, resolve_scope

    try:
        selection = resolve_scope(scope, KINDS, user=user)
    except ScopeError as exc:
        raise ValueError(str(exc)) from exc
    return build_inventory(user=user, device_filter={"ci_id__in": selection.ids_of(KINDS[0])},
                           vm_filter={"ci_id__in": selection.ids_of(KINDS[1])})


@dataclass
class PlaybookResult:
    items: list[DiffItem] = field(default_factory=list)
    outcomes: dict[str, TargetOutcome] = field(default_factory=dict)
    inventory: dict[str, Any] = field(default_factory=dict)
    #: Per host, the facts gathered when the run was asked to (``setup`` merged with ``package_facts``).
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: In an apply: the outcome of each plan item whose task ran.
    item_outcomes: list[ItemOutcome] = field(default_factory=list)


#: Ansible's per-run temporary copy of a template (``~/.ansible/tmp/ansible-local-<run>/tmp<x>/motd.j2``).
_TMP_HEADER = re.compile(r"^.*/ansible-local-[^/]+/tmp[^/]*/(?P<name>[^/]+)$")


def _header(value: Any) -> str:
    """A diff header without Ansible's per-run temporary path: the template's file name instead.

    The header of a ``template`` task names the rendered copy in a fresh temporary folder each run;
    left in, every check run's diff differs, so the fingerprint of a stored plan never matched a
    fresh one and no stored Ansible plan could be applied (always "stale")."""
    text = str(value)
    found = _TMP_HEADER.match(text)
    return f"template {found.group('name')}" if found else text


def _diff_text(diff: Any) -> str:
    """Ansible's diff result (dict or list of dicts with before/after or prepared) as a unified diff."""
    parts = diff if isinstance(diff, list) else [diff]
    out = []
    for d in parts:
        if not isinstance(d, dict):
            continue
        if d.get("prepared"):
            out.append(str(d["prepared"]))
            continue
        before, after = d.get("before", ""), d.get("after", "")
        if isinstance(before, dict) or isinstance(after, dict):
            before, after = repr(before) + "\n", repr(after) + "\n"
        lines = difflib.unified_diff(str(before or "").splitlines(keepends=True),
                                     str(after or "").splitlines(keepends=True),
                                     fromfile=_header(d.get("before_header", "before")),
                                     tofile=_header(d.get("after_header", "after")))
        out.append("".join(lines))
    return "\n".join(p for p in out if p)


def _operation(res: dict[str, Any]) -> str:
    diffs = res.get("diff") if isinstance(res.get("diff"), list) else [res.get("diff") or {}]
    for d in diffs:
        if isinstance(d, dict) and isinstance(d.get("before"), dict) and d["before"].get("state") == "absent":
            return "create"
    return "update"


class AnsibleReconciler(Reconciler):
    """The reference implementation: read this with :mod:`cmdb.reconcile.base` before writing a reconciler."""

    name = "ansible"
    summary = "Runs a playbook of this package (baseline.yml) against devices and VMs"
    kinds = KINDS
    lease_ttl = 600
    options = (
        Option("playbook", str, DEFAULT_PLAYBOOK, "Playbook of the CMDB's playbooks folder", choices=playbooks),
        Option("facts", bool, True, "Gather facts and packages in the first check run and hand them to discovery"),
        Option("tags", str, "", "Ansible tags to run (comma-separated; empty: all tasks)", validate=_tags_error),
    )

    def __init__(self) -> None:
        self._facts_gathered = False

    @property
    def playbook(self) -> Path:
        return playbook_path(self.option("playbook"))

    @property
    def discovery_facts(self) -> bool:
        return bool(self.option("facts")) and discovery_facts_enabled()

    def desired(self, selection: Selection) -> list[Target]:
        inventory = build_inventory(device_filter={"ci_id__in": selection.ids_of(KINDS[0])},
                                    vm_filter={"ci_id__in": selection.ids_of(KINDS[1])})
        self._inventory = inventory
        return [Target(name=host, ci_id=hv.get("cmdb", {}).get("ci_id"), data=hv)
                for host, hv in sorted(inventory["_meta"]["hostvars"].items())]

    def _inventory_for(self, desired: list[Target]) -> dict[str, Any]:
        inventory = getattr(self, "_inventory", None)
        if inventory is None:
            inventory = {"_meta": {"hostvars": {t.name: t.data for t in desired}}}
        return runner_inventory(inventory, {t.name for t in desired})

    def run_playbook(self, desired: list[Target], *, check: bool, facts: bool = False,
                     items: list[DiffItem] | None = None) -> PlaybookResult:
        """One ansible-playbook run; ``facts`` gathers facts and packages (see the module docstring);
        with ``items`` (an apply), each item's outcome is read from its task's result."""
        try:
            import ansible_runner
        except ModuleNotFoundError as exc:  # a run that cannot start says what is missing
            raise RuntimeError("The Ansible reconciler needs ansible-runner (and ansible-core): "
                               "pip install ansible-runner ansible-core") from exc

        result = PlaybookResult()
        if not desired:
            return result
        pending: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, item in enumerate(items or []):
            pending[(item.target, item.resource)].append(index)
        ci_by_host = {t.name: t.ci_id for t in desired}
        workdir = Path(tempfile.mkdtemp(prefix="cmdb-ansible-"))
        try:
            inventory = self._inventory_for(desired)
            bin_dir = str(Path(sys.executable).parent)
            runner = ansible_runner.run(
                private_data_dir=str(workdir), playbook=str(self.playbook), inventory=inventory,
                cmdline=self._cmdline(check), quiet=True,
                extravars={"cmdb_discovery_facts": facts},
                envvars={"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
                         "ANSIBLE_CONFIG": str(self.playbook.parent / "ansible.cfg"),
                         "ANSIBLE_ROLES_PATH": str(self.playbook.parent / "roles"),
                         "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"},
                settings={"suppress_ansible_output": True},
            )
            changed: dict[str, int] = {}
            for event in runner.events:
                found = facts_from_event(event) if facts else None
                if found is not None:
                    result.facts.setdefault(found[0], {}).update(found[1])
                kind = event.get("event")
                data = event.get("event_data") or {}
                host = data.get("host")
                if host is None:
                    continue
                res = data.get("res") or {}
                task = str(data.get("task") or "")
                if kind == "runner_on_ok" and res.get("changed"):
                    changed[host] = changed.get(host, 0) + 1
                    result.items.append(self._item(host, ci_by_host.get(host), task, res))
                if kind in _ITEM_STATUS and pending.get((host, task)):
                    index = pending[(host, task)].pop(0)
                    status = _ITEM_STATUS[kind] if not data.get("ignore_errors") else "ok"
                    message = "" if status == "ok" else _message(res) or kind.removeprefix("runner_on_")
                    result.item_outcomes.append(ItemOutcome(index, status, message))
                if kind == "runner_on_failed" and not data.get("ignore_errors"):
                    result.outcomes[host] = TargetOutcome(host, "failed", message=f"{task}: {_message(res)}")
                elif kind == "runner_on_unreachable":
                    result.outcomes[host] = TargetOutcome(host, "unreachable", message=_message(res))
            for t in desired:
                if t.name not in result.outcomes:
                    result.outcomes[t.name] = TargetOutcome(t.name, "ok", changed=changed.get(t.name, 0))
            if runner.rc not in (0, 2, 4) and not any(o.status != "ok" for o in result.outcomes.values()):
                raise RuntimeError(f"ansible-playbook exited {runner.rc}: {runner.stdout.read()[-2000:]}")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return result

    @staticmethod
    def _item(host: str, ci_id: int | None, task: str, res: dict[str, Any]) -> DiffItem:
        diff = _diff_text(res.get("diff")) if res.get("diff") else ""
        if not diff and isinstance(res.get("results"), list):  # a loop: one diff per item
            diff = "\n".join(_diff_text(r.get("diff")) for r in res["results"] if r.get("changed") and r.get("diff"))
        return DiffItem(operation=_operation(res), target=host, resource=task, diff=diff or "(changed)",
                        ci_id=ci_id, data={"path": res.get("dest") or res.get("path") or ""})

    def _cmdline(self, check: bool) -> str:
        line = "--check --diff" if check else "--diff"
        tags = self.option("tags")
        return f"{line} --tags {tags}" if tags else line

    def observe(self, desired: list[Target]) -> PlaybookResult:
        """A check run; its facts stay in the result (writeback hands them on)."""
        gather = self.discovery_facts and not self._facts_gathered  # the first check run only, not verify's
        result = self.run_playbook(desired, check=True, facts=gather)
        self._facts_gathered = self._facts_gathered or gather
        return result

    def feed_discovery(self, result: PlaybookResult) -> dict[str, Any]:
        """Hand each host's gathered facts to the core's hook (discovery ingests them); never raises for a host."""
        hosts = sorted(h for h, f in result.facts.items() if "ansible_hostname" in f or "ansible_fqdn" in f)

        def log(message: str, level: str = "info") -> None:
            self.log(f"discovery: {message}", level=level)

        if not hosts:
            log("no facts gathered")
            return {}
        summary: dict[str, Any] = {}
        for _receiver, answer in hooks.ansible_facts_gathered.send(
                sender=type(self), facts={h: result.facts[h] for h in hosts}, source_name=FACTS_SOURCE,
                user=self.user, log=log):
            summary.update(answer or {})
        return summary

    def plan(self, desired: list[Target], observed: PlaybookResult) -> list[DiffItem]:
        return list(observed.items)

    def unhealthy(self, observed: PlaybookResult) -> list[TargetOutcome]:
        return [o for o in observed.outcomes.values() if o.status != "ok"]

    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[ItemOutcome | TargetOutcome]:
        """The real run on the hosts of the items; one outcome per item from its task's result, plus the
        hosts that failed or were unreachable (their items that never ran are skipped by the framework)."""
        hosts = {i.target for i in items}
        result = self.run_playbook([t for t in desired if t.name in hosts], check=False, items=items)
        broken: list[ItemOutcome | TargetOutcome] = [o for o in result.outcomes.values() if o.status != "ok"]
        unreachable = {o.target for o in result.outcomes.values() if o.status == "unreachable"}
        done = {o.item for o in result.item_outcomes}
        lost = [ItemOutcome(i, "failed", "host unreachable") for i, item in enumerate(items)
                if i not in done and item.target in unreachable]
        never = [ItemOutcome(i, "skipped", "the task did not run on this host") for i, item in enumerate(items)
                 if i not in done and item.target not in unreachable]
        return [*result.item_outcomes, *lost, *never, *broken]

    def writeback(self, desired: list[Target], observed: PlaybookResult) -> None:
        """Facts to discovery (through the hook) and ``last_seen`` of reachable hosts; the framework runs this
        in a savepoint that a dry run rolls back."""
        from cmdb.core.context import change_logging
        from cmdb.core.services import objects_update
        from cmdb.dcim.models import Device
        from cmdb.virtualization.models import VirtualMachine

        if observed.facts or self.discovery_facts:
            self.feed_discovery(observed)
        now = timezone.now()
        seen = {t.data["cmdb"]["id"]: t.data["cmdb"]["kind"] for t in desired
                if observed.outcomes.get(t.name) and observed.outcomes[t.name].status != "unreachable"}
        with change_logging(user=self.user, source=f"reconcile:{self.name}"):
            for kind, model in (("device", Device), ("vm", VirtualMachine)):
                objs = list(model.objects.filter(pk__in=[pk for pk, k in seen.items() if k == kind]))
                if objs:
                    objects_update(objs, [{"last_seen": now}] * len(objs))


#: ansible-runner event → the outcome of the plan item of that (host, task).
_ITEM_STATUS = {"runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_skipped": "skipped",
                "runner_on_unreachable": "failed"}


def _message(res: dict[str, Any]) -> str:
    return str(res.get("msg") or res.get("stderr") or res.get("reason") or "")[:2000]


register(AnsibleReconciler)
