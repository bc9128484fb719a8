"""NetBox-style filtering generated from a list of model fields, and strict about what it is given.

For each field named in ``Meta.fields`` the filter set gets (the lookups NetBox has, see
netbox/utilities/constants.py; no ``regex``, which NetBox has neither):

* text:      ``f`` (exact, repeatable = OR), ``f__n``, ``__ic``, ``__nic``, ``__ie``,
             ``__nie``, ``__isw``, ``__nisw``, ``__iew``, ``__niew``, ``__empty``
* numbers,
  dates:     ``f``, ``f__n``, ``__gt``, ``__gte``, ``__lt``, ``__lte``, ``__empty``
* choices:   ``f`` and ``f__n``, values checked against the choices, plus the text lookups
* booleans:  ``f``
* relations: ``f_id`` (id or ``null``) and ``f`` (slug, or name where there is
             no slug), each with ``__n``; unknown values are a 400

plus ``id``/``id__n``/``id__gt``..., ``q`` (free text over the model's ``search_fields``),
``tag``/``tag_id`` (AND across tags, each with ``__n``), ``created``/``last_updated`` with the
number lookups, and ``cf_<name>`` for each custom field of the model (:mod:`cmdb.api.cffilters`).

**Strict.**  A parameter that is neither a filter of the endpoint nor one of
:data:`COMMON_PARAMS` is a 400 naming it, as is an ``ordering`` by a field the endpoint
cannot order by and a value of the wrong type: a script that deletes what a filter returns
must never get "everything" because it misspelt the filter.  The same filter sets serve the
API, the OpenAPI schema (so tools can discover the parameter names), the web UI's lists and
the Prometheus service discovery (:func:`reject_unknown` is the one check all of them use).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from functools import reduce
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from .fields import MAX_PK, as_int, is_pk

TEXT_LOOKUPS = {
    "n": ("exact", True), "ic": ("icontains", False), "nic": ("icontains", True), "ie": ("iexact", False),
    "nie": ("iexact", True), "isw": ("istartswith", False), "nisw": ("istartswith", True),
    "iew": ("iendswith", False), "niew": ("iendswith", True),
}
RANGE_LOOKUPS = {"n": ("exact", True), "gt": ("gt", False), "gte": ("gte", False), "lt": ("lt", False),
                 "lte": ("lte", False)}
TRUE_VALUES = {"1", "true", "True", "yes", "on"}
FALSE_VALUES = {"0", "false", "False", "no", "off"}

#: Parameters every list endpoint takes besides its filters: pagination, representation and ordering.
COMMON_PARAMS = frozenset({"limit", "offset", "brief", "format", "fields", "exclude", "ordering"})


def reject_unknown(params: Iterable[str], known: Collection[str], extra: Collection[str] = (),
                   common: Collection[str] = COMMON_PARAMS) -> None:
    """A 400 naming every parameter that is in none of ``known``, ``extra`` and ``common``."""
    unknown = sorted({p for p in params if p not in known and p not in extra and p not in common})
    if unknown:
        raise ValidationError({p: [f"Unknown parameter {p!r}: not a filter of this endpoint (see /api/docs/)."]
                               for p in unknown})


def parse_bool(name: str, value: str | None) -> bool | None:
    """``brief=1``-style switches: None when absent, a 400 naming ``name`` for anything but true/false."""
    if value in (None, ""):
        return None
    if value in TRUE_VALUES or value.lower() in TRUE_VALUES:
        return True
    if value in FALSE_VALUES or value.lower() in FALSE_VALUES:
        return False
    raise ValidationError({name: [f"'{value}' is not true or false."]})


class MultiValueWidget(forms.SelectMultiple):
    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        if hasattr(data, "getlist"):
            return [v for v in data.getlist(name) if v != ""]
        value = data.get(name)
        return [value] if value not in (None, "") else []


class MultiValueField(forms.Field):
    """A list of values, each cleaned by ``inner`` (a form field)."""

    widget = MultiValueWidget

    def __init__(self, *args: Any, inner: forms.Field | None = None, **kwargs: Any) -> None:
        kwargs.pop("choices", None)
        super().__init__(*args, **kwargs)
        self.inner = inner or forms.CharField()
        self.required = False

    def clean(self, value: Any) -> list[Any]:
        if not value:
            return []
        return [self.inner.clean(v) for v in value]


class MultiValueFilter(django_filters.Filter):
    """Repeatable filter: values are ORed; ``exclude`` negates the whole set."""

    field_class = MultiValueField

    def __init__(self, *args: Any, inner: forms.Field | None = None, allow_null: bool = False, **kwargs: Any) -> None:
        self.allow_null = allow_null
        super().__init__(*args, **kwargs)
        self.extra["inner"] = inner

    def filter(self, qs: QuerySet, value: list[Any]) -> QuerySet:
        if not value:
            return qs
        q = Q()
        plain = [v for v in value if v is not None]
        if self.lookup_expr == "exact" and plain:
            q |= Q(**{f"{self.field_name}__in": plain})
        else:
            for v in plain:
                q |= Q(**{f"{self.field_name}__{self.lookup_expr}": v})
        if len(plain) != len(value):
            q |= Q(**{f"{self.field_name}__isnull": True})
        return qs.exclude(q) if self.exclude else qs.filter(q)


class NullableInt(forms.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=-MAX_PK, max_value=MAX_PK, **kwargs)

    def clean(self, value: Any) -> Any:
        if value in ("null", None):
            return None
        return super().clean(value)


class RelatedFilter(MultiValueFilter):
    """Filter on a foreign key by id or by natural key, rejecting unknown values."""

    def __init__(self, *args: Any, related: type[models.Model], to_field: str, **kwargs: Any) -> None:
        self.related, self.to_field = related, to_field
        inner = NullableInt() if to_field == "pk" else forms.CharField()
        super().__init__(*args, inner=inner, **kwargs)

    def filter(self, qs: QuerySet, value: list[Any]) -> QuerySet:
        if not value:
            return qs
        wanted = {v for v in value if v not in (None, "null")}
        has_null = len(wanted) != len(value)
        pks: list[Any] = []
        if wanted:
            found = dict(self._choices().filter(**{f"{self.to_field}__in": wanted}).values_list(self.to_field, "pk"))
            missing = sorted(str(v) for v in wanted if v not in found)
            if missing:
                message = f"Select a valid choice. {', '.join(missing)} is not one of the available choices."
                raise ValidationError({self.param_name: [message]})
            pks = list(found.values())
        q = Q(**{f"{self.field_name}__in": pks}) if pks else Q(pk__in=[])
        if has_null:
            q = (q | Q(**{f"{self.field_name}__isnull": True})) if pks else Q(**{f"{self.field_name}__isnull": True})
        return qs.exclude(q) if self.exclude else qs.filter(q).distinct() if "__" in self.field_name else qs.filter(q)

    def _choices(self) -> QuerySet:
        """The related objects a value may name: those the reader's rows may name (else "not a choice").

        Otherwise ``?device=<another tenant's device>`` (an empty list) and an unknown name (a 400)
        would tell a tenant-limited user which of the other tenants' objects exist.
        """
        queryset = self.related._default_manager.all()
        parent = getattr(self, "parent", None)
        user = getattr(getattr(parent, "request", None), "user", None)
        if user is None or parent is None:
            return queryset
        from cmdb.users.permissions import reference_queryset

        return reference_queryset(queryset, user, parent._meta.model, "view")

    @property
    def param_name(self) -> str:
        return getattr(self, "_param_name", self.field_name)


class ContentTypeFilter(MultiValueFilter):
    """An object type as NetBox names it: ``app_label.model`` (``dcim.device``)."""

    def filter(self, qs: QuerySet, value: list[str]) -> QuerySet:
        if not value:
            return qs
        from django.contrib.contenttypes.models import ContentType

        pks, missing = [], []
        for v in value:
            app_label, _, model = v.lower().partition(".")
            try:
                pks.append(ContentType.objects.get_by_natural_key(app_label, model).pk)
            except ContentType.DoesNotExist:
                missing.append(v)
        if missing:
            raise ValidationError({getattr(self, "_param_name", self.field_name): [
                f"Unknown object type {', '.join(missing)}; use app_label.model, e.g. dcim.device."]})
        q = Q(**{f"{self.field_name}__in": pks})
        return qs.exclude(q) if self.exclude else qs.filter(q)


class StrictBooleanField(forms.Field):
    """``true``/``false`` (and 1/0, yes/no, on/off); anything else is an error, not "no filter"."""

    widget = forms.TextInput

    def clean(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if str(value) in TRUE_VALUES:
            return True
        if str(value) in FALSE_VALUES:
            return False
        raise forms.ValidationError(f"'{value}' is not true or false.")


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class HasPrimaryIPFilter(BooleanFilter):
    """NetBox's ``has_primary_ip``: a primary IPv4 or IPv6 address is set (``false``: neither is)."""

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        if value is None:
            return qs
        q = Q(primary_ip4__isnull=False) | Q(primary_ip6__isnull=False)
        return qs.filter(q) if value else qs.exclude(q)


