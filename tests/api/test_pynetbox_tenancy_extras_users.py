"""pynetbox against a live server: tenancy, extras (tags, custom fields, journal, change log), core and users."""

from __future__ import annotations

import pytest
from pynetbox.core.query import RequestError

from cmdb.users.models import Token
from tests import factories as f

from .pynb import crud_cycle, record_traffic

pytestmark = pytest.mark.live


def test_every_tenancy_endpoint_through_pynetbox(nb):
    w = f.world()
    faculties = f.tenant_group("Faculties")
    crud_cycle(nb.tenancy.tenant_groups, create={"name": "Institutes", "slug": "institutes"},
               create_nested={"name": "Chairs", "slug": "chairs", "parent": {"slug": "faculties"}},
               bulk=[{"name": f"G{i}", "slug": f"g{i}", "parent": faculties.pk} for i in range(3)],
               change=("parent", faculties.pk), bulk_change=("description", "bulk"),
               filters={"parent": "faculties"}, expect_filtered=4)
    crud_cycle(nb.tenancy.tenants, create={"name": "Physik", "slug": "physik", "group": faculties.pk},
               create_nested={"name": "Chemie", "slug": "chemie", "group": {"slug": "faculties"}},
               bulk=[{"name": f"Dept {i}", "slug": f"dept-{i}"} for i in range(3)],
               change=("description", "Physics"), bulk_change=("group", faculties.pk),
               filters={"group_id": faculties.pk}, expect_filtered=2)
    crud_cycle(nb.tenancy.contact_roles, create={"name": "Owner", "slug": "owner"}, create_nested=None,
               bulk=[{"name": f"Role {i}", "slug": f"role-{i}"} for i in range(3)],
               change=("description", "owns it"), bulk_change=("description", "bulk"),
               filters={"name__isw": "role"}, expect_filtered=3)
    crud_cycle(nb.tenancy.contacts, create={"name": "Erika Muster", "email": "erika@example.org",
                                            "tenant": w.tenant_a.pk},
               create_nested={"name": "Max Muster", "tenant": {"slug": "mathematik"}},
               bulk=[{"name": f"Person {i}", "phone": f"+49 3583 {i}"} for i in range(3)],
               change=("title", "Admin"), bulk_change=("title", "Operator"),
               filters={"phone__isw": "+49"}, expect_filtered=3)
    erika = f.contact("Erika")
    owner, tech = f.contact_role("Owner"), f.contact_role("Technical")
    web01 = w.devices["web01"].pk
    crud_cycle(nb.tenancy.contact_assignments,
               create={"object_type": "dcim.device", "object_id": web01, "contact": erika.pk, "role": owner.pk,
                       "priority": "primary"},
               create_nested={"object_type": "dcim.site", "object_id": w.zittau.pk, "contact": {"name": "Erika"},
                              "role": {"slug": "technical"}},
               bulk=[{"object_type": "dcim.device", "object_id": d.pk, "contact": erika.pk, "role": tech.pk}
                     for d in w.devices.values()],
               change=("priority", "secondary"), bulk_change=("priority", "tertiary"),
               lookup="priority", filters={"object_type": "dcim.device", "role": "technical"},
               expect_filtered=4)
    assignment = nb.tenancy.contact_assignments.create(object_type="dcim.site", object_id=w.goerlitz.pk,
                                                       contact=erika.pk, role=owner.pk)
    assert assignment.contact.name == "Erika" and assignment.object.name == "Goerlitz"
    assert assignment.object.full_details() and assignment.object.slug == "goerlitz"


def test_tags_custom_fields_and_journal_through_pynetbox(nb):
    w = f.world()
    crud_cycle(nb.extras.tags, create={"name": "Green", "slug": "green", "color": "00ff00"},
               create_nested={"name": "Yellow", "slug": "yellow", "description": "warn"},
               bulk=[{"name": f"T{i}", "slug": f"t{i}"} for i in range(3)],
               change=("color", "008000"), bulk_change=("description", "bulk"),
               filters={"slug": ["green", "yellow"]}, expect_filtered=2)
    crud_cycle(nb.extras.custom_fields, create={"name": "cost_center", "type": "text",
                                                "object_types": ["dcim.device"], "label": "Cost center"},
               create_nested={"name": "warranty", "type": "date", "object_types": ["dcim.device", "dcim.site"]},
               bulk=[{"name": f"cf_{i}", "type": "integer", "object_types": ["dcim.site"]} for i in range(3)],
               change=("label", "CC"), bulk_change=("weight", 50),
               filters={"type": "integer"}, expect_filtered=3)

    # A custom field defined through pynetbox is usable right away, and typed.
    nb.extras.custom_fields.create(name="rack_units", type="integer", object_types=["dcim.device"])
    dev = nb.dcim.devices.get(name="web02")
    traffic = record_traffic(nb)
    dev.custom_fields["rack_units"] = 4
    assert dev.save()
    assert traffic.of("PATCH")[-1].body == {"custom_fields": {"rack_units": 4}}
    assert nb.dcim.devices.get(dev.id).custom_fields["rack_units"] == 4
    dev.custom_fields["rack_units"] = "four"
    with pytest.raises(RequestError) as err:
        dev.save()
    assert err.value.req.status_code == 400 and "custom_fields" in err.value.error
    with pytest.raises(RequestError):
        nb.dcim.devices.create(name="cf", device_type=w.r650.pk, role=w.server.pk, site=w.zittau.pk,
                               custom_fields={"nonexistent": 1})

    # Tags by dict and by id on a write; tag filters through pynetbox.
    dev = nb.dcim.devices.get(name="sw01")
    dev.tags = [{"slug": "red"}, w.tags["blue"].pk]
    assert dev.save()
    assert sorted(t.slug for t in nb.dcim.devices.get(dev.id).tags) == ["blue", "red"]
    assert {d.name for d in nb.dcim.devices.filter(tag=["red", "blue"])} == {"web01", "sw01"}

    db01 = w.devices["db01"].pk
    crud_cycle(nb.extras.journal_entries,
               create={"assigned_object_type": "dcim.device", "assigned_object_id": db01, "kind": "warning",
                       "comments": "Disk 3 replaced"},
               create_nested=None,
               bulk=[{"assigned_object_type": "dcim.site", "assigned_object_id": w.zittau.pk, "comments": f"n{i}"}
                     for i in range(3)],
               change=("comments", "Disk 3 and 4 replaced"), bulk_change=("kind", "success"), lookup="kind",
               filters={"assigned_object_type": "dcim.site"}, expect_filtered=3)


