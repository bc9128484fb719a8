"""A GraphQL request costs a constant number of queries, however many rows it returns."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb.dcim.models import Interface
from tests import factories

from .conftest import GQL

RICH = """{
  device_list {
    id name serial display status
    site { name tenant { name } }
    role { slug } tenant { name } tags { name }
    primary_ip4 { address family { label } assigned_object { ... on InterfaceType { name device { name } } } }
    interfaces(filters: {enabled: {exact: true}}) { name }
    software_installations { version { version product { name } } }
  }
  ip_address_list { address assigned_object_type { model } }
}"""


def _add_devices(world: Any, start: int, count: int) -> None:
    for n in range(start, start + count):
        dev = factories.device(f"extra{n:03d}", at=world.zittau, dtype=world.r650, as_role=world.server,
                               tenant=world.tenant_a, serial=f"X{n}")
        dev.tags.set([world.tags["red"]])
        eth0 = Interface.objects.get(device=dev, name="eth0")
        dev.primary_ip4 = factories.ip(f"10.5.{n // 200}.{n % 200 + 1}/24", interface=eth0, tenant=world.tenant_a)
        dev.save()


def _queries(gql: GQL, query: str) -> tuple[int, dict[str, Any]]:
    gql.data(query)  # warm-up: the token's last-used stamp, content types
    with CaptureQueriesContext(connection) as captured:
        data = gql.data(query)
    return len(captured.captured_queries), data


@pytest.mark.parametrize("reader", ["superuser", "tenant"])
def test_queries_do_not_grow_with_rows(reader: str, full_world: Any, readers: dict[str, Any],
                                       client_for: Any) -> None:
    gql = GQL(client_for(readers[reader], write=False))
    _add_devices(full_world, 0, 2)  # so that every nested selection has rows for this reader
    small, small_data = _queries(gql, RICH)
    _add_devices(full_world, 2, 25)
    large, large_data = _queries(gql, RICH)
    assert len(large_data["device_list"]) >= len(small_data["device_list"]) + 25
    assert large == small, (small, large)
    assert small <= 30  # a handful per nested selection (plus authentication), not one per row
