from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cmdb.api.exceptions import django_errors
from cmdb.api.viewsets import CMDBModelViewSet, ReadOnlyCMDBViewSet
from cmdb.core.services import objects_update

from ..filtersets import ObjectPermissionFilterSet, TokenFilterSet
from ..models import ObjectPermission, Token
from ..services import token_create
from . import serializers


class UserViewSet(ReadOnlyCMDBViewSet):
    queryset = get_user_model().objects.all().order_by("username")
    serializer_class = serializers.UserSerializer
    filterset_fields = ["username", "email", "is_active"]


class TokenViewSet(CMDBModelViewSet):
    """Tokens: everyone sees and manages their own; only superusers see all."""

    queryset = Token.objects.select_related("user")
    serializer_class = serializers.TokenSerializer
    filterset_class = TokenFilterSet

    def get_queryset(self) -> QuerySet:
        qs = super().get_queryset()
        user = self.request.user
        return qs if user.is_superuser else Token.objects.select_related("user").filter(user=user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        many = isinstance(request.data, list)  # a list is created all-or-nothing, like every endpoint
        serializer = self.get_serializer(data=request.data, many=many)
        serializer.is_valid(raise_exception=True)
        items = [dict(d) for d in (serializer.validated_data if many else [serializer.validated_data])]
        if not items:
            return Response({"non_field_errors": ["Send an object or a non-empty list of objects."]},
                            status=status.HTTP_400_BAD_REQUEST)
        if not request.user.is_superuser and any(d["user"] != request.user for d in items):
            return Response({"user": ["You may only create tokens for yourself."]}, status=status.HTTP_403_FORBIDDEN)
        tokens = []
        with transaction.atomic():
            for data in items:
                owner = data.pop("user")
                token, key = token_create(user=owner, actor=request.user, **data)
                token._plain_key = key  # type: ignore[attr-defined]
                tokens.append(token)
        out = [self.get_serializer(t).data for t in tokens]
        return Response(out if many else out[0], status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        token = self.get_queryset().filter(pk=self._pk(kwargs.get("pk"))).first()
        if token is None:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        serializer = self.get_serializer(token, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k != "user"}
        self._run(lambda: objects_update([token], [data], user=None))
        return Response(self.get_serializer(token).data)


class ObjectPermissionViewSet(CMDBModelViewSet):
    queryset = ObjectPermission.objects.prefetch_related("tenants", "users", "groups")
    serializer_class = serializers.ObjectPermissionSerializer
    filterset_class = ObjectPermissionFilterSet

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        many = isinstance(request.data, list)  # a list is created all-or-nothing, like every endpoint
        serializer = self.get_serializer(data=request.data, many=many, allow_empty=False) if many else \
            self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with self._logging():
            saved = serializer.save()
            errors: list[Any] = []
            for perm in saved if many else [saved]:
                try:
                    perm.full_clean()
                    errors.append({})
                except DjangoValidationError as exc:
                    errors.append(django_errors(exc))
            if any(errors):  # rolls the whole batch back
                raise ValidationError(errors if many else errors[0])
        return Response(self.get_serializer(saved, many=many).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        perm = self.get_queryset().filter(pk=self._pk(kwargs.get("pk"))).first()
        if perm is None:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        serializer = self.get_serializer(perm, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        with self._logging():
            perm = serializer.save()
            perm.full_clean()
        return Response(self.get_serializer(perm).data)
