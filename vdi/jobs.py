"""The VDI domain's jobs (schedule them as data: ``/api/jobs/schedules/`` with the job name and a cron line)."""

from __future__ import annotations

from typing import Any

from cmdb.jobs.registry import JobContext, job


def _no_arguments(kwargs: dict[str, Any]) -> dict[str, str]:
    return {key: "This job takes no arguments." for key in kwargs}


@job("vdi.timetables.refresh", validate=_no_arguments)
def refresh_timetables(ctx: JobContext) -> dict[str, Any]:
    """Fetch every timetable's ICS feed again (:func:`vdi.feeds.refresh_all`): the lecture plan changes during a
    semester, and a pool must follow the plan of this week, not the one pasted in October."""
    from .feeds import refresh_all

    summary = refresh_all(log=ctx.log)
    ctx.log(f"{len(summary['changed'])} timetable(s) changed, {summary['unchanged']} unchanged, "
            f"{len(summary['failed'])} failed")
    return summary
