"""Which models GraphQL serves, under which names, with which fields.

The REST API is the reference: a model is served here when a REST viewset lists it (found by
walking the URL configuration, so no domain is named twice) and it appears in :data:`EXPOSED`;
its object type has exactly the fields its REST serializer shows (GraphQL never reveals a
column REST keeps back: no password hashes, token digests or hidden registry links), named as
NetBox's GraphQL names them, plus the reverse relations between served models (a site's
``devices``, a device's ``interfaces``) that NetBox's types have too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from rest_framework import serializers

#: (model label, query field name, object type name).  NetBox's names where NetBox has the model
#: (``device``/``device_list`` of ``DeviceType``, ``device_type`` of ``DeviceTypeType``), ours otherwise.
EXPOSED: tuple[tuple[str, str, str], ...] = (
    ("dcim.site", "site", "SiteType"),
    ("dcim.location", "location", "LocationType"),
    ("dcim.rack", "rack", "RackType"),
    ("dcim.manufacturer", "manufacturer", "ManufacturerType"),
    ("dcim.devicetype", "device_type", "DeviceTypeType"),
    ("dcim.interfacetemplate", "interface_template", "InterfaceTemplateType"),
    ("dcim.devicerole", "device_role", "DeviceRoleType"),
    ("dcim.platform", "platform", "PlatformType"),
    ("dcim.device", "device", "DeviceType"),
    ("dcim.interface", "interface", "InterfaceType"),
    ("ipam.prefix", "prefix", "PrefixType"),
    ("ipam.ipaddress", "ip_address", "IPAddressType"),
    ("virtualization.clustertype", "cluster_type", "ClusterTypeType"),
    ("virtualization.clustergroup", "cluster_group", "ClusterGroupType"),
    ("virtualization.cluster", "cluster", "ClusterType"),
    ("virtualization.virtualmachine", "virtual_machine", "VirtualMachineType"),
    ("virtualization.vminterface", "vm_interface", "VMInterfaceType"),
    ("tenancy.tenantgroup", "tenant_group", "TenantGroupType"),
    ("tenancy.tenant", "tenant", "TenantType"),
    ("tenancy.contactrole", "contact_role", "ContactRoleType"),
    ("tenancy.contact", "contact", "ContactType"),
    ("tenancy.contactassignment", "contact_assignment", "ContactAssignmentType"),
    ("extras.tag", "tag", "TagType"),
    ("extras.customfield", "custom_field", "CustomFieldType"),
    ("extras.journalentry", "journal_entry", "JournalEntryType"),
    ("extras.configcontext", "config_context", "ConfigContextType"),
    ("core.objectchange", "object_change", "ObjectChangeType"),
    ("auth.user", "user", "UserType"),
    ("core.configurationitem", "configuration_item", "ConfigurationItemType"),
    ("software.softwareproduct", "software_product", "SoftwareProductType"),
    ("software.softwareversion", "software_version", "SoftwareVersionType"),
    ("software.softwareinstallation", "software_installation", "SoftwareInstallationType"),
    ("software.license", "license", "LicenseType"),
    ("software.licenseassignment", "license_assignment", "LicenseAssignmentType"),
    ("services.service", "service", "ServiceType"),
    ("services.relationshiptype", "relationship_type", "RelationshipTypeType"),
    ("services.relationship", "relationship", "RelationshipType"),
    ("services.redundancygroup", "redundancy_group", "RedundancyGroupType"),
    ("services.redundancymember", "redundancy_member", "RedundancyMemberType"),
)

#: Serializer fields with no GraphQL counterpart: NetBox concepts we do not model (always null).
SKIPPED = {"dcim.site": {"region", "group"}}

#: Fields of a nested object that the REST API itself shows in a related object's brief form: a
#: reader who may refer to an object (REST nests it) but not view it may select only these.
BRIEF = frozenset({"id", "display", "name", "slug", "model", "address", "description", "__typename"})


@dataclass
class FieldSpec:
    """One field of an object type, and where its value comes from."""

    name: str
    #: id, scalar, choice, display, tags, custom_fields, fk, m2m, content_type, computed, family,
    #: assigned_object, assigned_object_type, assigned_object_id, reverse
    kind: str
    column: str | None = None
    scalar: str | None = None  # GraphQL scalar name for scalar kinds
    non_null: bool = False
    target: type[models.Model] | None = None  # related model (fk, m2m, reverse)
    #: reverse: the child's foreign-key column and the parent's column it points at;
    #: m2m: the through model and its two columns.
    child_column: str | None = None
    parent_column: str = "id"
    through: type[models.Model] | None = None
    through_columns: tuple[str, str] = ("", "")
    computed: Any = None  # (columns, fn(values, ctx)) from the serializer's fast_computed
    choices: dict[str, str] = field(default_factory=dict)


@dataclass
class Exposed:
    """A served model: its names, the REST viewset it mirrors and its fields."""

    model: type[models.Model]
    base: str
    type_name: str
    viewset: Any
    fields: dict[str, FieldSpec] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def filter_name(self) -> str:
        return self.type_name.removesuffix("Type") + "Filter"

    def queryset(self) -> models.QuerySet:
        """The REST viewset's queryset (its annotations, e.g. counts, and its ordering)."""
        return self.viewset.queryset.all()

    @property
    def plural(self) -> str:
        return str(self.model._meta.verbose_name_plural)


