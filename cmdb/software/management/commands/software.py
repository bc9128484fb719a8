"""``cmdb software which|on|eos``: the software questions a sysadmin asks from the shell."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cmdb.software import selectors


class Command(BaseCommand):
    help = "Software queries: which CIs run a product (below/above a version), what is on a host, end of support."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        which = sub.add_parser("which", help="CIs running a product, optionally in a version range")
        which.add_argument("product", help="product slug or name")
        which.add_argument("--below", help="only versions lower than this")
        which.add_argument("--at-least", help="only versions at least this")
        on = sub.add_parser("on", help="what is installed on a CI (by name or registry id)")
        on.add_argument("host")
        eos = sub.add_parser("eos", help="installations past (or within N days of) end of support")
        eos.add_argument("--within", type=int, default=0, help="also versions ending support within N days")

    def handle(self, *args: Any, **opts: Any) -> None:
        getattr(self, f"do_{opts['action']}")(opts)

    def _print(self, qs: Any) -> None:
        rows = qs.select_related("ci", "version", "product").order_by("ci__name", "product__name")
        n = 0
        for inst in rows.iterator(chunk_size=2000):
            eos = inst.version.end_of_support.isoformat() if inst.version.end_of_support else "-"
            self.stdout.write(f"{inst.ci.name:<32} {inst.ci.kind:<30} {inst.product!s:<36} "
                              f"{inst.version.version:<24} eos {eos}")
            n += 1
        self.stdout.write(f"{n} installations")

    def do_which(self, opts: dict[str, Any]) -> None:
        product = selectors.find_product(opts["product"])
        if product is None:
            raise CommandError(f"No product {opts['product']!r}.")
        self._print(selectors.running(product, below=opts["below"], at_least=opts["at_least"]))

    def do_on(self, opts: dict[str, Any]) -> None:
        self._print(selectors.installed_on(opts["host"]))

    def do_eos(self, opts: dict[str, Any]) -> None:
        self._print(selectors.past_end_of_support(opts["within"]))
