from cmdb.api.filters import BaseFilterSet

from .models import AttributeSource, Host, IngestRecord


class HostFilterSet(BaseFilterSet):
    class Meta:
        model = Host
        fields = ["name", "role", "fqdn", "serial", "manufacturer", "product", "system_uuid", "is_virtual", "os_name",
                  "os_version", "kernel", "cpu_model", "cpu_sockets", "cpu_cores", "memory_mb", "identified_by",
                  "first_discovered", "stale", "status", "tenant", "criticality", "owner", "last_seen",
                  "device", "virtual_machine", "link_rule", "description"]


class AttributeSourceFilterSet(BaseFilterSet):
    class Meta:
        model = AttributeSource
        fields = ["ci", "attribute", "source", "source_name", "value_digest", "set_at"]


class IngestRecordFilterSet(BaseFilterSet):
    class Meta:
        model = IngestRecord
        fields = ["ci", "received", "collected_at", "source", "source_name", "rule", "action"]
