"""The agents against real systems: snmpd on 127.0.0.1, Ansible on localhost, libvirt's test driver."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from discovery.agents.report import validation_errors
from discovery.models import Host, Identifier
from discovery.services import ingest_report


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["v2c", "v3"])
def test_snmp_discovery_against_real_snmpd(snmpd: dict[str, Any], version: str) -> None:
    from discovery.agents import network

    if version == "v2c":
        opts = network.SnmpOptions(port=snmpd["port"], community="cmdbtest")
    else:
        opts = network.SnmpOptions(port=snmpd["port"], v3_user="cmdbv3", v3_auth_key="authpass123",
                                   v3_priv_key="privpass123")
    reports = network.collect("127.0.0.1/32", ports="", snmp=opts)
    assert len(reports) == 1
    r = reports[0]
    assert validation_errors(r) == []
    assert r["identifiers"]["fqdn"] == "switch1.example.org"
    assert r["attributes"]["sys_object_id"].startswith("1.3.6.1.4.1.8072")  # net-snmp
    assert any(i["name"] == "lo" for i in r["interfaces"])
    result = ingest_report(r)
    host = Host.objects.get(ci_id=result.ci_id)
    assert (host.name, host.fqdn, host.role) == ("switch1", "switch1.example.org", "host")
    assert host.facts["sys_object_id"] == r["attributes"]["sys_object_id"]


def test_wrong_snmp_credentials_fall_back_to_the_nmap_report(snmpd: dict[str, Any]) -> None:
    from discovery.agents import network

    reports = network.collect("127.0.0.1/32", ports="",
                              snmp=network.SnmpOptions(port=snmpd["port"], community="wrong", timeout=0.5))
    assert len(reports) == 1 and "sys_descr" not in reports[0]["attributes"]


@pytest.mark.django_db
def test_ansible_facts_against_localhost(tmp_path: Path) -> None:
    from discovery.agents import ansible_facts  # ansible-runner and ansible-core are regular dependencies

    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    reports = ansible_facts.collect(inventory=str(inventory))
    assert len(reports) == 1
    r = reports[0]
    assert validation_errors(r) == []
    assert r["source"]["type"] == "ansible"
    assert r["identifiers"]["hostname"] == socket.gethostname().split(".")[0]
    assert r["attributes"]["memory_mb"] > 0 and r["attributes"]["kernel"] == os.uname().release
    result = ingest_report(r)
    assert result.action == "create"
    assert Host.objects.get(ci_id=result.ci_id).kernel == os.uname().release


@pytest.mark.django_db
def test_libvirt_test_driver_hypervisor_and_vms() -> None:
    pytest.importorskip("libvirt")
    from discovery.agents import libvirt_agent

    reports = libvirt_agent.collect("test:///default")
    assert len(reports) >= 2
    for r in reports:
        assert validation_errors(r) == []
    hypervisor, vm = reports[0], reports[1]
    assert hypervisor["attributes"]["virtual"] is False and vm["attributes"]["virtual"] is True
    assert vm["identifiers"]["hostname"] == "test"  # the test driver's one domain
    results = [ingest_report(r) for r in reports]
    vm_host = Host.objects.get(ci_id=results[1].ci_id)
    assert vm_host.is_virtual and vm_host.system_uuid == vm["identifiers"]["system_uuid"]
    # The VM's hosted_on relationship resolved to the hypervisor's CI.
    assert vm_host.facts["relationships"] == [{"type": "hosted_on", "target_ci": results[0].ci_id}]
    # ... and became an edge of the CMDB's relationship graph (cmdb.services), idempotently.
    from cmdb.services.models import Relationship

    edges = Relationship.objects.filter(source_id=results[1].ci_id, target_id=results[0].ci_id, type__slug="hosted_on")
    assert edges.count() == 1
    ingest_report(reports[1])
    assert edges.count() == 1
    assert Identifier.objects.filter(ci_id=results[1].ci_id, scheme="uuid").exists()
