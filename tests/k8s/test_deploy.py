"""The CMDB's own deployment manifests (k8s/deploy/) pass a server-side dry run on the real kube-apiserver, and
say what a production deployment needs: non-root pods, resource requests, probes on a real page, a PDB, a
migration Job, the database and Redis URLs from a Secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "k8s" / "deploy"


def manifests() -> list[dict[str, Any]]:
    """The kustomization's resources as kustomize would emit them (its namespace, labels and image applied)."""
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    image = kustomization["images"][0]
    labels = kustomization["labels"][0]["pairs"]
    docs = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((DEPLOY / name).read_text()):
            doc["metadata"]["namespace"] = kustomization["namespace"]
            doc["metadata"].setdefault("labels", {}).update(labels)
            for pod in _pod_specs(doc):
                for container in pod["containers"]:
                    if container["image"] == image["name"]:
                        container["image"] = f"{image['newName']}:{image['newTag']}"
            docs.append(doc)
    return docs


def _pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    template = (doc.get("spec") or {}).get("template")
    return [template["spec"]] if template else []


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    on_disk = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == on_disk


def test_what_production_needs_is_there() -> None:
    docs = manifests()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {("Deployment", "cmdb-web"), ("Deployment", "cmdb-worker"), ("Deployment", "cmdb-scheduler"),
            ("Job", "cmdb-migrate"), ("Service", "cmdb-web"), ("PodDisruptionBudget", "cmdb-web")} <= kinds
    for doc in docs:
        for pod in _pod_specs(doc):
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["automountServiceAccountToken"] is False
            for container in pod["containers"]:
                assert container["resources"]["requests"], doc["metadata"]["name"]
                assert container["securityContext"]["allowPrivilegeEscalation"] is False
                refs = [ref.get("secretRef", {}).get("name") for ref in container["envFrom"]]
                assert "cmdb-secrets" in refs
    web = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "cmdb-web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["cmdb", "serve"]
    assert container["readinessProbe"]["httpGet"]["path"] == container["livenessProbe"]["httpGet"]["path"] == "/login/"
    job = next(d for d in docs if d["kind"] == "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["cmdb", "migrate", "--noinput"]
    secret_keys = set(yaml.safe_load((DEPLOY / "secret.example.yaml").read_text())["stringData"])
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= secret_keys


def test_the_probe_path_is_a_real_page(client: Any, db: Any) -> None:
    assert client.get("/login/", HTTP_HOST="localhost").status_code == 200


def test_server_side_dry_run_of_every_manifest(k8s_dynamic: Any, fresh_namespace: Callable[..., str]) -> None:
    namespace = fresh_namespace("cmdb")
    served = {group.name: [v.version for v in group.versions] for group in
              k8s_dynamic.request("get", "/apis").groups}
    answers = {}
    for doc in manifests():
        doc["metadata"]["namespace"] = namespace
        group, _, version = doc["apiVersion"].rpartition("/")
        if group and version not in served.get(group, []):
            # policy/v1 PodDisruptionBudgets arrived in 1.21 (the manifests target current clusters);
            # the test server (1.20) validates the same fields under policy/v1beta1.
            assert (group, doc["kind"]) == ("policy", "PodDisruptionBudget"), doc["apiVersion"]
            doc["apiVersion"] = f"{group}/v1beta1"
        resource = k8s_dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        answer = k8s_dynamic.server_side_apply(resource, body=doc, field_manager="cmdb-deploy-test", dry_run="All")
        answers[(doc["kind"], doc["metadata"]["name"])] = answer
    web = answers[("Deployment", "cmdb-web")]
    assert web.spec.strategy.type == "RollingUpdate"  # the server's default, from the dry run
    assert web.spec.template.spec.containers[0].image == "registry.example.org/cmdb:latest"
    assert answers[("Deployment", "cmdb-scheduler")].spec.strategy.type == "Recreate"
    # A dry run persists nothing.
    deployments = k8s_dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.get(namespace=namespace).items == []


@pytest.fixture
def client(db: Any) -> Any:
    from django.test import Client

    return Client()
