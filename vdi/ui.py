"""Web UI of the VDI domain: the standard pages of its models, a week view of a pool's schedule on the pool's
page, and the capacity page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.html import format_html, format_html_join

from cmdb.ui.registry import CI_COLUMNS, RelatedTable, register, register_link, register_panel

from . import filtersets, models
from .schedule import Grid, PoolSpec, sizes

GROUP = "VDI"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

register(models.Pool, filterset=filtersets.PoolFilterSet, group=GROUP,
         columns=["name", "pool_type", "cluster", "driver", "vcpus", "memory_mb", "gpu_profile", "min_size",
                  "max_size", "spare", *CI_COLUMNS],
         default_columns=["name", "pool_type", "cluster", "vcpus", "memory_mb", "gpu_profile", "max_size", "spare",
                          "tenant"],
         list_filters=["pool_type", "driver", "cluster", "tenant", "status"],
         form_fields=["name", "pool_type", "golden_image", "cluster", "driver", "kube_cluster", "kube_namespace",
                      "vcpus", "memory_mb", "disk_gb",
                      "gpu_profile", "min_size", "max_size", "spare", "entitled_groups", "status", "tenant",
                      "criticality", "owner", "description", "comments", "tags"],
         related=[RelatedTable("Desktops", "vdi.desktop", "pool", ("name", "state", "assigned_user", "host",
                                                                   "last_used"), "pool_id", limit=100),
                  RelatedTable("Schedule rules", "vdi.poolschedulerule", "pool", ("weekday", "start", "end", "size"),
                               "pool_id"),
                  RelatedTable("Timetables", "vdi.timetablesource", "pool", ("name", "room_filter", "lead_minutes",
                                                                             "size"), "pool_id")])
register(models.Desktop, filterset=filtersets.DesktopFilterSet, group=GROUP,
         columns=["name", "pool", "state", "assigned_user", "host", "last_used", "assignment_expires", *CI_COLUMNS],
         default_columns=["name", "pool", "state", "assigned_user", "host", "last_used"],
         list_filters=["state", "pool", "tenant"])
register(models.PoolScheduleRule, filterset=filtersets.PoolScheduleRuleFilterSet, group=GROUP,
         columns=["pool", "weekday", "start", "end", "size"])
register(models.TimetableSource, filterset=filtersets.TimetableSourceFilterSet, group=GROUP,
         columns=["name", "pool", "room_filter", "lead_minutes", "size", "feed_url"],
         form_fields=["pool", "name", "feed_url", "content", "room_filter", "lead_minutes", "size"])
register(models.HostCapacity, filterset=filtersets.HostCapacityFilterSet, group=GROUP,
         columns=["host", "cpu_cores", "memory_mb", "gpu_model", "gpu_count", "gpu_frame_buffer_mb", "uri"])
register(models.ClusterPolicy, filterset=filtersets.ClusterPolicyFilterSet, group=GROUP,
         columns=["cluster", "cpu_overcommit", "memory_overcommit"])
register(models.GpuProfile, filterset=filtersets.GpuProfileFilterSet, group=GROUP,
         columns=["name", "gpu_model", "frame_buffer_mb", "description"])
register(models.LicencePolicy, filterset=filtersets.LicencePolicyFilterSet, group=GROUP,
         columns=["license", "on_exceed"])
register_link(GROUP, "Capacity", "vdi:capacity", "vdi.pool")


def week(pool: Any, start: dt.datetime | None = None) -> list[list[int]]:
    """Wanted desktops per hour (rows 0-23) and weekday (columns Monday-Sunday) of the current week."""
    now = timezone.localtime(start or timezone.now())
    monday = (now - dt.timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    row = sizes([PoolSpec.of(pool)], Grid.make(monday, 7 * 24, 3600))[0]
    return [[int(row[day * 24 + hour]) for day in range(7)] for hour in range(24)]


def week_panel(request: Any, pool: Any) -> str | None:
    """The pool's schedule of this week drawn as a table: darker cells want more desktops."""
    grid = week(pool)
    top = max(1, pool.max_size)

    def cell(n: int) -> Any:
        return format_html('<td title="{}" style="background: rgba(37, 99, 235, {})">{}</td>', n,
                           f"{0.08 + 0.8 * n / top:.2f}", n)

    rows = format_html_join("", "<tr><th>{}</th>{}</tr>", (
        (f"{hour:02d}:00", format_html_join("", "{}", ((cell(n),) for n in grid[hour]))) for hour in range(24)))
    head = format_html_join("", "<th>{}</th>", ((d,) for d in DAYS))
    return format_html('<section class="card"><h2>Schedule this week (desktops wanted per hour)</h2>'
                       '<table class="table vdi-week"><thead><tr><th></th>{}</tr></thead><tbody>{}</tbody>'
                       "</table></section>", head, rows)


register_panel("vdi.pool", week_panel)
