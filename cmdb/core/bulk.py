"""Bulk writes that keep the CI registry and the change log correct.

Django's ``bulk_create`` skips ``save()`` and signals, which is what makes it
fast; these helpers put back what the CMDB needs from that path: registry
rows for CIs, uniqueness checked in one query per constraint instead of one
per object, and change records appended in one batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import models, transaction
from django.db.models import Q

from cmdb.core import changelog, copyinsert
from cmdb.core.choices import ChangeAction
from cmdb.core.models.base import ChangeLoggedModel, CIModel
from cmdb.core.models.registry import ConfigurationItem

M = TypeVar("M", bound=models.Model)


def bulk_create(model: type[M], objs: Sequence[M], *, tags: dict[int, list[Any]] | None = None,
                log: bool = True, batch_size: int = 1000) -> list[M]:
    """Insert ``objs`` (already validated) with registry rows, tags and change records.

    ``tags`` maps an index in ``objs`` to the Tag objects it carries.
    """
    if not objs:
        return list(objs)
    with transaction.atomic():
        if issubclass(model, CIModel):
            for obj in objs:
                # Copy ids from related objects that were unsaved when assigned (as save() would),
                # before the registry row is built from tenant_id/owner_id.
                obj._prepare_related_fields_for_save(operation_name="bulk_create")
            kind = model.ci_kind()
            cis = [ConfigurationItem(kind=kind, **obj.registry_values()) for obj in objs]  # type: ignore[attr-defined]
            copyinsert.insert(ConfigurationItem, cis, batch_size=batch_size)
            for obj, ci in zip(objs, cis, strict=True):
                obj.ci = ci  # type: ignore[attr-defined]
        created = copyinsert.insert(model, objs, batch_size=batch_size,
                                     related_prepared=issubclass(model, CIModel))
        if tags:
            through = model._meta.get_field("tags").remote_field.through  # type: ignore[union-attr]
            src = f"{model._meta.model_name}_id"
            rows = [through(**{src: created[i].pk, "tag_id": t.pk}) for i, ts in tags.items() for t in ts]
            copyinsert.insert(through, rows, batch_size=batch_size)
        if log and issubclass(model, ChangeLoggedModel):
            changelog.note_many(created, ChangeAction.CREATE)
    return created


# --- uniqueness in batches ---------------------------------------------------------------


def _unique_sets(model: type[models.Model]) -> list[tuple[tuple[str, ...], Q | None]]:
    sets: list[tuple[tuple[str, ...], Q | None]] = []
    for f in model._meta.concrete_fields:
        if f.unique and not f.primary_key and f.name != "ci":
            sets.append(((f.name,), None))
    for c in model._meta.constraints:
        if isinstance(c, models.UniqueConstraint) and c.fields:
            sets.append((tuple(c.fields), c.condition))
    for ut in model._meta.unique_together:
        sets.append((tuple(ut), None))
    return sets


def _matches(q: Q | None, obj: models.Model) -> bool:
    """Evaluate the simple constraint conditions we use (isnull, equality, negation) in Python."""
    if q is None:
        return True
    results = []
    for child in q.children:
        if isinstance(child, Q):
            results.append(_matches(child, obj))
            continue
        key, value = child
        if key.endswith("__isnull"):
            field = model_field(obj, key[: -len("__isnull")])
            results.append((getattr(obj, field.attname) is None) == value)
        else:
            field = model_field(obj, key)
            results.append(getattr(obj, field.attname) == value)
    out = all(results) if q.connector == Q.AND else any(results)
    return not out if q.negated else out


def model_field(obj: models.Model, name: str) -> Any:
    return obj._meta.get_field(name)


def check_unique(model: type[M], objs: Sequence[M]) -> dict[int, dict[str, list[str]]]:
    """Errors by index for objects that collide with each other or with stored rows.

    One query per unique constraint for the whole batch; the database
    constraints remain the final guard against races.
    """
    errors: dict[int, dict[str, list[str]]] = defaultdict(dict)
    for fields, condition in _unique_sets(model):
        attnames = [model._meta.get_field(f).attname for f in fields]
        keys: dict[tuple, int] = {}
        for i, obj in enumerate(objs):
            if not _matches(condition, obj):
                continue
            key = tuple(getattr(obj, a) for a in attnames)
            if any(v is None for v in key):
                continue
            label = ", ".join(model._meta.get_field(f).verbose_name for f in fields)
            if key in keys:
                message = f"Duplicate {label} within this request (see item {keys[key]})."
                errors[i].setdefault(fields[-1], []).append(message)
                continue
            keys[key] = i
        if not keys:
            continue
        # Select candidates with one IN list per column (an OR of one AND per object costs Django
        # ~1 ms per object to build), then match whole keys here.
        items = list(keys.items())
        for start in range(0, len(items), 1000):
            lookup = dict(items[start : start + 1000])
            qs = model._default_manager.filter(
                **{f"{a}__in": list(dict.fromkeys(key[k] for key in lookup)) for k, a in enumerate(attnames)}
            )
            if condition is not None:
                qs = qs.filter(condition)
            for row in qs.values_list("pk", *attnames):
                i = lookup.get(tuple(row[1:]))
                if i is None or objs[i].pk == row[0]:
                    continue
                label = " and ".join(str(model._meta.get_field(f).verbose_name) for f in fields)
                errors[i].setdefault(fields[-1], []).append(
                    f"{model._meta.verbose_name.capitalize()} with this {label} already exists."
                )
    return dict(errors)
