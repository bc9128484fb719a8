"""KubeVirt plans against the real API server (k8s/testing) with the KubeVirt CRDs registered."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.conftest import (  # noqa: F401 - the API server fixtures
    apiserver_binaries,
    fresh_namespace,
    k8s_admin,
    k8s_dynamic,
    kube_apiserver,
)
from vdi.drivers import kubevirt

from .conftest import make_pool

pytestmark = pytest.mark.django_db
CRDS = Path(__file__).with_name("kubevirt-crds.yaml")


@pytest.fixture
def kubevirt_crds(k8s_admin: Any) -> None:  # noqa: F811
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    api = client.ApiextensionsV1Api(k8s_admin)
    for crd in yaml.safe_load_all(CRDS.read_text()):
        try:
            api.create_custom_resource_definition(crd)
        except ApiException as exc:
            if exc.status != 409:
                raise
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # established: the server serves the new kinds
        states = [api.read_custom_resource_definition(c["metadata"]["name"]).status.conditions or []
                  for c in yaml.safe_load_all(CRDS.read_text())]
        if all(any(x.type == "Established" and x.status == "True" for x in s) for s in states):
            return
        time.sleep(0.2)
    raise AssertionError("the KubeVirt CRDs were not established")


def test_a_pooled_pool_plans_creates_then_nothing_then_a_scale(vdi_world, kubevirt_crds, k8s_dynamic,  # noqa: F811
                                                              fresh_namespace):  # noqa: F811
    ns = fresh_namespace("vdi")
    pool = make_pool(vdi_world, "cad", gpu_profile=vdi_world.profile_2q, vcpus=4, memory_mb=8192, disk_gb=60)
    objects = kubevirt.render(pool, replicas=3, namespace=ns)
    spec = objects[0]["spec"]["virtualMachineTemplate"]["spec"]
    assert spec["template"]["spec"]["domain"]["devices"]["gpus"] == [{"name": "gpu0",
                                                                      "deviceName": "nvidia.com/NVIDIA-A16-2Q"}]
    assert spec["dataVolumeTemplates"][0]["spec"]["source"]["pvc"]["name"] == "golden-cad"
    assert [(i.action, i.kind, i.name) for i in kubevirt.plan(k8s_dynamic, objects)] == [
        ("create", "VirtualMachinePool", "cad")]
    assert kubevirt.apply(k8s_dynamic, objects) == [("cad", "ok", "applied")]
    assert [i.action for i in kubevirt.plan(k8s_dynamic, objects)] == ["none"]
    bigger = kubevirt.render(pool, replicas=5, namespace=ns)
    (item,) = kubevirt.plan(k8s_dynamic, bigger)
    assert item.action == "update" and item.diff == "spec.replicas: 3 -> 5"
    # The plan was a dry run: the server still has 3.
    live = k8s_dynamic.resources.get(api_version="pool.kubevirt.io/v1alpha1", kind="VirtualMachinePool").get(
        name="cad", namespace=ns)
    assert live.spec.replicas == 3


def test_a_persistent_pool_is_one_virtual_machine_per_desktop(vdi_world, kubevirt_crds, k8s_dynamic,  # noqa: F811
                                                             fresh_namespace):  # noqa: F811
    ns = fresh_namespace("vdi")
    pool = make_pool(vdi_world, "thesis", pool_type="persistent")
    objects = kubevirt.render(pool, replicas=2, desktops=["thesis-001", "thesis-002"], namespace=ns)
    assert [o["kind"] for o in objects] == ["VirtualMachine", "VirtualMachine"]
    assert [i.action for i in kubevirt.plan(k8s_dynamic, objects)] == ["create", "create"]
    assert [s for _, s, _ in kubevirt.apply(k8s_dynamic, objects)] == ["ok", "ok"]
    assert [i.action for i in kubevirt.plan(k8s_dynamic, objects)] == ["none", "none"]
