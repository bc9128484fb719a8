"""Building discovery reports for tests."""

from __future__ import annotations

import copy
import json
from typing import Any

from discovery.agents.report import new_report, prune

URL = "/api/discovery/reports/"


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


def post(client: Any, body: Any) -> Any:
    """POST a report as JSON text, so lone surrogates travel as escapes (the test client's encoder refuses them)."""
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def counts() -> dict[str, int]:
    """Rows in every table a report writes to: equal before and after a refused report."""
    from cmdb.core.models import ObjectChange
    from cmdb.core.models.registry import ConfigurationItem
    from cmdb.services.models import Relationship
    from cmdb.software.models import SoftwareInstallation, SoftwareProduct, SoftwareVersion
    from discovery.models import AttributeSource, Host, Identifier, IngestRecord

    models = (Host, ConfigurationItem, Identifier, AttributeSource, IngestRecord, ObjectChange, Relationship,
              SoftwareProduct, SoftwareVersion, SoftwareInstallation)
    return {m.__name__: m.objects.count() for m in models}
