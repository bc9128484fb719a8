"""The Ansible reconciler: the baseline playbook run through ansible-runner.

- desired: the hosts in scope, with the CMDB inventory (groups, host variables, config contexts);
- observe/plan: ``ansible-playbook --check --diff``; every task that would change a host is one
  plan item with the task's diff; failed and unreachable hosts are recorded, not fatal;
- apply: the real run (``--diff``), per-host outcome from the play recap;
- verify: a second check run, which should plan nothing.

Discovery: when enabled (``ANSIBLE_DISCOVERY_FACTS``, on by default when the discovery
app is installed), the first check run of every reconcile — dry run or apply — also
gathers facts and installed packages (``cmdb_discovery_facts``; the baseline play's
pre-tasks) and hands them to the core's hook :data:`cmdb.core.hooks.ansible_facts_gathered`;
discovery, listening there, turns each host's facts into a report (source type ``ansible``,
name ``reconcile:ansible``) ingested in its own transaction right after that run;
a report that fails is written to the run's log and the reconcile goes on.  This
happens in a dry run too, on purpose: facts are an observation, as when the
discovery agent runs, not a change the reconcile makes; the nightly dry run that
looks for drift is then also the agentless inventory of the managed hosts.
Apply and verify runs do not gather again.

The playbook is ``baseline.yml`` of this package (``playbooks/baseline.yml``, installed with the
CMDB) unless ``CMDB_PLAYBOOK`` names another.
"""

from __future__ import annotations

import difflib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from cmdb.core import hooks
from cmdb.reconcile.base import DiffItem, Reconciler, Target, TargetOutcome, register

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


def playbook_path() -> Path:
    return Path(os.environ.get("CMDB_PLAYBOOK", PLAYBOOK_DIR / "baseline.yml"))


def scope_filters(scope: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``all``, ``ci:1,2``, ``host:name``, ``site:slug``, ``tenant:slug``, ``role:slug``, ``tag:slug``,
    ``platform:slug`` → (device filter, VM filter)."""
    if scope in ("", "all"):
        return {}, {}
    kind, _, value = scope.partition(":")
    values = [v for v in value.split(",") if v]
    if not values:
        raise ValueError(f"Scope {scope!r} names no value.")
    if kind == "ci":
        ids = [int(v) for v in values]
        return {"ci_id__in": ids}, {"ci_id__in": ids}
    lookups = {"host": "name__in", "site": "site__slug__in", "tenant": "tenant__slug__in",
               "role": "role__slug__in", "tag": "tags__slug__in", "platform": "platform__slug__in"}
    if kind not in lookups:
        raise ValueError(f"Unknown scope kind {kind!r}; use all, ci, host, site, tenant, role, tag or platform.")
    return {lookups[kind]: values}, {lookups[kind]: values}


@dataclass
class PlaybookResult:
    items: list[DiffItem] = field(default_factory=list)
    outcomes: dict[str, TargetOutcome] = field(default_factory=dict)
    inventory: dict[str, Any] = field(default_factory=dict)
    #: Per host, the facts gathered when the run was asked to (``setup`` merged with ``package_facts``).
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)


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
                                     fromfile=str(d.get("before_header", "before")),
                                     tofile=str(d.get("after_header", "after")))
        out.append("".join(lines))
    return "\n".join(p for p in out if p)


def _operation(res: dict[str, Any]) -> str:
    diffs = res.get("diff") if isinstance(res.get("diff"), list) else [res.get("diff") or {}]
    for d in diffs:
        if isinstance(d, dict) and isinstance(d.get("before"), dict) and d["before"].get("state") == "absent":
            return "create"
    return "update"


class AnsibleReconciler(Reconciler):
    name = "ansible"
    lease_ttl = 600

    def __init__(self, playbook: Path | None = None, *, discovery_facts: bool | None = None) -> None:
        self.playbook = playbook or playbook_path()
        self.discovery_facts = discovery_facts_enabled() if discovery_facts is None else discovery_facts
        self._facts_fed = False

    def desired(self, scope: str) -> list[Target]:
        device_filter, vm_filter = scope_filters(scope)
        inventory = build_inventory(device_filter=device_filter, vm_filter=vm_filter)
        self._inventory = inventory
        return [Target(name=host, ci_id=hv.get("cmdb", {}).get("ci_id"), data=hv)
                for host, hv in sorted(inventory["_meta"]["hostvars"].items())]

    def _inventory_for(self, desired: list[Target]) -> dict[str, Any]:
        inventory = getattr(self, "_inventory", None)
        if inventory is None:
            inventory = {"_meta": {"hostvars": {t.name: t.data for t in desired}}}
        return runner_inventory(inventory, {t.name for t in desired})

    def run_playbook(self, desired: list[Target], *, check: bool, facts: bool = False) -> PlaybookResult:
        """One ansible-playbook run; ``facts`` gathers facts and packages (see the module docstring)."""
        import ansible_runner

        result = PlaybookResult()
        if not desired:
            return result
        ci_by_host = {t.name: t.ci_id for t in desired}
        workdir = Path(tempfile.mkdtemp(prefix="cmdb-ansible-"))
        try:
            inventory = self._inventory_for(desired)
            bin_dir = str(Path(sys.executable).parent)
            runner = ansible_runner.run(
                private_data_dir=str(workdir), playbook=str(self.playbook), inventory=inventory,
                cmdline="--check --diff" if check else "--diff", quiet=True,
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
                elif kind == "runner_on_failed" and not data.get("ignore_errors"):
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

    def observe(self, desired: list[Target]) -> PlaybookResult:
        gather = self.discovery_facts and not self._facts_fed  # the first check run only, not verify's
        result = self.run_playbook(desired, check=True, facts=gather)
        if gather:
            self._facts_fed = True
            self.feed_discovery(result)
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

    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[TargetOutcome]:
        hosts = {i.target for i in items}
        return list(self.run_playbook([t for t in desired if t.name in hosts], check=False).outcomes.values())

    def writeback(self, desired: list[Target], observed: PlaybookResult) -> None:
        """Reachable hosts were seen now: ``last_seen`` on their CI (rolled back in a dry run)."""
        from cmdb.core.services import objects_update
        from cmdb.dcim.models import Device
        from cmdb.virtualization.models import VirtualMachine

        now = timezone.now()
        seen = {t.data["cmdb"]["id"]: t.data["cmdb"]["kind"] for t in desired
                if observed.outcomes.get(t.name) and observed.outcomes[t.name].status != "unreachable"}
        for kind, model in (("device", Device), ("vm", VirtualMachine)):
            objs = list(model.objects.filter(pk__in=[pk for pk, k in seen.items() if k == kind]))
            if objs:
                objects_update(objs, [{"last_seen": now}] * len(objs))


def _message(res: dict[str, Any]) -> str:
    return str(res.get("msg") or res.get("stderr") or res.get("reason") or "")[:2000]


register(AnsibleReconciler)
