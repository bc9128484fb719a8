"""The UI registry: one declaration per model gives it every generic page.

``register(Device, filterset=DeviceFilterSet, columns=[...], ...)`` is all a model
needs for list (filters, sort, columns, pagination, export, bulk edit/delete),
detail (attributes, related tables, history, journal), add/edit/delete and import
pages under ``/<app_label>/<plural>/``.  Every app registers its own pages in the
UI module its ``AppConfig`` declares (``ui_module = ".ui"``, see
:mod:`cmdb.core.domains`); the UI app imports those when it is ready, in
``INSTALLED_APPS`` order (the order of the menu entries).

Extra panels on a detail page come from :func:`register_panel`: a function of
``(request, obj)`` returning HTML (or ``None`` to show nothing), registered for
one model label, or for ``"*"`` (every CI) -- e.g. relationships or installed
software added by other apps.  See docs/ui.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.urls import reverse
from django.utils.text import slugify

#: Django's own models too large for a <select>; the project's models say so themselves (``large_table = True``).
LARGE_DJANGO_MODELS = frozenset({"contenttypes.contenttype", "auth.user"})
#: The registry columns every CI list may show (status, tenant, ...), for ``register(columns=[..., *CI_COLUMNS])``.
CI_COLUMNS = ["status", "tenant", "criticality", "owner", "last_seen", "tags"]
#: Fields never shown as attributes nor edited.
HIDDEN_FIELDS = {"id", "ci", "custom_field_data", "created", "last_updated", "local_context_data"}
NATURAL_KEYS = ("slug", "name", "model", "address", "prefix")


def is_large(model: type[models.Model]) -> bool:
    """Whether a related model has too many rows for a <select>: forms take its id, filters offer no menu."""
    return bool(getattr(model, "large_table", False)) or model._meta.label_lower in LARGE_DJANGO_MODELS


@dataclass
class Column:
    """One list column: what to show, how to sort, which relations to load with the page."""

    name: str
    label: str
    accessor: str
    order_by: str | None = None
    select: tuple[str, ...] = ()
    prefetch: tuple[str, ...] = ()
    kind: str = "text"  # text | fk | choice | bool | tags | link


@dataclass
class RelatedTable:
    """A table of related objects on a detail page, e.g. a device's interfaces."""

    title: str
    model_label: str
    lookup: str  # ORM path from the related model to the viewed object, e.g. "device"
    columns: Sequence[str] = ()
    filter_param: str | None = None  # list filter for "view all", e.g. "device_id"
    limit: int = 50


@dataclass
class ModelView:
    model: type[models.Model]
    filterset: type | None
    columns: dict[str, Column]
    default_columns: list[str]
    form_fields: list[str]
    bulk_fields: list[str]
    import_fields: list[str]
    list_filters: list[str]
    group: str
    related: list[RelatedTable] = field(default_factory=list)
    dependent: dict[str, tuple[str, str]] = field(default_factory=dict)
    form_querysets: dict[str, Callable[[Any, models.QuerySet], models.QuerySet]] = field(default_factory=dict)
    read_only: bool = False
    rack_elevation: bool = False
    ordering: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def app(self) -> str:
        return self.model._meta.app_label

    @property
    def slug(self) -> str:
        return slugify(str(self.model._meta.verbose_name_plural))

    @property
    def title(self) -> str:
        name = str(self.model._meta.verbose_name_plural)
        return name[:1].upper() + name[1:]

    @property
    def plural(self) -> str:
        return str(self.model._meta.verbose_name_plural)

    @property
    def verbose_name(self) -> str:
        return str(self.model._meta.verbose_name)

    @property
    def is_ci(self) -> bool:
        from cmdb.core.models.base import CIModel

        return issubclass(self.model, CIModel)

    def url(self, action: str = "list", pk: Any = None) -> str:
        kwargs: dict[str, Any] = {"app": self.app, "slug": self.slug}
        if pk is not None:
            kwargs["pk"] = pk
        return reverse(f"ui:{action}", kwargs=kwargs)


_views: dict[str, ModelView] = {}
_by_slug: dict[tuple[str, str], ModelView] = {}
_panels: dict[str, list[Callable[[Any, Any], str | None]]] = {}
_links: list[tuple[str, str, str, str]] = []  # (group, label, url name, model label for the view check)
GROUPS = ["Organization", "Devices", "IPAM", "Virtualization", "Other"]


def _model_field(model: type[models.Model], name: str) -> models.Field | None:
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def make_column(model: type[models.Model], name: str) -> Column:
    """A column for a model field (or ``a__b`` path through foreign keys); ``tags`` is special."""
    if name == "tags":
        return Column("tags", "Tags", "tags", kind="tags", prefetch=("tags",))
    path = name.split("__")
    current: type[models.Model] = model
    f: Any = None
    for i, part in enumerate(path):
        f = _model_field(current, part)
        if f is None:
            raise ValueError(f"{model._meta.label}: no field {name!r} for a column")
        if f.is_relation and i < len(path) - 1:
            current = f.related_model
    label = str(getattr(f, "verbose_name", name))
    label = label[:1].upper() + label[1:]
    select = ("__".join(path[:-1]),) if len(path) > 1 else ()
    if f.is_relation and (f.many_to_one or f.one_to_one):
        return Column(name, label, name.replace("__", "."), order_by=f"{name}__{_natural(f.related_model)}",
                      select=(*select, name), kind="fk")
    kind = "choice" if f.choices else "bool" if isinstance(f, models.BooleanField) else "text"
    return Column(name, label, name.replace("__", "."), order_by=name, select=select, kind=kind)


