"""``k8s.sync.in_sync``, the check that lets a no-change plan skip the server's dry run: it must say "in
sync" only when the live object carries every desired value and our manager owns exactly those fields."""

from __future__ import annotations

from typing import Any

from k8s.sync import in_sync

MANAGER = "cmdb-test"


DESIRED = {"apiVersion": "v1", "kind": "ResourceQuota",
           "metadata": {"name": "cmdb-quota", "namespace": "n", "labels": {"app.kubernetes.io/managed-by": MANAGER}},
           "spec": {"hard": {"requests.cpu": "2", "limits.memory": "4Gi"}}}


def _live(hard: dict[str, str], owned: dict[str, Any], manager: str = MANAGER) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "cmdb-quota", "namespace": "n", "labels": {"app.kubernetes.io/managed-by": MANAGER},
                         "managedFields": [{"manager": manager, "operation": "Apply", "fieldsV1": owned}]},
            "spec": {"hard": hard}, "status": {"hard": hard}}


def _owned_with_dotted_label() -> dict[str, Any]:
    # A label key with dots is one field ("f:app.kubernetes.io/managed-by"), not a path.
    return {"f:metadata": {"f:labels": {"f:app.kubernetes.io/managed-by": {}}},
            "f:spec": {"f:hard": {"f:requests.cpu": {}, "f:limits.memory": {}}}}


def test_in_sync_when_values_match_and_we_own_exactly_the_desired_fields() -> None:
    assert in_sync(DESIRED, _live({"requests.cpu": "2", "limits.memory": "4Gi"}, _owned_with_dotted_label()), MANAGER)
    # Quantities compare by value: the server may write 4096Mi for 4Gi.
    assert in_sync(DESIRED, _live({"requests.cpu": "2000m", "limits.memory": "4096Mi"}, _owned_with_dotted_label()),
                   MANAGER)


def test_not_in_sync_on_a_changed_or_missing_value_or_different_ownership() -> None:
    owned = _owned_with_dotted_label()
    assert not in_sync(DESIRED, _live({"requests.cpu": "3", "limits.memory": "4Gi"}, owned), MANAGER)
    assert not in_sync(DESIRED, _live({"requests.cpu": "2"}, owned), MANAGER)
    # We own a field the CMDB no longer wants (applying would remove it).
    extra = {**owned, "f:spec": {"f:hard": {"f:requests.cpu": {}, "f:limits.memory": {}, "f:pods": {}}}}
    assert not in_sync(DESIRED, _live({"requests.cpu": "2", "limits.memory": "4Gi", "pods": "5"}, extra), MANAGER)
    # Another manager took a field over: we do not own it any more.
    taken = {**owned, "f:spec": {"f:hard": {"f:limits.memory": {}}}}
    assert not in_sync(DESIRED, _live({"requests.cpu": "2", "limits.memory": "4Gi"}, taken), MANAGER)
    assert not in_sync(DESIRED, _live({"requests.cpu": "2", "limits.memory": "4Gi"}, owned, "kubectl"), MANAGER)
