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
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import connection, router, transaction
from django.utils.text import slugify

from cmdb.core import bulk, changelog, copyinsert
from cmdb.core.choices import ChangeAction
from cmdb.core.models.registry import ConfigurationItem
from cmdb.software.models import SoftwareInstallation, SoftwareProduct, SoftwareVersion
from cmdb.software.versions import version_key
from discovery import conf

_SCHEME = {"dpkg": "debian", "rpm": "rpm"}
#: (vendor, name, version) -> SoftwareVersion (with its product) known to exist: reference data that every
#: host shares, so a first inventory of a host does not look up its 200 versions again.  Filled only after
#: commit; cleared by the ingest when an insert fails (a version deleted meanwhile), see services.py.
_VERSION_CACHE: dict[tuple[str, str, str], SoftwareVersion] = {}
_CACHE_LIMIT = 500_000


#: (vendor, name) -> (product id, version scheme), the same kind of shared reference data.
_PRODUCT_CACHE: dict[tuple[str, str], tuple[int, str]] = {}
#: version id -> ((vendor, name, version), product id, sort key): lets a re-ingest read a CI's installations
#: without joining versions and products (the join cost PostgreSQL ~2 ms per report, the plain read 0.2 ms).
_NAMES_BY_ID: dict[int, tuple[tuple[str, str, str], int, str]] = {}
#: Reference data may be renamed by another process (signals only reach this one), so the caches are
#: dropped after this many seconds; a stale entry meanwhile can only make a diff report a rename as an upgrade.
CACHE_TTL = 600.0
_cache_born = time.monotonic()


def clear_cache() -> None:
    global _cache_born
    _VERSION_CACHE.clear()
    _PRODUCT_CACHE.clear()
    _NAMES_BY_ID.clear()
    _cache_born = time.monotonic()


def _expire_cache() -> None:
    if time.monotonic() - _cache_born > CACHE_TTL:
        clear_cache()


def clear_cache_on_change(sender: type, **kwargs: Any) -> None:
    """A product or version saved or deleted in this process: its cached key may be wrong now."""
    clear_cache()


def _remember(found: dict[tuple[str, str, str], SoftwareVersion]) -> None:
    def add() -> None:
        if len(_VERSION_CACHE) + len(found) > _CACHE_LIMIT:
            _VERSION_CACHE.clear()
        _VERSION_CACHE.update(found)
        _remember_names((k, v.pk, v.product_id, v.sort_key) for k, v in found.items())

    transaction.on_commit(add)


def _remember_names(rows: Any) -> None:
    """Store id -> names; only from committed data (on commit, or rows read from the database)."""
    if len(_NAMES_BY_ID) > _CACHE_LIMIT:
        _NAMES_BY_ID.clear()
    for key, vid, pid, sort_key in rows:
        _NAMES_BY_ID[vid] = (key, pid, sort_key)


@dataclass
class SoftwareDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    upgraded: list[str] = field(default_factory=list)
    unchanged: int = 0
    refreshed: dt.datetime | None = None

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "removed": len(self.removed), "upgraded": len(self.upgraded),
                "unchanged": self.unchanged}


def product_slug(vendor: str, name: str) -> str:
    """Unique per (vendor, name) without a lookup: readable part plus a short digest."""
    digest = hashlib.blake2b(f"{vendor}\0{name}".encode(), digest_size=4).hexdigest()
    return f"{slugify(f'{vendor} {name}')[:88] or 'product'}-{digest}"


def _remember_products(found: dict[tuple[str, str], tuple[int, str]]) -> None:
    """Cache products once the transaction that read them commits (never rows that may roll back)."""
    if not found:
        return

    def remember() -> None:
        if len(_PRODUCT_CACHE) + len(found) > _CACHE_LIMIT:
            _PRODUCT_CACHE.clear()
        _PRODUCT_CACHE.update(found)

    transaction.on_commit(remember)


