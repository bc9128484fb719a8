"""The real Kubernetes API server for tests (k8s/testing/apiserver.py): one etcd + kube-apiserver
pair per test session, on free loopback ports, with an admin and an unprivileged token.

It skips when the binary has not been built, saying how to build it; under CI=true the root
conftest turns that skip into a failure, and .ci/run builds the binary first.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from k8s.testing import apiserver


@pytest.fixture(scope="session")
def apiserver_binaries() -> None:
    """Skip (a failure under CI=true) when kube-apiserver or etcd is missing, saying how to get them."""
    missing = apiserver.missing_binaries()
    if missing:
        pytest.skip("; ".join(missing))


@pytest.fixture(scope="session")
def kube_apiserver(apiserver_binaries: None) -> Iterator[apiserver.KubeApiServer]:
    server = apiserver.start()
    try:
        yield server
    finally:
        server.stop()


def _api_client(server: apiserver.KubeApiServer, token: str) -> Any:
    from kubernetes import config

    return config.new_client_from_config(config_file=str(server.kubeconfig(token=token)))


@pytest.fixture(scope="session")
def k8s_admin(kube_apiserver: apiserver.KubeApiServer) -> Iterator[Any]:
    """A ``kubernetes.client.ApiClient`` for the admin (``system:masters``), loaded from a kubeconfig."""
    client = _api_client(kube_apiserver, kube_apiserver.admin_token)
    yield client
    client.close()


@pytest.fixture(scope="session")
def k8s_viewer(kube_apiserver: apiserver.KubeApiServer) -> Iterator[Any]:
    """A ``kubernetes.client.ApiClient`` for a user with no role binding of its own."""
    client = _api_client(kube_apiserver, kube_apiserver.viewer_token)
    yield client
    client.close()


@pytest.fixture
def k8s_dynamic(kube_apiserver: apiserver.KubeApiServer, k8s_admin: Any, tmp_path: Any) -> Any:
    """A dynamic client for the admin whose discovery cache lives in this test's directory (the
    default cache in /tmp is keyed by host and port, and ports are reused across sessions)."""
    from kubernetes.dynamic import DynamicClient

    return DynamicClient(k8s_admin, cache_file=str(tmp_path / "discovery.json"))


@pytest.fixture
def fresh_namespace(k8s_admin: Any) -> Callable[[], str]:
    """Create a namespace with a name no earlier test used (deleted namespaces never finish
    terminating: there is no controller-manager) and return its name."""
    from kubernetes import client

    def make(prefix: str = "t") -> str:
        name = f"{prefix}-{secrets.token_hex(4)}"
        client.CoreV1Api(k8s_admin).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        return name

    return make


@pytest.fixture
def k8s_cluster(db: Any, kube_apiserver: apiserver.KubeApiServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A ``k8s.Cluster`` CI for the test server, its token in ``CMDB_K8S_TEST_TOKEN``.  Its field manager (and so
    the managed-by label the reconciler lists by) is new per test, so tests on the shared server never see each
    other's objects."""
    from k8s.models import Cluster

    monkeypatch.setenv("CMDB_K8S_TEST_TOKEN", kube_apiserver.admin_token)
    suffix = secrets.token_hex(3)
    cluster = Cluster(name=f"test-{suffix}", api_url=kube_apiserver.host,
                      ca_certificate=kube_apiserver.ca_path.read_text(),
                      credentials="env:CMDB_K8S_TEST_TOKEN", field_manager=f"cmdb-{suffix}")
    cluster.validated_save()
    return cluster
