"""Discovery settings with defaults; override any key in ``settings.CMDB_DISCOVERY``.

``IDENTIFICATION_RULES``  the order in which identification rules are tried
                          (any subset of ``serial``, ``uuid``, ``mac``, ``fqdn``).
``PRECEDENCE``            per attribute (``default`` for the rest), source types
                          from strongest to weakest; ``manual`` is an edit made
                          through the API, the UI or the admin.
``STALE_DAYS``            a CI not reported for this many days is flagged stale.
``LAST_SEEN_GRANULARITY`` seconds: an unchanged software installation's
                          ``last_seen`` is rewritten only when older than this,
                          so a re-ingest of an unchanged host writes no rows for
                          its packages.
``SOFTWARE_CHANGE_RECORDS`` ``summary`` (default): one change record per report
                          and CI listing the installations added, removed and
                          upgraded; ``each``: one record per installation (a
                          first inventory of 200 packages writes 200 records).
``MAX_REPORT_BYTES``      the largest report accepted from any path (API, files,
                          Ansible facts), as compact JSON; 4 MiB.
``MAX_FACTS_BYTES``       the largest part of a report kept on the host row
                          (everything but ``software``), as compact JSON; 256 KiB.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "IDENTIFICATION_RULES": ["serial", "uuid", "mac", "fqdn"],
    "PRECEDENCE": {
        "default": ["manual", "agent", "ansible", "libvirt", "kubernetes", "import", "network"],
        # The network scan guesses the OS from SNMP/nmap; the agent and Ansible read it.
        "os_name": ["manual", "agent", "ansible", "libvirt", "network"],
        "os_version": ["manual", "agent", "ansible", "libvirt", "network"],
    },
    "STALE_DAYS": 30,
    "LAST_SEEN_GRANULARITY": 3600,
    "SOFTWARE_CHANGE_RECORDS": "summary",
    "MAX_REPORT_BYTES": 4 << 20,
    "MAX_FACTS_BYTES": 256 << 10,
}


def get(key: str) -> Any:
    return getattr(settings, "CMDB_DISCOVERY", {}).get(key, DEFAULTS[key])


def precedence(attribute: str) -> list[str]:
    table = get("PRECEDENCE")
    return list(table.get(attribute) or table.get("default") or DEFAULTS["PRECEDENCE"]["default"])
