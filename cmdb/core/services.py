"""Generic write services: the one path every create, update and delete takes.

API, web UI, imports and discovery call these so that every write is
validated the same way (``full_clean`` per object, uniqueness per batch),
checked against the user's tenant scope (the rows written, and every object they
refer to by foreign key or generic relation), and recorded in the change log.
A batch is all-or-nothing: one bad item and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import DataError, IntegrityError, connections, models, router
from django.utils import timezone

from cmdb.core import bulk, changelog
from cmdb.core.choices import ChangeAction
from cmdb.core.context import atomic, rolled_back
from cmdb.core.models.base import CIModel
from cmdb.core.scope import generic_relations, scope_of
from cmdb.users.permissions import grants_for, referable_ids, reference_action, restrict

M = TypeVar("M", bound=models.Model)


class BatchValidationError(Exception):
    """Errors by position in a batch: ``errors[i]`` is a {field: [messages]} dict."""

    def __init__(self, errors: list[dict[str, list[str]]]) -> None:
        super().__init__("invalid batch")
        self.errors = errors


def _error_dict(exc: ValidationError) -> dict[str, list[str]]:
    from cmdb.api.exceptions import django_errors

    result = django_errors(exc)
    return result if isinstance(result, dict) else {"non_field_errors": list(result)}


def _existing_references(model: type[M], objs: Sequence[M]) -> list[set[str]]:
    """Per object, the foreign keys whose target is known to exist.

    Django's ``full_clean`` checks each foreign key with one query per object
    and field (1,500 queries for 500 devices); this checks each field for the
    whole batch with one query, the same lookup Django makes (base manager,
    ``limit_choices_to``).  ``full_clean`` then skips only those fields, whose
    other checks cannot fail for an existing integer key; any other value,
    including a missing target, is still validated and reported by Django.
    """
    known: list[set[str]] = [set() for _ in objs]
    for f in model._meta.concrete_fields:
        if not (f.many_to_one or f.one_to_one) or f.remote_field.parent_link or f.validators:
            continue
        values = [getattr(obj, f.attname) for obj in objs]
        wanted = {v for v in values if type(v) is int}
        if not wanted:
            continue
        target, related = f.remote_field.field_name, f.remote_field.model
        qs = related._base_manager.using(router.db_for_read(related, instance=objs[0])).filter(
            **{f"{target}__in": wanted}
        )
        found = set(qs.complex_filter(f.get_limit_choices_to()).values_list(target, flat=True))
        for i, value in enumerate(values):
            if type(value) is int and value in found:
                known[i].add(f.name)
    return known


def _validate(model: type[M], objs: Sequence[M], errors: list[dict[str, list[str]]],
              fields: set[str] | None = None) -> None:
    """Validate a batch; with ``fields``, only those fields one by one (the others did not change)."""
    known = _existing_references(model, objs)
    unchanged = set() if fields is None else {f.name for f in model._meta.fields} - fields
    for i, obj in enumerate(objs):
        try:
            obj.full_clean(exclude=known[i] | unchanged, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            errors[i] = _error_dict(exc)
    batch_errors = [bulk.check_unique(model, objs)]
    hook = getattr(model, "validate_batch", None)
    if hook is not None:
        # Rules between the items of one request that per-object clean() cannot see.
        batch_errors.append(hook(objs))
    for found in batch_errors:
        for i, errs in found.items():
            for field, messages in errs.items():
                errors[i].setdefault(field, []).extend(messages)


def _check_references(model: type[M], objs: Sequence[M], user: Any, action: str,
                      errors: list[dict[str, list[str]]]) -> None:
    """Every object the batch newly refers to must be one the user may refer to; errors by field.

    The same rule as the API's and UI's related-object choices (:func:`reference_queryset`),
    applied once more here because services are the path every writer takes: a foreign key
    may point inside the writer's tenants or at shared objects, a generic relation only at
    a target the writer may change (or see, where the model says so).  One query per
    foreign key or target type of the batch, none for an unconstrained writer.
    """
    if user is None or grants_for(user).superuser:
        return
    before = [getattr(obj, "_prechange", None) for obj in objs]

    def changed(i: int, names: tuple[str, ...], values: tuple[Any, ...]) -> bool:
        old = before[i]
        return old is None or any(old.get(n, object()) != v for n, v in zip(names, values, strict=True))

    for f in model._meta.concrete_fields:
        if not (f.many_to_one or f.one_to_one) or f.remote_field.parent_link:
            continue
        wanted: dict[int, Any] = {}
        for i, obj in enumerate(objs):
            value = getattr(obj, f.attname)
            if value is not None and f.name not in errors[i] and changed(i, (f.name,), (value,)):
                wanted[i] = value
        if not wanted:
            continue
        allowed = referable_ids(f.related_model, set(wanted.values()), user, model, action, field=f.name)
        need = reference_action(model, f.name)
        for i, value in wanted.items():
            if value not in allowed:
                what = f"one you may {need}" if need else "within your tenants or shared"
                errors[i].setdefault(f.name, []).append(
                    f"You may not refer to {f.related_model._meta.verbose_name} {value}; choose {what}.")
    from django.contrib.contenttypes.models import ContentType

    for gfk in generic_relations(model):
        ct_name = model._meta.get_field(gfk.ct_field).attname
        by_type: dict[int, dict[int, Any]] = {}
        for i, obj in enumerate(objs):
            ct_id, pk = getattr(obj, ct_name), getattr(obj, gfk.fk_field)
            if ct_id is None or pk is None or gfk.fk_field in errors[i] or gfk.ct_field in errors[i]:
                continue
            if changed(i, (gfk.ct_field, gfk.fk_field), (ct_id, pk)):
                by_type.setdefault(ct_id, {})[i] = pk
        for ct_id, wanted in by_type.items():
            target = ContentType.objects.get_for_id(ct_id).model_class()
            allowed = set() if target is None else referable_ids(target, set(wanted.values()), user, model, action,
                                                                 field=gfk.name)
            for i, pk in wanted.items():
                if pk not in allowed:
                    errors[i].setdefault(gfk.fk_field, []).append(
                        f"No such object that you may {reference_action(model, gfk.name)}: {pk}.")


def _outside_scope(model: type[M], pks: list[Any], user: Any, action: str) -> set[Any]:
    """Which of the written rows ``pks`` lie outside what ``user`` may ``action`` (after the write)."""
    if user is None:
        return set()
    allowed = set(restrict(model._default_manager.filter(pk__in=pks), user, action).values_list("pk", flat=True))
    return set(pks) - allowed


def _check_scope(model: type[M], pks: list[Any], user: Any, action: str) -> None:
    if _outside_scope(model, pks, user, action):
        raise PermissionDenied(
            f"You may not {action} {model._meta.verbose_name_plural} outside your tenants."
        )


def objects_validate(model: type[M], items: Sequence[dict[str, Any]], *,
                     user: Any = None) -> list[dict[str, list[str]]]:
    """The errors ``objects_create`` would raise for ``items``, writing nothing (import previews).

    After validation, the rows that passed are written in a savepoint that is always rolled back:
    the scope check after the write (``restrict()`` filters rows, so they must exist) is what
    refuses, say, an address without a tenant from a tenant-limited user, and a preview that did
    not ask it said such rows were fine while the apply refused them.  Here each row outside the
    scope gets its own error, so a row the preview passes is a row ``objects_create`` accepts.
    """
    errors: list[dict[str, list[str]]] = [{} for _ in items]
    objs, tags = _instances(model, items)
    _validate(model, objs, errors)
    _check_references(model, objs, user, "add", errors)
    ok = [i for i, errs in enumerate(errors) if not errs]
    if not ok or user is None:
        return errors
    try:
        with rolled_back():
            created = _insert(model, [objs[i] for i in ok], {j: tags[i] for j, i in enumerate(ok) if i in tags})
            pks = [o.pk for o in created]
            outside = _outside_scope(model, pks, user, "add")
    except (IntegrityError, DataError) as exc:
        # A database rule that validation does not know: the apply would fail the same way.
        for i in ok:
            errors[i]["non_field_errors"] = [f"The database refused the rows: {str(exc).splitlines()[0][:200]}"]
        return errors
    path = scope_of(model).tenant_path or ""
    field = path.split("__")[0] if path and path != "pk" else "non_field_errors"
    message = f"You may not add {model._meta.verbose_name_plural} outside your tenants."
    for j, pk in enumerate(pks):
        if pk in outside:
            errors[ok[j]].setdefault(field, []).append(message)
    return errors


def _instances(model: type[M], items: Sequence[dict[str, Any]]) -> tuple[list[M], dict[int, list[Any]]]:
    """Unsaved objects from attribute dicts (FKs as objects), and their tags by position."""
    objs: list[M] = []
    tags: dict[int, list[Any]] = {}
    for i, data in enumerate(items):
        data = dict(data)
        if "tags" in data:
            tags[i] = list(data.pop("tags") or [])
        objs.append(model(**data))
    return objs, tags


def _insert(model: type[M], objs: list[M], tags: dict[int, list[Any]]) -> list[M]:
    created = bulk.bulk_create(model, objs, tags=tags)
    hook = getattr(model, "post_create", None)
    if hook is not None:
        hook(created)
    return created


def objects_create(model: type[M], items: Sequence[dict[str, Any]], *, user: Any = None) -> list[M]:
    """Validate and insert a batch of objects from attribute dicts (FKs as objects)."""
    errors: list[dict[str, list[str]]] = [{} for _ in items]
    objs, tags = _instances(model, items)
    _validate(model, objs, errors)
    _check_references(model, objs, user, "add", errors)
    if any(errors):
        raise BatchValidationError(errors)
    with atomic():
        created = _insert(model, objs, tags)
        _check_scope(model, [o.pk for o in created], user, "add")
    return created


def objects_update(objs: Sequence[M], changes: Sequence[dict[str, Any]], *, user: Any = None) -> list[M]:
    """Apply attribute changes to loaded objects; all-or-nothing."""
    if not objs:
        return list(objs)
    model = type(objs[0])
    errors: list[dict[str, list[str]]] = [{} for _ in objs]
    tag_sets: dict[int, list[Any]] = {}
    for i, (obj, data) in enumerate(zip(objs, changes, strict=True)):
        obj._prechange = obj.snapshot()  # type: ignore[attr-defined]
        data = dict(data)
        if "tags" in data:
            tag_sets[i] = list(data.pop("tags") or [])
        for key, value in data.items():
            setattr(obj, key, value)
    _validate(model, objs, errors)
    _check_references(model, objs, user, "change", errors)
    if any(errors):
        raise BatchValidationError(errors)
    changed = [i for i, (obj, data) in enumerate(zip(objs, changes, strict=True))
               if _changes_something(obj, data, tag_sets.get(i))]
    with atomic():
        for i in changed:
            obj = objs[i]
            obj.save()
            if i in tag_sets:
                obj.tags.set(tag_sets[i])  # type: ignore[attr-defined]
        _check_scope(model, [o.pk for o in objs], user, "change")
    return list(objs)


def _changes_something(obj: models.Model, data: dict[str, Any], tags: list[Any] | None) -> bool:
    """Whether the values set on ``obj`` (``data``) differ from its state before (``_prechange``).

    An object left as it was is not saved at all: no UPDATE, no new ``last_updated``, no change
    record (the change log drops no-op updates too, see :func:`cmdb.core.changelog.is_noop`,
    for writers that save directly).  The scope check still covers it: a write that changes
    nothing must not reveal more than one that does.
    """
    before = getattr(obj, "_prechange", None)
    if before is None:
        return True
    hidden = type(obj).snapshot_exclude  # type: ignore[attr-defined]
    for key in data:
        if key == "tags":
            continue
        try:
            name = obj._meta.get_field(key).name
        except FieldDoesNotExist:
            return True  # not a column (a property a model's save() reads): let save() see it
        if name in hidden:
            return True  # a column the snapshot leaves out (a host's last_seen): saved, though it records nothing
    if tags is not None and not all(hasattr(t, "slug") for t in tags):
        return True
    slugs = before.get("tags") if tags is None else sorted(t.slug for t in tags)
    after = obj.snapshot(tags=slugs)  # type: ignore[attr-defined]
    if not changelog.is_noop(changelog.Pending(obj, ChangeAction.UPDATE, before), after):
        return True
    obj._prechange = None  # type: ignore[attr-defined]
    return False


def objects_bulk_update(objs: Sequence[M], changes: Sequence[dict[str, Any]], *, user: Any = None) -> list[M]:
    """``objects_update`` for many rows with one UPDATE instead of a ``save()`` per object.

    The same validation (a whole batch at once), tenant-scope check after the write and change
    records (noted in bulk, one per object, with the state before) as ``objects_update``; for
    batches such as an Alertmanager notification that touches thousands of incidents.  Not for
    CIs, whose ``save()`` also writes their registry row, nor for tags.
    """
    if not objs:
        return list(objs)
    model = type(objs[0])
    if issubclass(model, CIModel):
        raise TypeError("objects_bulk_update does not write CI registry rows; use objects_update")
    tags = changelog.tags_by_object(list(objs))
    before = {obj.pk: obj.snapshot(tags=tags.get((obj._meta.label_lower, obj.pk)))  # type: ignore[attr-defined]
              for obj in objs}
    fields: set[str] = set()
    for obj, data in zip(objs, changes, strict=True):
        if "tags" in data:
            raise TypeError("objects_bulk_update does not change tags; use objects_update")
        for key, value in data.items():
            setattr(obj, key, value)
            fields.add(key)
    fields = {model._meta.get_field(key).name for key in fields}  # "ci_id" is the field "ci"
    errors: list[dict[str, list[str]]] = [{} for _ in objs]
    _validate(model, objs, errors, fields)
    if any(errors):
        raise BatchValidationError(errors)
    if any(f.name == "last_updated" for f in model._meta.concrete_fields):
        now = timezone.now()  # auto_now, which bulk_update does not apply
        for obj in objs:
            obj.last_updated = now  # type: ignore[attr-defined]
        fields.add("last_updated")
    with atomic():
        _update_rows(model, objs, sorted(fields))
        changelog.note_many(objs, ChangeAction.UPDATE, before)
        _check_scope(model, [o.pk for o in objs], user, "change")
    return list(objs)


def _update_rows(model: type[M], objs: Sequence[M], fields: list[str]) -> None:
    """Write ``fields`` of ``objs``: on PostgreSQL one ``UPDATE ... FROM unnest(<one array per column>)``.

    Django's ``bulk_update`` builds a ``CASE WHEN id = ... THEN ...`` per field and row, quadratic
    for the database and slow to build: 2,000 incidents took 3 s in Python and 3.6 s in PostgreSQL.
    One array parameter per column also spares the driver from parsing thousands of placeholders.
    """
    if not fields:
        return
    using = router.db_for_write(model)
    conn = connections[using]
    if conn.vendor != "postgresql":
        model._base_manager.using(using).bulk_update(objs, fields, batch_size=1000)
        return
    qn = conn.ops.quote_name
    pk = model._meta.pk
    columns = [pk, *(model._meta.get_field(name) for name in fields)]
    arrays = [[f.get_db_prep_save(getattr(obj, f.attname), conn) for obj in objs] for f in columns]
    names = ", ".join(qn(f.column) for f in columns)
    assign = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in columns[1:])
    unnest = ", ".join(f"%s::{f.cast_db_type(conn)}[]" for f in columns)
    with conn.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(model._meta.db_table)} AS t SET {assign} FROM unnest({unnest}) AS v ({names}) "  # noqa: S608
            f"WHERE t.{qn(pk.column)} = v.{qn(pk.column)}", arrays)


def objects_delete(objs: Sequence[models.Model]) -> int:
    """Delete ``objs`` with what cascades from them, in a constant number of statements per batch.

    ``obj.delete()`` per object cost about 39 statements per device (collecting its interfaces,
    addresses and registry row, then deleting each kind in chunks of 100 rows, plus a tag query
    and a registry DELETE from the change-log receivers).  Here one collector gathers the whole
    batch (one query per relation, for all objects at once), including the CI registry rows of
    every configuration item among them; the facts the change records need (tags, parent, tenant,
    the names built from related rows) are loaded per model; and each model's rows go with one
    DELETE.  The change-log receivers still see every object (pre/post delete), so each one gets
    its own "delete" record, all appended to the hash chain with one insert when the change
    context commits.

    Protected and restricted relations raise ``ProtectedError``/``RestrictedError`` from the
    collection, before anything is deleted: the batch is all-or-nothing, as before.
    """
    if not objs:
        return 0
    from cmdb.core import deletion

    with atomic():
        deletion.delete(list(objs))
    return len(objs)
