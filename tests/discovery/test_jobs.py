"""Discovery on schedules: network (real snmpd on 127.0.0.1) and Ansible facts (localhost) through the
scheduler and a worker; staleness; SNMP secrets never stored in schedule arguments."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cmdb.jobs.models import Job, Schedule
from cmdb.jobs.registry import job_enqueue
from cmdb.jobs.scheduler import scheduler_tick
from cmdb.jobs.worker import run_tasks
from discovery.models import Host, IngestRecord
from discovery.services import ingest_report
from tests import factories as f
from tests.jobs.conftest import DB_TASKS, task_backend  # noqa: F401 - a fixture

from .helpers import report

pytestmark = pytest.mark.django_db(transaction=True)

V3 = {"v3_user": "cmdbv3", "v3_auth_key_from": "env:CMDB_TEST_SNMP_AUTH",
      "v3_priv_key_from": "setting:CMDB_TEST_SNMP_PRIV"}


def _due(name: str, job_name: str, kwargs: dict[str, Any]) -> Schedule:
    schedule = Schedule(name=name, job_name=job_name, cron="0 2 * * *", kwargs=kwargs)
    schedule.validated_save()
    Schedule.objects.filter(pk=schedule.pk).update(created=timezone.now() - dt.timedelta(days=2))
    return schedule


def _tick_and_work(now: dt.datetime | None = None) -> Job:
    [started] = scheduler_tick(holder="test-scheduler", now=now)
    run_tasks(holder="test-worker", burst=True, fork=False)
    return Job.objects.get(pk=started.pk)


def _messages(job: Job) -> list[str]:
    return [line["message"] for line in job.log]


@pytest.mark.usefixtures("task_backend")  # the embedded database queue and RQ on Redis
def test_scheduled_network_discovery_snmp_v3_through_the_worker(snmpd: dict[str, Any], monkeypatch: Any,
                                                                settings: Any) -> None:
    monkeypatch.setenv("CMDB_TEST_SNMP_AUTH", "authpass123")
    settings.CMDB_TEST_SNMP_PRIV = "privpass123"
    schedule = _due("nightly scan", "discovery.network",
                    {"prefix": "127.0.0.1/32", "ports": "", "snmp_port": snmpd["port"], **V3})
    assert "authpass123" not in str(Schedule.objects.get(pk=schedule.pk).kwargs)

    job = _tick_and_work()
    assert job.status == "completed", job.error
    assert job.schedule_id == schedule.pk
    host = Host.objects.get(fqdn="switch1.example.org")
    messages = _messages(job)
    assert messages[0] == "scanning 127.0.0.1/32 (ports ping sweep; SNMP v3)"
    assert f"switch1.example.org: create ci {host.ci_id} (rule -) changed=" in "\n".join(messages)
    assert messages[-1] == "1 report(s): 1 create; 0 failed"
    assert job.result == {"reports": 1, "create": 1, "failed": 0, "ci_ids": [host.ci_id]}
    record = IngestRecord.objects.get(ci_id=host.ci_id)
    assert (record.source, record.action) == ("network", "create")

    # The next night: the same device, nothing to change.
    again = _tick_and_work(now=timezone.now() + dt.timedelta(days=1))
    assert again.status == "completed" and again.result["noop"] == 1
    assert Host.objects.count() == 1


def test_snmp_secrets_are_refused_in_schedule_and_job_arguments(api: Any) -> None:
    plain = {"prefix": "192.0.2.0/24", "v3_user": "cmdb", "v3_auth_key": "s3cret", "v3_priv_key": "s3cret"}
    with pytest.raises(ValidationError) as err:
        Schedule(name="scan", job_name="discovery.network", cron="0 2 * * *", kwargs=plain).validated_save()
    assert "v3_auth_key: Do not store secrets in job arguments" in str(err.value.message_dict["kwargs"])
    response = api.post("/api/jobs/schedules/", {"name": "scan", "job_name": "discovery.network",
                                                 "cron": "0 2 * * *", "kwargs": plain}, format="json")
    assert response.status_code == 400 and "v3_priv_key" in str(response.json()["kwargs"])
    response = api.post("/api/jobs/jobs/", {"name": "discovery.network", "kwargs": {
        "prefix": "192.0.2.0/24", "community": "public"}}, format="json")
    assert response.status_code == 400 and "community_from" in str(response.json()["kwargs"])
    bad_ref = {"prefix": "192.0.2.0/24", "v3_user": "cmdb", "v3_auth_key_from": "s3cret"}
    with pytest.raises(ValueError, match="v3_auth_key_from: Give a reference to an SNMP secret"):
        job_enqueue("discovery.network", kwargs=bad_ref)
    assert not Schedule.objects.exists() and not Job.objects.exists()


def test_a_schedule_cannot_send_other_secrets_of_the_worker_as_snmp_community() -> None:
    """SECRET_KEY or DATABASE_URL as a 'community' would go to the devices of any prefix: refused."""
    for ref in ("setting:SECRET_KEY", "env:DATABASE_URL"):
        with pytest.raises(ValueError, match="must contain SNMP"):
            job_enqueue("discovery.network", kwargs={"prefix": "192.0.2.0/24", "community_from": ref})
    assert not Job.objects.exists()


def test_a_reference_to_a_missing_secret_fails_the_job_clearly(settings: Any) -> None:
    settings.TASKS = DB_TASKS
    job = job_enqueue("discovery.network", kwargs={"prefix": "127.0.0.1/32", "ports": "",
                                                   "community_from": "env:CMDB_TEST_SNMP_NO_SUCH_VARIABLE"})
    run_tasks(holder="test-worker", burst=True, fork=False)
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.log[-1]["message"] == ("ValueError: community_from: env:CMDB_TEST_SNMP_NO_SUCH_VARIABLE is not set "
                                      "or empty in this process (an SNMP secret).")


@pytest.mark.skipif(shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) is None,
                    reason="ansible-core is not installed in this environment")
def test_scheduled_ansible_facts_discovery_from_the_cmdb_inventory(settings: Any) -> None:
    settings.TASKS = DB_TASKS
    site, dtype, role = f.site("Zittau"), f.device_type("R650", maker=f.manufacturer("Dell")), f.role("Server")
    f.device("web01", at=site, dtype=dtype, as_role=role, local_context_data={
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable})
    f.device("other01", at=f.site("Görlitz"), dtype=dtype, as_role=role)  # out of scope: never contacted
    schedule = _due("nightly facts", "discovery.ansible", {"from_cmdb": "inventory", "scope": "site:zittau"})

    job = _tick_and_work()
    assert job.status == "completed", job.error
    [host] = Host.objects.all()
    assert host.name == socket.gethostname().split(".")[0]
    messages = _messages(job)
    assert messages[:2] == ["gathering Ansible facts (CMDB inventory, pattern all)", "1 host(s) answered"]
    assert messages[-1] == "1 report(s): 1 create; 0 failed"
    record = IngestRecord.objects.get(ci_id=host.ci_id)
    assert (record.source, record.source_name) == ("ansible", "ansible-facts")
    if Path("/var/lib/dpkg/status").exists():  # packages from package_facts
        assert record.software["added"] > 50
    assert job.schedule_id == schedule.pk


def test_scheduled_staleness_flagging(settings: Any) -> None:
    settings.TASKS = DB_TASKS
    old = timezone.now() - dt.timedelta(days=45)
    gone = ingest_report(report(hostname="gone", macs=["00:16:3e:00:00:01"]), now=old)
    here = ingest_report(report(hostname="here", macs=["00:16:3e:00:00:02"]))
    with pytest.raises(ValidationError):
        Schedule(name="stale", job_name="discovery.stale", cron="0 6 * * *", kwargs={"dayz": 3}).validated_save()
    _due("stale", "discovery.stale", {})
    job = _tick_and_work()
    assert job.status == "completed" and job.result == {"flagged": 1}
    assert _messages(job) == ["1 host(s) flagged stale"]
    assert Host.objects.get(ci_id=gone.ci_id).stale and not Host.objects.get(ci_id=here.ci_id).stale
