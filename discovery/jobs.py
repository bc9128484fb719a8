"""Discovery as jobs, so network scans, Ansible facts and staleness run on schedules from the CMDB.

Each job collects with an agent, ingests every report in its own transaction (a bad one is
logged, the others go on) and writes one log line per report plus a summary; the result
holds the counts.  A job started by a user ingests on their behalf (their permissions and
tenants apply, and the CMDB inventory is what they may see); a scheduled job has no user.
Schedules store their arguments in the database, so SNMP secrets are
given as references (``community_from``, ``v3_auth_key_from``, ``v3_priv_key_from``:
``env:NAME`` or ``setting:NAME``); a schedule with a secret in plain text is refused.

Schedule examples (``/api/jobs/schedules/``)::

    {"job_name": "discovery.network", "cron": "0 2 * * *",
     "kwargs": {"prefix": "192.0.2.0/24", "v3_user": "cmdb", "v3_auth_key_from": "env:SNMP_AUTH",
                "v3_priv_key_from": "env:SNMP_PRIV"}}
    {"job_name": "discovery.ansible", "cron": "30 2 * * *", "kwargs": {"from_cmdb": "inventory", "scope": "all"}}
    {"job_name": "discovery.stale", "cron": "0 6 * * *", "kwargs": {}}
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cmdb.jobs.registry import JobContext, job

from .runs import IngestSummary, ansible_discovery, network_discovery, secret_reference_errors

_NETWORK_ARGS = {"prefix", "ports", "snmp_port", "community_from", "v3_user", "v3_auth_key_from", "v3_priv_key_from",
                 "snmp_timeout"}
_ANSIBLE_ARGS = {"inventory", "from_cmdb", "scope", "pattern", "packages"}


def _unknown(kwargs: dict[str, Any], allowed: set[str]) -> dict[str, str]:
    return {key: f"Unknown argument; use {', '.join(sorted(allowed))}." for key in kwargs if key not in allowed
            and key not in ("community", "v3_auth_key", "v3_priv_key")}


def network_kwargs_errors(kwargs: dict[str, Any]) -> dict[str, str]:
    errors = {**_unknown(kwargs, _NETWORK_ARGS), **secret_reference_errors(kwargs)}
    try:
        ipaddress.ip_network(str(kwargs.get("prefix", "")), strict=False)
    except ValueError:
        errors["prefix"] = "Give a network prefix such as 192.0.2.0/24."
    if kwargs.get("v3_user") and not kwargs.get("v3_auth_key_from"):
        errors["v3_auth_key_from"] = "SNMP v3 needs an authentication key (env:NAME or setting:NAME)."
    return errors


def ansible_kwargs_errors(kwargs: dict[str, Any]) -> dict[str, str]:
    errors = _unknown(kwargs, _ANSIBLE_ARGS)
    if kwargs.get("from_cmdb") not in (None, "", "inventory", "discovered"):
        errors["from_cmdb"] = "Give 'inventory' (the CMDB's Ansible inventory) or 'discovered' (discovered FQDNs)."
    if not kwargs.get("inventory") and not kwargs.get("from_cmdb"):
        errors["inventory"] = "Give an inventory path, or from_cmdb."
    if kwargs.get("scope") and kwargs.get("from_cmdb") != "inventory":
        errors["scope"] = "A scope applies to from_cmdb='inventory' only."
    return errors


def _finish(ctx: JobContext, summary: IngestSummary) -> dict[str, Any]:
    ctx.log(summary.line(), level="error" if summary.failed else "info")
    return summary.as_dict()


@job("discovery.network", validate=network_kwargs_errors)
def network_job(ctx: JobContext, **kwargs: Any) -> dict[str, Any]:
    """nmap sweep and SNMP (v2c/v3) of a prefix; reports ingested one transaction each."""
    errors = network_kwargs_errors(kwargs)  # also for jobs stored before a rule existed
    if errors:
        raise ValueError("; ".join(f"{k}: {v}" for k, v in sorted(errors.items())))
    return _finish(ctx, network_discovery(**kwargs, user=ctx.job.user, log=ctx.log))


@job("discovery.ansible", validate=ansible_kwargs_errors)
def ansible_job(ctx: JobContext, **kwargs: Any) -> dict[str, Any]:
    """Ansible facts (setup + package_facts) of an inventory path or of the CMDB's inventory."""
    errors = ansible_kwargs_errors(kwargs)
    if errors:
        raise ValueError("; ".join(f"{k}: {v}" for k, v in sorted(errors.items())))
    return _finish(ctx, ansible_discovery(**kwargs, user=ctx.job.user, log=ctx.log))


@job("discovery.stale", validate=lambda kw: _unknown(kw, {"days"}))
def stale_job(ctx: JobContext, *, days: int | None = None) -> dict[str, Any]:
    """Flag hosts not reported for ``days`` (default ``STALE_DAYS``); never deletes."""
    from .staleness import flag_stale

    flagged = flag_stale(days=days)
    ctx.log(f"{flagged} host(s) flagged stale")
    return {"flagged": flagged}
