from typing import Any

from rest_framework import serializers

from cmdb.api.fields import ContentTypeField
from cmdb.api.serializers import GenericSpec, TaggedModelSerializer

from .. import models

STAMPS = ["tags", "custom_fields", "created", "last_updated"]


class PrefixSerializer(TaggedModelSerializer):
    family = serializers.SerializerMethodField()
    fast_computed = {"family": (("family",), lambda v, c: {"value": v[0], "label": f"IPv{v[0]}"})}

    class Meta:
        model = models.Prefix
        fields = ["id", "url", "display", "family", "prefix", "site", "tenant", "status", "vlan_vid", "is_pool",
                  "description", "comments", *STAMPS]
        brief_fields = ["id", "url", "display", "family", "prefix", "description"]

    def get_family(self, obj: Any) -> dict[str, Any]:
        return {"value": obj.family, "label": f"IPv{obj.family}"}


def _assigned_type(values: list, ctx: Any) -> str | None:
    if values[0] is not None:
        return "dcim.interface"
    if values[1] is not None:
        return "virtualization.vminterface"
    return None


def _assigned_object(values: list, ctx: Any) -> dict[str, Any] | None:
    iface, viface, iname, vname, dev_id, dev_name, vm_id, vm_name = values
    if iface is not None:
        return {"id": iface, "url": f"{ctx.base_url}/api/dcim/interfaces/{iface}/", "display": iname, "name": iname,
                "device": {"id": dev_id, "url": f"{ctx.base_url}/api/dcim/devices/{dev_id}/", "display": dev_name,
                           "name": dev_name}}
    if viface is not None:
        return {"id": viface, "url": f"{ctx.base_url}/api/virtualization/interfaces/{viface}/", "display": vname,
                "name": vname,
                "virtual_machine": {"id": vm_id, "url": f"{ctx.base_url}/api/virtualization/virtual-machines/{vm_id}/",
                                    "display": vm_name, "name": vm_name}}
    return None


class IPAddressSerializer(TaggedModelSerializer):
    family = serializers.SerializerMethodField()
    assigned_object_type = ContentTypeField(required=False, allow_null=True, write_only=False)
    assigned_object_id = serializers.IntegerField(required=False, allow_null=True)
    assigned_object = serializers.SerializerMethodField()
    fast_computed = {
        "family": (("family",), lambda v, c: {"value": v[0], "label": f"IPv{v[0]}"}),
        "assigned_object_type": (("interface_id", "vminterface_id"), _assigned_type),
        "assigned_object_id": (("interface_id", "vminterface_id"), lambda v, c: v[0] if v[0] is not None else v[1]),
        "assigned_object": (
            ("interface_id", "vminterface_id", "interface__name", "vminterface__name", "interface__device_id",
             "interface__device__name", "vminterface__virtual_machine_id", "vminterface__virtual_machine__name"),
            _assigned_object,
        ),
    }

    class Meta:
        model = models.IPAddress
        fields = ["id", "url", "display", "family", "address", "tenant", "status", "role", "assigned_object_type",
                  "assigned_object_id", "assigned_object", "dns_name", "description", "comments", *STAMPS]
        brief_fields = ["id", "url", "display", "family", "address", "description"]
        #: NetBox's generic assignment, kept in two concrete foreign keys (see the model).
        generic_relations = {"assigned_object": ("assigned_object_type", "assigned_object_id")}

    def get_family(self, obj: Any) -> dict[str, Any]:
        return {"value": obj.family, "label": f"IPv{obj.family}"}

    def get_assigned_object(self, obj: Any) -> Any:
        return None

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        data["assigned_object_type"] = (
            "dcim.interface" if instance.interface_id else "virtualization.vminterface" if instance.vminterface_id
            else None
        )
        data["assigned_object_id"] = instance.interface_id or instance.vminterface_id
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Map NetBox's generic assignment onto our two concrete foreign keys."""
        from cmdb.dcim.models import Interface
        from cmdb.virtualization.models import VMInterface

        if "assigned_object_type" not in attrs and "assigned_object_id" not in attrs:
            return attrs
        ct = attrs.pop("assigned_object_type", None)
        obj_id = attrs.pop("assigned_object_id", None)
        attrs["interface"] = attrs["vminterface"] = None
        if ct is None and obj_id is None:
            return attrs
        if ct is None or obj_id is None:
            raise serializers.ValidationError(
                {"assigned_object_type": "Give both assigned_object_type and assigned_object_id."}
            )
        label = f"{ct.app_label}.{ct.model}"
        model = {"dcim.interface": Interface, "virtualization.vminterface": VMInterface}.get(label)
        if model is None:
            raise serializers.ValidationError(
                {"assigned_object_type": "Must be dcim.interface or virtualization.vminterface."}
            )
        # Through the permission gate: only an interface the user may change (not another tenant's).
        target = self.generic_target(GenericSpec("assigned_object", "assigned_object_type", "assigned_object_id"),
                                     ct, obj_id)
        attrs["interface" if model is Interface else "vminterface"] = target
        return attrs
