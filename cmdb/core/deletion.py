"""Deleting a batch of objects with what cascades from them, in a constant number of statements.

Django's ``Model.delete()`` per object collects and deletes one object's tree at a time, and
its ``Collector.delete()`` deletes each model's rows in chunks of 100 (``GET_ITERATOR_CHUNK_SIZE``),
so both grow with the batch.  Here Django's :class:`~django.db.models.deletion.Collector` still
decides *what* goes (cascades, ``SET_NULL`` updates, ``PROTECT``/``RESTRICT`` refusals, generic
relations), for the whole batch at once; :func:`delete` then

* adds the CI registry rows of every configuration item collected (a typed row owns its registry
  row, but the foreign key points from the typed row to the registry, so no cascade reaches it;
  the post-delete receiver used to delete each one with its own statement);
* loads what the change records need, one query per model and relation instead of one per
  object: the state before with its tags, and the related rows that the object's name, parent
  (``change_log_parent``) and tenant (``tenant_path``) are read from;
* deletes each model's rows with one statement (a chunk per 10,000 rows), sending Django's
  pre/post delete signals for every object, so the change-log receivers note one "delete"
  record per object and other receivers keep working.

The change records are appended to the hash chain in one insert when the surrounding change
context commits (:func:`cmdb.core.changelog.flush_pending`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import reduce
from operator import attrgetter, or_
from typing import Any

from django.db import connections, models, router, transaction
from django.db.models import signals
from django.db.models.deletion import Collector

from cmdb.core import changelog
from cmdb.core.models.base import ChangeLoggedModel, CIModel
from cmdb.core.models.registry import ConfigurationItem

#: Rows per DELETE/UPDATE statement: within PostgreSQL's 65,535 parameters (and the SQLite library's limit).
CHUNK = 10_000

#: Set on an instance whose registry row is deleted with the batch (read by the post-delete receiver).
REGISTRY_COLLECTED = "_registry_collected"


def collect(objs: Sequence[models.Model], using: str) -> Collector:
    """Everything deleting ``objs`` deletes or updates, with the registry rows of collected CIs.

    Raises ``ProtectedError``/``RestrictedError`` naming the blocking objects; nothing is
    deleted then.
    """
    collector = Collector(using=using, origin=objs)
    collector.collect(objs)
    done: set[int] = set()
    while True:
        # A registry row's cascade can reach further CIs (a software installation points at the
        # device's registry row), whose registry rows must go too: repeat until none is new.
        ci_ids = {obj.ci_id for model, instances in list(collector.data.items()) if issubclass(model, CIModel)
                  for obj in instances if obj.ci_id is not None} - done
        if not ci_ids:
            break
        done |= ci_ids
        collector.collect(list(ConfigurationItem._base_manager.using(using).filter(pk__in=ci_ids)))
    for model, instances in collector.data.items():
        if issubclass(model, CIModel):
            for obj in instances:
                setattr(obj, REGISTRY_COLLECTED, True)
    return collector


def _custom_str(model: type[models.Model]) -> bool:
    return model.__str__ not in (ChangeLoggedModel.__str__, models.Model.__str__)


def _forward_relations(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields
            if (f.many_to_one or f.one_to_one) and not f.remote_field.parent_link]


def log_paths(model: type[models.Model]) -> set[str]:
    """The relations to load before ``model``'s rows are deleted, so their change records need no query each.

    The tenant path up to its last hop (``device__tenant`` -> ``device``); and where the name
    or the parent is built from related rows (a custom ``__str__`` or a ``change_log_parent``),
    every forward relation, and the forward relations of those targets whose names are built
    from related rows too (an installation is named after ``version.product``).
    """
    paths: set[str] = set()
    tenant_path = getattr(model, "tenant_path", None)
    if tenant_path and tenant_path != "pk":
        hops = tenant_path.split("__")[:-1]
        if hops:
            paths.add("__".join(hops))
    if _custom_str(model) or hasattr(model, "change_log_parent"):
        for f in _forward_relations(model):
            paths.add(f.name)
            target = f.related_model
            if _custom_str(target):
                paths.update(f"{f.name}__{g.name}" for g in _forward_relations(target))
    return paths


def prepare_change_log(collector: Collector) -> None:
    """Take every collected object's state before, and load what its change record reads."""
    for model, instances in collector.data.items():
        if not issubclass(model, ChangeLoggedModel) or not instances:
            continue
        objs = list(instances)
        paths = log_paths(model)
        if paths:
            models.prefetch_related_objects(objs, *sorted(paths))
        tags = changelog.tags_by_object(objs)
        for obj in objs:
            if getattr(obj, "_prechange", None) is None:
                obj._prechange = obj.snapshot(tags=tags.get((model._meta.label_lower, obj.pk)))  # type: ignore[attr-defined]


def _chunks(pks: list[Any], using: str) -> Iterator[list[Any]]:
    size = min(CHUNK, connections[using].features.max_query_params or CHUNK)
    for start in range(0, len(pks), size):
        yield pks[start : start + size]


def run(collector: Collector) -> int:
    """Delete what ``collector`` holds: Django's ``Collector.delete()``, one statement per model and chunk."""
    using = collector.using
    for model, instances in collector.data.items():
        collector.data[model] = sorted(instances, key=attrgetter("pk"))
    collector.sort()
    deleted = 0
    with transaction.atomic(using=using, savepoint=False):
        for model, obj in collector.instances_with_model():
            if not model._meta.auto_created:
                signals.pre_delete.send(sender=model, instance=obj, using=using, origin=collector.origin)
        for qs in collector.fast_deletes:
            deleted += qs._raw_delete(using=using)
        for (field, value), instances_list in collector.field_updates.items():
            querysets, rows = [], []
            for instances in instances_list:
                if isinstance(instances, models.QuerySet) and instances._result_cache is None:
                    querysets.append(instances)
                else:
                    rows.extend(instances)
            if querysets:
                reduce(or_, querysets).update(**{field.name: value})
            if rows:
                manager = type(rows[0])._base_manager.using(using)
                for chunk in _chunks(sorted({obj.pk for obj in rows}), using):
                    manager.filter(pk__in=chunk).update(**{field.name: value})
        for model, instances in collector.data.items():
            instances.reverse()
            manager = model._base_manager.using(using)
            for chunk in _chunks([obj.pk for obj in instances], using):
                deleted += manager.filter(pk__in=chunk)._raw_delete(using=using)
            if not model._meta.auto_created:
                for obj in instances:
                    signals.post_delete.send(sender=model, instance=obj, using=using, origin=collector.origin)
    for model, instances in collector.data.items():
        for obj in instances:
            setattr(obj, model._meta.pk.attname, None)
    return deleted


def delete(objs: Sequence[models.Model]) -> int:
    """Delete ``objs`` (all of one database) and what cascades from them; the number of rows deleted."""
    if not objs:
        return 0
    using = router.db_for_write(type(objs[0]), instance=objs[0])
    collector = collect(objs, using)
    prepare_change_log(collector)
    return run(collector)
