"""Backup policies of Kubernetes namespaces: one CronJob per (namespace, policy), through the k8s domain.

Against the real kube-apiserver (tests/k8s/conftest.py; v1.20, which serves CronJob at ``batch/v1beta1``
only, so the k8s side's fallback from ``batch/v1`` is what these tests exercise): the backup reconciler's dry
run is the server's dry run of the CronJob, apply creates it with the cluster's field manager and labels,
a second plan is empty, a changed schedule is an update, a detached policy deletes it, the k8s reconciler's
own plans never see it and refuse to prune a namespace holding it.  The claims come from the server too.

**The one part not real: the CronJob never runs.**  The test server has no controller-manager, no scheduler
and no node (no kubelet), so no Job is created and no pod mounts the claims.  What the pod would run is
tested instead by running the rendered script (:func:`backup.kubernetes.script`) with the rendered
environment (``secretKeyRef`` resolved from a dict standing for the operator's Secret) against real restic
repositories on disk, with the claims as folders.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backup import kubernetes as kube
from backup import systemd as sd
from backup.models import Policy, PolicyAttachment
from cmdb.core import hooks
from tests import factories, reconcile_runs
from tests.k8s.conftest import (  # noqa: F401 - the API server fixtures
    apiserver_binaries,
    fresh_namespace,
    k8s_admin,
    k8s_cluster,
    k8s_dynamic,
    kube_apiserver,
)
from tests.reconcile_runs import apply

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def dry_run(scope: str) -> Any:
    return reconcile_runs.dry_run("backup", scope)


def claim(k8s_admin: Any, namespace: str, name: str) -> None:  # noqa: F811
    """A PersistentVolumeClaim on the server (it stays Pending: there is no controller to bind it)."""
    from kubernetes import client

    client.CoreV1Api(k8s_admin).create_namespaced_persistent_volume_claim(namespace, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})


def namespace_ci(cluster: Any, name: str, **extra: Any) -> Any:
    from k8s.models import Namespace

    ns = Namespace(cluster=cluster, name=name, tenant=factories.tenant(f"T {name}"), managed=False, **extra)
    ns.validated_save()
    return ns


def volume_policy(repos: Any, name: str = "Namespace volumes", **extra: Any) -> Policy:
    policy = repos.Policy(name=name, kubernetes_volumes=True, schedule="15 2 * * *", keep_daily=7, keep_weekly=4,
                          keep_monthly=0, repository=repos.primary, **extra)
    policy.validated_save()
    return policy


def cronjobs(k8s_dynamic: Any) -> Any:  # noqa: F811
    """The server's CronJob resource: ``batch/v1beta1`` on 1.20 (the version the k8s side fell back to)."""
    return k8s_dynamic.resources.get(api_version="batch/v1beta1", kind="CronJob")