def _viewsets() -> dict[type[models.Model], Any]:
    """Model -> the REST viewset that lists it, from the URL configuration (first route wins)."""
    from django.urls import get_resolver

    from cmdb.api.viewsets import CMDBModelViewSet

    found: dict[type[models.Model], Any] = {}

    def walk(patterns: Any) -> None:
        for p in patterns:
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns)
                continue
            cls = getattr(p.callback, "cls", None)
            actions = getattr(p.callback, "actions", None) or {}
            if isinstance(cls, type) and issubclass(cls, CMDBModelViewSet) and "list" in actions.values():
                found.setdefault(cls.queryset.model, cls)

    walk(get_resolver().url_patterns)
    return found


_SCALARS: tuple[tuple[type[models.Field], str], ...] = (
    (models.BooleanField, "Boolean"),
    (models.BigAutoField, "BigInt"),
    (models.AutoField, "BigInt"),
    (models.PositiveBigIntegerField, "BigInt"),
    (models.BigIntegerField, "BigInt"),
    (models.IntegerField, "Int"),  # also the small and positive variants
    (models.FloatField, "Float"),
    (models.DecimalField, "Decimal"),
    (models.DateTimeField, "DateTime"),
    (models.DateField, "Date"),
    (models.UUIDField, "UUID"),
    (models.JSONField, "JSON"),
)

_DRF_SCALARS: tuple[tuple[type[serializers.Field], str], ...] = (
    (serializers.BooleanField, "Boolean"),
    (serializers.IntegerField, "Int"),
    (serializers.FloatField, "Float"),
    (serializers.DecimalField, "Decimal"),
    (serializers.DateTimeField, "DateTime"),
    (serializers.DateField, "Date"),
    (serializers.UUIDField, "UUID"),
    (serializers.CharField, "String"),
)


def scalar_of(model_field: models.Field) -> str:
    for cls, name in _SCALARS:
        if isinstance(model_field, cls):
            return name
    return "String"


def _model_field(model: type[models.Model], name: str) -> models.Field | None:
    try:
        return model._meta.get_field(name)  # type: ignore[return-value]
    except FieldDoesNotExist:
        return None


def _m2m(name: str, kind: str, mf: Any) -> FieldSpec:
    """A many-to-many field, read through its link table (one query for a whole page)."""
    through = mf.remote_field.through
    src = through._meta.get_field(mf.m2m_field_name()).attname
    dst = through._meta.get_field(mf.m2m_reverse_field_name()).attname
    return FieldSpec(name, kind, target=mf.related_model, through=through, through_columns=(src, dst))


