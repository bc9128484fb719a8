"""Change management's demo step: exam weeks, a CAB and a handful of changes in every phase of their life.

What the demo university's change calendar shows after ``cmdb demo``:

* the freeze **Exam weeks** over the examination and campus management services (their whole
  dependency stack), from two days before the demo is loaded for three weeks: normal changes to
  those CIs are refused;
* the approver group **Change Advisory Board (CAB)** (three members, quorum 2) and the standard-change
  template **Patch a web server VM**;
* a **draft** (a Moodle upgrade), a **submitted** normal change on the core switch ``core-zi-01``
  (assessed: impacted services, risk score and factors) planned after the exams, an **approved and
  scheduled** hypervisor patch whose window overlaps it and whose blast radius shares CIs with it
  (the collision shows on the calendar and on both changes), a **completed** standard change from the
  template, and a completed **emergency** change on the examination server during the freeze, the
  freeze it passed recorded with its reason on the submit transition.

Everything goes through the real services (:func:`cmdb.changes.transitions.transition`,
:func:`cmdb.changes.approvals.decide`, the assessment on submit), so the assessments, collisions and
transition history are the ones the product computes.  Times are relative to the hour the demo is
loaded (as the core demo's "last seen" times are): a demo loaded today shows the exams under way
and the switch upgrade ahead; names and the story are fixed, so only the timestamps differ between
runs.

The demo notifies nobody: its events go to Django's dummy mail backend and to no webhook, so loading
it on an instance with SMTP configured does not mail the demo's contacts.  The demo's users (a
requester and the CAB) have unusable passwords: they cannot log in until an administrator sets one.

Idempotent: when the CAB or the freeze exists the step writes nothing (nor when one of its user
names is taken: an existing account is never put on the CAB).  Everything else is written in
one change-logged transaction (source ``demo-changes``), so a failure leaves nothing half-done.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from cmdb.core.context import change_logging
from cmdb.core.models import ConfigurationItem

from .models import ApprovalGroup, Change, ChangeState, ChangeTemplate, ChangeType, Freeze

log = logging.getLogger(__name__)

SOURCE = "demo-changes"
FREEZE = "Exam weeks"
CAB = "Change Advisory Board (CAB)"
TEMPLATE = "Patch a web server VM"
#: Services whose stacks the exam freeze covers (slugs of cmdb/demo/services.py).
FROZEN_SERVICES = ("examinations", "campus-management")
REQUESTER = ("demo.netops", "Nora", "Netzwerk")
CAB_MEMBERS = (("demo.cab.lehmann", "Lena", "Lehmann"), ("demo.cab.richter", "Rolf", "Richter"),
               ("demo.cab.wolf", "Wiebke", "Wolf"))
#: The CIs the demo's changes name, by kind and name (all in the core demo).
CIS = {
    "core": ("dcim.device", "core-zi-01"),
    "esx": ("dcim.device", "esx-zi-01"),
    "exam": ("virtualization.virtualmachine", "exam-app01"),
    "web": ("virtualization.virtualmachine", "web-cms01"),
    "moodle": ("virtualization.virtualmachine", "moodle-web01"),
}


def exists() -> bool:
    """The change-management demo is there once its CAB or its freeze is."""
    return ApprovalGroup.objects.filter(name=CAB).exists() or Freeze.objects.filter(name=FREEZE).exists()


def demo_step(seed: int) -> dict[str, Any]:
    """Write the freeze, the CAB, the template and the demo changes (see the module docstring)."""
    if exists():
        return {"created": False}
    cis = _cis()
    missing = sorted(key for key in CIS if key not in cis)
    if missing:
        log.warning("change demo: CIs %s of the core demo are missing; nothing written", ", ".join(missing))
        return {"created": False, "missing": missing}
    taken = sorted(get_user_model().objects.filter(username__in=[u[0] for u in (REQUESTER, *CAB_MEMBERS)])
                   .values_list("username", flat=True))
    if taken:  # never hand an existing account a place on the CAB
        log.warning("change demo: users %s exist already; nothing written", ", ".join(taken))
        return {"created": False, "users_exist": taken}
    # The override is entered first and left last, so the notifications (sent when the transaction
    # commits) still see it.
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend", CHANGES_WEBHOOK_URLS=[]), \
            change_logging(source=SOURCE), transaction.atomic():
        changes = _write(cis)
    return {"created": True, "changes": {key: change.pk for key, change in changes.items()}}


def _cis() -> dict[str, int]:
    """Registry ids of the CIs in :data:`CIS` that exist (one query)."""
    wanted = {value: key for key, value in CIS.items()}
    rows = ConfigurationItem.objects.filter(name__in=[name for _kind, name in CIS.values()]).values_list(
        "kind", "name", "pk")
    return {wanted[(kind, name)]: pk for kind, name, pk in rows if (kind, name) in wanted}


def _user(username: str, first: str, last: str) -> Any:
    user = get_user_model()(username=username, first_name=first, last_name=last)
    user.set_unusable_password()
    user.save()
    return user


def _write(cis: dict[str, int]) -> dict[str, Change]:
    from cmdb.services.models import Service
    from cmdb.tenancy.models import Tenant

    from . import approvals
    from .transitions import transition

    # The hour the demo is loaded: windows start on full hours, as people plan them.
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    requester = _user(*REQUESTER)
    members = [_user(*m) for m in CAB_MEMBERS]
    cc = Tenant.objects.filter(slug="computing-center").first()
    eo = Tenant.objects.filter(slug="examination-office").first()

    freeze = Freeze(name=FREEZE, start=day - dt.timedelta(days=2), end=day + dt.timedelta(days=19),
                    reason="Examination period: exam registration, e-exams and grading must not be disturbed",
                    blocks_types=[ChangeType.NORMAL.value])
    freeze.full_clean()
    freeze.save()
    freeze.services.set(Service.objects.filter(slug__in=FROZEN_SERVICES))
    cab = ApprovalGroup(name=CAB, quorum=2, description="Decides on every normal and emergency change; "
                                                        "two approvals of its members approve")
    cab.full_clean()
    cab.save()
    cab.members.set(members)
    template = ChangeTemplate(name=TEMPLATE, max_duration=dt.timedelta(hours=2),
                              allowed_kinds=["virtualization.virtualmachine"], allowed_reconcilers=["ansible"],
                              description="Monthly OS updates of one web server VM behind the reverse proxy",
                              rollback_plan="Revert to the VM snapshot taken before the updates")
    template.full_clean()
    template.save()

    def change(title: str, ci_keys: tuple[str, ...], start: dt.datetime, hours: float,
               **extra: Any) -> Change:
        obj = Change(title=title, requester=requester, window_start=start,
                     window_end=start + dt.timedelta(hours=hours), timezone="Europe/Berlin", **extra)
        obj.full_clean()
        obj.save()
        obj.cis.set([cis[k] for k in ci_keys])
        return obj

    def approve(obj: Change) -> None:
        for member in members[:2]:
            approvals.decide(obj, member, "approve", "Risk understood, rollback plan is fine")

    after_exams = freeze.end + dt.timedelta(days=2, hours=5)  # 05:00 UTC, early morning in Zittau
    made: dict[str, Change] = {}
    made["draft"] = change(
        "Upgrade Moodle to 4.5", ("moodle",), after_exams + dt.timedelta(days=7), 4, tenant=cc,
        description="New major release of the learning platform; test on moodle-test first",
        rollback_plan="Restore the database dump and the previous code release")
    made["switch"] = switch = change(
        "Firmware upgrade of core switch core-zi-01", ("core",), after_exams, 2, tenant=cc,
        description="IOS XE 17.12 on the first core switch of Zittau; its partner carries the traffic",
        rollback_plan="Boot the previous image from flash (about 10 minutes)")
    transition(switch, ChangeState.SUBMITTED, user=requester, reason="Ready for the CAB", source=SOURCE)
    made["hypervisor"] = esx = change(
        "Patch ESXi on esx-zi-01", ("esx",), after_exams + dt.timedelta(hours=1), 2, tenant=cc,
        implementer=requester, description="ESXi 8.0 U3 patch; VMs are moved to the other hosts first",
        rollback_plan="Boot the alternate boot bank")
    transition(esx, ChangeState.SUBMITTED, user=requester, reason="Ready for the CAB", source=SOURCE)
    approve(esx)
    transition(esx, ChangeState.SCHEDULED, user=requester, reason="Scheduled for its window", source=SOURCE)

    # Done: a standard change whose window is the current hour (a change starts only inside it).
    made["standard"] = web = change(
        "Monthly OS updates of web-cms", ("web",), hour - dt.timedelta(hours=1), 2, tenant=cc,
        type=ChangeType.STANDARD, template=template, implementer=requester,
        rollback_plan="Revert to the VM snapshot taken before the updates")
    transition(web, ChangeState.SUBMITTED, user=requester, reason="Monthly patch day", source=SOURCE)
    for to, reason in ((ChangeState.SCHEDULED, "Patch day"), (ChangeState.IN_PROGRESS, "Snapshot taken, updating"),
                       (ChangeState.COMPLETED, "Updated and rebooted; the site answers")):
        transition(web, to, user=requester, reason=reason, source=SOURCE)

    made["emergency"] = emergency = change(
        "Emergency: patch exam-app against an actively exploited vulnerability", ("exam",),
        hour - dt.timedelta(hours=1), 2, tenant=eo, type=ChangeType.EMERGENCY, implementer=requester,
        emergency_reason="A remote code execution flaw in the application server is exploited in the wild; "
                         "the e-exam front end is reachable from the campus network",
        rollback_plan="Revert to the VM snapshot taken before the patch")
    transition(emergency, ChangeState.SUBMITTED, user=requester, reason="Cannot wait for the end of the exams",
               source=SOURCE)
    approve(emergency)
    for to, reason in ((ChangeState.SCHEDULED, "Now"), (ChangeState.IN_PROGRESS, "Patching between two exams"),
                       (ChangeState.COMPLETED, "Patched; the e-exam front end is back")):
        transition(emergency, to, user=requester, reason=reason, source=SOURCE)
    return made
