"""The generic pages every registered model gets: list, detail, add/edit, delete, bulk edit/delete,
import, export and inline journal entries.

Views stay thin: reads start from ``restrict()``, filters are the API's filter sets,
writes go through ``cmdb.core.services`` (validation, tenant scope, change log).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, Paginator
from django.db import DataError, IntegrityError
from django.db.models import Model, ProtectedError, QuerySet, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cmdb.core.bodylimit import body_limit
from cmdb.core.services import BatchValidationError, objects_create, objects_delete, objects_update, objects_validate
from cmdb.users.permissions import has_action, restrict

from .. import exchange, forms, history, tables
from ..registry import ModelView, by_slug, make_column, panels_for

MAX_BULK = 1000


def _view_or_404(app: str, slug: str, user: Any) -> ModelView:
    view = by_slug(app, slug)
    if view is None:
        raise Http404("No such page.")
    return view


def _refuse(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "ui/refused.html", {"message": message}, status=403)


def _may(user: Any, view: ModelView, action: str) -> bool:
    return (not view.read_only or action == "view") and has_action(user, view.model, action)


def _base_qs(view: ModelView) -> QuerySet:
    qs = view.model._default_manager.all()
    return qs


def _safe_return(request: HttpRequest, default: str) -> str:
    target = request.POST.get("return_url") or request.GET.get("return_url") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return default


# --- list and export -------------------------------------------------------------------------------------------

@login_required
def object_list(request: HttpRequest, app: str, slug: str) -> HttpResponse:
    view = _view_or_404(app, slug, request.user)
    if not _may(request.user, view, "view"):
        return _refuse(request, f"You may not view {view.model._meta.verbose_name_plural}.")
    qs, errors = tables.apply_filters(view, request.GET, restrict(_base_qs(view), request.user, "view"), request)
    columns = tables.chosen_columns(view, request)
    sort = request.GET.get("sort", "")
    order = tables.ordering(view, sort) if sort else None
    if order:
        qs = qs.order_by(*order)
    elif not qs.ordered:
        qs = qs.order_by("pk")
    try:
        per_page = int(request.GET.get("per_page", tables.DEFAULT_PAGE_SIZE))
    except ValueError:
        per_page = tables.DEFAULT_PAGE_SIZE
    per_page = min(max(per_page, 1), tables.PAGE_SIZES[-1])
    paginator = Paginator(tables.with_columns(qs, columns), per_page)
    try:
        page = paginator.page(request.GET.get("page", 1))
    except (EmptyPage, ValueError, TypeError):
        page = paginator.page(1) if paginator.num_pages else None
    objs = list(page.object_list) if page else []
    params = request.GET.copy()
    params.pop("page", None)
    sort_params = params.copy()
    sort_params.pop("sort", None)
    filter_params = request.GET.copy()
    for p in tables.LIST_PARAMS:
        filter_params.pop(p, None)
    context = {
        "view": view,
        "columns": columns,
        "all_columns": list(view.columns.values()),
        "chosen": {c.name for c in columns},
        "rows": tables.rows(objs, columns, request.user),
        "page": page,
        "paginator": paginator,
        "per_page": per_page,
        "page_sizes": tables.PAGE_SIZES,
        "query": params.urlencode(),
        "sort_query": sort_params.urlencode(),
        "filter_query": filter_params.urlencode(),
        "sort": sort,
        "errors": errors,
        "filters": tables.filter_widgets(view, request.user, request.GET),
        "q": request.GET.get("q", ""),
        "can_add": _may(request.user, view, "add"),
        "can_change": _may(request.user, view, "change") and bool(view.bulk_fields),
        "can_delete": _may(request.user, view, "delete"),
    }
    # A bad filter shows its message above an empty list, with the status an API client would get.
    return render(request, "ui/list.html", context, status=400 if errors else 200)


@login_required
def object_export(request: HttpRequest, app: str, slug: str) -> HttpResponse:
    """Exactly the filtered set, all pages, in CSV, JSON or YAML."""
    view = _view_or_404(app, slug, request.user)
    if not _may(request.user, view, "view"):
        return _refuse(request, f"You may not view {view.model._meta.verbose_name_plural}.")
    fmt = request.GET.get("format", "csv")
    if fmt not in exchange.FORMATS:
        return HttpResponse(f"Unknown format {fmt!r}; use csv, json or yaml.", status=400, content_type="text/plain")
    qs, errors = tables.apply_filters(view, request.GET, restrict(_base_qs(view), request.user, "view"), request)
    if errors:
        text = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        return HttpResponse(text, status=400, content_type="text/plain")
    header, rows = exchange.export_rows(view, qs.order_by("pk"), request.user)
    content_types = {"csv": "text/csv", "json": "application/json", "yaml": "application/yaml"}
    body = exchange.render_export(fmt, header, rows)
    response = HttpResponse(body, content_type=f"{content_types[fmt]}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{view.slug}.{fmt}"'
    return response


# --- detail ----------------------------------------------------------------------------------------------------

def _attributes(view: ModelView, obj: Model, user: Any) -> list[dict[str, Any]]:
    """Every concrete field: the model's own first (name leading), inherited bookkeeping last."""
    fields = [f for f in view.model._meta.concrete_fields
              if f.name not in ("id", "ci", "custom_field_data") and not f.name.endswith("_ptr")]
    late = {"created", "last_updated", "description", "comments"}
    first = getattr(view.model, "display_field", "name")
    fields.sort(key=lambda f: (f.name != first, f.name in late, f.name in ("created", "last_updated")))
    columns = [make_column(view.model, f.name) for f in fields]
    hidden = tables.unseen([obj], columns, user, view.model)
    return [{"label": col.label, "cell": tables.cell(obj, col, hidden=hidden.get(col.name))} for col in columns]