class EmptyFilter(BooleanFilter):
    """``f__empty=true``: null or the empty string."""

    def __init__(self, *args: Any, text: bool = False, **kwargs: Any) -> None:
        self.text = text
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        if value is None:
            return qs
        q = Q(**{f"{self.field_name}__isnull": True})
        if self.text:
            q |= Q(**{self.field_name: ""})
        return qs.filter(q) if value else qs.exclude(q)


def _inner_for(f: models.Field) -> forms.Field:
    if isinstance(f, (models.AutoField, models.IntegerField, models.BigIntegerField)):
        return forms.IntegerField(min_value=-MAX_PK, max_value=MAX_PK)
    if isinstance(f, models.DecimalField):
        return forms.DecimalField()
    if isinstance(f, models.FloatField):
        return forms.FloatField()
    if isinstance(f, models.DateTimeField):
        return forms.DateTimeField()
    if isinstance(f, models.DateField):
        return forms.DateField()
    if isinstance(f, models.UUIDField):
        return forms.UUIDField()
    return forms.CharField()


def filters_for_field(name: str, f: models.Field, path: str | None = None) -> dict[str, django_filters.Filter]:
    """All NetBox-style filters for one model field."""
    path = path or name
    out: dict[str, django_filters.Filter] = {}
    if isinstance(f, models.BooleanField):
        out[name] = BooleanFilter(field_name=path)
    elif f.is_relation and (f.many_to_one or f.one_to_one):
        related = f.related_model
        out[f"{name}_id"] = RelatedFilter(field_name=path, related=related, to_field="pk")
        out[f"{name}_id__n"] = RelatedFilter(field_name=path, related=related, to_field="pk", exclude=True)
        natural = next((a for a in ("slug", "name", "model", "address") if _has(related, a)), None)
        if related._meta.label_lower == "contenttypes.contenttype":
            out[name] = ContentTypeFilter(field_name=path)
            out[f"{name}__n"] = ContentTypeFilter(field_name=path, exclude=True)
        elif natural:
            out[name] = RelatedFilter(field_name=path, related=related, to_field=natural)
            out[f"{name}__n"] = RelatedFilter(field_name=path, related=related, to_field=natural, exclude=True)
    elif f.choices:
        inner = forms.ChoiceField(choices=[(k, v) for k, v in f.choices])
        out[name] = MultiValueFilter(field_name=path, inner=inner)
        for suffix, (lookup, exclude) in TEXT_LOOKUPS.items():
            # ``__n`` names choices (checked); the pattern lookups take any text, as NetBox's do.
            out[f"{name}__{suffix}"] = MultiValueFilter(field_name=path, lookup_expr=lookup, exclude=exclude,
                                                        inner=inner if suffix == "n" else None)
        out[f"{name}__empty"] = EmptyFilter(field_name=path, text=True)
    elif isinstance(f, (models.CharField, models.TextField)):
        out[name] = MultiValueFilter(field_name=path)
        for suffix, (lookup, exclude) in TEXT_LOOKUPS.items():
            out[f"{name}__{suffix}"] = MultiValueFilter(field_name=path, lookup_expr=lookup, exclude=exclude)
        out[f"{name}__empty"] = EmptyFilter(field_name=path, text=True)
    elif isinstance(f, models.JSONField):
        pass
    else:
        inner = _inner_for(f)
        out[name] = MultiValueFilter(field_name=path, inner=inner)
        for suffix, (lookup, exclude) in RANGE_LOOKUPS.items():
            out[f"{name}__{suffix}"] = MultiValueFilter(field_name=path, lookup_expr=lookup, exclude=exclude,
                                                        inner=_inner_for(f))
        out[f"{name}__empty"] = EmptyFilter(field_name=path)
    for param, flt in out.items():
        flt._param_name = param  # type: ignore[attr-defined]
    return out


