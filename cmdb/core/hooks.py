"""Hooks: how one domain hands something to another without importing it.

Domains (``discovery``, ``playbooks``, ``monitoring``, ...) never import each other (a test
enforces it, ``tests/test_import_boundaries.py``).  When one needs another, the core declares a
hook here, the providing domain sends it or connects a receiver in its ``receivers_module`` (see
:mod:`cmdb.core.domains`), and each side depends only on the core.  A missing domain is then
simply a hook nobody answers.

The hooks are Django signals; each documents who sends it, what its keyword arguments are and
what a receiver returns.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

#: Sent by the Ansible reconciler after a check run that gathered facts (``setup`` merged with
#: ``package_facts``, Ansible's own format), so they can be recorded as observations.
#: Keyword arguments: ``facts`` (host name → facts, only hosts whose facts name them),
#: ``source_name`` (how the records are attributed), ``user`` (who started the run, or None),
#: ``log`` (``log(message, level="info")`` of the run).  A receiver never raises for one host's
#: facts and returns a JSON-able summary (a dict), or None.  Nobody connected: facts are not gathered.
ansible_facts_gathered = Signal()

#: Sent by the reconcile framework before every apply (cmdb/reconcile/services.py), so that change
#: management can hold an apply back.  Keyword arguments: ``reconciler`` (its name), ``plan`` (the
#: stored :class:`cmdb.reconcile.models.Plan`), ``items`` (the plan's items, ``DiffItem`` values),
#: ``user`` (who asked, None for a schedule) and ``run`` (the ``ReconcileRun``).  A receiver returns
#: None (no opinion) or ``{"allow": bool, "reasons": [str, ...]}``.  One deny refuses the apply and
#: every receiver's reasons are recorded on the run; nobody connected means allow.
reconcile_apply_requested = Signal()

#: Sent after writes were rolled back on purpose (a reconcile dry run's ``writeback``, see
#: cmdb/reconcile/services.py), with no arguments.  Rows read inside that block may have been written
#: by it and are gone now: an in-process cache that keeps ids of rows it read (discovery's software
#: cache) drops them.
writes_rolled_back = Signal()

#: Sent by whoever needs the CMDB's Ansible inventory, e.g. a discovery job gathering facts from the
#: hosts the CMDB manages.  Keyword arguments: ``scope`` (the reconcile scope grammar, cmdb/reconcile/scope.py)
#: and ``user`` (only what they may see; None: everything).  A receiver returns the inventory in
#: ansible-runner's dict form, or raises ``ValueError`` for a scope it does not understand.
ansible_inventory_requested = Signal()

#: Sent by whoever knows machines only by their SMBIOS system UUID and wants the device or virtual machine
#: the CMDB records for them (the Kubernetes discovery: a node reports ``status.nodeInfo.systemUUID``).
#: Keyword arguments: ``system_uuids`` (a set of lower-case UUID strings) and ``user`` (only records they
#: may change; None: any).  A receiver answers with one query for all of them: ``{uuid: ("device", id)}`` or
#: ``{uuid: ("virtual_machine", id)}`` for the UUIDs it can place unambiguously, or None.  Nobody
#: connected: machines are matched by other means (names) only.
machines_by_system_uuid = Signal()


#: Sent by the licence compliance report (cmdb/software/compliance.py) to ask for seats used by something
#: other than an installation on a CI, e.g. VDI desktops cloned from a golden image (the VDI domain answers).
#: Keyword arguments: ``products`` (the product ids of the licences in the report).  A receiver returns
#: None or ``{"source": "vdi", "label": "VDI", "rows": [{"product_id": int, "tenant_id": int | None,
#: "seats": {metric: int}}, ...]}``: per product and tenant, the seats it uses under each licence metric
#: (``device``, ``core``, ``user``, ``subscription``, ``concurrent``, ``site``); the report takes the
#: metric of each licence.  ``source`` names the report's column; a receiver must not send this hook itself.
#: Nobody connected: the report counts installations and assignments only, and has no extra column.
licence_consumption_requested = Signal()

#: Sent by a domain that wants objects on a Kubernetes cluster it does not manage itself: the VDI reconciler
#: for pools whose driver is KubeVirt (their ``VirtualMachinePool``/``VirtualMachine`` objects), the backup
#: reconciler for policies of namespaces (their ``CronJob`` objects).  The sender renders the objects and
#: hands them over; the Kubernetes domain plans and applies them on its cluster like its own desired objects
#: (server-side apply with its field manager, dry runs by the server).  Keyword arguments: ``cluster`` (the
#: name of the Kubernetes cluster CI), ``owner`` (a label value naming the sender's set, e.g. ``vdi-pool-cad``
#: or ``backup-campus``: live objects of that owner the set no longer contains are ``delete`` items),
#: ``objects`` (the owner's complete set, as manifests: ``apiVersion``, ``kind``,
#: ``metadata.namespace``/``name``), ``kinds`` (``[(apiVersion, kind), ...]`` the owner may have live, listed
#: for deletions even when ``objects`` has none of them; deleted in the background, dependents such as a
#: CronJob's Jobs collected after), ``apply`` (False: plan only, nothing changes),
#: ``only`` (with ``apply``: the ``(kind, namespace, name)`` items to carry out, the stored plan's; None: all)
#: and ``user`` (who asks: view the cluster CI to plan, change it to apply).
#: **Versions.**  An apiVersion the cluster does not serve for the kind is an ``error`` item naming both,
#: except where the receiver knows an older version with the same fields: ``batch/v1`` ``CronJob`` is
#: written as ``batch/v1beta1`` on servers that serve only that (Kubernetes before 1.21), both for
#: ``objects`` and ``kinds``, so a sender always names ``batch/v1``.
#: A receiver returns ``{"error": str, "items": [{"action": "create"|"update"|"delete"|"none"|"error",
#: "kind", "namespace", "name", "diff", "status": "planned"|"ok"|"failed", "message"}]}``; ``error`` is
#: set (and ``items`` empty) when the cluster could not be reached or is unknown.  Nobody connected: the
#: objects are not provisioned (the sender reports that).
kubernetes_objects_published = Signal()
#: The hook's first name, from when only KubeVirt pools used it: the same Signal.
kubevirt_objects_published = kubernetes_objects_published

#: Sent by a domain that acts on Kubernetes namespaces it knows only as CIs (the backup reconciler: a
#: policy attached to or inherited by a namespace becomes a CronJob backing up its volumes).  Keyword
#: arguments: ``ci_ids`` (registry ids, of any kind) and ``user`` (only namespaces they may view; None:
#: all).  A receiver answers for the ids that are its namespace CIs, with the namespace's live
#: PersistentVolumeClaims (one LIST per cluster, not per namespace): ``{ci_id: {"cluster": cluster name,
#: "namespace": namespace name, "volumes": [PVC names, sorted]}}``; a namespace whose cluster could not be
#: read has ``"error": str`` (naming the cluster) and ``"volumes": []``.  Other ids are left out.  Nobody
#: connected (no k8s app): no CI is a namespace.
kubernetes_namespaces_requested = Signal()


#: Sent by change management (cmdb/changes/assessment.py) to learn whether the CIs a change touches
#: have a *verified* backup: one a restore test proved restorable.  Keyword arguments: ``ci_ids``
#: (registry ids) and ``at`` (an aware datetime: "verified as of").  A receiver returns
#: ``{ci_id: {"verified": bool, "why": str, "last_snapshot": iso str | None,
#: "last_restore_test": iso str | None}}`` for the CIs it knows (a CI left out is not verified),
#: or None.  Nobody connected (no backup app): the assessment says no verified backup is known.
backup_verified_for = Signal()

#: Sent by change management to count the incidents of some CIs in a period (the failure history
#: of a change's risk score).  Keyword arguments: ``ci_ids`` (registry ids) and ``since`` (an aware
#: datetime).  A receiver returns ``{ci_id: number of incidents started since then}`` (CIs without
#: incidents may be left out), or None.  Nobody connected (no monitoring app): incidents are unknown.
incidents_for = Signal()


def first_answer(signal: Signal, **kwargs: Any) -> Any:
    """The first receiver's non-None answer to ``signal`` (None when nobody answers).

    For hooks that ask a question one domain answers; a receiver's exception reaches the caller.
    """
    for _receiver, answer in signal.send(sender=None, **kwargs):
        if answer is not None:
            return answer
    return None
