"""Web UI hooks of jobs and schedules: menu entries."""

from __future__ import annotations

from cmdb.ui.registry import register_link

register_link("Automation", "Jobs", "jobs:job_list", "jobs.job")
register_link("Automation", "Schedules", "jobs:schedule_list", "jobs.schedule")
