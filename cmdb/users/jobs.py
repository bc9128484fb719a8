"""Jobs of the users app: the directory sync, so that it can be scheduled like any other job."""

from __future__ import annotations

from typing import Any

from cmdb.jobs.registry import JobContext, job


@job("users.ldap_sync")
def ldap_sync_job(ctx: JobContext, *, dry_run: bool = False) -> dict[str, Any]:
    """``cmdb ldap sync`` on a schedule: deactivate directory accounts the directory lost (their API tokens
    stop with them), refresh everyone's groups.  A directory outage fails the job and changes nothing."""
    from django.conf import settings

    from .directory import sync_accounts

    if not getattr(settings, "LDAP_ENABLED", False):
        ctx.log("campus logins are off (LDAP_SERVER_URI is not set); nothing to do")
        return {"checked": 0, "suspended": [], "reactivated": [], "memberships_changed": 0}
    report = sync_accounts(dry_run=bool(dry_run), log=ctx.log)
    return {"checked": report.checked, "suspended": report.suspended, "reactivated": report.reactivated,
            "memberships_changed": report.memberships_changed, "dry_run": bool(dry_run)}