def _field_spec(model: type[models.Model], name: str, f: Any, computed: dict[str, Any],
                served: set[type[models.Model]]) -> FieldSpec | None:
    """The GraphQL field for one REST serializer field (None: not served)."""
    from cmdb.api.fields import ChoiceField, ContentTypeField, CustomFieldsField, TagListField
    from cmdb.api.serializers import DisplayField, ObjectURLField

    if isinstance(f, ObjectURLField):
        return None
    if name == "id":
        return FieldSpec(name, "id", column="id", scalar="ID", non_null=True)
    if isinstance(f, DisplayField):
        return FieldSpec(name, "display", scalar="String", non_null=True)
    if isinstance(f, TagListField):
        return _m2m(name, "tags", model._meta.get_field("tags"))
    if isinstance(f, CustomFieldsField):
        return FieldSpec(name, "custom_fields", column=f.source, scalar="JSON", non_null=True)
    if model._meta.label_lower == "ipam.ipaddress" and name.startswith("assigned_object"):
        return FieldSpec(name, name)  # NetBox's generic assignment, kept in two foreign keys
    if name == "family" and name in computed:
        return FieldSpec(name, "family", column="family", non_null=True)
    source = f.source if f.source and f.source != "*" else name
    mf = _model_field(model, source)
    if mf is not None and mf.is_relation and not mf.many_to_many and source == mf.name:
        if mf.related_model is None:
            return None
        if mf.related_model._meta.label_lower == "contenttypes.contenttype":
            return FieldSpec(name, "content_type", column=mf.attname)
        if mf.related_model not in served:
            return None
        return FieldSpec(name, "fk", column=mf.attname, target=mf.related_model)
    if mf is not None and mf.many_to_many:
        if mf.related_model not in served:
            return None
        return _m2m(name, "m2m", mf)
    if name in computed:
        if name == "config_context":
            return FieldSpec(name, "computed", scalar="JSON", computed=computed[name])
        return None  # computed values with no GraphQL type of their own (NetBox has none either)
    if isinstance(f, ContentTypeField):
        return None
    if isinstance(f, serializers.SerializerMethodField | serializers.ManyRelatedField | serializers.Serializer):
        return None
    if mf is not None and mf.is_relation:  # ``ci_id``: the foreign key's raw value, as REST shows it
        return FieldSpec(name, "scalar", column=mf.attname, scalar="BigInt", non_null=not mf.null)
    if isinstance(f, ChoiceField) or (mf is not None and mf.choices):
        choices = {str(k): str(v) for k, v in (f.choices.items() if hasattr(f, "choices") else mf.choices)}
        return FieldSpec(name, "choice", column=source if mf is None else mf.attname, scalar="String",
                         choices=choices)
    if mf is not None:
        scalar = scalar_of(mf)
        return FieldSpec(name, "scalar", column=mf.attname, scalar=scalar,
                         non_null=not mf.null and scalar not in {"JSON"})
    # An annotation of the viewset's queryset (``count_ipaddresses``), typed by its serializer field.
    if isinstance(f, serializers.JSONField | serializers.DictField):
        return FieldSpec(name, "scalar", column=source, scalar="JSON")
    for cls, scalar in _DRF_SCALARS:
        if isinstance(f, cls):
            return FieldSpec(name, "scalar", column=source, scalar=scalar)
    return None


def _reverse_fields(item: Exposed, by_model: dict[type[models.Model], Exposed]) -> dict[str, FieldSpec]:
    """Lists of the served objects that point at this one (a site's devices, a device's interfaces)."""
    out: dict[str, FieldSpec] = {}
    for rel in item.model._meta.related_objects:
        child = by_model.get(rel.related_model)
        if child is None or rel.many_to_many or rel.related_name is None or rel.related_name.endswith("+"):
            continue
        accessor = rel.get_accessor_name()
        fk = rel.field
        if accessor is None or accessor in item.fields or fk.name not in child.fields:
            continue  # the child does not show its parent: neither do we
        out[accessor] = FieldSpec(accessor, "reverse", target=child.model, child_column=fk.attname,
                                  parent_column=fk.target_field.attname)
    # Software installed on a CI: installations point at the CI registry row the typed CI owns.
    installs = next((e for e in by_model.values() if e.label == "software.softwareinstallation"), None)
    if installs is not None and "ci_id" in item.fields and item.label != "core.configurationitem":
        out["software_installations"] = FieldSpec("software_installations", "reverse", target=installs.model,
                                                  child_column="ci_id", parent_column="ci_id")
    return out


@cache
def exposed() -> dict[type[models.Model], Exposed]:
    """Every served model with its fields, in :data:`EXPOSED` order (built once per process)."""
    from django.apps import apps

    viewsets = _viewsets()
    items: dict[type[models.Model], Exposed] = {}
    for label, base, type_name in EXPOSED:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        viewset = viewsets.get(model)
        if viewset is not None:
            items[model] = Exposed(model, base, type_name, viewset)
    served = set(items)
    for item in items.values():
        serializer_class = item.viewset.serializer_class
        serializer = serializer_class(context={"request": None})
        computed = getattr(serializer_class, "fast_computed", {})
        # Related-object counts (``device_count``) are page-wise aggregates of the REST reader; GraphQL,
        # like NetBox's, answers them with the related lists themselves (``devices { id }``).
        skipped = SKIPPED.get(item.label, set()) | set(getattr(serializer_class, "fast_counts", {}))
        for name, f in serializer.fields.items():
            if f.write_only or name in skipped:
                continue
            spec = _field_spec(item.model, name, f, computed, served)
            if spec is not None:
                item.fields[name] = spec
    for item in items.values():
        item.fields.update(_reverse_fields(item, items))
    return items


def exposed_for(model: type[models.Model]) -> Exposed | None:
    return exposed().get(model)
