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
