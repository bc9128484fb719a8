"""Capacity per cluster over 7 days of schedules: CPU (overcommit as data), memory, GPU slots; refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from vdi import capacity
from vdi.models import Pool, PoolScheduleRule

from .conftest import make_pool

pytestmark = pytest.mark.django_db


def refused(w, **fields) -> dict:
    with pytest.raises(ValidationError) as exc:
        make_pool(w, **fields)
    return exc.value.message_dict


def test_the_cluster_answer_counts_overcommitted_cpu_memory_and_gpu_slots(vdi_world):
    make_pool(vdi_world, "lab", vcpus=4, memory_mb=4096, min_size=10, max_size=12, spare=2)
    make_pool(vdi_world, "cad", vcpus=4, memory_mb=4096, min_size=8, max_size=8, gpu_profile=vdi_world.profile_2q)
    (answer,) = capacity.check([vdi_world.cluster.pk])
    got = {r.name: r for r in answer.resources}
    assert got["CPU"].capacity == 128 and got["CPU"].peak == 4 * 12 + 4 * 8
    assert got["memory"].capacity == 131072 and got["memory"].peak == 4096 * 20
    # 8 desktops of a 2 GB profile on 16 GB A16s: 8 slots per GPU, one GPU of the two.
    assert got["GPU A16"].capacity == 2 and got["GPU A16"].peak == 1
    assert answer.reasons == []
    vdi_world.cap2.memory_mb = 1024  # a host's memory shrank: the answer says so
    vdi_world.cap2.save()
    (answer,) = capacity.check([vdi_world.cluster.pk])
    assert answer.reasons[0].startswith("memory: 81920 MB wanted at ") and answer.reasons[0].endswith(
        "66560 available")


def test_overcommit_is_data(vdi_world):
    vdi_world.policy.cpu_overcommit = 2
    vdi_world.policy.save()
    assert refused(vdi_world, vcpus=8, min_size=10, max_size=10)["vcpus"][0].startswith(
        "Cluster vdi-zittau would be short of CPU: 80 vCPUs wanted")


def test_cpu_refusal_names_vcpus(vdi_world):
    errors = refused(vdi_world, vcpus=8, memory_mb=2048, min_size=20, max_size=20)
    assert list(errors) == ["vcpus"] and "160 vCPUs wanted" in errors["vcpus"][0] and "128 available" in errors[
        "vcpus"][0]


def test_memory_refusal_names_memory(vdi_world):
    errors = refused(vdi_world, vcpus=1, memory_mb=16384, min_size=10, max_size=10)
    assert list(errors) == ["memory_mb"] and "163840 MB wanted" in errors["memory_mb"][0]


def test_gpu_slot_refusal_names_the_profile(vdi_world):
    make_pool(vdi_world, "cad-a", vcpus=1, memory_mb=1024, min_size=16, max_size=16,
              gpu_profile=vdi_world.profile_2q)  # exactly the 16 slots of two GPUs
    errors = refused(vdi_world, name="cad-b", vcpus=1, memory_mb=1024, min_size=1, max_size=1,
                     gpu_profile=vdi_world.profile_2q)
    assert "short of GPU A16: 3 GPUs wanted" in errors["gpu_profile"][0] and "2 available" in errors[
        "gpu_profile"][0]


def test_one_profile_size_per_gpu(vdi_world):
    from vdi.models import GpuProfile

    big = GpuProfile(name="nvidia-a16-8q", slug="nvidia-a16-8q", gpu_model="A16", frame_buffer_mb=8192)
    big.save()
    make_pool(vdi_world, "cad-small", vcpus=1, memory_mb=1024, min_size=1, max_size=1,
              gpu_profile=vdi_world.profile_2q)
    make_pool(vdi_world, "cad-big", vcpus=1, memory_mb=1024, min_size=2, max_size=2, gpu_profile=big)
    # One 2Q desktop takes a whole GPU for its size; two 8Q take the other: a third 8Q needs a third GPU.
    errors = refused(vdi_world, name="cad-big2", vcpus=1, memory_mb=1024, min_size=1, max_size=1, gpu_profile=big)
    assert "3 GPUs wanted" in errors["gpu_profile"][0]


def test_a_gpu_profile_the_cluster_does_not_offer_is_refused(vdi_world):
    errors = refused(vdi_world, gpu_profile=vdi_world.profile_v100)
    assert "V100" in errors["gpu_profile"][0]


def test_a_scheduled_peak_counts_and_only_changes_that_worsen_it_are_refused(vdi_world):
    pool = make_pool(vdi_world, vcpus=4, memory_mb=1024, min_size=0, max_size=20)
    for day in range(7):
        PoolScheduleRule(pool=pool, weekday=day, start=dt.time(9), end=dt.time(10), size=20).validated_save()
    pool.vcpus = 8  # 20 x 8 = 160 > 128 at 09:00 every day
    with pytest.raises(ValidationError) as exc:
        pool.validated_save()
    assert "vcpus" in exc.value.message_dict
    # An overcommitted cluster (capacity shrank under it) still takes edits that do not add to it.
    pool.refresh_from_db()
    vdi_world.cap2.cpu_cores = 1
    vdi_world.cap2.save()
    pool.description = "CAD lab"
    pool.validated_save()
    pool.vcpus = 5
    with pytest.raises(ValidationError):
        pool.validated_save()


def test_the_api_refuses_with_the_field_and_answers_per_cluster(vdi_world, api):
    body = {"name": "big", "golden_image": vdi_world.golden.ci_id, "cluster": vdi_world.cluster.pk,
            "vcpus": 8, "memory_mb": 2048, "min_size": 20, "max_size": 20}
    r = api.post("/api/vdi/pools/", body, format="json")
    assert r.status_code == 400 and "vcpus" in r.json(), r.content
    r = api.post("/api/vdi/pools/", {**body, "vcpus": 2}, format="json")
    assert r.status_code == 201, r.content
    assert Pool.objects.get(name="big").ci_id
    r = api.get("/api/vdi/capacity/")
    assert r.status_code == 200
    (row,) = r.json()["results"]
    assert row["cluster"]["name"] == "vdi-zittau" and row["ok"] and row["pools"] == ["big"]
    cpu = next(x for x in row["resources"] if x["resource"] == "CPU")
    assert cpu["peak"] == 40 and cpu["headroom"] == 88
    assert api.get("/api/vdi/capacity/?cluster=x").status_code == 400
    assert api.get(f"/api/vdi/capacity/?cluster={vdi_world.cluster.pk + 1000}").json()["count"] == 0
