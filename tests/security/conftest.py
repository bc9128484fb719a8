"""The attacker's world for the adversarial suite (issue 12).

Two faculties (tenants A and B), each with its own administrator who holds every action on
every model but only for their own tenant, and one campus-wide viewer who may look at
everything and change nothing.  Each user has a read-write API token; ``world.a_api`` and
friends are DRF clients that send it.  The data is small and fixed: per tenant a server with
an interface, a VM, a contact; plus shared reference data (site, device type, role) with no
tenant.  Tests replay a finding with tenant A's credentials against tenant B's objects and
assert the refusal.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from cmdb.tenancy.models import Contact
from cmdb.users.models import ObjectPermission
from cmdb.virtualization.models import Cluster, ClusterType, VirtualMachine
from tests import factories

ALL_ACTIONS = ["view", "add", "change", "delete"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def grant(*, name: str, types: list[str], actions: list[str], users: list[Any], tenants: list[Any] = ()) -> Any:
    perm = ObjectPermission(name=name, object_types=types, actions=actions)
    perm.full_clean()
    perm.save()
    perm.users.set(users)
    perm.tenants.set(tenants)
    return perm


def token_client(user: Any, *, write: bool = True) -> APIClient:
    from cmdb.users.services import token_create

    _token, key = token_create(user=user, write_enabled=write)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.key = key  # type: ignore[attr-defined]
    return client


def fresh(user: Any) -> Any:
    """The user as a new request loads it (grants are cached on the user object)."""
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def world(db: Any) -> SimpleNamespace:
    return build_world()


def build_world() -> SimpleNamespace:
    """The world of :func:`world`, for fixtures of a wider scope (the schema fuzzing builds it once per module)."""
    User = get_user_model()
    a, b = factories.tenant("Faculty A"), factories.tenant("Faculty B")
    site = factories.site("Zittau")
    dtype = factories.device_type()
    dtype.interface_templates.create(name="eth0")
    srv_a = factories.device("srv-a", tenant=a, serial="SER-A")
    srv_b = factories.device("srv-b", tenant=b, serial="SER-B")
    ctype = ClusterType.objects.create(name="Proxmox", slug="proxmox")
    cluster = Cluster(name="zittau-prod", type=ctype)
    cluster.save()
    vm_a = VirtualMachine(name="vm-a", cluster=cluster, tenant=a)
    vm_a.save()
    vm_b = VirtualMachine(name="vm-b", cluster=cluster, tenant=b)
    vm_b.save()
    contact_a = Contact(name="Ada A", tenant=a)
    contact_a.save()
    contact_b = Contact(name="Bea B", tenant=b)
    contact_b.save()

    alice = User.objects.create_user("alice", password="correct-horse-battery", email="alice@a.example")
    bob = User.objects.create_user("bob", password="correct-horse-battery", email="bob@b.example")
    viewer = User.objects.create_user("viewer", password="correct-horse-battery", email="viewer@example")
    grant(name="faculty-a-admins", types=["*"], actions=ALL_ACTIONS, users=[alice], tenants=[a])
    grant(name="faculty-b-admins", types=["*"], actions=ALL_ACTIONS, users=[bob], tenants=[b])
    grant(name="campus-viewers", types=["*"], actions=["view"], users=[viewer])
    return SimpleNamespace(
        a=a, b=b, site=site, dtype=dtype, srv_a=srv_a, srv_b=srv_b, cluster=cluster, vm_a=vm_a, vm_b=vm_b,
        contact_a=contact_a, contact_b=contact_b,
        alice=alice, bob=bob, viewer=viewer,
        a_api=token_client(alice), b_api=token_client(bob), viewer_api=token_client(viewer, write=False),
    )
