"""Discovery run from the server: collect with an agent, ingest each report in its own transaction.

Used by the scheduled jobs (:mod:`discovery.jobs`), by ``cmdb discover`` and by the
Ansible reconciler, whose gathered facts arrive through the core's hook
(:data:`cmdb.core.hooks.ansible_facts_gathered`, received by :func:`ingest_ansible_facts`).  One bad report (invalid,
refused by permissions, a database error) is logged and counted and the others go on: a
scan of 500 machines must not be lost because one of them answers strangely.

Secrets: schedule arguments are stored in the database, shown in the UI and API and
written to the change log, so SNMP secrets are never taken from them.  A schedule names
where the secret lives instead: ``env:NAME`` (an environment variable of the worker) or
``setting:NAME`` (a Django setting) — see :func:`resolve_secret`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cmdb.core import secrets
from cmdb.core.secrets import SecretPolicy

logger = logging.getLogger(__name__)
Log = Callable[..., None]

#: Job arguments that would put an SNMP secret into a schedule in plain text.
PLAIN_SECRETS = ("community", "v3_auth_key", "v3_priv_key")


def _default_log(message: str, level: str = "info") -> None:
    logger.log(logging.ERROR if level == "error" else logging.INFO, "%s", message)


@dataclass
class IngestSummary:
    """What a batch of reports did: counts per action, failures, the CIs touched."""

    actions: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    ci_ids: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.actions.values()) + self.failed

    def line(self) -> str:
        counts = ", ".join(f"{n} {a}" for a, n in sorted(self.actions.items())) or "nothing ingested"
        return f"{self.total} report(s): {counts}; {self.failed} failed"

    def as_dict(self) -> dict[str, Any]:
        return {"reports": self.total, **{str(a): n for a, n in self.actions.items()}, "failed": self.failed,
                "ci_ids": self.ci_ids}


def report_label(report: Any) -> str:
    """A short name for a report in log lines: its FQDN, host name or first MAC."""
    ident = report.get("identifiers") if isinstance(report, dict) else None
    if not isinstance(ident, dict):
        return "(no identifiers)"
    return str(ident.get("fqdn") or ident.get("hostname") or next(iter(ident.get("mac_addresses") or []), None)
               or ident.get("serial") or "(unnamed)")


def ingest_reports(reports: Iterable[dict[str, Any]], *, user: Any = None, log: Log | None = None,
                   labels: Iterable[str] | None = None) -> IngestSummary:
    """Ingest each report in its own transaction; log one line per report; never raises for a report."""
    from discovery.services import ReportInvalid, ReportRefused, ingest_report

    log = log or _default_log
    summary = IngestSummary()
    names = iter(labels) if labels is not None else None
    for report in reports:
        label = next(names, None) if names is not None else None
        label = label or report_label(report)
        try:
            result = ingest_report(report, user=user)
        except (ReportInvalid, ReportRefused) as exc:
            summary.failed += 1
            errors = "; ".join(f"{path}: {', '.join(map(str, msgs))}" for path, msgs in sorted(exc.errors.items()))
            what = "refused (outside your scope)" if isinstance(exc, ReportRefused) else "rejected"
            log(f"{label}: report {what}: {errors}"[:2000], level="error")
            continue
        except Exception as exc:  # one machine's failure must not stop the batch; it is recorded
            summary.failed += 1
            log(f"{label}: ingest failed: {type(exc).__name__}: {exc}"[:2000], level="error")
            continue
        summary.actions[str(result.action)] += 1
        summary.ci_ids.append(result.ci_id)
        log(f"{label}: {result.action} ci {result.ci_id} (rule {result.rule or '-'}) "
            f"changed={','.join(result.changed) or '-'}"
            + (f" software +{result.software.get('added', 0)} -{result.software.get('removed', 0)}"
               f" ~{result.software.get('upgraded', 0)}" if result.software else ""))
    return summary


#: SNMP secrets: a variable or setting whose name says SNMP.  Whoever may edit schedules must not be
#: able to have the worker send one of its other secrets (``SECRET_KEY``, ``DATABASE_URL``...) to the
#: devices of a prefix they choose, as an SNMP community.
SNMP_SECRETS = SecretPolicy(purpose="an SNMP secret", schemes=("env", "setting"), name_must_contain="SNMP")


def resolve_secret(reference: str | None, *, what: str) -> str | None:
    """The secret ``reference`` names (``env:NAME`` or ``setting:NAME``); a clear error when it is unset."""
    if not reference:
        return None
    try:
        return secrets.resolve(str(reference), SNMP_SECRETS)
    except secrets.SecretUnavailable as exc:
        raise ValueError(f"{what}: {exc}") from None


def secret_reference_errors(kwargs: dict[str, Any]) -> dict[str, str]:
    """Errors for job arguments that carry SNMP secrets in plain text or malformed references."""
    errors = {key: f"Do not store secrets in job arguments; use {key}_from with env:NAME or setting:NAME."
              for key in PLAIN_SECRETS if kwargs.get(key)}
    for key in PLAIN_SECRETS:
        ref = kwargs.get(f"{key}_from")
        if ref is not None:
            problem = secrets.reference_error(str(ref), SNMP_SECRETS)
            if problem:
                errors[f"{key}_from"] = problem
    return errors


def network_discovery(*, prefix: str, ports: str = "22,80,161,443", snmp_port: int = 161,
                      community_from: str | None = None, v3_user: str | None = None,
                      v3_auth_key_from: str | None = None, v3_priv_key_from: str | None = None,
                      snmp_timeout: float = 2.0, user: Any = None, log: Log | None = None) -> IngestSummary:
    """nmap sweep (+ SNMP when a community or v3 user is given) of ``prefix``, then ingest."""
    from discovery.agents import network

    log = log or _default_log
    community = resolve_secret(community_from, what="community_from")
    snmp = None
    if community or v3_user:
        snmp = network.SnmpOptions(
            port=int(snmp_port), community=community, v3_user=v3_user,
            v3_auth_key=resolve_secret(v3_auth_key_from, what="v3_auth_key_from"),
            v3_priv_key=resolve_secret(v3_priv_key_from, what="v3_priv_key_from"), timeout=float(snmp_timeout))
    log(f"scanning {prefix} (ports {ports or 'ping sweep'}; SNMP {'v3' if v3_user else 'v2c' if community else 'off'})")
    reports = network.collect(prefix, ports=ports, snmp=snmp)
    log(f"{len(reports)} host(s) answered")
    return ingest_reports(reports, user=user, log=log)


def cmdb_inventory(scope: str = "all", *, user: Any = None) -> dict[str, Any]:
    """The CMDB's own Ansible inventory (devices and VMs in ``scope`` that ``user`` may see, all when
    None) in ansible-runner's dict form, as the Ansible app answers the core's hook."""
    from cmdb.core.hooks import ansible_inventory_requested, first_answer

    inventory = first_answer(ansible_inventory_requested, scope=scope, user=user)
    if inventory is None:
        raise ValueError("from_cmdb='inventory' needs the Ansible app (playbooks) installed.")
    return inventory


def ingest_ansible_facts(sender: Any = None, *, facts: dict[str, dict[str, Any]], source_name: str,
                         user: Any = None, log: Log | None = None, **kwargs: Any) -> dict[str, Any]:
    """Receiver of :data:`cmdb.core.hooks.ansible_facts_gathered`: each host's facts as a report, ingested.

    One transaction per report; a host whose facts cannot be converted is logged and the others go on.
    """
    from discovery.agents.ansible_facts import facts_report

    log = log or _default_log
    reports, labels = [], []
    for host in sorted(facts):
        try:
            reports.append(facts_report(facts[host], source_name=source_name))
            labels.append(host)
        except Exception as exc:  # odd facts of one host must not cost the others their report
            log(f"{host}: facts could not be converted: {type(exc).__name__}: {exc}", level="error")
    summary = ingest_reports(reports, user=user, log=log, labels=labels)
    log(summary.line())
    return summary.as_dict()


def discovered_inventory(user: Any = None) -> str:
    """INI inventory text of every discovered host with an FQDN (reached by name).

    ``user``: only the hosts they may change, since their facts are gathered to be ingested on their
    behalf (a faculty's job must not log in to another faculty's machines); None: all.
    """
    from cmdb.users.permissions import restrict
    from discovery.models import Host

    hosts = Host.objects.exclude(fqdn="")
    if user is not None:
        hosts = restrict(hosts, user, "change")
    return "\n".join(sorted(set(hosts.values_list("fqdn", flat=True)))) + "\n"


def ansible_discovery(*, inventory: str = "", from_cmdb: str = "", scope: str = "all", pattern: str = "all",
                      packages: bool = True, user: Any = None, log: Log | None = None) -> IngestSummary:
    """Ansible facts (``setup`` + ``package_facts``) of an inventory, then ingest.

    ``inventory``: a path (file or directory) readable by the worker; or ``from_cmdb``:
    ``inventory`` (the CMDB's Ansible inventory of devices and VMs in ``scope``, with their
    connection variables from config contexts) or ``discovered`` (the FQDNs of discovered hosts).
    """
    from discovery.agents import ansible_facts

    log = log or _default_log
    source: str | dict[str, Any]
    if from_cmdb == "inventory":
        source = cmdb_inventory(scope, user=user)
    elif from_cmdb == "discovered":
        source = discovered_inventory(user)
    elif from_cmdb:
        raise ValueError(f"from_cmdb: give 'inventory' or 'discovered', not {from_cmdb!r}.")
    elif inventory:
        source = inventory
    else:
        raise ValueError("Give inventory (a path) or from_cmdb ('inventory' or 'discovered').")
    log(f"gathering Ansible facts ({'CMDB ' + from_cmdb if from_cmdb else inventory}, pattern {pattern})")
    reports = ansible_facts.collect(inventory=source, pattern=pattern, packages=packages)
    log(f"{len(reports)} host(s) answered")
    return ingest_reports(reports, user=user, log=log)
