"""Impact analysis on hand-built graphs: redundancy, cycles, several failures, paths, stacks."""

from __future__ import annotations

import pytest

from cmdb.services.graph import get_graph
from cmdb.services.impact import UnknownCI, dependencies_of, impact_of

from .graphs import G

pytestmark = pytest.mark.django_db


def states(result) -> dict[str, str]:
    return {a["name"]: a["state"] for a in result.affected}


@pytest.fixture
def campus() -> G:
    """mail service -> 2 VMs -> cluster -> group(2 of 3 hosts); hosts -> core pair (1 of 2) and a rack."""
    g = G()
    g.service("mail")
    for name in ("mx1", "mx2"):
        g.ci(name, kind="virtualization.virtualmachine")
        g.edge("mail", "depends_on", name)
    g.ci("cluster", kind="virtualization.cluster")
    for name in ("mx1", "mx2"):
        g.edge(name, "hosted_on", "cluster")
    for name in ("host1", "host2", "host3", "core1", "core2"):
        g.ci(name)
    g.ci("rack1", kind="dcim.rack")
    g.group("cluster-hosts", 2, ["host1", "host2", "host3"])
    g.edge("cluster", "depends_on", "cluster-hosts")
    g.group("core-pair", 1, ["core1", "core2"])
    for host in ("host1", "host2", "host3"):
        g.edge(host, "connected_to", "core-pair")
        g.edge(host, "depends_on", "rack1")
    return g


def test_one_of_two_switches_down_degrades_both_down_is_down(campus: G) -> None:
    one = impact_of([campus["core1"]])
    s = states(one)
    assert s["core-pair"] == "degraded"
    assert s["host1"] == s["host2"] == s["host3"] == "degraded"
    assert s["mail"] == "degraded"
    both = states(impact_of([campus["core1"], campus["core2"]]))
    assert both["core-pair"] == "down"
    assert both["host1"] == "down" and both["cluster-hosts"] == "down"
    assert both["cluster"] == "down" and both["mx1"] == "down" and both["mail"] == "down"


def test_cluster_survives_one_host_but_not_two(campus: G) -> None:
    s = states(impact_of([campus["host1"]]))
    assert s == {"cluster-hosts": "degraded", "cluster": "degraded", "mx1": "degraded", "mx2": "degraded",
                 "mail": "degraded"}
    s = states(impact_of([campus["host1"], campus["host2"]]))
    assert s["cluster-hosts"] == "down" and s["mail"] == "down"


def test_a_rack_takes_all_its_hosts_down(campus: G) -> None:
    result = impact_of([campus["rack1"]])
    s = states(result)
    assert s["host1"] == "down" and s["mail"] == "down"
    mail = next(a for a in result.affected if a["name"] == "mail")
    # The shortest explanation: rack -> host -> group -> cluster -> VM -> service.
    assert mail["path_names"][0] == "rack1" and mail["path_names"][-1] == "mail"
    assert mail["path_names"][2] == "cluster-hosts" and len(mail["path"]) == 6
    assert mail["via"][0] == "depends_on" and mail["via"][1] == "member of redundancy group"
    assert [svc["name"] for svc in result.services] == ["mail"]
    assert result.services[0]["state"] == "down" and result.services[0]["sla_availability"] == 99.5
    assert result.services[0]["downtime_budget_minutes_per_month"] == 216.0


def test_degraded_mode_never_reports_down(campus: G) -> None:
    s = states(impact_of([campus["rack1"]], mode="degraded"))
    assert set(s.values()) == {"degraded"} and "mail" in s


def test_cycles_are_tolerated() -> None:
    g = G()
    for name in ("a", "b", "c", "d"):
        g.ci(name)
    g.edge("a", "depends_on", "b")
    g.edge("b", "depends_on", "c")
    g.edge("c", "depends_on", "a")  # a cycle a -> b -> c -> a
    g.edge("d", "depends_on", "c")
    s = states(impact_of([g["a"]]))
    assert s == {"b": "down", "c": "down", "d": "down"}


def test_edges_without_propagation_do_not_spread_failure() -> None:
    g = G()
    g.ci("backup-server")
    g.ci("fileserver")
    g.ci("license", kind="software.license")
    g.edge("backup-server", "backs_up", "fileserver")
    g.edge("fileserver", "licensed_by", "license")
    assert impact_of([g["fileserver"]]).affected == []
    assert impact_of([g["license"]]).affected == []


def test_graph_cache_follows_writes() -> None:
    g = G()
    g.ci("app")
    g.ci("db")
    first = get_graph()
    assert impact_of([g["db"]]).affected == []
    g.edge("app", "depends_on", "db")
    assert get_graph() is not first
    assert states(impact_of([g["db"]])) == {"app": "down"}
    cached = get_graph()
    assert get_graph() is cached  # nothing changed: no reload


def test_unknown_ci_is_rejected_and_mode_checked() -> None:
    with pytest.raises(UnknownCI):
        impact_of([987654])
    g = G()
    g.ci("x")
    with pytest.raises(ValueError, match="mode"):
        impact_of([g["x"]], mode="sideways")


def test_dependency_stack_of_a_service(campus: G) -> None:
    stack = dependencies_of([campus["mail"]])
    names = {d["name"]: d for d in stack["dependencies"]}
    assert {"mx1", "mx2", "cluster", "cluster-hosts", "host1", "core-pair", "core1", "core2", "rack1"} <= set(names)
    assert names["mx1"]["depth"] == 1 and names["rack1"]["depth"] == 5
    assert names["core1"]["path_names"][-2] == "core-pair"
