"""The test API server is a genuine Kubernetes API server: the behaviours the k8s reconciler
relies on, checked with the official ``kubernetes`` client against k8s/testing/apiserver.py."""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import (
    ConflictError,
    InternalServerError,
    NotFoundError,
    ResourceNotFoundError,
    UnprocessibleEntityError,
)

from k8s.testing import apiserver

FIELD_MANAGER = "cmdb"


def config_map(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def test_serves_the_built_version(k8s_admin: Any) -> None:
    info = client.VersionApi(k8s_admin).get_code()
    assert (info.git_version, info.major, info.minor) == (apiserver.VERSION, "1", "20")


def test_namespaces_are_created(k8s_admin: Any, fresh_namespace: Callable[..., str]) -> None:
    name = fresh_namespace()
    core = client.CoreV1Api(k8s_admin)
    assert core.read_namespace(name).status.phase == "Active"
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert {name, "default", "kube-system"} <= names


def test_server_side_apply_with_dry_run_then_for_real(k8s_dynamic: Any, fresh_namespace: Callable[..., str]) -> None:
    namespace = fresh_namespace()
    config_maps = k8s_dynamic.resources.get(api_version="v1", kind="ConfigMap")
    body = config_map("quota", namespace, {"cpu": "4"})

    planned = k8s_dynamic.server_side_apply(config_maps, body=body, field_manager=FIELD_MANAGER, dry_run="All")
    assert planned.data.cpu == "4"
    assert planned.metadata.uid and planned.metadata.creationTimestamp  # filled in by the server
    with pytest.raises(NotFoundError):
        config_maps.get(name="quota", namespace=namespace)  # a dry run persists nothing

    applied = k8s_dynamic.server_side_apply(config_maps, body=body, field_manager=FIELD_MANAGER)
    live = config_maps.get(name="quota", namespace=namespace)
    # Applying the same desired state again is a no-op: the object is not written (same resourceVersion).
    again = k8s_dynamic.server_side_apply(config_maps, body=body, field_manager=FIELD_MANAGER)
    assert again.metadata.resourceVersion == live.metadata.resourceVersion == applied.metadata.resourceVersion
    assert live.data.cpu == "4"
    assert live.metadata.uid == applied.metadata.uid
    owners = {(entry.manager, entry.operation) for entry in live.metadata.managedFields}
    assert (FIELD_MANAGER, "Apply") in owners

    # A changed desired state is planned by the server without touching the live object.
    changed = config_map("quota", namespace, {"cpu": "8"})
    planned = k8s_dynamic.server_side_apply(config_maps, body=changed, field_manager=FIELD_MANAGER, dry_run="All")
    assert planned.data.cpu == "8"
    assert config_maps.get(name="quota", namespace=namespace).data.cpu == "4"


def test_apply_over_another_managers_field_is_a_409_conflict(
    k8s_dynamic: Any, fresh_namespace: Callable[..., str]
) -> None:
    namespace = fresh_namespace()
    config_maps = k8s_dynamic.resources.get(api_version="v1", kind="ConfigMap")
    k8s_dynamic.server_side_apply(
        config_maps, body=config_map("owner", namespace, {"owner": "alice"}), field_manager="someone-else"
    )
    ours = config_map("owner", namespace, {"owner": "bob"})

    for dry_run in ("All", None):  # the plan (server dry run) sees the conflict, as does the apply
        with pytest.raises(ConflictError) as raised:
            k8s_dynamic.server_side_apply(config_maps, body=ours, field_manager=FIELD_MANAGER, dry_run=dry_run)
        assert raised.value.status == 409
        status = json.loads(raised.value.body)
        assert status["reason"] == "Conflict"
        causes = status["details"]["causes"]
        assert [cause["field"] for cause in causes] == [".data.owner"]
        assert "someone-else" in causes[0]["message"]
    assert config_maps.get(name="owner", namespace=namespace).data.owner == "alice"  # left alone

    # Only with force does the field change hands.
    k8s_dynamic.server_side_apply(config_maps, body=ours, field_manager=FIELD_MANAGER, force_conflicts=True)
    live = config_maps.get(name="owner", namespace=namespace)
    assert live.data.owner == "bob"
    entries = live.to_dict()["metadata"]["managedFields"]
    owned = [(entry["manager"], entry["fieldsV1"]) for entry in entries]
    assert owned == [(FIELD_MANAGER, {"f:data": {"f:owner": {}}})]  # the other manager owns nothing now


def test_pods_need_a_service_account_and_token_no_controller_creates(
    k8s_admin: Any, fresh_namespace: Callable[..., str]
) -> None:
    namespace = fresh_namespace()
    core = client.CoreV1Api(k8s_admin)
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx:1.25")]),
    )
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_pod(namespace, pod, dry_run="All")
    assert raised.value.status == 403
    assert 'serviceaccount "default" not found' in json.loads(raised.value.body)["message"]
    account = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="default"))
    core.create_namespaced_service_account(namespace, account)
    # Nor does a token controller fill the account with a token: a pod that mounts one waits for it ...
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_pod(namespace, pod, dry_run="All")
    assert raised.value.status == 500
    assert "No API token found for service account" in json.loads(raised.value.body)["message"]
    # ... and one that does not mount a token is admitted.
    pod.spec.automount_service_account_token = False
    planned = core.create_namespaced_pod(namespace, pod, dry_run="All")
    assert planned.spec.service_account_name == "default"  # admission filled it in
    assert planned.spec.containers[0].image_pull_policy == "IfNotPresent"  # a server default