def test_the_hook_answers_namespaces_with_their_claims_in_one_list_per_cluster(
        k8s_cluster, k8s_admin, fresh_namespace, monkeypatch):  # noqa: F811
    from k8s import sync
    from k8s.models import Cluster

    first, second = fresh_namespace("bk"), fresh_namespace("bk")
    for ns, name in ((first, "data"), (first, "db-data"), (second, "uploads")):
        claim(k8s_admin, ns, name)
    a, b = namespace_ci(k8s_cluster, first), namespace_ci(k8s_cluster, second)
    host = factories.device("web01")
    monkeypatch.setenv("CMDB_K8S_DOWN_TOKEN", "x")
    down = Cluster(name="down", api_url="https://127.0.0.1:1", credentials="env:CMDB_K8S_DOWN_TOKEN")
    down.validated_save()
    lost = namespace_ci(down, "lost")

    calls: list[tuple[str, str]] = []
    real_call = sync.Connection.call

    def counted(self: Any, counter: str, method: str, path: str, **kw: Any) -> Any:
        calls.append((method, path))
        return real_call(self, counter, method, path, **kw)

    monkeypatch.setattr(sync.Connection, "call", counted)
    answer = hooks.first_answer(hooks.kubernetes_namespaces_requested,
                                ci_ids=[a.ci_id, b.ci_id, host.ci_id, lost.ci_id], user=None)
    assert answer[a.ci_id] == {"cluster": k8s_cluster.name, "namespace": first, "volumes": ["data", "db-data"]}
    assert answer[b.ci_id] == {"cluster": k8s_cluster.name, "namespace": second, "volumes": ["uploads"]}
    assert host.ci_id not in answer  # not a namespace
    assert answer[lost.ci_id]["volumes"] == [] and answer[lost.ci_id]["error"].startswith("cluster down ")
    # One LIST per cluster: the whole cluster's claims for the two namespaces of the test cluster, the one
    # namespace's on the cluster that is down (tried once, failed).
    assert sorted(calls) == [("GET", "/api/v1/namespaces/lost/persistentvolumeclaims"),
                             ("GET", "/api/v1/persistentvolumeclaims")]
    # One namespace asked: the LIST is of that namespace only.
    calls.clear()
    answer = hooks.first_answer(hooks.kubernetes_namespaces_requested, ci_ids=[b.ci_id], user=None)
    assert answer[b.ci_id]["volumes"] == ["uploads"]
    assert calls == [("GET", f"/api/v1/namespaces/{second}/persistentvolumeclaims")]


