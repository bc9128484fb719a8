from django.contrib.auth import get_user_model

from cmdb.api.filters import BaseFilterSet

from .models import ObjectPermission, Token


class TokenFilterSet(BaseFilterSet):
    class Meta:
        model = Token
        fields = ["user", "key_prefix", "expires", "write_enabled", "description"]


class ObjectPermissionFilterSet(BaseFilterSet):
    class Meta:
        model = ObjectPermission
        fields = ["name", "enabled", "description"]


class UserFilterSet(BaseFilterSet):
    class Meta:
        model = get_user_model()
        fields = ["username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser"]
