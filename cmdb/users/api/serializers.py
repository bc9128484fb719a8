from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from cmdb.api.fields import RelatedObjectField
from cmdb.api.serializers import BaseModelSerializer
from cmdb.tenancy.models import Tenant

from ..models import (
    ObjectPermission,
    Token,
    actions_problem,
    object_types_problem,
    validate_future,
    validate_networks,
)

User = get_user_model()


class UserSerializer(BaseModelSerializer):
    fast_read = False

    class Meta:
        model = User
        fields = ["id", "url", "display", "username", "first_name", "last_name", "email", "is_staff", "is_active",
                  "is_superuser", "date_joined", "last_login"]
        brief_fields = ["id", "url", "display", "username"]
        read_only_fields = ["date_joined", "last_login", "is_superuser"]


class TokenOwnerField(RelatedObjectField):
    """The token's user.  Someone who is not an administrator can only name themselves: any other
    reference is refused the same way whether or not that user exists, so ids cannot be probed."""

    def get_queryset(self) -> Any:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is not None and not user.is_superuser:
            return User.objects.filter(pk=user.pk)
        return User.objects.all()

    def fail(self, key: str, **kwargs: Any) -> None:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if key in ("does_not_exist", "no_match") and user is not None and not user.is_superuser:
            raise PermissionDenied({"user": ["You may only create tokens for yourself."]})
        super().fail(key, **kwargs)


class TokenSerializer(BaseModelSerializer):
    user = TokenOwnerField(queryset=User.objects.all(), required=False,
                           help_text="Whose token; yourself when left out (only administrators name others)")
    key = serializers.CharField(read_only=True, help_text="Shown once, in the response that creates the token")
    expires = serializers.DateTimeField(required=False, allow_null=True,
                                        help_text="When the token stops working; must lie in the future")
    allowed_ips = serializers.JSONField(required=False, validators=[validate_networks])
    fast_read = False

    class Meta:
        model = Token
        fields = ["id", "url", "display", "user", "key", "key_prefix", "created", "expires", "last_used",
                  "write_enabled", "description", "allowed_ips"]
        brief_fields = ["id", "url", "display", "key_prefix", "write_enabled", "description"]
        read_only_fields = ["last_used"]  # stamped by authentication, never by a client

    def validate_expires(self, value: Any) -> Any:
        if self.instance is None or value != self.instance.expires:
            try:
                validate_future(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from exc
        return value

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        data["key"] = getattr(instance, "_plain_key", None)
        data["user"] = {"id": instance.user_id, "display": instance.user.username, "username": instance.user.username,
                        "url": self.context["request"].build_absolute_uri(f"/api/users/users/{instance.user_id}/")}
        return data


class ObjectPermissionSerializer(BaseModelSerializer):
    tenants = serializers.PrimaryKeyRelatedField(queryset=Tenant.objects.all(), many=True, required=False)
    users = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), many=True, required=False)
    groups = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), many=True, required=False)
    fast_read = False

    class Meta:
        model = ObjectPermission
        fields = ["id", "url", "display", "name", "description", "enabled", "object_types", "actions", "tenants",
                  "users", "groups", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name", "enabled", "object_types", "actions"]

    def validate_object_types(self, value: Any) -> list[str]:
        problem = object_types_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_actions(self, value: Any) -> list[str]:
        problem = actions_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value