def _has(model: type[models.Model], attr: str) -> bool:
    try:
        f = model._meta.get_field(attr)
    except FieldDoesNotExist:
        return False
    return not f.is_relation


class TagFilter(MultiValueFilter):
    """``tag=a&tag=b``: objects with both tags (NetBox's AND); ``tag__n``: with neither. By slug or, ``tag_id``, id."""

    def filter(self, qs: QuerySet, value: list[Any]) -> QuerySet:
        if not value:
            return qs
        from cmdb.extras.models import Tag

        column = self.field_name.split("__", 1)[1]  # "slug" or "id"
        known = set(Tag.objects.filter(**{f"{column}__in": value}).values_list(column, flat=True))
        missing = sorted(str(v) for v in set(value) - known)
        if missing:
            name = getattr(self, "_param_name", "tag")
            raise ValidationError({name: [f"Unknown tag: {', '.join(missing)}."]})
        for v in dict.fromkeys(value):
            qs = qs.exclude(**{self.field_name: v}) if self.exclude else qs.filter(**{self.field_name: v})
        return qs


class BaseFilterSet(django_filters.FilterSet):
    """Generates the NetBox lookups for every field in ``Meta.fields``.

    ``Meta.related_paths`` adds filters on related fields under another name,
    e.g. ``{"manufacturer": "device_type__manufacturer"}``.
    """

    q = django_filters.CharFilter(method="search", label="Search")

    @classmethod
    def get_filters(cls) -> dict[str, django_filters.Filter]:
        model = cls._meta.model
        if model is None:
            return {}
        filters: dict[str, django_filters.Filter] = {}
        id_field = model._meta.pk
        filters.update(filters_for_field("id", id_field))
        for name in cls._meta.fields or []:
            filters.update(filters_for_field(name, model._meta.get_field(name)))
        for name, path in getattr(cls.Meta, "related_paths", {}).items():
            target = model
            for part in path.split("__"):
                f = target._meta.get_field(part)
                target = f.related_model or target
            filters.update(filters_for_field(name, f, path))
        for stamp in ("created", "last_updated"):
            try:
                filters.update(filters_for_field(stamp, model._meta.get_field(stamp)))
            except FieldDoesNotExist:
                continue
        if any(f.name == "tags" for f in model._meta.many_to_many):
            filters["tag"] = TagFilter(field_name="tags__slug")
            filters["tag__n"] = TagFilter(field_name="tags__slug", exclude=True)
            filters["tag_id"] = TagFilter(field_name="tags__id", inner=forms.IntegerField(min_value=1,
                                                                                         max_value=MAX_PK))
            filters["tag_id__n"] = TagFilter(field_name="tags__id", exclude=True,
                                             inner=forms.IntegerField(min_value=1, max_value=MAX_PK))
        # Filters declared on the class (``q``, ``address``, ...) win, as in django-filter's own get_filters.
        filters.update(cls.declared_filters)
        for param, flt in filters.items():
            if not hasattr(flt, "_param_name"):
                flt._param_name = param  # type: ignore[attr-defined]
        return filters

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        parts = [Q(**{f"{f}__icontains": value}) for f in _search_paths(queryset.model)]
        pk = as_int(value)
        if pk is not None and is_pk(pk):
            parts.append(Q(pk=pk))
        if not parts:
            return queryset.none()
        return queryset.filter(reduce(lambda a, b: a | b, parts))


