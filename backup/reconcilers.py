"""The ``backup`` reconciler: every policy runs where its CIs are -- timers on hosts, CronJobs in namespaces.

- kinds: devices and virtual machines (the hosts that run restic), and Kubernetes namespaces
  (``k8s.namespace``) when the k8s app is installed -- the framework resolves scopes over the kinds a
  reconciler declares (:mod:`cmdb.reconcile.scope`), so the kind is declared only then (:class:`_Kinds`);
  whether a CI is a namespace, on which cluster, with which volumes, is asked through the core hook
  :data:`cmdb.core.hooks.kubernetes_namespaces_requested` (the k8s domain answers; this domain never imports
  it).  Without an answer no CI is a namespace and there are no CronJobs;
- desired, hosts: per host, the files of each effective policy with ``paths`` (:mod:`backup.coverage`:
  attached, or inherited from a service or group), rendered by :mod:`backup.systemd` -- a systemd timer with
  the policy's schedule, its service, and the script running ``restic backup``, ``forget --prune`` with the
  policy's keep-* rules and the archive copy with ``keep-yearly <archive_years>``.  A host without a policy
  wants no files, so the units of a detached policy are removed.  Policies that back up a dump command run
  on the CMDB's worker (the operator configures those commands there), not on hosts: they are left out,
  with a line in the run's log;
- desired, namespaces: per namespace, one CronJob for each effective policy with ``kubernetes_volumes``,
  rendered by :mod:`backup.kubernetes` (restic over the namespace's PersistentVolumeClaims, mounted
  read-only; secrets only as ``secretKeyRef`` to a Secret the operator creates).  A namespace without claims
  wants none (logged).  The CronJobs of one cluster are one set, owner ``backup-<cluster>``, always computed
  for *every* namespace of the cluster with such a policy (whatever the run's scope), because the k8s side
  deletes the live objects of the owner that the set lacks; the plan shows only the items of namespaces in
  scope (and, in an unrestricted ``all`` run, those of namespaces the CMDB no longer has);
- observe: ``ansible-playbook --check --diff`` of the role ``cmdb_backup`` (``backup/ansible/``, package
  data), no side effects, each file the role would write or remove one plan item with its diff; failed and
  unreachable hosts are recorded, not fatal.  The CronJob sets go through the core hook
  :data:`cmdb.core.hooks.kubernetes_objects_published` as plans (the server's dry run of a server-side
  apply): one item per CronJob to create, update or delete, with its diff; a cluster that cannot be read or
  planned fails its namespaces, not the run;
- apply: the real Ansible run on the hosts of the plan's items, each item's outcome that file's result
  (ok, failed with Ansible's message, skipped when the host never got there); CronJob items go back through
  the hook with ``apply`` and ``only`` naming exactly the stored items, each with the k8s domain's outcome;
- verify: a second check run and a fresh plan of the sets, which should plan nothing.

Host connection variables come from the CMDB's Ansible inventory through the core's hook
:data:`cmdb.core.hooks.ansible_inventory_requested` (the Ansible domain answers; this domain never
imports it).  Without an answer hosts are reached by name over SSH.

The rendered files travel to Ansible in an inventory file this module writes, every value tagged
``!unsafe``: a policy path or exclude such as ``{{ lookup('pipe', ...) }}`` is written literally,
never evaluated by Ansible's templating on the worker.
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
from . import kubernetes as kube
from . import systemd as sd
from .models import Policy, Repository

ANSIBLE_DIR = Path(__file__).resolve().parent / "ansible"
PLAYBOOK = ANSIBLE_DIR / "backup.yml"
HOST_KINDS = ("dcim.device", "virtualization.virtualmachine")
#: The registry kind of the k8s domain's namespace CIs (a name, not an import; see :class:`_Kinds`).
NAMESPACE_KIND = "k8s.namespace"
NO_K8S_ANSWER = "no Kubernetes domain answered the CronJob handoff (is the k8s app installed?)"
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


class _Kinds:
    """The reconciler's ``kinds``: hosts always, namespaces when an installed app defines ``k8s.namespace``.

    The framework resolves every kind it is given to a model (``apps.get_model``), so naming the kind without
    the k8s app would break every scope; asked when read (a descriptor), after the app registry is ready."""

    def __get__(self, instance: Any, owner: type | None = None) -> tuple[str, ...]:
        from django.apps import apps

        label, _, model = NAMESPACE_KIND.partition(".")
        try:
            apps.get_model(label, model)
        except LookupError:
            return HOST_KINDS
        return (*HOST_KINDS, NAMESPACE_KIND)


@dataclass
class Observation:
    """One check run: the plan items, each host's outcome, and the hosts whose files could not be rendered;
    and the k8s domain's answer per cluster for the CronJob sets (``kube``: cluster → the hook's answer)."""

    items: list[DiffItem] = field(default_factory=list)
    outcomes: dict[str, TargetOutcome] = field(default_factory=dict)
    item_outcomes: list[ItemOutcome] = field(default_factory=list)
    kube: dict[str, dict[str, Any]] = field(default_factory=dict)


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
    summary = ("Installs each host's backup timers and each Kubernetes namespace's backup CronJobs (restic backup, "
               "retention, archive copy) from their policies")
    kinds = _Kinds()  # type: ignore[assignment]
    lease_ttl = 600

    def __init__(self) -> None:
        self._hostvars: dict[str, dict[str, Any]] = {}
        self._unrenderable: dict[str, str] = {}
        #: cluster → the owner's complete CronJob set; cluster → why its set is not published this run.
        self._sets: dict[str, list[dict[str, Any]]] = {}
        self._unpublished: dict[str, str] = {}
        #: namespace target name → why it failed before anything was planned (its cluster unreadable, ...).
        self._broken_namespaces: dict[str, str] = {}
        #: (cluster, namespace) → target name, for the namespaces whose items the plan shows.
        self._shown: dict[tuple[str, str], str] = {}
        self._ci_of: dict[str, int | None] = {}
        self._known: set[tuple[str, str]] = set()
        self._unrestricted = False

    # --- desired ------------------------------------------------------------------------------------------------

    def desired(self, selection: Selection) -> list[Target]:
        host_ids = [ci for kind in HOST_KINDS for ci in selection.ids_of(kind)]
        hosts = set(host_ids)
        other_ids = [ci for ci in selection.ci_ids if ci not in hosts]
        effective = coverage.effective_policies(None)
        wanted = {pk for e in effective.values() for pk in e.policy_ids}
        policies = Policy.objects.filter(pk__in=wanted).select_related("repository", "archive_repository")
        by_id = {p.pk: p for p in policies}
        skipped = sorted(p.name for p in by_id.values() if p.dump_command and any(
            p.pk in effective[ci].policy_ids for ci in host_ids if ci in effective))
        if skipped:
            self.log(f"policies backing up a dump command run on the CMDB's worker, not on hosts: {', '.join(skipped)}")
        return [*self._host_targets(host_ids, effective, by_id, selection.scope),
                *self._namespace_targets(other_ids, effective, by_id, selection.scope)]

    def _host_targets(self, host_ids: list[int], effective: dict[int, coverage.Effective], by_id: dict[int, Policy],
                      scope: str) -> list[Target]:
        names = dict(ConfigurationItem.objects.filter(pk__in=host_ids).values_list("pk", "name"))
        self._hostvars = self._inventory(scope, set(names.values())) if names else {}
        self._unrenderable = {}
        targets = []
        volumes_only: set[str] = set()
        for ci_id, host in sorted(names.items(), key=lambda kv: (kv[1], kv[0])):
            found = effective.get(ci_id)
            files: list[dict[str, str]] = []
            policy_names: list[str] = []
            for pk in found.policy_ids if found else ():
                policy = by_id.get(pk)
                if policy is None or policy.dump_command or policy.status != "active":
                    continue
                if policy.kubernetes_volumes:
                    volumes_only.add(policy.name)
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
        if volumes_only:
            self.log("policies backing up Kubernetes volumes run in namespaces, not on hosts: "
                     f"{', '.join(sorted(volumes_only))}")
        return targets

    def _namespace_targets(self, ci_ids: list[int], effective: dict[int, coverage.Effective],
                           by_id: dict[int, Policy], scope: str) -> list[Target]:
        """The namespaces among ``ci_ids`` as targets, and every cluster's complete CronJob set (see the module
        docstring): the hook is asked once for the namespaces in scope and every CI a volume policy covers."""
        self._sets, self._unpublished, self._broken_namespaces, self._shown = {}, {}, {}, {}
        volume_policy = {pk for pk, p in by_id.items() if p.kubernetes_volumes and p.status == "active"}
        covered = sorted(ci for ci, e in effective.items() if volume_policy & set(e.policy_ids))
        asked = sorted(set(ci_ids) | set(covered))
        answer = hooks.first_answer(hooks.kubernetes_namespaces_requested, ci_ids=asked, user=None) if asked else None
        namespaces: dict[int, dict[str, Any]] = {int(k): v for k, v in (answer or {}).items()}
        self._unrestricted = self.user is None and scope.strip() in ("", "all")
        sets: dict[str, list[dict[str, Any]]] = defaultdict(list)
        no_claims: list[str] = []
        for ci_id, ns in sorted(namespaces.items(), key=lambda kv: (kv[1]["cluster"], kv[1]["namespace"])):
            cluster, name = ns["cluster"], ns["namespace"]
            sets.setdefault(cluster, [])
            if ns.get("error"):
                self._unpublished[cluster] = ns["error"]
                continue
            found = effective.get(ci_id)
            for pk in found.policy_ids if found else ():
                policy = by_id.get(pk)
                if pk not in volume_policy or policy is None:
                    continue
                if not ns.get("volumes"):
                    no_claims.append(f"{cluster}/{name}")
                    continue
                try:
                    sets[cluster].append(kube.render(self._in_namespace(policy, ci_id, ns, found)))
                except sd.RenderError as exc:
                    self._unpublished[cluster] = f"policy {policy.name} in {cluster}/{name}: {exc}"
        if no_claims:
            self.log("namespaces without PersistentVolumeClaims get no backup CronJob: "
                     f"{', '.join(sorted(set(no_claims)))}")
        self._sets = {cluster: objs for cluster, objs in sets.items() if cluster not in self._unpublished}
        targets = []
        for ci_id in ci_ids:
            ns = namespaces.get(ci_id)
            if ns is None:
                continue  # not a namespace (or nobody answers for namespaces)
            cluster, name = ns["cluster"], ns["namespace"]
            target = f"{cluster}/{name}"
            self._shown[(cluster, name)] = target
            if cluster in self._unpublished:
                self._broken_namespaces[target] = self._unpublished[cluster]
            cronjobs = sorted(o["metadata"]["name"] for o in self._sets.get(cluster, ())
                              if o["metadata"]["namespace"] == name)
            found = effective.get(ci_id)
            policies = sorted(by_id[pk].name for pk in (found.policy_ids if found else ()) if pk in volume_policy)
            targets.append(Target(name=target, ci_id=ci_id, data={
                "cluster": cluster, "namespace": name, "volumes": list(ns.get("volumes") or []),
                "policies": policies, "cronjobs": cronjobs}))
        return sorted(targets, key=lambda t: t.name)

    @staticmethod
    def _in_namespace(policy: Policy, ci_id: int, ns: dict[str, Any], found: coverage.Effective | None
                      ) -> kube.PolicyInNamespace:
        archive = policy.archive_repository
        return kube.PolicyInNamespace(
            policy_id=policy.pk, policy_name=policy.name, ci_id=ci_id, cluster=ns["cluster"],
            namespace=ns["namespace"], schedule=policy.schedule, volumes=tuple(ns["volumes"]),
            excludes=tuple(policy.excludes), retention=policy.retention(),
            repository=kube.Repo(policy.repository.name, _access(policy.repository)),
            archive=kube.Repo(archive.name, _access(archive)) if archive else None,
            archive_years=policy.archive_years, explanation=found.explanation if found else "")

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

    # --- Kubernetes ---------------------------------------------------------------------------------------------

    @staticmethod
    def owner(cluster: str) -> str:
        return f"backup-{cluster}"

    def _clusters(self, desired: list[Target]) -> list[str]:
        """Clusters whose set is published: those of namespace targets, unless their set could not be made."""
        return sorted({t.data["cluster"] for t in desired if "namespace" in t.data} - set(self._unpublished))

    def handoff(self, cluster: str, *, apply: bool = False, only: list[list[str]] | None = None) -> dict[str, Any]:
        """The cluster's CronJob set through ``kubernetes_objects_published``: its plan, or its outcomes."""
        answer = hooks.first_answer(hooks.kubernetes_objects_published, cluster=cluster, owner=self.owner(cluster),
                                    objects=self._sets.get(cluster, []), kinds=kube.KINDS, apply=apply,
                                    only=[tuple(k) for k in only] if only is not None else None, user=self.user)
        if answer is None:
            return {"error": NO_K8S_ANSWER, "items": []}
        return {"error": str(answer.get("error") or ""), "items": list(answer.get("items") or ())}

    def _where(self, cluster: str, namespace: str) -> tuple[str, int | None] | None:
        """(target name, CI id) of an item, or None when the run does not show it (out of scope)."""
        target = self._shown.get((cluster, namespace))
        if target is not None:
            return target, self._ci_of.get(target)
        if self._unrestricted and (cluster, namespace) not in self._known:
            return f"{cluster}/{namespace}", None  # a namespace the CMDB no longer has: its CronJobs go
        return None

    def _kube_items(self, observed: Observation) -> list[DiffItem]:
        items = []
        for cluster, answer in sorted(observed.kube.items()):
            for i in answer["items"]:
                if i["action"] not in ("create", "update", "delete"):
                    continue
                where = self._where(cluster, i["namespace"])
                if where is None:
                    continue
                items.append(DiffItem(i["action"], where[0], f"{i['kind']} {i['namespace']}/{i['name']}", i["diff"],
                                      where[1], {"kubernetes": [i["kind"], i["namespace"], i["name"]],
                                                 "cluster": cluster}))
        return items

    # --- the steps ----------------------------------------------------------------------------------------------

    def observe(self, desired: list[Target]) -> Observation:
        hosts = [t for t in desired if "namespace" not in t.data]
        result = self.run_playbook(hosts, check=True) if hosts else Observation()
        self._ci_of = {t.name: t.ci_id for t in desired if "namespace" in t.data}
        self._known = set(self._shown)
        for cluster in self._clusters(desired):
            result.kube[cluster] = self.handoff(cluster)
        return result

    def plan(self, desired: list[Target], observed: Observation) -> list[DiffItem]:
        # Ansible reports hosts in whatever order its forks finish: sorted, so equal plans fingerprint alike.
        return sorted([*observed.items, *self._kube_items(observed)], key=lambda i: (i.target, i.resource, i.operation))

    def unhealthy(self, observed: Observation) -> list[TargetOutcome]:
        out = [o for o in observed.outcomes.values() if o.status != "ok"]
        out += [TargetOutcome(name, "failed", message=why) for name, why in sorted(self._broken_namespaces.items())]
        for cluster, answer in sorted(observed.kube.items()):
            reasons: dict[str, list[str]] = defaultdict(list)
            if answer["error"]:  # the whole cluster: every namespace of it in the run failed
                for (where, _namespace), target in self._shown.items():
                    if where == cluster:
                        reasons[target].append(answer["error"])
            for i in answer["items"]:
                where = self._where(cluster, i["namespace"])
                if i["status"] == "failed" and where is not None:
                    reasons[where[0]].append(f"{i['kind']} {i['namespace']}/{i['name']}: {i['message']}")
            out += [TargetOutcome(target, "failed", message="; ".join(why)[:2000]) for target, why in sorted(
                reasons.items())]
        return out

    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[ItemOutcome | TargetOutcome]:
        """Ansible items: the real run on their hosts, one outcome per item (its file's result on its host).
        CronJob items: back through the hook per cluster with ``only`` naming them, the k8s domain's outcome each."""
        outcomes: list[ItemOutcome | TargetOutcome] = []
        files = [index for index, item in enumerate(items) if "kubernetes" not in item.data]
        by_cluster: dict[str, list[int]] = defaultdict(list)
        for index, item in enumerate(items):
            if "kubernetes" in item.data:
                by_cluster[item.data["cluster"]].append(index)
        if files:
            outcomes += self._apply_files(desired, items, files)
        for cluster, indices in sorted(by_cluster.items()):
            outcomes += self._apply_cronjobs(cluster, items, indices)
        return outcomes

    def _apply_cronjobs(self, cluster: str, items: list[DiffItem], indices: list[int]) -> list[ItemOutcome]:
        keys = {tuple(items[i].data["kubernetes"]): i for i in indices}
        if cluster in self._unpublished:
            return [ItemOutcome(i, "failed", self._unpublished[cluster]) for i in indices]
        result = self.handoff(cluster, apply=True, only=[list(k) for k in keys])
        if result["error"]:
            return [ItemOutcome(i, "failed", result["error"]) for i in indices]
        done = {(i["kind"], i["namespace"], i["name"]): i for i in result["items"]}
        outcomes = []
        for key, index in keys.items():
            item = done.get(key)
            if item is None or item["status"] == "planned":  # no longer needed
                outcomes.append(ItemOutcome(index, "skipped", "no longer needed"))
            else:
                outcomes.append(ItemOutcome(index, item["status"], item["message"]))
        return outcomes

    def _apply_files(self, desired: list[Target], items: list[DiffItem], indices: list[int]
                     ) -> list[ItemOutcome | TargetOutcome]:
        """The real run on the hosts of the file items ``indices`` of ``items``; outcomes indexed into ``items``."""
        chosen = [items[i] for i in indices]
        hosts = {i.target for i in chosen}
        result = self.run_playbook([t for t in desired if t.name in hosts], check=False, items=chosen)
        broken: list[ItemOutcome | TargetOutcome] = [o for o in result.outcomes.values() if o.status != "ok"]
        unreachable = {o.target for o in result.outcomes.values() if o.status == "unreachable"}
        done = {o.item for o in result.item_outcomes}
        rest = [ItemOutcome(indices[i], "failed", "host unreachable") if item.target in unreachable
                else ItemOutcome(indices[i], "skipped", "the file was not reached on this host")
                for i, item in enumerate(chosen) if i not in done]
        mapped = [ItemOutcome(indices[o.item], o.status, o.message) for o in result.item_outcomes]
        return [*mapped, *rest, *broken]