def test_cronjob_is_served_by_batch_v1beta1_not_batch_v1(
    k8s_dynamic: Any, fresh_namespace: Callable[..., str]
) -> None:
    v1 = {resource.name for resource in k8s_dynamic.request("get", "/apis/batch/v1").resources}
    v1beta1 = {resource.name for resource in k8s_dynamic.request("get", "/apis/batch/v1beta1").resources}
    assert "jobs" in v1 and "cronjobs" not in v1
    assert "cronjobs" in v1beta1
    with pytest.raises(ResourceNotFoundError):
        k8s_dynamic.resources.get(api_version="batch/v1", kind="CronJob")

    namespace = fresh_namespace()
    cronjobs = k8s_dynamic.resources.get(api_version="batch/v1beta1", kind="CronJob")
    body = {
        "apiVersion": "batch/v1beta1",
        "kind": "CronJob",
        "metadata": {"name": "backup", "namespace": namespace},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"restartPolicy": "Never", "containers": [{"name": "backup", "image": "busybox:1.36"}]}
                    }
                }
            },
        },
    }
    applied = k8s_dynamic.server_side_apply(cronjobs, body=body, field_manager=FIELD_MANAGER)
    assert applied.spec.concurrencyPolicy == "Allow"  # the server's default
    assert cronjobs.get(name="backup", namespace=namespace).spec.schedule == "0 3 * * *"


def test_custom_resource_definition_and_custom_objects(
    kube_apiserver: apiserver.KubeApiServer, k8s_admin: Any, k8s_dynamic: Any, fresh_namespace: Callable[..., str],
    tmp_path: Path,
) -> None:
    group = f"t{secrets.token_hex(3)}.cmdb.example.org"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer", "minimum": 1},
                                        "color": {"type": "string", "default": "blue"},
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    crds = k8s_dynamic.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    k8s_dynamic.server_side_apply(crds, body=crd, field_manager=FIELD_MANAGER)
    deadline = time.monotonic() + 30
    while True:
        conditions = crds.get(name=f"widgets.{group}").status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            break
        assert time.monotonic() < deadline, f"CRD not established: {conditions}"
        time.sleep(0.2)

    dynamic = DynamicClient(k8s_admin, cache_file=str(tmp_path / "discovery-after-crd.json"))
    widgets = dynamic.resources.get(api_version=f"{group}/v1", kind="Widget")
    namespace = fresh_namespace()
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": namespace}}

    planned = dynamic.server_side_apply(
        widgets, body={**widget, "spec": {"size": 3}}, field_manager=FIELD_MANAGER, dry_run="All"
    )
    assert planned.spec.color == "blue"  # the schema's default, applied by the server
    with pytest.raises(NotFoundError):
        widgets.get(name="w1", namespace=namespace)

    dynamic.server_side_apply(widgets, body={**widget, "spec": {"size": 3}}, field_manager=FIELD_MANAGER)
    live = widgets.get(name="w1", namespace=namespace)
    assert (live.spec.size, live.spec.color) == (3, "blue")

    with pytest.raises(UnprocessibleEntityError) as raised:  # the schema is enforced
        dynamic.server_side_apply(widgets, body={**widget, "spec": {"size": 0}}, field_manager=FIELD_MANAGER)
    assert "spec.size" in json.loads(raised.value.body)["message"]
    # v1.20 answers a value of the wrong type in an apply with a 500, not a 422: a client must cope.
    with pytest.raises(InternalServerError) as raised:
        dynamic.server_side_apply(widgets, body={**widget, "spec": {"size": "big"}}, field_manager=FIELD_MANAGER)
    assert "failed to create typed patch object: .spec.size" in json.loads(raised.value.body)["message"]
    assert widgets.get(name="w1", namespace=namespace).spec.size == 3