def _search_paths(model: type[models.Model]) -> list[str]:
    """The model's ``search_fields`` that exist (the inherited default ``name`` may not: a 500 otherwise)."""
    out = []
    for path in getattr(model, "search_fields", ("name",)):
        target: Any = model
        try:
            for part in path.split("__"):
                f = target._meta.get_field(part)
                target = f.related_model
        except (FieldDoesNotExist, AttributeError):
            continue
        out.append(path)
    return out


_subsets: dict[tuple[type, frozenset[str]], type] = {}
_SUBSET_CACHE_MAX = 2048


def _subset(filterset_class: type[BaseFilterSet], names: frozenset[str]) -> type[BaseFilterSet]:
    """A filter-set class with only the named filters, cached per combination.

    django-filter deep-copies every filter and builds a form field for each on
    every request: ~160 filters for devices, 25-60 ms per list request.  Only
    the parameters a request actually sends need that work.  (The schema still
    sees the full class through ``get_filterset_class``.)
    """
    key = (filterset_class, names)
    cls = _subsets.get(key)
    if cls is None:
        if len(_subsets) >= _SUBSET_CACHE_MAX:
            _subsets.clear()
        cls = type(filterset_class.__name__, (filterset_class,), {"__module__": filterset_class.__module__})
        cls.base_filters = {n: f for n, f in filterset_class.base_filters.items() if n in names}
        _subsets[key] = cls
    return cls


