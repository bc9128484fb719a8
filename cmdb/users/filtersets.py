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