def test_change_log_and_registry_are_read_only_lists(nb):
    f.world()
    site = nb.dcim.sites.create(name="Bautzen", slug="bautzen")
    site.description = "new campus"
    site.save()
    for ep in (nb.core.object_changes, nb.extras.object_changes):
        changes = list(ep.filter(changed_object_type="dcim.site", changed_object_id=site.id))
        assert [c.action.value for c in sorted(changes, key=lambda c: c.id)] == ["create", "update"]
        latest = max(changes, key=lambda c: c.id)
        assert latest.postchange_data["description"] == "new campus"
        assert latest.prechange_data["description"] == ""
        assert latest.user.username == "admin" and latest.user_name == "admin"
        assert ep.get(latest.id).object_repr == "Bautzen"
        assert ep.count() > 10  # everything f.world() created is there too
    with pytest.raises(RequestError) as err:
        nb.core.object_changes.create(action="create")
    assert err.value.req.status_code == 405
    cis = list(nb.core.configuration_items.filter(kind="dcim.device"))
    assert {c.name for c in cis} == {"web01", "web02", "db01", "sw01"}
    assert nb.core.configuration_items.count(kind="virtualization.virtualmachine") == 2


def test_users_tokens_and_permissions_through_pynetbox(nb, make_nb, make_user):
    alice = make_user("alice")
    users = {u.username: u for u in nb.users.users.all()}
    assert set(users) == {"admin", "alice"}
    assert nb.users.users.get(username="alice").id == alice.pk
    assert nb.users.groups.count() == 0

    token = nb.users.tokens.create(user=alice.pk, write_enabled=False, description="ci reader")
    key = token.key
    assert isinstance(key, str) and len(key) >= 20  # shown once
    assert token.user.username == "alice" and token.write_enabled is False
    assert nb.users.tokens.get(token.id).key is None  # never again
    assert Token.objects.get(pk=token.id).key_digest != key and key not in str(Token.objects.values())
    token.description = "ci reader (renamed)"
    assert token.save()
    assert nb.users.tokens.get(description="ci reader (renamed)").id == token.id
    assert {t.user.username for t in nb.users.tokens.filter(user_id=alice.pk)} == {"alice"}

    perm = nb.users.permissions.create(name="read devices", object_types=["dcim.device"], actions=["view"],
                                       users=[alice.pk])
    assert perm.actions == ["view"] and perm.users == [alice.pk]
    # The new token works with exactly what the permission grants.
    f.world()
    as_alice = make_nb(key)
    assert as_alice.dcim.devices.count() == 4
    with pytest.raises(RequestError) as err:
        as_alice.dcim.sites.count()  # no permission on sites: 403, as in NetBox
    assert err.value.req.status_code == 403
    with pytest.raises(RequestError) as err:
        as_alice.dcim.devices.get(name="web01").update({"serial": "x"})
    assert err.value.req.status_code == 403
    perm.actions = ["view", "change"]
    assert perm.save()
    assert nb.users.permissions.get(perm.id).actions == ["view", "change"]
    assert perm.delete()
    assert nb.users.permissions.count() == 0
    assert token.delete()
    with pytest.raises(RequestError) as err:
        as_alice.dcim.devices.count()
    assert err.value.req.status_code in (401, 403)

    # Bulk token operations on the list URL.
    tokens = [nb.users.tokens.create(user=alice.pk, description=f"t{i}") for i in range(3)]
    for t in tokens:
        t.write_enabled = True
    assert all(t.write_enabled for t in nb.users.tokens.update(tokens))
    assert nb.users.tokens.delete(tokens)
    assert not Token.objects.filter(user=alice).exists()