def _products(keys: dict[tuple[str, str], str],
              known: dict[tuple[str, str], tuple[int, str]] | None = None) -> dict[tuple[str, str], tuple[int, str]]:
    """(vendor, name) -> (product id, version scheme), creating the missing products.

    ``known``: products the caller has just read (not yet in the cache, which fills on commit).
    """
    cached = {k: v for k in keys if (v := _PRODUCT_CACHE.get(k) or (known or {}).get(k)) is not None}
    if len(cached) == len(keys):
        return cached

    def load() -> dict[tuple[str, str], tuple[int, str]]:
        rows = SoftwareProduct.objects.filter(name__in=sorted({n for _v, n in keys})).order_by().values_list(
            "id", "vendor", "name", "version_scheme")
        return {(v, n): (pk, scheme) for pk, v, n, scheme in rows if (v, n) in keys}

    found = load()
    _remember_products(found)
    missing = [k for k in keys if k not in found]
    if missing:
        SoftwareProduct.objects.bulk_create(
            # Sorted: concurrent reports inserting overlapping products take row locks in one order.
            [SoftwareProduct(vendor=v, name=n, slug=product_slug(v, n), version_scheme=keys[(v, n)])
             for v, n in sorted(missing)],
            ignore_conflicts=True, batch_size=1000,
        )
        found = load()
        created = SoftwareProduct.objects.filter(pk__in=[found[k][0] for k in missing if k in found])
        changelog.note_many(list(created), ChangeAction.CREATE)
    return found


def _versions(wanted: dict[tuple[str, str, str], str]) -> dict[tuple[str, str, str], SoftwareVersion]:
    """(vendor, name, version) -> an in-memory SoftwareVersion with its product, creating what is missing.

    Two queries when everything exists (products, versions); the objects are built from
    values, not loaded as model rows, because only ids and names are needed downstream.
    """
    products = _products({(v, n): scheme for (v, n, _ver), scheme in wanted.items()})
    by_key = {(pid, ver): (v, n, ver) for (v, n, ver) in wanted for pid in [products[(v, n)][0]]}

    def load() -> dict[tuple[str, str, str], SoftwareVersion]:
        rows = SoftwareVersion.objects.filter(
            product_id__in={pid for pid, _ in by_key}, version__in={ver for _, ver in by_key}
        ).order_by().values_list("id", "product_id", "version", "sort_key")
        out = {}
        for pk, pid, ver, sort_key in rows:
            key = by_key.get((pid, ver))
            if key is not None:
                product = SoftwareProduct(id=pid, vendor=key[0], name=key[1])
                out[key] = SoftwareVersion(id=pk, product=product, version=ver, sort_key=sort_key)
        return out

    found = load()
    missing = [k for k in wanted if k not in found]
    if missing:
        SoftwareVersion.objects.bulk_create(
            [SoftwareVersion(product_id=products[(v, n)][0], version=ver,
                             sort_key=version_key(ver, products[(v, n)][1])) for v, n, ver in sorted(missing)],
            ignore_conflicts=True, batch_size=1000,
        )
        found = load()
        created = SoftwareVersion.objects.filter(pk__in=[found[k].pk for k in missing if k in found])
        changelog.note_many(list(created), ChangeAction.CREATE)
    return found


def _copy_installations(ci_id: int, versions: list[SoftwareVersion], source: str, now: dt.datetime) -> None:
    """A host's first inventory through COPY: no model instances, no per-row SQL parameters.

    Only when no per-installation change records are wanted (the summary record names them all).
    """
    meta = SoftwareInstallation._meta
    columns = [meta.get_field(c).column for c in
               ("created", "last_updated", "ci", "version", "product", "first_seen", "last_seen", "source")]
    copyinsert.copy_rows(meta.db_table, columns,
                         ((now, now, ci_id, v.pk, v.product_id, now, now, source) for v in versions))


