"""Command line for the agents: ``python -m discovery <agent> [options]``.

    python -m discovery host --dry-run
    python -m discovery host --url https://cmdb.example.org --token $TOKEN
    python -m discovery network 192.0.2.0/24 --community public --dry-run
    python -m discovery ansible --inventory hosts.ini --dry-run
    python -m discovery libvirt --uri qemu:///system --output reports.json

``--url``/``--token`` default to the environment variables ``CMDB_URL`` and
``CMDB_TOKEN``.  Each agent is imported only when chosen, so the host agent
needs nothing beyond the standard library.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def _collect(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.agent == "host":
        from discovery.agents import host

        return [host.collect()]
    if args.agent == "network":
        from discovery.agents import network

        return network.collect(args.prefix, ports=args.ports, snmp=network.SnmpOptions.from_args(args))
    if args.agent == "ansible":
        from discovery.agents import ansible_facts

        return ansible_facts.collect(inventory=args.inventory, pattern=args.pattern)
    if args.agent == "libvirt":
        from discovery.agents import libvirt_agent

        return libvirt_agent.collect(args.uri)
    raise SystemExit(f"unknown agent {args.agent}")


def _delivery_options(p: argparse.ArgumentParser, *, defaults: bool) -> None:
    """Where the reports go.  Given to the main parser and to every agent's, so they may stand before
    or after the agent (``python -m discovery host --dry-run``); an agent's copy only overrides."""
    keep = {} if defaults else {"default": argparse.SUPPRESS}
    p.add_argument("--dry-run", action="store_true", help="print the report(s) instead of pushing them", **keep)
    p.add_argument("--output", type=argparse.FileType("w"), help="write the report(s) to this file instead",
                   **({"default": None} | keep))
    p.add_argument("--url", help="CMDB base URL (env CMDB_URL)", **({"default": os.environ.get("CMDB_URL")} | keep))
    p.add_argument("--token", help="API token (env CMDB_TOKEN)", **({"default": os.environ.get("CMDB_TOKEN")} | keep))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m discovery", description="CMDB discovery agents")
    _delivery_options(p, defaults=True)
    common = argparse.ArgumentParser(add_help=False)
    _delivery_options(common, defaults=False)
    sub = p.add_subparsers(dest="agent", required=True)
    sub.add_parser("host", parents=[common], help="this Linux machine")
    net = sub.add_parser("network", parents=[common], help="nmap sweep plus SNMP of a prefix")
    net.add_argument("prefix", help="e.g. 192.0.2.0/24 or one address")
    net.add_argument("--ports", default="22,80,161,443", help="TCP ports for the nmap sweep ('' to skip nmap)")
    net.add_argument("--snmp-port", type=int, default=161)
    net.add_argument("--community", help="SNMP v2c community")
    net.add_argument("--v3-user", help="SNMP v3 user (authPriv with SHA/AES)")
    net.add_argument("--v3-auth-key")
    net.add_argument("--v3-priv-key")
    net.add_argument("--snmp-timeout", type=float, default=2.0)
    ans = sub.add_parser("ansible", parents=[common], help="Ansible 'setup' facts through ansible-runner")
    ans.add_argument("--inventory", required=True, help="inventory file or directory")
    ans.add_argument("--pattern", default="all")
    lv = sub.add_parser("libvirt", parents=[common], help="a libvirt hypervisor and its domains")
    lv.add_argument("--uri", default="qemu:///system")
    return p


def main(argv: list[str] | None = None) -> None:
    from discovery.agents.report import deliver

    args = parser().parse_args(argv)
    reports = _collect(args)
    answers = deliver(reports, dry_run=args.dry_run, output=args.output, url=args.url, token=args.token)
    for answer in answers:
        sys.stderr.write(f"{answer.get('action')} ci {answer.get('ci')} (rule {answer.get('rule') or '-'})\n")


if __name__ == "__main__":
    main()
