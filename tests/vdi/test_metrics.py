"""VDI metrics on /metrics: desktops by state per pool (zeros included), capacity headroom, licence seats."""

from __future__ import annotations

import pytest
from prometheus_client.core import CollectorRegistry
from prometheus_client.exposition import generate_latest

from vdi import metrics
from vdi.models import Desktop

from .conftest import make_pool

pytestmark = pytest.mark.django_db


class _Collector:
    def __init__(self, user=None):
        self.user = user

    def collect(self):
        return metrics.collect(user=self.user)


def exposition(user=None) -> str:
    registry = CollectorRegistry()
    registry.register(_Collector(user))
    return generate_latest(registry).decode()


def test_metrics_of_pools_desktops_and_capacity(vdi_world, make_user):
    pool = make_pool(vdi_world, "lab", max_size=5, spare=2, min_size=1)
    Desktop(name="lab-001", pool=pool, state="ready").save()
    Desktop(name="lab-002", pool=pool, state="broken").save()
    text = exposition()
    ci = pool.ci_id
    assert f'cmdb_vdi_desktops{{ci_id="{ci}",pool="lab",state="ready"}} 1.0' in text
    assert f'cmdb_vdi_desktops{{ci_id="{ci}",pool="lab",state="in_use"}} 0.0' in text
    assert f'cmdb_vdi_pool_spare{{ci_id="{ci}",pool="lab"}} 2.0' in text
    # min 1 + spare 2 desktops of 2 vCPUs: 6 of 128 vCPUs at the peak.
    assert 'cmdb_vdi_capacity_headroom{cluster="vdi-zittau",resource="CPU",unit="vCPUs"} 122.0' in text
    # A user without grants sees nothing of the tenant's pools.
    assert "lab" not in exposition(make_user("nobody"))
