"""Relationship validation, change logging, idempotent ensure, user-defined types, bulk writes."""

from __future__ import annotations

import pytest

from cmdb.core.context import change_logging
from cmdb.core.models import ObjectChange
from cmdb.core.services import BatchValidationError, objects_create
from cmdb.services.models import RedundancyGroup, RedundancyMember, Relationship, RelationshipType
from cmdb.services.relationships import ensure_builtin_types, relationship_ensure

from .graphs import G

pytestmark = pytest.mark.django_db


def create(items):
    with change_logging(source="test"):
        return objects_create(Relationship, items)


def test_no_self_edges_and_no_duplicates() -> None:
    g = G()
    g.ci("a")
    g.ci("b")
    t = g.types["depends_on"]
    with pytest.raises(BatchValidationError) as exc:
        create([{"source_id": g["a"], "target_id": g["a"], "type": t}])
    assert "itself" in str(exc.value.errors[0]["target"])
    create([{"source_id": g["a"], "target_id": g["b"], "type": t}])
    with pytest.raises(BatchValidationError) as exc:
        create([{"source_id": g["a"], "target_id": g["b"], "type": t}])
    assert exc.value.errors[0]
    with pytest.raises(BatchValidationError):
        create([{"source_id": g["b"], "target_id": g["a"], "type": t}] * 2)  # duplicate within the batch


def test_user_defined_type_with_inverse_and_allowed_kinds() -> None:
    g = G()
    g.ci("host1")
    g.ci("rack1", kind="dcim.rack")
    g.ci("vm1", kind="virtualization.virtualmachine")
    located = RelationshipType.objects.create(
        name="located in", slug="located_in", inverse_name="contains",
        allowed_source_kinds=["dcim.device"], allowed_target_kinds=["dcim.rack"])
    create([{"source_id": g["host1"], "target_id": g["rack1"], "type": located}])
    with pytest.raises(BatchValidationError) as exc:
        create([{"source_id": g["host1"], "target_id": g["rack1"], "type": located, "origin": "x"},
                {"source_id": g["vm1"], "target_id": g["rack1"], "type": located}])
    errors = exc.value.errors
    assert "virtualization.virtualmachine" in errors[1]["source"][0]
    assert Relationship.objects.count() == 1  # all or nothing
    bad = RelationshipType(name="bad", slug="bad", inverse_name="dab", allowed_source_kinds=["device"])
    with pytest.raises(Exception, match="CI kinds"):
        bad.full_clean()


def test_writes_are_change_logged_and_ensure_is_idempotent() -> None:
    g = G()
    g.ci("vm")
    g.ci("hv")
    rel, created = relationship_ensure(source_ci_id=g["vm"], target_ci_id=g["hv"], type_slug="hosted_on",
                                       source="discovery")
    assert created and rel.origin == "discovery"
    again, created = relationship_ensure(source_ci_id=g["vm"], target_ci_id=g["hv"], type_slug="hosted_on",
                                         source="discovery")
    assert not created and again.pk == rel.pk
    change = ObjectChange.objects.filter(changed_object_id=rel.pk, changed_object_type__model="relationship").get()
    assert change.action == "create" and change.source == "discovery"
    with pytest.raises(ValueError, match="Unknown relationship type"):
        relationship_ensure(source_ci_id=g["vm"], target_ci_id=g["hv"], type_slug="nope")


def test_redundancy_group_is_a_ci_and_cannot_contain_itself() -> None:
    ensure_builtin_types()
    g = G()
    g.ci("sw1")
    gid = g.group("pair", 1, ["sw1"])
    group = RedundancyGroup.objects.get(ci_id=gid)
    assert group.ci.kind == "services.redundancygroup"
    with change_logging(source="test"), pytest.raises(BatchValidationError):
        objects_create(RedundancyMember, [{"group": group, "ci_id": gid}])