def _insert_versions(wanted: dict[tuple[str, str, str], str], now: dt.datetime,
                     known: dict[tuple[str, str], tuple[int, str]] | None = None,
                     ) -> dict[tuple[str, str, str], SoftwareVersion]:
    """Create the missing versions on PostgreSQL with one INSERT ... RETURNING (plus products if new).

    The returned objects carry every column as inserted, so their creation is change-logged
    without reading them back; rows a concurrent report inserted first are read, not logged.
    """
    products = _products({(v, n): scheme for (v, n, _ver), scheme in wanted.items()}, known)
    keys = sorted(wanted)  # one lock order for concurrent reports
    pids = [products[(v, n)][0] for v, n, _ver in keys]
    vers = [ver for _v, _n, ver in keys]
    sort_keys = [version_key(ver, products[(v, n)][1]) for v, n, ver in keys]
    meta = SoftwareVersion._meta
    q = connection.ops.quote_name
    sql = (f"INSERT INTO {q(meta.db_table)} (created, last_updated, custom_field_data, description, comments, "  # noqa: S608
           "product_id, version, sort_key) "
           "SELECT %s, %s, '{}'::jsonb, '', '', p, v, k "
           "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS t(p, v, k) "
           "ON CONFLICT DO NOTHING RETURNING id, product_id, version")
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, now, pids, vers, sort_keys])
        inserted = {(pid, ver): pk for pk, pid, ver in cursor.fetchall()}
    out: dict[tuple[str, str, str], SoftwareVersion] = {}
    created = []
    for (v, n, ver), pid, sort_key in zip(keys, pids, sort_keys, strict=True):
        pk = inserted.get((pid, ver))
        if pk is None:
            continue
        obj = SoftwareVersion(id=pk, product=SoftwareProduct(id=pid, vendor=v, name=n), version=ver, sort_key=sort_key,
                              created=now, last_updated=now)
        obj._state.adding = False
        obj._known_tags = []  # just inserted: its change record needs no tag query
        out[(v, n, ver)] = obj
        created.append(obj)
    changelog.note_many(created, ChangeAction.CREATE)
    if len(out) < len(keys):
        out.update(_existing_versions({k: wanted[k] for k in keys if k not in out}, partial=True) or {})
    return out


def _key(pkg: dict[str, Any]) -> tuple[str, str, str]:
    return ((pkg.get("vendor") or "").strip(), pkg["name"].strip(), pkg["version"].strip())


def _tables() -> tuple[str, str, str]:
    q = connection.ops.quote_name
    return (q(SoftwareInstallation._meta.db_table), q(SoftwareVersion._meta.db_table),
            q(SoftwareProduct._meta.db_table))


def _installations(ci_id: int) -> list[tuple[int, int, int, str, str, str, str, str]]:
    """(id, version id, product id, source, vendor, name, version, sort key) of a CI's installations.

    The installations alone (one index scan); names come from the process's id cache, and only
    the versions it lacks are read, by primary key.  Hand-written SQL: the ORM costs more to
    compile these statements than PostgreSQL takes to run them.
    """
    _expire_cache()
    inst, ver, prod = _tables()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, version_id, product_id, source FROM {inst} WHERE ci_id = %s", [ci_id])  # noqa: S608
        rows = cursor.fetchall()
        missing = sorted({vid for _pk, vid, _pid, _src in rows if vid not in _NAMES_BY_ID})
        if missing:
            placeholders = ", ".join(["%s"] * len(missing))
            cursor.execute(f"SELECT v.id, v.product_id, p.vendor, p.name, v.version, v.sort_key "  # noqa: S608
                           f"FROM {ver} v JOIN {prod} p ON p.id = v.product_id WHERE v.id IN ({placeholders})",
                           missing)
            _remember_names(((vendor, name, version), vid, pid, sort_key)
                            for vid, pid, vendor, name, version, sort_key in cursor.fetchall())
    out = []
    for pk, vid, pid, src in rows:
        names = _NAMES_BY_ID.get(vid)
        if names is None:  # deleted since (cannot happen under the FK, but never guess a name)
            continue
        (vendor, name, version), _pid, sort_key = names
        out.append((pk, vid, pid, src, vendor, name, version, sort_key))
    return out