def _detail_queryset(view: ModelView) -> QuerySet:
    fks = [f.name for f in view.model._meta.concrete_fields if f.is_relation and f.name != "ci"]
    qs = _base_qs(view).select_related(*fks)
    if any(f.name == "tags" for f in view.model._meta.many_to_many):
        qs = qs.prefetch_related("tags")
    return qs


def _related_tables(view: ModelView, obj: Model, user: Any) -> list[dict[str, Any]]:
    from ..registry import get

    out = []
    for rel in view.related:
        rview = get(rel.model_label)
        if rview is None or not has_action(user, rview.model, "view"):
            continue
        cols = [rview.columns.get(n) or make_column(rview.model, n) for n in rel.columns]
        qs = restrict(rview.model._default_manager.filter(**{rel.lookup: obj}), user, "view")
        objs = list(tables.with_columns(qs, cols)[: rel.limit + 1])
        more_url = f"{rview.url()}?{rel.filter_param}={obj.pk}" if rel.filter_param else None
        add_url = f"{rview.url('add')}?{rel.lookup}={obj.pk}" if "__" not in rel.lookup and _may(
            user, rview, "add") else None
        out.append({"title": rel.title, "columns": cols, "rows": tables.rows(objs[: rel.limit], cols, user),
                    "more": len(objs) > rel.limit, "more_url": more_url, "add_url": add_url})
    return out


def rack_elevation(rack: Any, user: Any) -> dict[str, Any]:
    """Front and rear views of a rack as drawing coordinates (the template renders SVG)."""
    from cmdb.dcim.models import Device

    unit, top_pad = 14, 4
    devices = restrict(Device.objects.filter(rack=rack, position__isnull=False), user, "view").select_related(
        "device_type", "role")
    faces: dict[str, list[dict[str, Any]]] = {"front": [], "rear": []}
    for d in devices:
        height = max(d.device_type.u_height, 1)
        y = top_pad + (rack.u_height - (d.position + height - 1)) * unit
        shown = ["front", "rear"] if d.device_type.is_full_depth else [d.face or "front"]
        for face in shown:
            faces.setdefault(face, []).append({
                "name": d.name, "y": y, "h": height * unit - 2, "color": f"#{d.role.color}",
                "url": f"/dcim/devices/{d.pk}/", "ty": y + height * unit / 2 + 3,
            })
    units = [{"n": n, "y": top_pad + (rack.u_height - n) * unit + 10} for n in range(rack.u_height, 0, -1)]
    return {"faces": faces, "units": units, "height": rack.u_height * unit + 2 * top_pad, "unit": unit}


