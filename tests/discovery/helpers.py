"""Building discovery reports for tests."""

from __future__ import annotations

import copy
from typing import Any

from discovery.report import new_report, prune


def report(*, source: str = "agent", name: str = "test-agent", serial: str | None = None,
           manufacturer: str | None = "Dell Inc.", uuid: str | None = None, macs: list[str] | None = None,
           hostname: str | None = None, fqdn: str | None = None, software: list[tuple[str, str]] | None = None,
           **attributes: Any) -> dict[str, Any]:
    r = new_report(source, name)
    r["identifiers"] = {"serial": serial, "manufacturer": manufacturer if serial else None, "system_uuid": uuid,
                        "mac_addresses": macs or [], "hostname": hostname, "fqdn": fqdn}
    r["attributes"] = {"hostname": hostname, **attributes}
    if software is not None:
        r["software"] = [{"name": n, "version": v, "package_manager": "dpkg"} for n, v in software]
    out = prune(r)
    if software is not None:
        out["software"] = copy.deepcopy(r["software"])
    return out
