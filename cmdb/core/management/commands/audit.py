"""Verify the hash-chained change log."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cmdb.core import changelog
from cmdb.core.models import ObjectChange


class Command(BaseCommand):
    help = "Audit the change log. 'cmdb audit verify' walks the hash chain and reports the first broken link."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="check every change record against the hash chain")
        verify.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        total = ObjectChange.objects.count()
        with tqdm(total=total, unit="change", disable=opts["quiet"] or total < 1000, file=self.stderr) as bar:
            result = changelog.verify(progress=bar)
        if not result.ok:
            raise CommandError(
                f"Change log BROKEN at object change #{result.broken_id} after {result.checked} good records: "
                f"{result.reason}."
            )
        self.stdout.write(self.style.SUCCESS(f"Change log intact: {result.checked} records verified."))