@login_required
def object_detail(request: HttpRequest, app: str, slug: str, pk: int) -> HttpResponse:
    view = _view_or_404(app, slug, request.user)
    obj = restrict(_detail_queryset(view), request.user, "view").filter(pk=pk).first()
    if obj is None:
        raise Http404(f"No {view.verbose_name} with ID {pk}, or you may not see it.")
    panels = []
    for panel in panels_for(view):
        html = panel(request, obj)
        if html:
            panels.append(html)
    context = {
        "view": view,
        "object": obj,
        "attributes": _attributes(view, obj, request.user),
        "tags": list(obj.tags.all()) if hasattr(obj, "tags") else [],
        "custom_fields": sorted((getattr(obj, "custom_field_data", None) or {}).items()),
        "related_tables": _related_tables(view, obj, request.user),
        "changes": history.changes_for(obj, request.user),
        "journal": history.journal_for(obj, request.user),
        "journal_form": forms.JournalForm(),
        "can_journal": _can_journal(request.user),
        "panels": panels,
        "elevation": rack_elevation(obj, request.user) if view.rack_elevation else None,
        "can_change": _may(request.user, view, "change"),
        "can_delete": _may(request.user, view, "delete"),
    }
    return render(request, "ui/detail.html", context)


def _can_journal(user: Any) -> bool:
    from cmdb.extras.models import JournalEntry

    return has_action(user, JournalEntry, "add")


@login_required
@require_POST
def journal_add(request: HttpRequest, app: str, slug: str, pk: int) -> HttpResponse:
    from cmdb.extras.models import JournalEntry

    view = _view_or_404(app, slug, request.user)
    obj = restrict(_base_qs(view), request.user, "view").filter(pk=pk).first()
    if obj is None:
        raise Http404("No such object.")
    if not _can_journal(request.user):
        return _refuse(request, "You may not add journal entries.")
    form = forms.JournalForm(request.POST)
    if not form.is_valid():
        messages.error(request, format_html("Journal entry not added: {}", form.errors.as_text()))
        return redirect(view.url("detail", pk))
    item = {"assigned_object_type": ContentType.objects.get_for_model(view.model), "assigned_object_id": obj.pk,
            "created_by": request.user, **form.cleaned_data}
    try:
        objects_create(JournalEntry, [item], user=request.user)
    except (BatchValidationError, PermissionDenied) as exc:
        messages.error(request, f"Journal entry not added: {getattr(exc, 'errors', exc)}")
    else:
        messages.success(request, "Journal entry added.")
    return redirect(f"{view.url('detail', pk)}#journal")


# --- add, edit, delete -----------------------------------------------------------------------------------------

def _apply_errors(form: Any, errors: dict[str, list[str]]) -> None:
    for field, msgs in errors.items():
        target = field if field in form.fields else None
        for msg in msgs:
            form.add_error(target, msg if target else f"{field}: {msg}" if field != "non_field_errors" else msg)