def test_unprivileged_token_is_forbidden_until_a_role_binding_allows(
    kube_apiserver: apiserver.KubeApiServer,
    k8s_admin: Any,
    k8s_viewer: Any,
    fresh_namespace: Callable[..., str],
) -> None:
    viewer = client.CoreV1Api(k8s_viewer)
    # Authenticated (discovery and /version are open to every authenticated user) ...
    assert client.VersionApi(k8s_viewer).get_code().git_version == apiserver.VERSION
    # ... but not authorized.
    with pytest.raises(ApiException) as raised:
        viewer.list_namespace()
    assert raised.value.status == 403
    message = json.loads(raised.value.body)["message"]
    assert f'User "{kube_apiserver.viewer_user}" cannot list resource "namespaces"' in message
    with pytest.raises(ApiException) as raised:
        viewer.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=f"v-{secrets.token_hex(4)}")))
    assert raised.value.status == 403

    granted, other = fresh_namespace(), fresh_namespace()
    client.RbacAuthorizationV1Api(k8s_admin).create_namespaced_role_binding(
        granted,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="viewer-view"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="view"),
            subjects=[
                client.RbacV1Subject(
                    kind="User", name=kube_apiserver.viewer_user, api_group="rbac.authorization.k8s.io"
                )
            ],
        ),
    )
    # The RBAC authorizer reads bindings from an informer cache: the grant takes effect a moment later.
    deadline = time.monotonic() + 30
    while True:
        try:
            assert viewer.list_namespaced_config_map(granted).items == []
            break
        except ApiException as exc:
            assert exc.status == 403 and time.monotonic() < deadline, exc
            time.sleep(0.1)
    with pytest.raises(ApiException) as raised:
        viewer.list_namespaced_config_map(other)
    assert raised.value.status == 403


def test_aggregated_cluster_roles_are_filled_as_the_controller_manager_would(
    kube_apiserver: apiserver.KubeApiServer, k8s_admin: Any
) -> None:
    rbac = client.RbacAuthorizationV1Api(k8s_admin)
    view, edit, admin = (rbac.read_cluster_role(name) for name in ("view", "edit", "admin"))

    def allows(role: Any, verb: str, resource: str, group: str = "") -> bool:
        return any(
            group in (rule.api_groups or []) and resource in (rule.resources or []) and verb in rule.verbs
            for rule in role.rules or []
        )

    assert view.aggregation_rule and allows(view, "list", "configmaps")  # from system:aggregate-to-view
    assert not allows(view, "create", "configmaps")
    assert allows(edit, "list", "configmaps") and allows(edit, "create", "configmaps")  # edit takes view's
    assert allows(edit, "create", "deployments", "apps")
    assert not allows(edit, "create", "rolebindings", "rbac.authorization.k8s.io")
    assert allows(admin, "create", "rolebindings", "rbac.authorization.k8s.io")  # admin takes edit's
    assert allows(admin, "list", "configmaps")
    assert kube_apiserver.aggregate_cluster_roles() == []  # nothing left to do


def test_wrong_token_is_unauthorized(kube_apiserver: apiserver.KubeApiServer) -> None:
    stranger = config.new_client_from_config(config_file=str(kube_apiserver.kubeconfig(token="not-a-token")))
    try:
        with pytest.raises(ApiException) as raised:
            client.CoreV1Api(stranger).list_namespace()
        assert raised.value.status == 401
    finally:
        stranger.close()


def test_tls_is_verified_against_the_servers_ca(kube_apiserver: apiserver.KubeApiServer, tmp_path: Path) -> None:
    kubeconfig = json.loads(kube_apiserver.kubeconfig().read_text())
    assert "insecure-skip-tls-verify" not in kubeconfig["clusters"][0]["cluster"]
    # Another CA (a throwaway self-signed certificate) must not be accepted.
    foreign_ca = tmp_path / "foreign.crt"
    apiserver._openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=foreign", "-days", "1",
        "-keyout", str(tmp_path / "foreign.key"), "-out", str(foreign_ca),
    )
    kubeconfig["clusters"][0]["cluster"]["certificate-authority"] = str(foreign_ca)
    path = tmp_path / "foreign-kubeconfig.json"
    path.write_text(json.dumps(kubeconfig))
    stranger = config.new_client_from_config(config_file=str(path))
    try:
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            client.VersionApi(stranger).get_code()
    finally:
        stranger.close()


def test_failed_startup_reports_both_logs_and_leaves_nothing(apiserver_binaries: None) -> None:
    with pytest.raises(apiserver.ApiServerStartError) as raised:
        apiserver.start(extra_args=["--no-such-flag"], timeout=60)
    message = str(raised.value)
    assert "kube-apiserver exited with status" in message
    assert "unknown flag: --no-such-flag" in message  # from kube-apiserver's log
    assert "etcd.log" in message and "serving client traffic" in message  # from etcd's log, which had started
    assert raised.value.workdir is not None and not raised.value.workdir.exists()
    assert len(raised.value.pids) == 2
    for pid in raised.value.pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_port_taken_before_the_bind_is_retried_on_other_ports(
    apiserver_binaries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    real_free_ports = apiserver.free_ports
    calls: list[list[int]] = []

    def first_one_taken(count: int) -> list[int]:
        ports = real_free_ports(count)
        if not calls:
            ports[0] = taken.getsockname()[1]  # etcd's client port: in use by the time etcd binds it
        calls.append(ports)
        return ports

    monkeypatch.setattr(apiserver, "free_ports", first_one_taken)
    try:
        server = apiserver.start(timeout=90)
    finally:
        taken.close()
    try:
        assert len(calls) == 2
        assert server.etcd_url == f"http://127.0.0.1:{calls[1][0]}"
        assert server.request("GET", "/version")["gitVersion"] == apiserver.VERSION
    finally:
        server.stop()
    assert not server.workdir.exists()
