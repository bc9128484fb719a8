"""Building, validating and delivering discovery reports (no Django here).

Agents build plain dicts with :func:`new_report`; :func:`deliver` either prints
them (``--dry-run``), writes them to a file, or POSTs each one to the CMDB with
``Authorization: Token <key>``.  The schema is loaded from this package so the
agents and the server validate against the very same file.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from functools import cache
from pathlib import Path
from typing import Any, TextIO

from discovery.agents import SCHEMA_VERSION, __version__

SCHEMA_PATH = Path(__file__).with_name("schema") / "report-v1.json"


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_report(source_type: str, source_name: str, *, kind: str = "host") -> dict[str, Any]:
    """An empty report skeleton; agents fill identifiers, attributes, interfaces, software."""
    return {
        "schema_version": SCHEMA_VERSION,
        "source": {"type": source_type, "name": source_name, "version": __version__},
        "collected_at": now_iso(),
        "kind": kind,
        "identifiers": {},
        "attributes": {},
        "interfaces": [],
        "software": [],
        "relationships": [],
    }


def prune(report: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values: the schema rejects e.g. an empty serial, and absent means unknown."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v not in (None, "", [], {})}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    out = clean(report)
    for key in ("identifiers", "attributes"):
        out.setdefault(key, {})
    return out


def validation_errors(report: dict[str, Any]) -> list[str]:
    """Schema errors as ``path: message`` strings (empty when valid, or when jsonschema is missing)."""
    try:
        import jsonschema
    except ImportError:  # the agents work without it; the server always validates
        return []
    validator = jsonschema.Draft202012Validator(schema())
    return [f"{'/'.join(str(p) for p in err.absolute_path) or '(root)'}: {err.message}"
            for err in validator.iter_errors(report)]


def push(report: dict[str, Any], url: str, token: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """POST one report to ``<url>/api/discovery/reports/``; returns the server's JSON answer."""
    endpoint = url.rstrip("/") + "/api/discovery/reports/"
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's CMDB
        endpoint,
        data=json.dumps(report).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json",
                 "Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        raise RuntimeError(f"CMDB rejected the report ({exc.code}): {body}") from exc


def deliver(reports: list[dict[str, Any]], *, dry_run: bool = False, output: TextIO | None = None,
            url: str | None = None, token: str | None = None) -> list[dict[str, Any]]:
    """Print/write the reports (dry run) or push them; returns the server answers."""
    if dry_run or output is not None:
        target = output
        if target is None:
            import sys

            target = sys.stdout
        json.dump(reports[0] if len(reports) == 1 else reports, target, indent=2, sort_keys=True)
        target.write("\n")
        return []
    if not url or not token:
        raise SystemExit("--url and --token (or CMDB_URL / CMDB_TOKEN) are required unless --dry-run")
    return [push(r, url, token) for r in reports]
