"""Demo additions of the jobs/reconcile branch: config contexts and a (disabled) nightly baseline check.

Idempotent (looked up by name) and cheap: a handful of rows.
"""

from __future__ import annotations

from cmdb.core.context import change_logging
from cmdb.dcim.models import DeviceRole, Site
from cmdb.extras.configcontexts import ConfigContext
from cmdb.jobs.models import Schedule

NTP = {"cmdb_ntp_servers": ["ntp1.hszg.example", "ntp2.hszg.example"]}


def load() -> None:
    with change_logging(source="demo"):
        if not ConfigContext.objects.filter(name="baseline").exists():
            ConfigContext(name="baseline", weight=100, data={
                **NTP, "cmdb_motd_extra": "Unauthorised access is prohibited. Questions: it-service@hszg.example",
                "cmdb_node_exporter_collectors": ["systemd", "processes"],
            }).validated_save()
        for site in Site.objects.order_by("pk"):
            name = f"site {site.slug}"
            if not ConfigContext.objects.filter(name=name).exists():
                ctx = ConfigContext(name=name, weight=200, data={"site_timezone": site.time_zone or "Europe/Berlin",
                                                                 "syslog_server": f"syslog.{site.slug}.hszg.example"})
                ctx.validated_save()
                ctx.sites.set([site])
        servers = list(DeviceRole.objects.filter(slug__contains="server"))
        if servers and not ConfigContext.objects.filter(name="servers").exists():
            ctx = ConfigContext(name="servers", weight=300, data={"cmdb_node_exporter_collectors": [
                "systemd", "processes", "mdadm", "hwmon"]})
            ctx.validated_save()
            ctx.roles.set(servers)
        if not Schedule.objects.filter(name="Nightly Ansible baseline check").exists():
            Schedule(name="Nightly Ansible baseline check", job_name="reconcile.run", cron="30 2 * * *",
                     kwargs={"reconciler": "ansible", "scope": "tag:ansible-managed", "dry_run": True}, enabled=False,
                     description="Dry run of playbooks/baseline.yml; enable once hosts are reachable").validated_save()