def test_a_namespace_policy_is_a_cronjob_planned_applied_updated_and_deleted(
        repos, k8s_cluster, k8s_admin, k8s_dynamic, fresh_namespace):  # noqa: F811
    from k8s import sync

    name = fresh_namespace("bk")
    claim(k8s_admin, name, "data")
    claim(k8s_admin, name, "db")
    ns = namespace_ci(k8s_cluster, name)
    policy = volume_policy(repos)
    PolicyAttachment.objects.create(policy=policy, ci_id=ns.ci_id)
    job = kube.cronjob_name(policy.pk, policy.name)
    target = f"{k8s_cluster.name}/{name}"

    dry = dry_run(f"ci:{ns.ci_id}")
    assert (dry.status, dry.error, dry.targets, dry.drift_count) == ("completed", "", 1, 1), dry.summary
    (item,) = dry.plan.items.all()
    assert (item.operation, item.target, item.resource, item.ci_id) == ("create", target, f"CronJob {name}/{job}",
                                                                         ns.ci_id)
    assert '+ spec.schedule: "15 2 * * *"' in item.diff and '+ spec.concurrencyPolicy: "Forbid"' in item.diff
    assert "+ apiVersion: \"batch/v1beta1\"" in item.diff  # the server serves CronJob there only (1.20)
    assert '"claimName": "data", "readOnly": true' in item.diff and '"mountPath": "/data/db"' in item.diff
    assert "secretKeyRef" in item.diff and kube.secret_name("primary") in item.diff
    assert PASSWORD not in item.diff and "correct horse" not in json.dumps(item.data)  # references only
    assert cronjobs(k8s_dynamic).get(namespace=name).items == []  # a dry run

    done = apply(dry.plan)
    assert (done.status, done.applied_count, done.remaining_drift) == ("completed", 1, 0), done.error
    assert [(i.outcome, i.message) for i in done.plan.items.all()] == [("ok", "created")]
    live = cronjobs(k8s_dynamic).get(name=job, namespace=name).to_dict()
    assert live["spec"]["schedule"] == "15 2 * * *" and live["spec"]["concurrencyPolicy"] == "Forbid"
    labels = live["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == k8s_cluster.field_manager
    assert labels["cmdb/owner-set"] == f"backup-{k8s_cluster.name}"
    assert (labels[kube.POLICY_LABEL], labels[kube.CI_LABEL]) == (str(policy.pk), str(ns.ci_id))
    pod = live["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == kube.DEFAULT_IMAGE
    assert [(v["persistentVolumeClaim"]["claimName"], v["persistentVolumeClaim"]["readOnly"]) for v in pod["volumes"]
            ] == [("data", True), ("db", True)]
    assert [(m["mountPath"], m["readOnly"]) for m in container["volumeMounts"]] == [("/data/data", True),
                                                                                   ("/data/db", True)]
    env = {e["name"]: e for e in container["env"]}
    assert env["RESTIC_REPOSITORY"]["value"] == repos.primary.repo_url
    assert env["CMDB_RESTIC_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "cmdb-restic-primary",
                                                                        "key": "CMDB_RESTIC_PASSWORD"}
    assert "restic backup --host" in container["command"][2] and f"cmdb-policy={policy.pk}" in container["command"][2]
    assert dry_run(f"ci:{ns.ci_id}").drift_count == 0  # nothing left to do

    # The k8s reconciler's own plan of the namespace neither lists nor diffs nor prunes the CronJob.
    (own,) = sync.plan(scope=f"cluster:{k8s_cluster.name}", namespaces=[ns])
    assert own.error == "" and own.calls["list"] == len(sync.KINDS)
    assert not any(i.kind == "CronJob" for i in own.items)

    policy.schedule = "45 3 * * 1-5"
    policy.validated_save()
    change = dry_run(f"ci:{ns.ci_id}")
    (item,) = change.plan.items.all()
    assert item.operation == "update" and '~ spec.schedule: "15 2 * * *" → "45 3 * * 1-5"' in item.diff
    assert apply(change.plan).applied_count == 1
    assert cronjobs(k8s_dynamic).get(name=job, namespace=name).spec.schedule == "45 3 * * 1-5"

    PolicyAttachment.objects.filter(policy=policy).delete()
    gone = dry_run(f"ci:{ns.ci_id}")
    (item,) = gone.plan.items.all()
    assert (item.operation, item.resource) == ("delete", f"CronJob {name}/{job}")
    done = apply(gone.plan)
    assert (done.applied_count, done.remaining_drift) == (1, 0), done.error
    assert cronjobs(k8s_dynamic).get(namespace=name).items == []


def test_inherited_from_a_service_each_namespace_in_scope_only_and_the_others_kept(
        repos, k8s_cluster, k8s_admin, k8s_dynamic, fresh_namespace):  # noqa: F811
    """A service's policy covers the namespaces it runs on.  A run scoped to one namespace shows and applies
    only its CronJob, yet publishes the cluster's whole set, so the other namespace's CronJob is never deleted."""
    from cmdb.services.models import Relationship, Service
    from cmdb.services.relationships import ensure_builtin_types

    service = Service(name="Moodle", slug="moodle", criticality="high")
    service.save()
    names = [fresh_namespace("moodle"), fresh_namespace("moodle")]
    cis = []
    for name in names:
        claim(k8s_admin, name, "files")
        cis.append(namespace_ci(k8s_cluster, name))
        Relationship.objects.create(source_id=service.ci_id, target_id=cis[-1].ci_id,
                                    type=ensure_builtin_types()["runs_on"])
    policy = volume_policy(repos, name="Moodle files")
    PolicyAttachment.objects.create(policy=policy, ci_id=service.ci_id)
    job = kube.cronjob_name(policy.pk, policy.name)

    first = dry_run(f"ci:{cis[0].ci_id}")
    (item,) = first.plan.items.all()
    assert (item.operation, item.resource) == ("create", f"CronJob {names[0]}/{job}")
    assert "inherited from service Moodle (runs_on)" in item.diff  # the annotation says why
    assert apply(first.plan).applied_count == 1
    assert cronjobs(k8s_dynamic).get(namespace=names[1]).items == []  # out of scope: not applied

    second = dry_run(f"ci:{cis[1].ci_id}")
    assert [(i.operation, i.resource) for i in second.plan.items.all()] == [("create", f"CronJob {names[1]}/{job}")]
    assert apply(second.plan).applied_count == 1
    assert [c.metadata.name for c in cronjobs(k8s_dynamic).get(namespace=names[0]).items] == [job]  # kept
    assert dry_run("all").drift_count == 0


def test_a_namespace_holding_a_backup_cronjob_is_not_pruned(repos, k8s_cluster, k8s_admin,  # noqa: F811
                                                             fresh_namespace):  # noqa: F811
    from k8s import sync
    from k8s.models import Namespace

    name = f"bk-{secrets.token_hex(4)}"
    ns = Namespace(cluster=k8s_cluster, name=name, tenant=factories.tenant(f"T {name}"), pods=10)
    ns.validated_save()
    assert all(o.status == "ok" for o in sync.apply_plan(sync.plan(scope=f"cluster:{k8s_cluster.name}")))
    claim(k8s_admin, name, "data")
    policy = volume_policy(repos)
    PolicyAttachment.objects.create(policy=policy, ci_id=ns.ci_id)
    assert apply(dry_run(f"ci:{ns.ci_id}").plan).applied_count == 1

    Namespace.objects.filter(pk=ns.pk).update(managed=False)  # no longer wanted by the k8s domain
    (cluster_plan,) = [p for p in sync.plan() if p.cluster == k8s_cluster.name]
    (refused,) = [i for i in cluster_plan.items if i.kind == "Namespace"]
    assert refused.action == "error" and (
        f"CronJob {kube.cronjob_name(policy.pk, policy.name)} (backup-{k8s_cluster.name})" in refused.error)


@pytest.fixture
def no_k8s_domain() -> Iterator[None]:
    """Both hooks as they are without the k8s app: nobody answers."""
    from k8s.handoff import objects_published
    from k8s.receivers import NAMESPACES_UID, OBJECTS_UID
    from k8s.volumes import namespaces_requested

    assert hooks.kubernetes_objects_published.disconnect(dispatch_uid=OBJECTS_UID)
    assert hooks.kubernetes_namespaces_requested.disconnect(dispatch_uid=NAMESPACES_UID)
    try:
        yield
    finally:
        hooks.kubernetes_objects_published.connect(objects_published, dispatch_uid=OBJECTS_UID)
        hooks.kubernetes_namespaces_requested.connect(namespaces_requested, dispatch_uid=NAMESPACES_UID)


def test_without_the_kubernetes_domain_namespaces_are_not_targets(repos, no_k8s_domain, monkeypatch):
    from k8s.models import Cluster

    monkeypatch.setenv("CMDB_K8S_NONE_TOKEN", "x")
    cluster = Cluster(name="campus", api_url="https://127.0.0.1:1", credentials="env:CMDB_K8S_NONE_TOKEN")
    cluster.validated_save()
    ns = namespace_ci(cluster, "moodle")
    PolicyAttachment.objects.create(policy=volume_policy(repos), ci_id=ns.ci_id)
    run = dry_run(f"ci:{ns.ci_id}")
    assert (run.status, run.targets, run.drift_count) == ("completed", 0, 0), run.error


def test_an_unreachable_cluster_fails_its_namespaces_not_the_run(repos, monkeypatch):
    from k8s.models import Cluster

    monkeypatch.setenv("CMDB_K8S_NONE_TOKEN", "x")
    cluster = Cluster(name="campus", api_url="https://127.0.0.1:1", credentials="env:CMDB_K8S_NONE_TOKEN")
    cluster.validated_save()
    ns = namespace_ci(cluster, "moodle")
    PolicyAttachment.objects.create(policy=volume_policy(repos), ci_id=ns.ci_id)
    run = dry_run(f"ci:{ns.ci_id}")
    assert (run.status, run.targets, run.failed_count, run.drift_count) == ("failed", 1, 1, 0)
    assert run.summary["campus/moodle"]["message"].startswith("cluster campus (https://127.0.0.1:1): ")


def test_a_policy_has_exactly_one_source_through_the_api(api, repos):
    base = {"name": "two", "repository": repos.primary.pk, "schedule": "15 1 * * *"}
    r = api.post("/api/backup/policies/", {**base, "paths": ["/srv"], "kubernetes_volumes": True}, format="json")
    assert r.status_code == 400 and "not paths and kubernetes_volumes" in r.json()["kubernetes_volumes"][0]
    r = api.post("/api/backup/policies/", {**base, "kubernetes_volumes": True}, format="json")
    assert r.status_code == 201 and r.json()["kubernetes_volumes"] is True, r.content
    r = api.get("/api/backup/policies/?kubernetes_volumes=true")
    assert [p["name"] for p in r.json()["results"]] == ["two"]
    r = api.post("/api/backup/policies/", {**base, "name": "none"}, format="json")
    assert r.status_code == 400 and "kubernetes_volumes" in r.json()["paths"][0]


def test_the_rendered_script_backs_up_the_claims_with_real_restic(repos, tmp_path: Path):
    """What the pod would run, run here: the script with the rendered environment, the Secret's keys resolved from
    a dict (the operator's Secret), the claims as folders.  Twice, so keep_last 1 forgets one; the archive copy."""
    from backup import services

    root = tmp_path / "data"
    for claim_name, content in (("files", "moodle data"), ("db", "pg dump")):
        (root / claim_name).mkdir(parents=True)
        (root / claim_name / "content.txt").write_text(content)
    policy = repos.Policy(name="ns", kubernetes_volumes=True, keep_last=1, keep_daily=0, keep_weekly=0,
                          keep_monthly=0, repository=repos.primary, archive_repository=repos.archive,
                          archive_years=5, excludes=["*.tmp"])
    policy.validated_save()
    for repository in (repos.primary, repos.archive):
        assert services.init_repository(repository).ok
    p = kube.PolicyInNamespace(
        policy_id=policy.pk, policy_name=policy.name, ci_id=4242, cluster="campus", namespace="moodle",
        schedule=policy.schedule, volumes=("db", "files"), excludes=("*.tmp",), retention=policy.retention(),
        repository=kube.Repo("primary", sd.RepositoryAccess(repos.primary.repo_url, repos.primary.password_ref,
                                                                 {})),
        archive=kube.Repo("archive", sd.RepositoryAccess(repos.archive.repo_url, repos.archive.password_ref,
                                                              {})),
        archive_years=5)
    secret = {("cmdb-restic-primary", "CMDB_RESTIC_PASSWORD"): os.environ["CMDB_RESTIC_PASSWORD"],
              ("cmdb-restic-archive", "CMDB_RESTIC_ARCHIVE_PASSWORD"): os.environ["CMDB_RESTIC_ARCHIVE_PASSWORD"]}
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    for var in kube.environment(p):
        ref = (var.get("valueFrom") or {}).get("secretKeyRef")
        env[var["name"]] = secret[(ref["name"], ref["key"])] if ref else var["value"]
    for _ in range(2):
        done = subprocess.run(["sh", "-c", kube.script(p, data_root=str(root))], env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr

    def snapshots(url: str, password: str) -> list[dict[str, Any]]:
        out = subprocess.run(["restic", "-r", url, "snapshots", "--json"],
                             env={"PATH": env["PATH"], "HOME": env["HOME"], "RESTIC_PASSWORD": password},
                             capture_output=True, text=True, check=True, timeout=120)
        return json.loads(out.stdout)

    (kept,) = snapshots(repos.primary.repo_url, os.environ["CMDB_RESTIC_PASSWORD"])  # keep_last 1
    assert kept["hostname"] == "campus/moodle"
    assert sorted(kept["tags"]) == ["cmdb-ci=4242", f"cmdb-policy={policy.pk}"]
    assert sorted(kept["paths"]) == [str(root / "db"), str(root / "files")]
    archived = snapshots(repos.archive.repo_url, os.environ["CMDB_RESTIC_ARCHIVE_PASSWORD"])
    assert archived and {s["hostname"] for s in archived} == {"campus/moodle"}


def test_the_policy_form_and_page_show_the_source(client, superuser, repos):
    policy = volume_policy(repos, name="Moodle volumes")
    client.force_login(superuser)
    form = client.get("/backup/policies/add/").content.decode()
    assert 'name="kubernetes_volumes"' in form
    detail = client.get(f"/backup/policies/{policy.pk}/").content.decode()
    assert "Kubernetes volumes" in detail or "kubernetes_volumes" in detail
