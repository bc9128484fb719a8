"""Set-based diff of a CI's software installations against a report.

Per report, whatever the package count: one query resolves the products, one
the versions (plus one insert and one re-read each for names never seen),
one loads the CI's installations, then at most one INSERT of new rows, one
UPDATE for upgrades, one DELETE for removals and one UPDATE refreshing
``last_seen`` of rows not refreshed within ``LAST_SEEN_GRANULARITY``.

An *upgrade* is a product whose installed version changed: the existing row
is moved to the new version (its change record shows old and new version),
so ``first_seen`` restarts for the new version.  A product installed in
several versions at once (kernels under RPM) pairs old and new versions in
sort order; the rest are plain additions or removals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import router
from django.utils.text import slugify

from cmdb.core import bulk, changelog
from cmdb.core.choices import ChangeAction
from cmdb.core.models.registry import ConfigurationItem
from cmdb.discovery import conf
from cmdb.software.models import SoftwareInstallation, SoftwareProduct, SoftwareVersion
from cmdb.software.versions import version_key

_SCHEME = {"dpkg": "debian", "rpm": "rpm"}


@dataclass
class SoftwareDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    upgraded: list[str] = field(default_factory=list)
    unchanged: int = 0

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "removed": len(self.removed), "upgraded": len(self.upgraded),
                "unchanged": self.unchanged}


def product_slug(vendor: str, name: str) -> str:
    """Unique per (vendor, name) without a lookup: readable part plus a short digest."""
    digest = hashlib.blake2b(f"{vendor}\0{name}".encode(), digest_size=4).hexdigest()
    return f"{slugify(f'{vendor} {name}')[:88] or 'product'}-{digest}"


def _products(keys: dict[tuple[str, str], str]) -> dict[tuple[str, str], SoftwareProduct]:
    """(vendor, name) -> product, creating the missing ones; ``keys`` maps to the version scheme."""

    def load() -> dict[tuple[str, str], SoftwareProduct]:
        names = sorted({n for _v, n in keys})
        found = {}
        for p in SoftwareProduct.objects.filter(name__in=names):
            if (p.vendor, p.name) in keys:
                found[(p.vendor, p.name)] = p
        return found

    found = load()
    missing = [k for k in keys if k not in found]
    if missing:
        SoftwareProduct.objects.bulk_create(
            [SoftwareProduct(vendor=v, name=n, slug=product_slug(v, n), version_scheme=keys[(v, n)])
             for v, n in missing],
            ignore_conflicts=True, batch_size=1000,
        )
        found = load()
        changelog.note_many([found[k] for k in missing if k in found], ChangeAction.CREATE)
    return found


def _versions(wanted: set[tuple[int, str]], products: dict[int, SoftwareProduct]) -> dict[tuple[int, str], Any]:
    def load() -> dict[tuple[int, str], SoftwareVersion]:
        # Whole rows: the change log snapshots the ones created here.
        qs = SoftwareVersion.objects.filter(product_id__in={p for p, _ in wanted}, version__in={v for _, v in wanted})
        return {(v.product_id, v.version): v for v in qs if (v.product_id, v.version) in wanted}

    found = load()
    missing = [k for k in wanted if k not in found]
    if missing:
        SoftwareVersion.objects.bulk_create(
            [SoftwareVersion(product_id=p, version=v, sort_key=version_key(v, products[p].version_scheme))
             for p, v in missing],
            ignore_conflicts=True, batch_size=1000,
        )
        found = load()
        changelog.note_many([found[k] for k in missing if k in found], ChangeAction.CREATE)
    for v in found.values():
        v.product = products[v.product_id]  # cached for the change log's object names
    return found


def diff_software(ci: ConfigurationItem, packages: list[dict[str, Any]], *, source: str,
                  now: dt.datetime) -> SoftwareDiff:
    keys: dict[tuple[str, str], str] = {}
    for pkg in packages:
        keys.setdefault(((pkg.get("vendor") or "").strip(), pkg["name"].strip()),
                        _SCHEME.get(pkg.get("package_manager", ""), "generic"))
    products = _products(keys)
    by_id = {p.pk: p for p in products.values()}
    wanted = {(products[((p.get("vendor") or "").strip(), p["name"].strip())].pk, p["version"].strip())
              for p in packages}
    versions = _versions(wanted, by_id)
    desired = {versions[k].pk: versions[k] for k in wanted if k in versions}

    existing = {row[1]: row for row in SoftwareInstallation.objects.filter(ci_id=ci.pk).values_list(
        "id", "version_id", "product_id", "first_seen", "last_seen", "source")}
    added_ids = [v for v in desired if v not in existing]
    removed_ids = [v for v in existing if v not in desired]
    result = SoftwareDiff(unchanged=len(desired) - len(added_ids))

    # Pair removals and additions of one product: upgrades (or downgrades).
    removed_by_product: dict[int, list[int]] = defaultdict(list)
    for vid in removed_ids:
        removed_by_product[existing[vid][2]].append(vid)
    old_versions = {v.pk: v for v in SoftwareVersion.objects.filter(pk__in=removed_ids).select_related("product")} \
        if removed_ids else {}
    upgrades: list[tuple[int, int]] = []
    creates: list[int] = []
    for vid in sorted(added_ids, key=lambda v: desired[v].sort_key):
        olds = removed_by_product.get(desired[vid].product_id)
        if olds:
            upgrades.append((olds.pop(0), vid))
        else:
            creates.append(vid)
    removes = [vid for olds in removed_by_product.values() for vid in olds]

    def inst(row: tuple, version: SoftwareVersion) -> SoftwareInstallation:
        obj = SoftwareInstallation(id=row[0], ci=ci, version=version, product_id=row[2], first_seen=row[3],
                                   last_seen=row[4], source=row[5])
        obj._state.adding = False
        obj._state.db = router.db_for_write(SoftwareInstallation)
        return obj

    if creates:
        bulk.bulk_create(SoftwareInstallation, [
            SoftwareInstallation(ci=ci, version=desired[v], product_id=desired[v].product_id, first_seen=now,
                                 last_seen=now, source=source) for v in creates])
        result.added = [f"{desired[v].product.name} {desired[v].version}" for v in creates]
    if upgrades:
        objs, pre = [], {}
        for old, new in upgrades:
            obj = inst(existing[old], old_versions[old])
            pre[obj.pk] = obj.snapshot()
            obj.version, obj.product_id = desired[new], desired[new].product_id
            obj.first_seen = obj.last_seen = now
            obj.source = source
            objs.append(obj)
            result.upgraded.append(f"{desired[new].product.name} {old_versions[old].version} -> {desired[new].version}")
        SoftwareInstallation.objects.bulk_update(objs, ["version", "product", "first_seen", "last_seen", "source"])
        changelog.note_many(objs, ChangeAction.UPDATE, pre)
    if removes:
        objs = [inst(existing[v], old_versions[v]) for v in removes]
        for obj in objs:
            changelog.note(obj, ChangeAction.DELETE, obj.snapshot())
        # A raw delete: the generic post_delete receiver treats any ``ci_id`` as the object's own
        # registry row and would delete the host's CI with its packages.
        qs = SoftwareInstallation.objects.filter(pk__in=[o.pk for o in objs])
        qs._raw_delete(qs.db)
        result.removed = [f"{old_versions[v].product.name} {old_versions[v].version}" for v in removes]
    threshold = now - dt.timedelta(seconds=conf.get("LAST_SEEN_GRANULARITY"))
    keep = [existing[v][0] for v in desired if v in existing]
    if keep and any(existing[v][4] is None or existing[v][4] < threshold for v in desired if v in existing):
        SoftwareInstallation.objects.filter(ci_id=ci.pk, last_seen__lt=threshold).exclude(
            pk__in=[existing[o][0] for o, _ in upgrades]).update(last_seen=now)
    return result
