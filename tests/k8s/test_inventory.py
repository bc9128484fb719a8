"""Discovery of a cluster back into the CMDB (k8s/inventory.py): against the real kube-apiserver
(tests/k8s/conftest.py), plus the parts that need no server (image references, query counts).

Nodes, Deployments, StatefulSets, DaemonSets and CronJobs are created through the API; there is no
kubelet or controller-manager, so nodes carry the status we give them and workloads report nothing ready.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kubernetes import client

from cmdb.core.models.changelog import ObjectChange
from cmdb.services.models import Relationship
from cmdb.software.models import SoftwareInstallation
from k8s import inventory
from k8s.models import Cluster, Namespace, Node, Workload
from tests import factories

pytestmark = pytest.mark.django_db

#: Beyond the default K8S_STALE_AFTER (6h): a listing this much later flags what it misses.
LATER = dt.timedelta(hours=7)


@pytest.mark.parametrize(("reference", "expected"), [
    ("nginx", ("docker.io", "library/nginx", "latest")),
    ("nginx:1.25", ("docker.io", "library/nginx", "1.25")),
    ("bitnami/redis:7.2", ("docker.io", "bitnami/redis", "7.2")),
    ("registry.example.org:5000/team/app:2.0.1", ("registry.example.org:5000", "team/app", "2.0.1")),
    ("localhost/app", ("localhost", "app", "latest")),
    ("ghcr.io/org/tool@sha256:" + "a" * 64, ("ghcr.io", "org/tool", "sha256:" + "a" * 64)),
    ("quay.io/org/tool:v1@sha256:" + "b" * 64, ("quay.io", "org/tool", "v1")),
])
def test_image_references_become_product_and_version(reference: str, expected: tuple[str, str, str]) -> None:
    assert inventory.parse_image(reference) == expected


def _listing(n: int, suffix: str) -> inventory.Listing:
    """A synthetic cluster: n nodes, one namespace per workload, n workloads with two images each."""
    nodes = {f"node-{suffix}-{i}": {"system_uuid": "", "kubelet_version": "v1.20.2", "os_image": "Debian 12",
                                    "kernel_version": "6.1", "container_runtime": "containerd://1.6",
                                    "architecture": "amd64", "cpu": "8", "memory": "32Gi", "max_pods": 110,
                                    "ready": True} for i in range(n)}
    workloads = {(f"ns-{suffix}-{i}", "Deployment", f"app-{i}"): {
        "replicas": 2, "ready": 0, "images": [f"registry.example.org/{suffix}/app:{i}", "nginx:1.25"]}
        for i in range(n)}
    return inventory.Listing(nodes, {key[0] for key in workloads}, workloads)


def test_recording_costs_the_same_number_of_queries_for_5_or_50_objects() -> None:
    counts = []
    for n in (5, 50):
        suffix = secrets.token_hex(3)
        cluster = Cluster(name=f"q-{suffix}", api_url="https://127.0.0.1:1", credentials="env:CMDB_K8S_NONE")
        cluster.validated_save()
        inventory.record(cluster, _listing(n, suffix))  # the first sight: everything created
        listing = _listing(n, suffix)
        for values in listing.workloads.values():
            values["images"] = [values["images"][0].replace(":", ":new-")]  # every workload changes image
        gone = sorted(listing.nodes)[0]
        del listing.nodes[gone]
        with CaptureQueriesContext(connection) as queries:  # past the grace, so the missing node is stale
            found = inventory.record(cluster, listing, now=timezone.now() + LATER)
        counts.append(len(queries))
        assert found["nodes stale"] == 1 and found["workloads updated"] == n
        assert found["images added"] == n and found["images removed"] == 2 * n
    assert counts[0] == counts[1], counts


def test_a_namespace_declared_in_the_cmdb_is_not_unmanaged_and_is_kept() -> None:
    suffix = secrets.token_hex(3)
    tenant = factories.tenant(f"T {suffix}")
    cluster = Cluster(name=f"d-{suffix}", api_url="https://127.0.0.1:1", credentials="env:CMDB_K8S_NONE")
    cluster.validated_save()
    declared = Namespace(cluster=cluster, name="declared", tenant=tenant)
    declared.validated_save()
    counts = inventory.record(cluster, inventory.Listing({}, {"declared", "orphan"}, {}))
    assert counts["namespaces created"] == 1 and counts["namespaces unmanaged"] == 1
    orphan = Namespace.objects.get(cluster=cluster, name="orphan")
    assert (orphan.unmanaged, orphan.managed) == (True, False)
    declared.refresh_from_db()
    assert (declared.unmanaged, declared.managed, declared.stale) == (False, True, False)
    # Adopting the orphan (declaring it managed, for a tenant) clears the flag.
    orphan.managed, orphan.tenant = True, tenant
    orphan.validated_save()
    assert not Namespace.objects.get(pk=orphan.pk).unmanaged


# --- against the real API server -------------------------------------------------------------------------------


def _node(api: Any, name: str, uuid: str) -> None:
    client.CoreV1Api(api).create_node(client.V1Node(
        metadata=client.V1ObjectMeta(name=name),
        status=client.V1NodeStatus(
            capacity={"cpu": "16", "memory": "64Gi", "pods": "110"},
            conditions=[client.V1NodeCondition(type="Ready", status="True")],
            node_info=client.V1NodeSystemInfo(
                machine_id="m", system_uuid=uuid, boot_id="b", kernel_version="6.1.0-18-amd64",
                os_image="Debian GNU/Linux 12 (bookworm)", container_runtime_version="containerd://1.6.20",
                kubelet_version="v1.20.2", kube_proxy_version="v1.20.2", operating_system="linux",
                architecture="amd64"))))


def _pod(images: list[str]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}}


def _workloads(api: Any, dynamic: Any, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    selector = {"matchLabels": {"app": "x"}}
    apps.create_namespaced_deployment(namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": selector,
                 "template": _pod(["nginx:1.25", "registry.example.org/t/app:2.0"])}})
    apps.create_namespaced_stateful_set(namespace, {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 1, "serviceName": "db", "selector": selector, "template": _pod(["postgres:15.5"])}})
    apps.create_namespaced_daemon_set(namespace, {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": selector, "template": _pod(["ghcr.io/org/agent@sha256:" + "c" * 64])}})
    # v1.20 serves CronJob in batch/v1beta1 only: discovery must find it there.
    dynamic.resources.get(api_version="batch/v1beta1", kind="CronJob").create(namespace=namespace, body={
        "apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "report"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {
            "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "r", "image": "busybox:1.36"}]}}}}}})


def test_discovery_records_nodes_namespaces_workloads_and_images(
        k8s_cluster: Cluster, k8s_admin: Any, k8s_dynamic: Any, fresh_namespace: Any) -> None:
    from discovery.models import Host

    suffix = secrets.token_hex(3)
    tenant = factories.tenant(f"Physics {suffix}")
    # Node 1 is a VM that the host agent reported with the node's system UUID; node 2 is named like a device.
    vm = factories.vm(f"k8s-worker-{suffix}")
    uuid = f"4c4c4544-0042-{secrets.token_hex(2)}-8031-{secrets.token_hex(6)}"
    host = Host(name=f"agent-name-{suffix}", system_uuid=uuid, virtual_machine=vm)
    host.save()
    device = factories.device(f"k8s-metal-{suffix}")
    node_uuid, node_name = f"uuid-node-{suffix}", f"k8s-metal-{suffix}.example.org"
    _node(k8s_admin, node_uuid, uuid.upper())  # the kubelet reports it upper-case
    _node(k8s_admin, node_name, "00000000-0000-0000-0000-000000000000")
    managed = fresh_namespace("managed")
    Namespace(cluster=k8s_cluster, name=managed, tenant=tenant).validated_save()
    orphan = fresh_namespace("orphan")
    _workloads(k8s_admin, k8s_dynamic, orphan)

    result = inventory.discover_cluster(k8s_cluster)
    assert not result.error, result.error
    assert result.served_version.startswith("v1.20")
    assert result.unserved == []
    # One paged LIST per kind (6 kinds); the discovery documents are a fixed handful of calls.
    assert result.calls["list"] == 6, result.calls
    assert result.calls["discovery"] <= 5, result.calls

    by_uuid = Node.objects.get(cluster=k8s_cluster, name=node_uuid)
    assert (by_uuid.virtual_machine_id, by_uuid.device_id, by_uuid.link_rule) == (vm.pk, None, "system-uuid")
    assert (by_uuid.kubelet_version, by_uuid.os_image, by_uuid.cpu, by_uuid.memory, by_uuid.max_pods) == (
        "v1.20.2", "Debian GNU/Linux 12 (bookworm)", "16", "64Gi", 110)
    assert by_uuid.system_uuid == uuid and by_uuid.ready is True and by_uuid.last_seen is not None
    by_name = Node.objects.get(cluster=k8s_cluster, name=node_name)
    assert (by_name.device_id, by_name.virtual_machine_id, by_name.link_rule) == (device.pk, None, "name")

    ns_orphan = Namespace.objects.get(cluster=k8s_cluster, name=orphan)
    assert (ns_orphan.unmanaged, ns_orphan.managed) == (True, False)
    ns_managed = Namespace.objects.get(cluster=k8s_cluster, name=managed)
    assert not ns_managed.unmanaged and ns_managed.last_seen is not None

    workloads = {(w.kind, w.name): w for w in Workload.objects.filter(namespace=ns_orphan)}
    assert set(workloads) == {("Deployment", "web"), ("StatefulSet", "db"), ("DaemonSet", "agent"),
                              ("CronJob", "report")}
    web = workloads[("Deployment", "web")]
    assert (web.replicas, web.ready, web.images) == (3, 0, ["nginx:1.25", "registry.example.org/t/app:2.0"])
    edges = set(Relationship.objects.filter(type__slug="runs_on", target_id=ns_orphan.ci_id).values_list(
        "source_id", flat=True))
    assert edges == {w.ci_id for w in workloads.values()}
    installed = {(i.ci_id, i.version.product.vendor, i.version.product.name, i.version.version)
                 for i in SoftwareInstallation.objects.filter(source="kubernetes", ci_id__in=edges)
                 .select_related("version__product")}
    assert installed == {
        (web.ci_id, "docker.io", "library/nginx", "1.25"), (web.ci_id, "registry.example.org", "t/app", "2.0"),
        (workloads[("StatefulSet", "db")].ci_id, "docker.io", "library/postgres", "15.5"),
        (workloads[("DaemonSet", "agent")].ci_id, "ghcr.io", "org/agent", "sha256:" + "c" * 64),
        (workloads[("CronJob", "report")].ci_id, "docker.io", "library/busybox", "1.36"),
    }

    # Nothing changed on the cluster: a second discovery writes no change record.
    before = ObjectChange.objects.count()
    again = inventory.discover_cluster(k8s_cluster)
    assert not again.error and ObjectChange.objects.count() == before
    assert again.counts["workloads created"] == 0 and again.counts["images added"] == 0

    # Gone from the cluster: flagged stale (never deleted), with a change record; the rest stays current.
    client.AppsV1Api(k8s_admin).delete_namespaced_deployment("web", orphan)
    client.CoreV1Api(k8s_admin).delete_node(node_name)
    # Missing from one listing is not gone yet (K8S_STALE_AFTER, six hours by default) ...
    third = inventory.discover_cluster(k8s_cluster)
    assert third.counts["workloads stale"] == 0 and third.counts["nodes stale"] == 0
    assert not Workload.objects.get(pk=web.pk).stale
    # ... missing for longer is.
    third = inventory.discover_cluster(k8s_cluster, now=timezone.now() + LATER)
    assert third.counts["workloads stale"] == 1 and third.counts["nodes stale"] == 1
    web.refresh_from_db()
    by_name.refresh_from_db()
    assert web.stale and by_name.stale
    assert not Workload.objects.get(pk=workloads[("StatefulSet", "db")].pk).stale
    assert ObjectChange.objects.filter(changed_object_id=web.pk, action="update",
                                       source=f"k8s-discovery:{k8s_cluster.name}").exists()


def test_an_unreachable_cluster_or_a_wrong_token_is_a_failed_result_naming_the_cluster(
        k8s_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMDB_K8S_TEST_TOKEN", "not-the-token")
    result = inventory.discover_cluster(k8s_cluster)
    assert result.error.startswith(f"cluster {k8s_cluster.name} (") and "401" in result.error, result.error
    assert not Node.objects.filter(cluster=k8s_cluster).exists()
    gone = Cluster(name=f"gone-{secrets.token_hex(3)}", api_url="https://127.0.0.1:9",
                   ca_certificate=k8s_cluster.ca_certificate, credentials="env:CMDB_K8S_TEST_TOKEN")
    gone.validated_save()
    result = inventory.discover_cluster(gone)
    assert result.error.startswith(f"cluster {gone.name} (https://127.0.0.1:9)"), result.error


def test_node_links_need_one_candidate_and_a_manual_link_is_kept() -> None:
    """By system UUID only when the discovered hosts with it agree on one machine (cloned VMs share UUIDs);
    by name only when one device or VM has it; a link set by hand survives every discovery."""
    from discovery.models import Host

    suffix = secrets.token_hex(3)
    cluster = Cluster(name=f"l-{suffix}", api_url="https://127.0.0.1:1", credentials="env:CMDB_K8S_NONE")
    cluster.validated_save()
    clone_a, clone_b = factories.vm(f"clone-a-{suffix}"), factories.vm(f"clone-b-{suffix}")
    shared = f"shared-{suffix}"
    Host(name=f"ha-{suffix}", system_uuid=shared, virtual_machine=clone_a).save()
    Host(name=f"hb-{suffix}", system_uuid=shared, virtual_machine=clone_b).save()
    factories.vm(f"twin-{suffix}")
    factories.device(f"twin-{suffix}")
    manual_vm = factories.vm(f"manual-{suffix}")
    base = _listing(1, suffix)
    template = next(iter(base.nodes.values()))
    nodes = {f"clone-a-x-{suffix}": {**template, "system_uuid": shared},  # ambiguous UUID, no such name either
             f"twin-{suffix}": dict(template),  # a device and a VM of that name
             f"manual-{suffix}": dict(template)}
    inventory.record(cluster, inventory.Listing(nodes, set(), {}))
    found = {n.name: (n.device_id, n.virtual_machine_id, n.link_rule) for n in Node.objects.filter(cluster=cluster)}
    assert found[f"clone-a-x-{suffix}"] == (None, None, "")
    assert found[f"twin-{suffix}"] == (None, None, "")
    assert found[f"manual-{suffix}"] == (None, manual_vm.pk, "name")
    other = factories.vm(f"elsewhere-{suffix}")
    Node.objects.filter(cluster=cluster, name=f"manual-{suffix}").update(virtual_machine=other, link_rule="manual")
    inventory.record(cluster, inventory.Listing(nodes, set(), {}))
    kept = Node.objects.get(cluster=cluster, name=f"manual-{suffix}")
    assert (kept.virtual_machine_id, kept.link_rule) == (other.pk, "manual")


@pytest.mark.parametrize(("value", "seconds"), [
    ("6h", 6 * 3600), ("30m", 1800), ("2d", 2 * 86400), ("1w", 7 * 86400), ("90", 90), ("1.5h", 5400),
    (120, 120), (dt.timedelta(hours=3), 3 * 3600), ("0", 0),
])
def test_stale_after_durations(value: Any, seconds: int) -> None:
    assert inventory.parse_duration(value) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["six hours", "6x", "-1h", -5, "h"])
def test_a_wrong_stale_after_setting_names_the_setting(value: Any, settings: Any) -> None:
    settings.K8S_STALE_AFTER = value
    with pytest.raises(ImproperlyConfigured, match="K8S_STALE_AFTER"):
        inventory.stale_after()


def test_one_missed_listing_does_not_flag_and_the_grace_counts_from_last_seen(settings: Any) -> None:
    """A node, namespace and workload missing from listings are flagged only once they have not been seen
    for K8S_STALE_AFTER; a namespace the CMDB declares and that was never seen is never flagged."""
    settings.K8S_STALE_AFTER = "2h"
    suffix = secrets.token_hex(3)
    cluster = Cluster(name=f"g-{suffix}", api_url="https://127.0.0.1:1", credentials="env:CMDB_K8S_NONE")
    cluster.validated_save()
    # Declared in the CMDB and not created on the cluster yet: never seen, never stale.
    Namespace(cluster=cluster, name="planned", tenant=factories.tenant(f"G {suffix}")).validated_save()
    start = timezone.now()
    full = _listing(2, suffix)
    inventory.record(cluster, full, now=start)
    node, workload = sorted(full.nodes)[0], sorted(full.workloads)[0]
    partial = _listing(2, suffix)
    del partial.nodes[node], partial.workloads[workload]
    partial.namespaces.discard(workload[0])

    def flagged() -> set[str]:
        return ({n.name for n in Node.objects.filter(cluster=cluster, stale=True)}
                | {w.name for w in Workload.objects.filter(cluster=cluster, stale=True)}
                | {n.name for n in Namespace.objects.filter(cluster=cluster, stale=True)})

    # Missed by the listings an hour and 1h59 later: still within the grace.
    for minutes in (60, 119):
        counts = inventory.record(cluster, partial, now=start + dt.timedelta(minutes=minutes))
        assert counts["nodes stale"] == counts["workloads stale"] == counts["namespaces stale"] == 0
    assert flagged() == set()
    # Two hours after it was last seen: flagged, with its change record; the declared one is not.
    counts = inventory.record(cluster, partial, now=start + dt.timedelta(hours=2, minutes=1))
    assert (counts["nodes stale"], counts["workloads stale"], counts["namespaces stale"]) == (1, 1, 1)
    assert flagged() == {node, workload[2], workload[0]}
    assert ObjectChange.objects.filter(changed_object_id=Node.objects.get(cluster=cluster, name=node).pk,
                                       action="update", source=f"k8s-discovery:{cluster.name}").exists()
    # Back again: unflagged at once; and a listing that misses it once more starts the grace from now.
    back = start + dt.timedelta(hours=3)
    inventory.record(cluster, _listing(2, suffix), now=back)
    assert flagged() == set()
    inventory.record(cluster, partial, now=back + dt.timedelta(minutes=30))
    assert flagged() == set()