@login_required
def object_edit(request: HttpRequest, app: str, slug: str, pk: int | None = None) -> HttpResponse:
    view = _view_or_404(app, slug, request.user)
    action = "add" if pk is None else "change"
    if not _may(request.user, view, action):
        return _refuse(request, f"You may not {action} {view.model._meta.verbose_name_plural}.")
    instance = None
    if pk is not None:
        instance = restrict(_base_qs(view), request.user, "change").filter(pk=pk).first()
        if instance is None:
            if restrict(_base_qs(view), request.user, "view").filter(pk=pk).exists():
                return _refuse(request, f"You may not change this {view.verbose_name} (outside your tenants).")
            raise Http404("No such object.")
    initial = {k: v for k, v in request.GET.items() if k in view.form_fields} if instance is None else None
    form = forms.object_form(view, request.user, instance=instance, data=request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            if instance is None:
                data = forms.changes_from(form, view.form_fields, only_changed=False)
                obj = objects_create(view.model, [data], user=request.user)[0]
            else:
                data = forms.changes_from(form, view.form_fields, only_changed=True)
                obj = objects_update([instance], [data], user=request.user)[0] if data else instance
        except BatchValidationError as exc:
            _apply_errors(form, exc.errors[0])
            status = 400
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            status = 403
        else:
            verb = "Created" if instance is None else "Updated" if data else "No changes to"
            messages.success(request, f"{verb} {view.verbose_name} {obj}.")
            return redirect(view.url("detail", obj.pk))
    elif request.method == "POST":
        status = 400
    return render(request, "ui/edit.html", {"view": view, "form": form, "object": instance}, status=status)


@login_required
def object_delete(request: HttpRequest, app: str, slug: str, pk: int) -> HttpResponse:
    view = _view_or_404(app, slug, request.user)
    if not _may(request.user, view, "delete"):
        return _refuse(request, f"You may not delete {view.model._meta.verbose_name_plural}.")
    obj = restrict(_base_qs(view), request.user, "delete").filter(pk=pk).first()
    if obj is None:
        if restrict(_base_qs(view), request.user, "view").filter(pk=pk).exists():
            return _refuse(request, f"You may not delete this {view.verbose_name} (outside your tenants).")
        raise Http404("No such object.")
    if request.method == "POST":
        try:
            objects_delete([obj])
        except (ProtectedError, RestrictedError) as exc:
            blockers = ", ".join(str(o) for o in list(exc.protected_objects if isinstance(exc, ProtectedError)
                                                      else exc.restricted_objects)[:10])
            messages.error(request, f"{obj} cannot be deleted: it is still used by {blockers}.")
            return redirect(view.url("detail", pk))
        messages.success(request, f"Deleted {view.verbose_name} {obj}.")
        return redirect(view.url())
    return render(request, "ui/confirm_delete.html", {"view": view, "objects": [obj],
                                                      "action_url": view.url("delete", pk)})


# --- bulk edit and delete --------------------------------------------------------------------------------------

def _selected(request: HttpRequest, view: ModelView, action: str) -> tuple[list[Model] | None, str | None]:
    try:
        pks = sorted({int(p) for p in request.POST.getlist("pk")})
    except ValueError:
        return None, "Invalid selection."
    if not pks:
        return None, "Select at least one row."
    if len(pks) > MAX_BULK:
        return None, f"Select at most {MAX_BULK} rows at once."
    objs = list(restrict(_base_qs(view), request.user, action).filter(pk__in=pks).order_by("pk"))
    if len(objs) != len(pks):
        return None, f"You may not {action} some of the selected {view.model._meta.verbose_name_plural}."
    return objs, None


@login_required
@require_POST
def bulk_edit(request: HttpRequest, app: str, slug: str) -> HttpResponse:
    """Three steps: choose values -> confirm the listed changes -> apply atomically."""
    view = _view_or_404(app, slug, request.user)
    if not _may(request.user, view, "change") or not view.bulk_fields:
        return _refuse(request, f"You may not change {view.model._meta.verbose_name_plural}.")
    objs, problem = _selected(request, view, "change")
    if objs is None:
        if problem and problem.startswith("You may not"):
            return _refuse(request, problem)
        messages.warning(request, problem)
        return redirect(_safe_return(request, view.url()))
    step = request.POST.get("step", "choose")
    form = forms.bulk_form(view, request.user, data=request.POST if step != "choose" else None)
    context: dict[str, Any] = {"view": view, "form": form, "objects": objs, "return_url": _safe_return(
        request, view.url())}
    if step == "choose" or not form.is_valid():
        return render(request, "ui/bulk_edit.html", context, status=200 if step == "choose" else 400)
    changes = forms.bulk_changes(form, view.bulk_fields)
    if not changes:
        form.add_error(None, "Set at least one field to change.")
        return render(request, "ui/bulk_edit.html", context, status=400)
    if step == "preview":
        preview = []
        for obj in objs:
            diffs = []
            for name, new in changes.items():
                old = getattr(obj, name)
                if hasattr(old, "all"):
                    old = ", ".join(str(t) for t in old.all())
                    new = ", ".join(str(t) for t in new)
                if str(old) != str(new):
                    diffs.append({"field": form.fields[name].label, "old": old if old not in (None, "") else "—",
                                  "new": new})
            preview.append({"object": obj, "diffs": diffs})
        context.update({"preview": preview, "step": "apply"})
        return render(request, "ui/bulk_edit.html", context)
    try:
        objects_update(objs, [changes] * len(objs), user=request.user)
    except BatchValidationError as exc:
        for obj, errs in zip(objs, exc.errors, strict=True):
            for field, msgs in errs.items():
                form.add_error(None, f"{obj}: {field}: {' '.join(msgs)}")
        return render(request, "ui/bulk_edit.html", context, status=400)
    except PermissionDenied as exc:
        return _refuse(request, str(exc))
    messages.success(request, f"Updated {len(objs)} {view.model._meta.verbose_name_plural}.")
    return redirect(context["return_url"])


@login_required
@require_POST
def bulk_delete(request: HttpRequest, app: str, slug: str) -> HttpResponse:
    view = _view_or_404(app, slug, request.user)
    if not _may(request.user, view, "delete"):
        return _refuse(request, f"You may not delete {view.model._meta.verbose_name_plural}.")
    objs, problem = _selected(request, view, "delete")
    if objs is None:
        if problem and problem.startswith("You may not"):
            return _refuse(request, problem)
        messages.warning(request, problem)
        return redirect(_safe_return(request, view.url()))
    return_url = _safe_return(request, view.url())
    if request.POST.get("confirm") != "yes":
        return render(request, "ui/confirm_delete.html", {"view": view, "objects": objs, "bulk": True,
                                                          "action_url": view.url("bulk_delete"),
                                                          "return_url": return_url})
    try:
        objects_delete(objs)
    except (ProtectedError, RestrictedError) as exc:
        blockers = list(exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects)
        messages.error(request, f"Nothing deleted: still in use by {', '.join(str(o) for o in blockers[:10])}.")
        return redirect(return_url)
    messages.success(request, f"Deleted {len(objs)} {view.model._meta.verbose_name_plural}.")
    return redirect(return_url)


# --- import ----------------------------------------------------------------------------------------------------

@login_required
@body_limit("import")
def object_import(request: HttpRequest, app: str, slug: str) -> HttpResponse:
    """Paste or upload; ``preview`` validates everything and writes nothing; ``apply`` is all-or-nothing."""
    view = _view_or_404(app, slug, request.user)
    if not _may(request.user, view, "add"):
        return _refuse(request, f"You may not add {view.model._meta.verbose_name_plural}.")
    context: dict[str, Any] = {"view": view, "fields": view.import_fields, "formats": exchange.FORMATS}
    if request.method != "POST":
        return render(request, "ui/import.html", context)
    text = request.POST.get("data", "")
    upload = request.FILES.get("file")
    if upload is not None:
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            context["parse_error"] = "The file is not UTF-8 text."
            return render(request, "ui/import.html", context, status=400)
    fmt = request.POST.get("format", "auto")
    context.update({"data": text, "format": fmt})
    if not text.strip():
        context["parse_error"] = "Paste data or choose a file."
        return render(request, "ui/import.html", context, status=400)
    try:
        records = exchange.parse(text, fmt)
    except exchange.ParseError as exc:
        context["parse_error"] = str(exc)
        return render(request, "ui/import.html", context, status=400)
    exchange.resolve(view, records, request.user)
    if any(rec.errors for rec in records):
        # Still validate the rows that resolved, so every bad row is listed at once.
        good = [rec for rec in records if not rec.errors]
        errors = objects_validate(view.model, [rec.values for rec in good], user=request.user) if good else []
        _merge_errors(good, errors)
    elif request.POST.get("action") != "apply":
        _merge_errors(records, objects_validate(view.model, [rec.values for rec in records], user=request.user))
    else:
        try:
            created = objects_create(view.model, [rec.values for rec in records], user=request.user)
        except BatchValidationError as exc:
            _merge_errors(records, exc.errors)
        except PermissionDenied as exc:
            return _refuse(request, str(exc))
        except (IntegrityError, DataError) as exc:  # a database rule validation does not know (a race, say)
            context["parse_error"] = f"The database refused the rows: {str(exc).splitlines()[0][:200]}"
            return render(request, "ui/import.html", context, status=400)
        else:
            messages.success(request, f"Imported {len(created)} {view.plural}.")
            return redirect(view.url())
    bad = [rec for rec in records if rec.errors]
    shown = [(rec.line, rec.display()) for rec in records[:200]]
    columns = sorted({k for _line, row in shown for k in row})
    rows = [(line, [row.get(c, "") for c in columns]) for line, row in shown]
    context.update({"records": records, "bad": bad, "columns": columns, "rows": rows})
    return render(request, "ui/import.html", context, status=400 if bad else 200)


def _merge_errors(records: list[exchange.Record], errors: list[dict[str, list[str]]]) -> None:
    for rec, errs in zip(records, errors, strict=True):
        for field, msgs in errs.items():
            rec.errors.setdefault(field, []).extend(msgs)