def with_custom_fields(filterset_class: type[BaseFilterSet]) -> type[BaseFilterSet]:
    """``filterset_class`` plus a ``cf_<name>`` filter family per custom field of its model (cached)."""
    from .cffilters import custom_field_filters

    model = filterset_class._meta.model
    if model is None:
        return filterset_class
    signature, cf_filters = custom_field_filters(model)
    if not cf_filters:
        return filterset_class
    key = (filterset_class, frozenset(), signature)
    cls = _subsets.get(key)
    if cls is None:
        if len(_subsets) >= _SUBSET_CACHE_MAX:
            _subsets.clear()
        cls = type(filterset_class.__name__, (filterset_class,), {"__module__": filterset_class.__module__})
        cls.base_filters = {**filterset_class.base_filters, **cf_filters}
        _subsets[key] = cls
    return cls


def filter_strictly(filterset_class: type[BaseFilterSet] | None, params: Any, queryset: QuerySet, request: Any = None,
                    extra_params: Collection[str] = (), common: Collection[str] = COMMON_PARAMS) -> QuerySet:
    """Apply the filters named in ``params`` (a QueryDict); a 400 for unknown parameters and bad values.

    The one entry point of the REST lists, the service discovery and (through
    :func:`cmdb.ui.tables.apply_filters`) the web UI's lists.
    """
    filters = filterset_class.base_filters if filterset_class is not None else {}
    reject_unknown(params, filters, extra_params, common)
    names = frozenset(n for n in params if n in filters)
    if not names or filterset_class is None:
        return queryset
    filterset = _subset(filterset_class, names)(data=params, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise ValidationError({k: [str(e) for e in v] for k, v in filterset.errors.items()})
    return filterset.qs


class CMDBFilterBackend(DjangoFilterBackend):
    """Unknown parameters and invalid filter values are a 400 with a message per parameter.

    A view may name parameters of its own that are not filters in ``extra_query_params``, and
    narrow :data:`COMMON_PARAMS` with ``common_query_params``.
    """

    def get_filterset_class(self, view: Any, queryset: QuerySet | None = None) -> Any:
        filterset_class = super().get_filterset_class(view, queryset)
        return with_custom_fields(filterset_class) if filterset_class is not None else None

    def filter_queryset(self, request: Any, queryset: QuerySet, view: Any) -> QuerySet:
        filterset_class = self.get_filterset_class(view, queryset)
        return filter_strictly(filterset_class, request.query_params, queryset, request,
                               getattr(view, "extra_query_params", ()),
                               getattr(view, "common_query_params", COMMON_PARAMS))


class StrictOrderingFilter(OrderingFilter):
    """``ordering=name,-serial``; a field the endpoint cannot order by is a 400, not "unordered"."""

    def get_ordering(self, request: Any, queryset: QuerySet, view: Any) -> list[str] | None:
        raw = request.query_params.getlist(self.ordering_param)
        terms = [t.strip() for value in raw for t in value.split(",") if t.strip()]
        if not terms:
            return self.get_default_ordering(view)
        valid = {name for name, _label in self.get_valid_fields(queryset, view, {"request": request})}
        bad = [t for t in terms if t.lstrip("-") not in valid]
        if bad:
            raise ValidationError({self.ordering_param: [
                f"Cannot order by {', '.join(bad)}; order by one of: {', '.join(sorted(valid))}."]})
        return terms

