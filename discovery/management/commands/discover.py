"""``cmdb discover``: run an agent and ingest its reports in-process, for cron or systemd timers.

    cmdb discover network 192.0.2.0/24 --community public
    cmdb discover network 192.0.2.0/24 --v3-user cmdb --v3-auth-key ... --v3-priv-key ...
    cmdb discover ansible --inventory /etc/ansible/hosts
    cmdb discover ansible --from-cmdb            # every discovered host with an FQDN
    cmdb discover libvirt --uri qemu+ssh://hv1/system
    cmdb discover file reports.json              # reports written by an agent's --output
    cmdb discover stale                          # flag hosts not seen for STALE_DAYS
    cmdb discover link                           # link unlinked hosts to recorded devices/VMs

Each report is ingested in its own transaction; a failing report is printed and
the others go on (exit status 1 if any failed).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run a discovery agent (network, ansible, libvirt, file) and ingest its reports; or flag stale hosts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        net = sub.add_parser("network", help="nmap sweep + SNMP of a prefix")
        net.add_argument("prefix")
        net.add_argument("--ports", default="22,80,161,443")
        net.add_argument("--snmp-port", type=int, default=161)
        net.add_argument("--community")
        net.add_argument("--v3-user")
        net.add_argument("--v3-auth-key")
        net.add_argument("--v3-priv-key")
        net.add_argument("--snmp-timeout", type=float, default=2.0)
        ans = sub.add_parser("ansible", help="Ansible setup facts")
        ans.add_argument("--inventory")
        ans.add_argument("--from-cmdb", action="store_true", help="inventory of the CMDB's discovered hosts")
        ans.add_argument("--pattern", default="all")
        lv = sub.add_parser("libvirt", help="a libvirt hypervisor and its VMs")
        lv.add_argument("--uri", default="qemu:///system")
        fl = sub.add_parser("file", help="reports from a JSON file (one report or a list)")
        fl.add_argument("path")
        st = sub.add_parser("stale", help="flag hosts not seen for STALE_DAYS (or --days)")
        st.add_argument("--days", type=int)
        sub.add_parser("link", help="link discovered hosts without a record to the device (by serial) or VM "
                                    "(by name) now recorded in the CMDB")

    def handle(self, *args: Any, **opts: Any) -> None:
        what = opts["what"]
        if what == "stale":
            from discovery.staleness import flag_stale

            self.stdout.write(f"{flag_stale(days=opts['days'])} host(s) flagged stale")
            return
        if what == "link":
            from discovery.linking import link_unlinked

            self.stdout.write(f"{link_unlinked()} host(s) linked to their recorded device or virtual machine")
            return
        self._ingest(self._collect(what, opts))

    def _collect(self, what: str, opts: dict[str, Any]) -> list[dict[str, Any]]:
        if what == "network":
            from discovery.agents import network

            snmp = network.SnmpOptions.from_args(type("A", (), opts)())
            return network.collect(opts["prefix"], ports=opts["ports"], snmp=snmp)
        if what == "libvirt":
            from discovery.agents import libvirt_agent

            return libvirt_agent.collect(opts["uri"])
        if what == "file":
            with open(opts["path"]) as fh:
                data = json.load(fh)
            return data if isinstance(data, list) else [data]
        from discovery.agents import ansible_facts

        if opts["from_cmdb"]:
            from discovery.runs import discovered_inventory

            return ansible_facts.collect(inventory=discovered_inventory(), pattern=opts["pattern"])
        if not opts["inventory"]:
            raise CommandError("give --inventory or --from-cmdb")
        return ansible_facts.collect(inventory=opts["inventory"], pattern=opts["pattern"])

    def _ingest(self, reports: list[dict[str, Any]]) -> None:
        from discovery.runs import ingest_reports

        def log(message: str, level: str = "info") -> None:
            (self.stderr if level == "error" else self.stdout).write(message)

        summary = ingest_reports(reports, log=log)
        self.stdout.write(summary.line())
        if summary.failed:
            raise CommandError(f"{summary.failed} of {len(reports)} report(s) failed")
