"""The one viewset every endpoint uses: it declares queryset, serializer and
filter set, and inherits NetBox's list/detail/bulk behaviour from here.

Reads go through the fast reader; writes go through the generic services in
:mod:`cmdb.core.services` inside one change-logged transaction; every query
starts from :func:`cmdb.users.permissions.restrict`, and every rendered page passes
:func:`cmdb.api.serializers.hide_unseen`, so a visible row never names an object
(a generic target, a nested related object) that the reader may not see.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from rest_framework import status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cmdb.core.context import change_logging
from cmdb.core.services import BatchValidationError, objects_create, objects_delete, objects_update
from cmdb.users.permissions import restrict

from .fastread import plan_for, render
from .fields import is_pk
from .filters import parse_bool
from .pagination import LimitOffsetPagination
from .serializers import generic_specs, hide_unseen

_ACTIONS = {"list": "view", "retrieve": "view", "create": "add", "update": "change", "partial_update": "change",
            "destroy": "delete", "bulk_update": "change", "bulk_partial_update": "change", "bulk_destroy": "delete"}


class CMDBModelViewSet(viewsets.ModelViewSet):
    pagination_class = LimitOffsetPagination
    body_limit = "bulk"  # lists of objects on the list URL (cmdb.core.bodylimit)

    @property
    def ordering_fields(self) -> list[str]:
        return [f.name for f in self.queryset.model._meta.concrete_fields] + list(
            getattr(self, "extra_ordering", ())
        )

    @property
    def brief(self) -> bool:
        """``?brief=true``; any value but true/false is a 400."""
        return bool(parse_bool("brief", self.request.query_params.get("brief"))) if self.request else False

    def selected_fields(self) -> tuple[str, ...] | None:
        """The fields ``?fields=a,b`` asks for, minus ``?exclude=c`` (NetBox's ``exclude=config_context``).

        None when neither is given.  Unknown names are a 400 naming the parameter, so a typo
        cannot silently return the full representation.
        """
        params = self.request.query_params
        wanted = [n.strip() for v in params.getlist("fields") for n in v.split(",") if n.strip()]
        dropped = {n.strip() for v in params.getlist("exclude") for n in v.split(",") if n.strip()}
        if not wanted and not dropped:
            return None
        serializer_class = self.get_serializer_class()
        available = list(serializer_class(context={"request": None}).fields)
        for name, given in (("fields", wanted), ("exclude", dropped)):
            unknown = sorted(set(given) - set(available))
            if unknown:
                raise ValidationError({name: [f"Unknown field(s): {', '.join(unknown)}; the fields are "
                                              f"{', '.join(available)}."]})
        if wanted:
            base = [n for n in available if n in wanted]
        elif self.brief:
            base = list(getattr(serializer_class.Meta, "brief_fields", available))  # type: ignore[attr-defined]
        else:
            base = available
        return tuple(n for n in base if n not in dropped)

    def get_queryset(self) -> QuerySet:
        action = _ACTIONS.get(self.action or "list", "view")
        return restrict(super().get_queryset(), self.request.user, action)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "brief": self.brief}

    # --- reads -------------------------------------------------------------------------

    def represent(self, queryset: QuerySet) -> list[dict[str, Any]]:
        only = self.selected_fields()
        serializer_class = self.get_serializer_class()
        render_names = only
        if only is not None:
            # hide_unseen needs a generic relation's type to judge its id and object: render it too.
            extra = [f for spec in generic_specs(serializer_class) if {spec.id_field, spec.relation} & set(only)
                     for f in (spec.type_field, spec.id_field) if f not in only]
            render_names = (*only, *dict.fromkeys(extra))
        plan = plan_for(serializer_class, self.brief, render_names)
        base_url = self.request.build_absolute_uri("/").rstrip("/")
        if plan is not None:
            # Left-out fields are not computed at all (the config context of 10,000 hosts, for the inventory).
            rows = render(plan, queryset, base_url, self.request.user)
        else:
            rows = self.get_serializer(list(queryset), many=True).data
        rows = hide_unseen(rows, serializer_class, self.request)
        if only is not None and (plan is None or render_names != only):
            rows = [{k: v for k, v in row.items() if k in only} for row in rows]
        return rows

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        paginator: LimitOffsetPagination = self.paginator  # type: ignore[assignment]
        page, _count = paginator.paginate(queryset, request, count=False)
        results = self.represent(page)
        paginator.set_count(queryset, len(results))
        return paginator.response(results)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pk = self._pk(kwargs.get("pk"))
        rows = self.represent(self.get_queryset().filter(pk=pk))
        if not rows:
            raise NotFound()
        return Response(rows[0])

    def _pk(self, value: Any) -> int:
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise NotFound() from exc

    def _reread(self, pks: list[Any]) -> list[dict[str, Any]]:
        # The view's own queryset (not the model's manager): it carries the annotations the serializer reads.
        rows = {r["id"]: r for r in self._represent_full(self.queryset.all().filter(pk__in=pks))}
        return [rows[pk] for pk in pks if pk in rows]

    def _represent_full(self, queryset: QuerySet) -> list[dict[str, Any]]:
        plan = plan_for(self.get_serializer_class(), False)
        base_url = self.request.build_absolute_uri("/").rstrip("/")
        if plan is not None:
            rows = render(plan, queryset, base_url, self.request.user)
        else:
            rows = self.get_serializer(list(queryset), many=True, context={**self.get_serializer_context(),
                                                                           "brief": False}).data
        return hide_unseen(rows, self.get_serializer_class(), self.request)

    # --- writes ------------------------------------------------------------------------

    def _logging(self) -> Any:
        return change_logging(user=self.request.user, source="api", request_id=getattr(self.request, "id", None))

    def _validate_many(self, data: list[Any], instances: list[Any] | None = None, partial: bool = False) -> list[dict]:
        serializer_class = self.get_serializer_class()
        context = self.get_serializer_context()
        if instances is None:
            root = serializer_class(data=data, many=True, context=context)
            if not root.is_valid():
                raise ValidationError(root.errors)
            return list(root.validated_data)
        validated, errors, failed = [], [], False
        for instance, item in zip(instances, data, strict=True):
            payload = {k: v for k, v in item.items() if k != "id"}
            s = serializer_class(instance, data=payload, partial=partial, context=context)
            if s.is_valid():
                validated.append(s.validated_data)
                errors.append({})
            else:
                errors.append(s.errors)
                failed = True
        if failed:
            raise ValidationError(errors)
        return validated

    def _run(self, fn: Any) -> Any:
        try:
            with self._logging():
                return fn()
        except BatchValidationError as exc:
            errors = exc.errors
            raise ValidationError(errors[0] if getattr(self, "_single", False) else errors) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        many = isinstance(request.data, list)
        data = request.data if many else [request.data]
        if not data or not all(isinstance(d, dict) for d in data):
            raise ValidationError({"non_field_errors": ["Send an object or a non-empty list of objects."]})
        self._single = not many
        try:
            validated = self._validate_many(data)
        except ValidationError as exc:
            if not many and isinstance(exc.detail, list):
                raise ValidationError(exc.detail[0]) from exc
            raise
        model = self.queryset.model
        created = self._run(lambda: objects_create(model, validated, user=request.user))
        rows = self._reread([o.pk for o in created])
        return Response(rows if many else rows[0], status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send an object."]})
        instance = self.get_queryset().filter(pk=self._pk(kwargs.get("pk"))).first()
        if instance is None:
            raise NotFound()
        self._single = True
        try:
            validated = self._validate_many([request.data], [instance], partial=partial)
        except ValidationError as exc:
            raise ValidationError(exc.detail[0]) from exc
        self._run(lambda: objects_update([instance], validated, user=request.user))
        return Response(self._reread([instance.pk])[0])

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_queryset().filter(pk=self._pk(kwargs.get("pk"))).first()
        if instance is None:
            raise NotFound()
        self._run(lambda: objects_delete([instance]))
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- bulk on the list URL ----------------------------------------------------------

    def _bulk_instances(self) -> tuple[list[dict], list[Any]]:
        data = self.request.data
        if not isinstance(data, list) or not data:
            raise ValidationError({"non_field_errors": ["Send a non-empty list of objects, each with an id."]})
        ids = []
        for i, item in enumerate(data):
            if not isinstance(item, dict) or not is_pk(item.get("id")):
                raise ValidationError({"non_field_errors": [f"Item {i} has no integer id."]})
            ids.append(item["id"])
        if len(set(ids)) != len(ids):
            raise ValidationError({"non_field_errors": ["The same id appears twice."]})
        found = self.get_queryset().in_bulk(ids)
        missing = [pk for pk in ids if pk not in found]
        if missing:
            raise NotFound(f"Objects not found: {', '.join(map(str, missing))}.")
        return data, [found[pk] for pk in ids]

    def bulk_update(self, request: Request, *args: Any, partial: bool = False, **kwargs: Any) -> Response:
        data, instances = self._bulk_instances()
        validated = self._validate_many(data, instances, partial=partial)
        self._run(lambda: objects_update(instances, validated, user=request.user))
        return Response(self._reread([o.pk for o in instances]))

    def bulk_partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.bulk_update(request, *args, partial=True, **kwargs)

    def bulk_destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _data, instances = self._bulk_instances()
        self._run(lambda: objects_delete(instances))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReadOnlyCMDBViewSet(CMDBModelViewSet):
    http_method_names = ["get", "head", "options"]
    body_limit = "default"