def _existing_versions(wanted: dict[tuple[str, str, str], str], partial: bool = False,
                       products_out: dict[tuple[str, str], tuple[int, str]] | None = None,
                       ) -> dict[tuple[str, str, str], SoftwareVersion] | None:
    """The fast path: every wanted version already exists (one joined query), else None (or what exists).

    ``products_out`` (PostgreSQL) receives the existing products of the wanted keys, so creating
    the missing versions needs no product look-up.
    """
    if connection.vendor == "postgresql":
        _inst, ver, prod = _tables()
        # The wanted keys as one JSON parameter (psycopg quotes three text arrays element by element in
        # Python); a LEFT JOIN so products whose version is new come back too, for _insert_versions.
        sql = (f"SELECT v.id, p.id, p.vendor, p.name, w.version, v.sort_key, p.version_scheme "  # noqa: S608
               f"FROM json_to_recordset(%s::json) AS w(vendor text, name text, version text) "
               f"JOIN {prod} p ON p.vendor = w.vendor AND p.name = w.name "
               f"LEFT JOIN {ver} v ON v.product_id = p.id AND v.version = w.version")
        param = orjson.dumps([{"vendor": k[0], "name": k[1], "version": k[2]} for k in wanted]).decode()
        with connection.cursor() as cursor:
            cursor.execute(sql, [param])
            rows = cursor.fetchall()
        found = {}
        products = {}
        for pk, pid, vendor, name, v, sort_key, scheme in rows:
            products[(vendor, name)] = (pid, scheme)
            if pk is not None:
                found[(vendor, name, v)] = SoftwareVersion(
                    id=pk, product=SoftwareProduct(id=pid, vendor=vendor, name=name), version=v, sort_key=sort_key)
        if products_out is not None:
            products_out.update(products)
        _remember_products(products)
        return found if partial or len(found) == len(wanted) else None
    rows = SoftwareVersion.objects.filter(
        product__name__in={n for _v, n, _ver in wanted}, version__in={ver for _v, _n, ver in wanted}
    ).order_by().values_list("id", "product_id", "product__vendor", "product__name", "version", "sort_key")
    found = {}
    for pk, pid, vendor, name, ver, sort_key in rows:
        if (vendor, name, ver) in wanted:
            found[(vendor, name, ver)] = SoftwareVersion(
                id=pk, product=SoftwareProduct(id=pid, vendor=vendor, name=name), version=ver, sort_key=sort_key)
    return found if partial or len(found) == len(wanted) else None


