"""The Ansible reconciler's place in the framework, without running Ansible: declared options, scope,
and a run that cannot start because ansible-runner is missing (named, and its job failed)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from cmdb.jobs.models import Job
from cmdb.jobs.worker import run_tasks
from cmdb.reconcile.base import options_errors
from cmdb.reconcile.models import ReconcileRun
from cmdb.reconcile.services import run_errors, run_request
from playbooks.reconcilers import AnsibleReconciler, inventory_for_scope, playbooks
from tests import factories as f
from tests.jobs.conftest import DB_TASKS

pytestmark = pytest.mark.django_db(transaction=True)


def test_declared_options_are_validated() -> None:
    assert [o.name for o in AnsibleReconciler.options] == ["playbook", "facts", "tags"]
    assert "baseline.yml" in playbooks()
    assert options_errors(AnsibleReconciler, {"playbook": "baseline.yml", "facts": False, "tags": "motd,ntp"}) == {}
    errors = options_errors(AnsibleReconciler, {"playbook": "../../etc/passwd.yml", "facts": "no",
                                                "tags": "motd --extra-vars x=1", "forks": 5})
    assert errors["playbook"].startswith("Give one of baseline.yml")
    assert errors["facts"].startswith("Give a bool")
    assert errors["tags"] == "Give tag names separated by commas."
    assert errors["forks"] == "Unknown option of ansible; declared: playbook, facts, tags."
    assert options_errors(AnsibleReconciler, {"tags": "-v"}) == {"tags": "Give tag names separated by commas."}


def test_scope_of_the_inventory_hook_uses_the_framework_grammar() -> None:
    w = f.world()
    inventory = inventory_for_scope("tag:red site:zittau")
    assert sorted(inventory["_meta"]["hostvars"]) == ["web01", "web02"]
    assert sorted(inventory_for_scope("kind:virtualization.virtualmachine")["_meta"]["hostvars"]) == ["vm-a", "vm-b"]
    assert run_errors(reconciler="ansible", scope=f"ci:{w.devices['db01'].ci_id}") == {}
    with pytest.raises(ValueError, match="Unknown scope term"):
        inventory_for_scope("bogus:x")


def test_a_run_that_cannot_start_names_the_missing_piece_and_fails_its_job(settings: Any, monkeypatch: Any) -> None:
    settings.TASKS = DB_TASKS
    f.world()
    monkeypatch.setitem(sys.modules, "ansible_runner", None)  # as if ansible-runner were not installed
    run = run_request(reconciler="ansible", scope="name:web01")
    run_tasks(holder="w", burst=True, fork=False)
    run = ReconcileRun.objects.get(pk=run.pk)
    job = Job.objects.get(pk=run.job_id)
    assert run.status == "failed" and "needs ansible-runner" in run.error
    assert job.status == "failed" and "needs ansible-runner (and ansible-core)" in job.error
    assert "ModuleNotFoundError" not in job.log[-1]["message"]
