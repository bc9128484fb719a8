"""The VDI API: CRUD of pools, schedules, timetables and desktops; refusals name the field; strict filters;
the OpenAPI schema lists the endpoints."""

from __future__ import annotations

import pytest

from vdi.models import Desktop, Lecture, Pool

from .conftest import make_pool
from .test_schedule import ICS

pytestmark = pytest.mark.django_db


def test_pools_and_schedules_through_the_api(vdi_world, api):
    r = api.post("/api/vdi/pools/", {"name": "cad", "golden_image": vdi_world.golden.ci_id, "tenant":
                                     vdi_world.tenant.pk, "cluster": vdi_world.cluster.pk, "max_size": 10,
                                     "gpu_profile": vdi_world.profile_2q.pk, "entitled_groups": ["cad-students"]},
                 format="json")
    assert r.status_code == 201, r.content
    pool = r.json()
    assert pool["gpu_profile"]["name"] == "nvidia-a16-2q" and pool["ci_id"]
    r = api.post("/api/vdi/schedule-rules/", {"pool": pool["id"], "weekday": 0, "start": "08:00", "end": "18:00",
                                              "size": 11}, format="json")
    assert r.status_code == 400 and "maximum is 10" in r.json()["size"][0]
    r = api.post("/api/vdi/schedule-rules/", {"pool": pool["id"], "weekday": 0, "start": "08:00", "end": "18:00",
                                              "size": 8}, format="json")
    assert r.status_code == 201, r.content
    r = api.post("/api/vdi/timetables/", {"pool": pool["id"], "name": "z7", "content": "BEGIN:VCALENDAR\nx",
                                          "size": 4}, format="json")
    assert r.status_code == 400 and r.json()["content"][0].startswith("The timetable does not parse")
    r = api.post("/api/vdi/timetables/", {"pool": pool["id"], "name": "z7", "content": ICS, "size": 4,
                                          "room_filter": "Z-7.01", "feed_url": "https://example.org/z7.ics"},
                 format="json")
    assert r.status_code == 201, r.content
    assert Lecture.objects.filter(source_id=r.json()["id"]).count() == 2
    r = api.get(f"/api/vdi/schedule-rules/?pool_id={pool['id']}")
    assert r.json()["count"] == 1, r.content


@pytest.mark.parametrize("change, field", [
    ({"gpu_profile": "v100"}, "gpu_profile"),
    ({"min_size": 5, "max_size": 4}, "min_size"),
    ({"entitled_groups": "students"}, "entitled_groups"),
    ({"golden_image": "cluster"}, "golden_image"),
])
def test_bad_pools_are_refused_naming_the_field(vdi_world, api, change, field):
    body = {"name": "p", "golden_image": vdi_world.golden.ci_id, "cluster": vdi_world.cluster.pk}
    if change.get("gpu_profile") == "v100":
        change = {"gpu_profile": vdi_world.profile_v100.pk}
    if change.get("golden_image") == "cluster":
        change = {"golden_image": vdi_world.cluster.ci_id}
    r = api.post("/api/vdi/pools/", {**body, **change}, format="json")
    assert r.status_code == 400 and field in r.json(), r.content
    assert not Pool.objects.exists()


def test_desktops_list_filters_strictly(vdi_world, api):
    pool = make_pool(vdi_world)
    Desktop(name="cad-001", pool=pool, state="ready").save()
    Desktop(name="cad-002", pool=pool, state="broken").save()
    r = api.get("/api/vdi/desktops/?state=broken")
    assert [d["name"] for d in r.json()["results"]] == ["cad-002"]
    assert api.get("/api/vdi/desktops/?colour=blue").status_code == 400
    r = api.post("/api/vdi/desktops/", {"name": "cad-003", "pool": pool.pk, "state": "in_use"}, format="json")
    assert r.status_code == 400 and "assigned_user" in r.json()


def test_the_schema_lists_the_vdi_endpoints(api):
    paths = api.get("/api/schema/?format=json").json()["paths"]
    for path in ("/api/vdi/pools/", "/api/vdi/desktops/", "/api/vdi/capacity/", "/api/vdi/timetables/"):
        assert path in paths
