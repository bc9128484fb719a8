from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cmdb.api.exceptions import django_errors
from cmdb.api.viewsets import CMDBModelViewSet, ReadOnlyCMDBViewSet

from ..authentication import second_factor_verified
from ..filtersets import ObjectPermissionFilterSet, TokenFilterSet, UserFilterSet
from ..models import ObjectPermission, Token
from ..services import TokenRefused, token_issue, token_revoke, token_update
from . import serializers


class UserViewSet(ReadOnlyCMDBViewSet):
    queryset = get_user_model().objects.all().order_by("username")
    serializer_class = serializers.UserSerializer
    filterset_class = UserFilterSet


class OwnTokensPermission(permissions.BasePermission):
    """Every signed-in user may manage their own tokens, whatever their grants on other models;
    what a user may do with a token is decided by :mod:`cmdb.users.services`."""

    message = "Authentication credentials were not provided."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False
        if request.method not in permissions.SAFE_METHODS and isinstance(request.auth, Token) \
                and not request.auth.write_enabled:
            self.message = "This token is read-only."
            return False
        return True


def _refused(exc: TokenRefused) -> PermissionDenied:
    return PermissionDenied({"detail": str(exc), "code": exc.code})


class TokenViewSet(CMDBModelViewSet):
    """Tokens: everyone lists, creates and revokes their own; administrators (superusers) all of them."""

    queryset = Token.objects.select_related("user")
    serializer_class = serializers.TokenSerializer
    filterset_class = TokenFilterSet
    permission_classes = [OwnTokensPermission]

    def get_queryset(self) -> QuerySet:
        user = self.request.user
        qs = Token.objects.select_related("user")
        return qs if user.is_superuser else qs.filter(user=user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        many = isinstance(request.data, list)  # a list is created all-or-nothing, like every endpoint
        serializer = self.get_serializer(data=request.data, many=many)
        serializer.is_valid(raise_exception=True)
        items = [dict(d) for d in (serializer.validated_data if many else [serializer.validated_data])]
        if not items:
            return Response({"non_field_errors": ["Send an object or a non-empty list of objects."]},
                            status=status.HTTP_400_BAD_REQUEST)
        verified = second_factor_verified(request)
        tokens = []
        try:
            with transaction.atomic():
                for data in items:
                    token, key = token_issue(actor=request.user, second_factor=verified, **data)
                    token._plain_key = key  # type: ignore[attr-defined]
                    tokens.append(token)
        except TokenRefused as exc:
            raise _refused(exc) from exc
        out = [self.get_serializer(t).data for t in tokens]
        return Response(out if many else out[0], status=status.HTTP_201_CREATED)

    def _changes(self, token: Token, data: dict[str, Any]) -> dict[str, Any]:
        owner = data.pop("user", None)
        if owner is not None and owner.pk != token.user_id:
            raise ValidationError({"user": ["A token's user cannot be changed; create a new token instead."]})
        return data

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        token = self.get_queryset().filter(pk=self._pk(kwargs.get("pk"))).first()
        if token is None:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        serializer = self.get_serializer(token, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = self._changes(token, dict(serializer.validated_data))
        try:
            token_update(token, changes, actor=request.user, second_factor=second_factor_verified(request))
        except TokenRefused as exc:
            raise _refused(exc) from exc
        return Response(self.get_serializer(token).data)

    def bulk_update(self, request: Request, *args: Any, partial: bool = False, **kwargs: Any) -> Response:
        data, tokens = self._bulk_instances()
        validated = self._validate_many(data, tokens, partial=partial)
        verified = second_factor_verified(request)
        try:
            with transaction.atomic():
                for token, item in zip(tokens, validated, strict=True):
                    token_update(token, self._changes(token, dict(item)), actor=request.user,
                                 second_factor=verified)
        except TokenRefused as exc:
            raise _refused(exc) from exc
        return Response([self.get_serializer(t).data for t in tokens])

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token = self.get_queryset().filter(pk=self._pk(kwargs.get("pk"))).first()
        if token is None:
            raise NotFound()
        token_revoke([token], actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def bulk_destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _data, tokens = self._bulk_instances()
        token_revoke(tokens, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