def diff_software(ci: ConfigurationItem, packages: list[dict[str, Any]], *, source: str,
                  now: dt.datetime, refreshed: dt.datetime | None = None, log_each: bool = False) -> SoftwareDiff:
    """Diff and write; ``refreshed`` is when all of the CI's ``last_seen`` were last rewritten.

    ``log_each``: one change record per installation created, moved or deleted; otherwise the
    caller writes one summary record for the CI (see ``conf.SOFTWARE_CHANGE_RECORDS``).
    """
    reported: dict[tuple[str, str, str], str] = {}
    for pkg in packages:
        reported.setdefault(_key(pkg), _SCHEME.get(pkg.get("package_manager", ""), "generic"))
    # The CI's installations with their names: one query; a re-ingest of an unchanged host stops here.
    existing: dict[tuple[str, str, str], tuple[int, int, int, str, str]] = {}
    for pk, vid, pid, src, vendor, name, ver, sort_key in _installations(ci.pk):
        existing[(vendor, name, ver)] = (pk, vid, pid, src, sort_key)
    new_keys = {k: scheme for k, scheme in reported.items() if k not in existing}
    gone_keys = [k for k in existing if k not in reported]
    result = SoftwareDiff(unchanged=len(reported) - len(new_keys), refreshed=refreshed)
    versions = {k: _VERSION_CACHE[k] for k in new_keys if k in _VERSION_CACHE}
    unknown = {k: scheme for k, scheme in new_keys.items() if k not in versions}
    if unknown:
        if connection.vendor == "postgresql":
            known: dict[tuple[str, str], tuple[int, str]] = {}
            found = _existing_versions(unknown, partial=True, products_out=known) or {}
            if len(found) < len(unknown):
                found.update(_insert_versions({k: s for k, s in unknown.items() if k not in found}, now, known))
        else:
            found = _existing_versions(unknown) or _versions(unknown)
        versions.update(found)
        _remember(found)

    def old_version(key: tuple[str, str, str]) -> SoftwareVersion:
        _pk, vid, pid, _src, sort_key = existing[key]
        return SoftwareVersion(id=vid, product=SoftwareProduct(id=pid, vendor=key[0], name=key[1]), version=key[2],
                               sort_key=sort_key)

    def inst(key: tuple[str, str, str]) -> SoftwareInstallation:
        pk, _vid, pid, src, _sk = existing[key]
        obj = SoftwareInstallation(id=pk, ci=ci, version=old_version(key), product_id=pid, source=src)
        obj._state.adding = False
        obj._state.db = router.db_for_write(SoftwareInstallation)
        return obj

    # Pair removals and additions of one product: upgrades (or downgrades), oldest with oldest.
    gone_by_product: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for key in sorted(gone_keys, key=lambda k: existing[k][4]):
        gone_by_product[key[:2]].append(key)
    upgrades: list[tuple[tuple[str, str, str], tuple[str, str, str]]] = []
    creates: list[tuple[str, str, str]] = []
    for key in sorted((k for k in new_keys if k in versions), key=lambda k: versions[k].sort_key):
        olds = gone_by_product.get(key[:2])
        if olds:
            upgrades.append((olds.pop(0), key))
        else:
            creates.append(key)
    removes = [key for olds in gone_by_product.values() for key in olds]

    if creates and not log_each and connection.vendor == "postgresql":
        _copy_installations(ci.pk, [versions[k] for k in creates], source, now)
        result.added = [f"{k[1]} {k[2]}" for k in creates]
    elif creates:
        bulk.bulk_create(SoftwareInstallation, [
            SoftwareInstallation(ci=ci, version=versions[k], product_id=versions[k].product_id, first_seen=now,
                                 last_seen=now, source=source) for k in creates], log=log_each)
        result.added = [f"{k[1]} {k[2]}" for k in creates]
    if upgrades and not log_each and connection.vendor == "postgresql":
        # One UPDATE ... FROM unnest: no model instances, no CASE per row (the summary record names them).
        q = connection.ops.quote_name
        sql = (f"UPDATE {q(SoftwareInstallation._meta.db_table)} AS i SET version_id = u.v, product_id = u.p, "  # noqa: S608
               "first_seen = %s, last_seen = %s, last_updated = %s, source = %s "
               "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS u(id, v, p) WHERE i.id = u.id")
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, now, now, source, [existing[old][0] for old, _new in upgrades],
                                 [versions[new].pk for _old, new in upgrades],
                                 [versions[new].product_id for _old, new in upgrades]])
        result.upgraded = [f"{new[1]} {old[2]} -> {new[2]}" for old, new in upgrades]
    elif upgrades:
        objs, pre = [], {}
        for old, new in upgrades:
            obj = inst(old)
            pre[obj.pk] = obj.snapshot()
            obj.version, obj.product_id = versions[new], versions[new].product_id
            obj.first_seen = obj.last_seen = now
            obj.source = source
            objs.append(obj)
            result.upgraded.append(f"{new[1]} {old[2]} -> {new[2]}")
        SoftwareInstallation.objects.bulk_update(objs, ["version", "product", "first_seen", "last_seen", "source"])
        if log_each:
            changelog.note_many(objs, ChangeAction.UPDATE, pre)
    if removes:
        if log_each:
            for obj in [inst(k) for k in removes]:
                changelog.note(obj, ChangeAction.DELETE, obj.snapshot())
        # A raw delete: the generic post_delete receiver treats any ``ci_id`` as the object's own
        # registry row and would delete the host's CI with its packages.
        qs = SoftwareInstallation.objects.filter(pk__in=[existing[k][0] for k in removes])
        qs._raw_delete(qs.db)
        result.removed = [f"{k[1]} {k[2]}" for k in removes]
    threshold = now - dt.timedelta(seconds=conf.get("LAST_SEEN_GRANULARITY"))
    if result.unchanged and (refreshed is None or refreshed < threshold):
        # Not a configuration change, so not logged; rewritten at most once per LAST_SEEN_GRANULARITY.
        SoftwareInstallation.objects.filter(ci_id=ci.pk, last_seen__lt=threshold).update(last_seen=now)
        result.refreshed = now
    elif not existing:
        result.refreshed = now
    return result
