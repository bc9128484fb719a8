"""``cmdb reconcile list|plan|apply|runs|show``: reconcilers from the command line, for cron and operators.

Exit codes (for cron and scripts): 0 — no drift left (a plan with nothing to do, an apply that
verified clean, a queued run); 2 — drift left (a plan with items, an apply that left drift);
1 — failure (refused scope or options, a stale plan, a run that failed or could not start, a
target that failed).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

EXIT_CLEAN, EXIT_FAILURE, EXIT_DRIFT = 0, 1, 2
STEPS = ("desired", "observe", "writeback", "plan", "apply", "verify", "done")


def _typed(option: Any, raw: str) -> Any:
    if option.type is bool:
        lowered = raw.lower()
        if lowered in ("true", "on", "yes", "1"):
            return True
        if lowered in ("false", "off", "no", "0"):
            return False
        return raw
    if option.type is int:
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


class Command(BaseCommand):
    help = ("Plan and apply reconcilers. Examples: 'cmdb reconcile list'; 'cmdb reconcile plan ansible --scope "
            "tag:web' (prints the plan and its id); 'cmdb reconcile apply PLAN_ID'; 'cmdb reconcile runs'; "
            "'cmdb reconcile show RUN_ID'. Exit code: 0 no drift left, 2 drift left, 1 failure.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{list,plan,apply,runs,show}")
        sub.add_parser("list", help="The reconcilers, the CI kinds they manage and their options.")
        plan = sub.add_parser("plan", help="Plan a reconciler for a scope; prints the plan and its id "
                                           "(exit 2 when the plan has items, 0 when in sync).")
        plan.add_argument("reconciler", help="A reconciler name (see 'cmdb reconcile list').")
        plan.add_argument("--scope", default="all", help="e.g. 'all', 'tag:web', 'site:zittau role:server' "
                                                          "(terms ANDed), 'ci:12,13'.")
        plan.add_argument("--option", "-o", action="append", default=[], metavar="NAME=VALUE",
                          help="A declared option of the reconciler (repeatable).")
        plan.add_argument("--apply", action="store_true", help="Plan and apply now (one run), then verify.")
        apply = sub.add_parser("apply", help="Apply a stored plan exactly (refused when stale: re-plan).")
        apply.add_argument("plan_id", type=int, help="The id 'cmdb reconcile plan' printed.")
        for p in (plan, apply):
            p.add_argument("--queue", action="store_true", help="Queue the run for a worker instead of running "
                                                                 "it in the foreground; prints run and job ids.")
            p.add_argument("--user", help="Act as this user (their tenant scope and permissions); default: "
                                          "the operator, who reaches everything.")
            p.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")
        runs = sub.add_parser("runs", help="The latest runs.")
        runs.add_argument("--reconciler", help="Only this reconciler's runs.")
        runs.add_argument("--limit", type=int, default=20)
        show = sub.add_parser("show", help="One run with its plan and per-item outcomes.")
        show.add_argument("run_id", type=int)

    def handle(self, *args: Any, **opts: Any) -> None:
        self.verbosity = int(opts.get("verbosity", 1))
        code = getattr(self, f"_{opts['action']}")(opts)
        if code:
            sys.exit(code)

    # --- sub-commands ---------------------------------------------------------------------------------------

    def _list(self, opts: dict[str, Any]) -> int:
        from cmdb.reconcile.api.serializers import describe_reconcilers

        for r in describe_reconcilers():
            self.stdout.write(f"{r['name']}: {r['summary']}")
            self.stdout.write(f"  kinds: {', '.join(r['kinds'])}")
            for o in r["options"]:
                choices = f" (one of {', '.join(o['choices'])})" if o["choices"] else ""
                self.stdout.write(f"  --option {o['name']}=<{o['type']}>  default {o['default']!r}: "
                                  f"{o['help']}{choices}")
        return EXIT_CLEAN

    def _plan(self, opts: dict[str, Any]) -> int:
        from cmdb.reconcile.base import reconcilers
        from cmdb.reconcile.services import RunRefused, run_request

        known = reconcilers()
        if opts["reconciler"] not in known:
            raise CommandError(f"Unknown reconciler {opts['reconciler']!r}; known: {', '.join(sorted(known))}.")
        declared = {o.name: o for o in known[opts["reconciler"]].options}
        options: dict[str, Any] = {}
        for pair in opts["option"]:
            key, sep, raw = pair.partition("=")
            if not sep:
                raise CommandError(f"--option {pair!r}: write NAME=VALUE.")
            options[key] = _typed(declared[key], raw) if key in declared else raw
        try:
            run = run_request(reconciler=opts["reconciler"], scope=opts["scope"], dry_run=not opts["apply"],
                              options=options, user=self._user(opts), enqueue=opts["queue"])
        except RunRefused as exc:
            raise CommandError("; ".join(f"{k}: {v}" for k, v in sorted(exc.errors.items()))) from exc
        return self._go(run, opts)

    def _apply(self, opts: dict[str, Any]) -> int:
        from cmdb.reconcile.models import Plan
        from cmdb.reconcile.services import RunRefused, apply_request

        plan = Plan.objects.filter(pk=opts["plan_id"]).first()
        if plan is None:
            raise CommandError(f"No plan {opts['plan_id']}.")
        user = self._user(opts)
        if user is not None:
            from cmdb.users.permissions import restrict

            if not restrict(Plan.objects.filter(pk=plan.pk), user).exists():
                raise CommandError(f"No plan {opts['plan_id']}.")
        try:
            run = apply_request(plan, user=user, enqueue=opts["queue"])
        except RunRefused as exc:
            raise CommandError("; ".join(f"{k}: {v}" for k, v in sorted(exc.errors.items()))) from exc
        return self._go(run, opts)

    def _runs(self, opts: dict[str, Any]) -> int:
        from cmdb.reconcile.models import ReconcileRun

        runs = ReconcileRun.objects.select_related("job").order_by("-created", "-id")
        if opts["reconciler"]:
            runs = runs.filter(reconciler=opts["reconciler"])
        self.stdout.write(f"{'run':>6} {'plan':>6}  {'reconciler':12} {'mode':8} {'status':10} {'changes':>7} "
                          f"{'failed':>6} {'left':>5}  scope")
        for r in runs[: max(1, opts["limit"])]:
            left = "-" if r.remaining_drift is None else str(r.remaining_drift)
            mode = "dry run" if r.dry_run else "apply"
            self.stdout.write(f"{r.pk:>6} {r.plan_id or '-':>6}  {r.reconciler:12} {mode:8} "
                              f"{r.status:10} {r.drift_count:>7} {r.failed_count:>6} {left:>5}  {r.scope}")
        return EXIT_CLEAN

    def _show(self, opts: dict[str, Any]) -> int:
        from cmdb.reconcile.models import ReconcileRun

        run = ReconcileRun.objects.select_related("job").filter(pk=opts["run_id"]).first()
        if run is None:
            raise CommandError(f"No run {opts['run_id']}.")
        self._report(run)
        return EXIT_CLEAN

    # --- helpers --------------------------------------------------------------------------------------------

    def _user(self, opts: dict[str, Any]) -> Any:
        if not opts.get("user"):
            return None
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(username=opts["user"]).first()
        if user is None:
            raise CommandError(f"No user {opts['user']!r}.")
        return user

    def _go(self, run: Any, opts: dict[str, Any]) -> int:
        from cmdb.reconcile.services import run_execute

        if opts["queue"]:
            self.stdout.write(f"queued run {run.pk} (job {run.job_id}); follow it with 'cmdb reconcile show {run.pk}'")
            return EXIT_CLEAN
        bar = _Progress(sys.stderr) if not opts["no_progress"] and sys.stderr.isatty() else None
        # Through the run's job, as a worker would run it: the job records status, timings and error.
        run = run_execute(run, log=self._log, progress=bar.step if bar else None)
        if bar:
            bar.close()
        self._report(run)
        if run.error or run.status != "completed":
            return EXIT_FAILURE
        left = run.drift_count if run.remaining_drift is None else run.remaining_drift
        return EXIT_DRIFT if left else EXIT_CLEAN

    def _log(self, message: str, level: str = "info") -> None:
        if level == "error" or self.verbosity > 1:
            self.stderr.write(message)

    def _report(self, run: Any) -> None:
        from cmdb.reconcile.selectors import plan_text

        mode = "dry run" if run.dry_run else ("apply of a stored plan" if run.applies_plan else "plan and apply")
        self.stdout.write(f"run {run.pk}: {run.reconciler} {mode}, scope {run.scope}: {run.status}")
        if run.plan_id:
            self.stdout.write(f"plan {run.plan_id}: {run.drift_count} item(s) for {run.targets} target(s)")
            self.stdout.write(plan_text(run.actions.order_by("index")).rstrip("\n"))
        for name, t in sorted((run.summary or {}).items()):
            if t.get("status") != "ok":
                self.stdout.write(f"! {name}: {t.get('status')} {t.get('message', '')}".rstrip())
        if run.remaining_drift is not None:
            self.stdout.write(f"drift left after verify: {run.remaining_drift}")
        if run.error:
            self.stdout.write(f"error: {run.error.strip()}")
        if run.plan_id and run.dry_run and run.drift_count:
            self.stdout.write(f"apply it with: cmdb reconcile apply {run.plan_id}")


class _Progress:
    """A one-line progress bar over the run's steps (stderr, only on a terminal)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def step(self, name: str) -> None:
        done = STEPS.index(name) + 1 if name in STEPS else 0
        width = len(STEPS)
        self.stream.write(f"\r[{'#' * done}{'.' * (width - done)}] {name:10}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