def _natural(model: type[models.Model]) -> str:
    for attr in NATURAL_KEYS:
        f = _model_field(model, attr)
        if f is not None and not f.is_relation:
            return attr
    return "pk"


def natural_key(model: type[models.Model]) -> str:
    """The attribute that names an object in imports and exports (slug, name, ...)."""
    return _natural(model)


def _default_form_fields(model: type[models.Model]) -> list[str]:
    out = []
    for f in model._meta.get_fields():
        if not getattr(f, "editable", False) or f.auto_created or f.name in HIDDEN_FIELDS:
            continue
        if not (f.concrete or f.many_to_many) or getattr(f, "primary_key", False):
            continue
        if f.is_relation and f.related_model is not None and f.related_model._meta.label_lower == "ipam.ipaddress":
            continue  # primary IPs are chosen on the object's edit page among its own addresses
        out.append(f.name)
    return out


def register(
    model: type[models.Model],
    *,
    filterset: type | None = None,
    columns: Sequence[str] | None = None,
    default_columns: Sequence[str] | None = None,
    form_fields: Sequence[str] | None = None,
    bulk_fields: Sequence[str] | None = None,
    import_fields: Sequence[str] | None = None,
    list_filters: Sequence[str] | None = None,
    group: str = "Other",
    related: Sequence[RelatedTable] = (),
    dependent: dict[str, tuple[str, str]] | None = None,
    form_querysets: dict[str, Callable[[Any, models.QuerySet], models.QuerySet]] | None = None,
    read_only: bool = False,
    rack_elevation: bool = False,
) -> ModelView:
    """Declare a model's UI pages.  Everything but the model has a sensible default."""
    form = list(form_fields) if form_fields is not None else ([] if read_only else _default_form_fields(model))
    names = list(columns) if columns is not None else [model.display_field if _model_field(
        model, getattr(model, "display_field", "name")) else "id", *[n for n in form if n != "tags"][:6]]
    cols = {n: make_column(model, n) for n in names if n != "id"}
    if "id" in names:
        cols = {"id": Column("id", "ID", "pk", order_by="pk"), **cols}
    choice_like = []
    for n in form:
        f = _model_field(model, n)
        if f is None or f.many_to_many:
            continue
        if f.choices or isinstance(f, models.BooleanField) or (
            f.is_relation and not is_large(f.related_model)
        ):
            choice_like.append(n)
    view = ModelView(
        model=model,
        filterset=filterset,
        columns=cols,
        default_columns=list(default_columns or list(cols)[:8]),
        form_fields=form,
        bulk_fields=list(bulk_fields if bulk_fields is not None else choice_like),
        import_fields=list(import_fields if import_fields is not None else form),
        list_filters=list(list_filters if list_filters is not None else choice_like),
        group=group,
        related=list(related),
        dependent=dict(dependent or {}),
        form_querysets=dict(form_querysets or {}),
        read_only=read_only,
        rack_elevation=rack_elevation,
    )
    _views[view.label] = view
    _by_slug[(view.app, view.slug)] = view
    return view


def get(label_or_model: str | type[models.Model]) -> ModelView | None:
    label = label_or_model if isinstance(label_or_model, str) else label_or_model._meta.label_lower
    return _views.get(label)


def by_slug(app: str, slug: str) -> ModelView | None:
    return _by_slug.get((app, slug))


def all_views() -> list[ModelView]:
    return list(_views.values())


_prefixes: dict[str, str | None] = {}


def object_url(model: type[models.Model] | str, pk: Any) -> str | None:
    """The UI detail page of an object, or None when its model has no pages (no reverse() per cell)."""
    label = model if isinstance(model, str) else model._meta.label_lower
    prefix = _prefixes.get(label, "")
    if prefix == "":
        view = _views.get(label)
        prefix = _prefixes[label] = view.url() if view is not None else None
    return f"{prefix}{pk}/" if prefix is not None else None


def register_panel(target: str, panel: Callable[[Any, Any], str | None]) -> None:
    """Add a panel to detail pages: ``target`` is a model label (``dcim.device``) or ``"*"`` for every CI."""
    _panels.setdefault(target, []).append(panel)


def panels_for(view: ModelView) -> list[Callable[[Any, Any], str | None]]:
    return [*_panels.get(view.label, []), *(_panels.get("*", []) if view.is_ci else [])]


def register_link(group: str, label: str, url_name: str, model: str) -> None:
    """Add a menu entry for a page that is not a registered model's list (reports, runs, impact).

    ``model`` is the label whose *view* permission the user needs to see the entry.
    """
    if (group, label, url_name, model) not in _links:
        _links.append((group, label, url_name, model))


def menu(user: Any) -> list[dict[str, Any]]:
    """Navigation groups with the list pages the user may view."""
    from django.urls import reverse

    from cmdb.users.permissions import has_action

    groups: dict[str, list[dict[str, str]]] = {g: [] for g in GROUPS}
    for view in _views.values():
        if has_action(user, view.model, "view"):
            groups.setdefault(view.group, []).append({"label": view.title, "url": view.url()})
    for group, label, url_name, model in _links:
        if has_action(user, apps.get_model(model), "view"):
            groups.setdefault(group, []).append({"label": label, "url": reverse(url_name)})
    return [{"title": g, "items": items} for g, items in groups.items() if items]
