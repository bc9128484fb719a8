"""The change log's audit commands: verify, checkpoint, erase, erasures, keygen."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cmdb.core import auditkeys, changelog, checkpoints, erasure
from cmdb.core.models import ObjectChange


class Command(BaseCommand):
    help = (
        "Audit the change log. 'verify' walks the chain and compares it with the latest checkpoint; "
        "'checkpoint' writes the chain head to the checkpoint sinks; 'erase' blanks personal data and records "
        "the erasure; 'erasures' lists them; 'keygen' prints a new audit key line for rotation."
    )

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="check every change record against the chain and the checkpoints")
        verify.add_argument("--quiet", action="store_true", help="no progress bar")
        verify.add_argument("--require-checkpoint", action="store_true",
                            help="fail when there is no checkpoint to compare with (for monitoring)")
        sub.add_parser("checkpoint", help="write a checkpoint of the chain head to every configured sink")
        erase = sub.add_parser("erase", help="blank the personal data of change records and record the erasure")
        target = erase.add_mutually_exclusive_group(required=True)
        target.add_argument("--object", help="the records of one object, as app_label.model:id (dcim.device:42)")
        target.add_argument("--user", help="the records a user made and those of their account")
        target.add_argument("--record", type=int, action="append", help="one change record id (repeatable)")
        erase.add_argument("--reason", required=True, help="the legal reason, kept in the erasure record")
        erase.add_argument("--by", default="", help="user name of who erases (default: cli:<login name>)")
        erase.add_argument("--dry-run", action="store_true", help="only list the records that would be erased")
        sub.add_parser("erasures", help="list the erasure records")
        keygen = sub.add_parser("keygen", help="print a new 'version:key' line (next version by default)")
        keygen.add_argument("--version", type=int, default=None, help="key version (default: highest + 1)")

    def handle(self, *args: Any, **opts: Any) -> None:
        getattr(self, f"_{opts['action']}")(opts)

    # --- verify -----------------------------------------------------------------------------

    def _verify(self, opts: dict[str, Any]) -> None:
        total = ObjectChange.objects.count()
        with tqdm(total=total, unit="change", disable=opts["quiet"] or total < 1000, file=self.stderr) as bar:
            result = changelog.verify(progress=bar)
        for note in result.notes:
            self.stderr.write(f"Note: {note}.")
        if result.ok and opts["require_checkpoint"] and result.checkpoint is None:
            raise CommandError("Change log NOT VERIFIED against a checkpoint: none was found (--require-checkpoint).")
        if not result.ok:
            if result.broken_id is not None:
                head = (f"Change log BROKEN at object change #{result.broken_id} "
                        f"({result.broken_time.isoformat() if result.broken_time else '?'}) after {result.checked} "
                        f"good records: {result.reason}.")
            else:
                head = f"Change log BROKEN: {result.reason}."
            others = [p for p in result.problems if p != result.reason]
            raise CommandError("\n".join([head, *(f"Also: {p}." for p in others)]))
        versions = ", ".join(f"v{v}: {n}" for v, n in sorted(result.key_versions.items())) or "none"
        lines = [f"Change log intact: {result.checked} records verified (records per key version: {versions})."]
        if result.erasures:
            lines.append(f"{result.erasures} erasure record(s) account for the {result.erased} erased record(s).")
        cp = result.checkpoint
        if cp is not None:
            lines.append(f"Matches checkpoint #{cp.n} at id {cp.id} (written {cp.written}); "
                         f"{result.after_checkpoint} record(s) since.")
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

    # --- checkpoint -------------------------------------------------------------------------

    def _checkpoint(self, opts: dict[str, Any]) -> None:
        try:
            report = checkpoints.checkpoint_write(reason="manual")
        except checkpoints.NoSinkError as exc:
            raise CommandError(str(exc)) from exc
        cp = report.checkpoint
        what = f"checkpoint #{cp.n} at id {cp.id} hash {cp.hash}"
        if report.written:
            self.stdout.write(self.style.SUCCESS(f"Wrote {what} to {', '.join(report.written)}."))
        if report.failed:
            raise CommandError("\n".join(f"Could not write {what} to {sink}: {error}"
                                         for sink, error in report.failed.items()))

    # --- erasure ----------------------------------------------------------------------------

    def _erase(self, opts: dict[str, Any]) -> None:
        actor = None
        if opts["by"]:
            User = get_user_model()
            actor = User.objects.filter(**{User.USERNAME_FIELD: opts["by"]}).first()
            if actor is None:
                raise CommandError(f"--by: no user named {opts['by']!r}.")
        try:
            target = erasure.resolve_target(obj=opts["object"], user=opts["user"], records=opts["record"])
            result = erasure.changes_erase(target=target, reason=opts["reason"], actor=actor,
                                           actor_name=f"cli:{getpass.getuser()}", source="cli",
                                           dry_run=opts["dry_run"])
        except erasure.ErasureError as exc:
            raise CommandError(f"--{exc.field}: {exc.message}") from exc
        ids = ", ".join(map(str, result.erased[:20])) + (" …" if len(result.erased) > 20 else "")
        if not result.erased:
            self.stdout.write(f"Nothing to erase for {target.text}: no change record with data left.")
        elif result.dry_run:
            self.stdout.write(f"Would erase {len(result.erased)} change record(s) of {target.text}: {ids}")
        else:
            assert result.record is not None
            self.stdout.write(self.style.SUCCESS(
                f"Erased {len(result.erased)} change record(s) of {target.text}: {ids}. "
                f"Erasure record #{result.record.pk}."))

    def _erasures(self, opts: dict[str, Any]) -> None:
        rows = list(erasure.erasures_list())
        if not rows:
            self.stdout.write("No erasures.")
            return
        for row in rows:
            data = row.postchange_data if isinstance(row.postchange_data, dict) else {}
            listed = data.get(changelog.ERASURE_LIST) or []
            self.stdout.write(f"#{row.pk}  {row.time.isoformat()}  by {row.user_name}  {len(listed)} record(s) of "
                              f"{data.get('target', '?')}  reason: {data.get('reason', '')}")

    # --- keys -------------------------------------------------------------------------------

    def _keygen(self, opts: dict[str, Any]) -> None:
        version = opts["version"] if opts["version"] is not None else max(changelog.audit_keys()) + 1
        if not 1 <= version <= auditkeys.MAX_VERSION:
            raise CommandError(f"--version: give 1 to {auditkeys.MAX_VERSION}.")
        self.stdout.write(f"{version}:{auditkeys.generate_key()}")
