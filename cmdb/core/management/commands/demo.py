"""``cmdb demo``: load the deterministic demo university."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, IntegrityError
from tqdm import tqdm

from cmdb.demo import generator


def _scale(value: str) -> int:
    """argparse type: an integer >= 1 (a clear message instead of a traceback for 0 or 'x')."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("the scale must be at least 1")
    return number


class Command(BaseCommand):
    help = (
        "Load the demo university (two campuses, Zittau and Görlitz): tenants and contacts, buildings and "
        "rooms, racks, ~300 servers, network gear, ~1,000 clients, ~800 VMs, prefixes and IP addresses. The "
        "data is deterministic (same --scale and --seed, same names, serials and addresses) and is written in "
        "one transaction with a change record per object (source 'demo'). If the demo is already loaded "
        "(site 'zittau' exists) nothing is changed, so it is safe to run every time."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--scale", type=_scale, default=1, metavar="N",
            help="multiply servers, clients, VMs, printers and access switches by N, adding clusters, racks and "
                 "prefixes as needed (for benchmarks; default 1, the base demo)",
        )
        parser.add_argument(
            "--seed", type=int, default=generator.DEFAULT_SEED,
            help=f"seed of the random generator for serials, dates and sizes (default {generator.DEFAULT_SEED})",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")

    def handle(self, *args: Any, **opts: Any) -> None:
        quiet: bool = opts["quiet"]
        if generator.demo_exists():
            self.stdout.write("Demo data already present (site 'zittau' exists); nothing changed.")
            return
        # tqdm rewrites its line with \r; Django's OutputWrapper would append a newline to every update,
        # so write to the stream it wraps (sys.stderr unless the caller redirected it).  disable=None
        # hides the bar when stderr is not a terminal (CI logs, `cmdb setup` piped to a file).
        stream = getattr(self.stderr, "_out", sys.stderr)
        phases = len(generator.PHASES) + 2  # planning + phases + change log
        started = time.perf_counter()
        with tqdm(total=phases, unit="phase", disable=True if quiet else None, file=stream, leave=False,
                  bar_format="{desc:<28}{bar}| {n_fmt}/{total_fmt} [{elapsed}]") as bar:
            seen: list[str] = []

            def progress(label: str) -> None:
                if seen:
                    bar.update(1)
                seen.append(label)
                bar.set_description_str(f"demo: {label}")

            try:
                result = generator.generate(scale=opts["scale"], seed=opts["seed"], progress=progress)
            except IntegrityError as exc:
                raise CommandError(
                    f"The database already holds objects that clash with the demo data, nothing was written: {exc}"
                ) from exc
            except (ValueError, DatabaseError) as exc:
                raise CommandError(f"Demo data not loaded, nothing was written: {exc}") from exc
            bar.update(phases - bar.n)
        elapsed = time.perf_counter() - started
        if not result.created:
            self.stdout.write(result.message)
            return
        self.stdout.write(self.style.SUCCESS(f"{result.message} Took {elapsed:.1f} s."))
        if not quiet:
            self.stdout.write(self._table(result.counts))

    @staticmethod
    def _table(counts: dict[str, int]) -> str:
        width = max(len(k) for k in counts)
        lines = [f"{'object':<{width}}  {'count':>8}", f"{'-' * width}  {'-' * 8}"]
        lines += [f"{name:<{width}}  {n:>8,}" for name, n in counts.items()]
        return "\n".join(lines)
