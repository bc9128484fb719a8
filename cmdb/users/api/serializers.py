from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework import serializers

from cmdb.api.fields import RelatedObjectField
from cmdb.api.serializers import BaseModelSerializer
from cmdb.tenancy.models import Tenant

from ..models import ObjectPermission, Token, actions_problem, object_types_problem, validate_networks

User = get_user_model()


class UserSerializer(BaseModelSerializer):
    fast_read = False

    class Meta:
        model = User
        fields = ["id", "url", "display", "username", "first_name", "last_name", "email", "is_staff", "is_active",
                  "is_superuser", "date_joined", "last_login"]
        brief_fields = ["id", "url", "display", "username"]
        read_only_fields = ["date_joined", "last_login", "is_superuser"]


class TokenSerializer(BaseModelSerializer):
    user = RelatedObjectField(queryset=User.objects.all())
    key = serializers.CharField(read_only=True, help_text="Shown once, in the response that creates the token")
    allowed_ips = serializers.JSONField(required=False, validators=[validate_networks])
    fast_read = False

    class Meta:
        model = Token
        fields = ["id", "url", "display", "user", "key", "key_prefix", "created", "expires", "last_used",
                  "write_enabled", "description", "allowed_ips"]
        brief_fields = ["id", "url", "display", "key_prefix", "write_enabled", "description"]

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
